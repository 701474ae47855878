//! `.local/env.json` (what `make dev` writes): every function of
//! template.yaml with its environment resolved against the running stack.

use crate::helpers::{bare_stack, emulator_endpoint};
use kiosk_local::env_file::EnvVars;

#[tokio::test]
async fn the_env_file_names_every_function_and_the_resources_of_the_stack() {
    let endpoint = emulator_endpoint();
    let (sdk, template, stack) = bare_stack(&endpoint).await;
    let path = std::env::temp_dir().join(format!("{}-env.json", stack.prefix));
    let resolved = kiosk_local::env_file::resolve(&template, &stack, &endpoint).unwrap();
    kiosk_local::env_file::write(&path, &resolved).unwrap();
    let written: EnvVars = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();

    let functions = template.functions().unwrap();
    assert!(written.keys().eq(functions.keys()), "{written:?}");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    for (function, env) in &written {
        let declared = template.function_env(function, &stack.refs).unwrap();
        assert!(
            declared.keys().all(|name| env.contains_key(name)),
            "{function}: {env:?}"
        );
        assert_eq!(env["AWS_ENDPOINT_URL"], endpoint);
        // The names and ids are the stack's: each exists in the emulator.
        for (name, value) in env {
            let exists = if name.ends_with("_TABLE") {
                dynamodb
                    .describe_table()
                    .table_name(value)
                    .send()
                    .await
                    .is_ok()
            } else if name == "USER_POOL_ID" {
                cognito
                    .describe_user_pool()
                    .user_pool_id(value)
                    .send()
                    .await
                    .is_ok()
            } else if name.ends_with("_SECRET_ID") {
                secrets
                    .describe_secret()
                    .secret_id(value)
                    .send()
                    .await
                    .is_ok()
            } else {
                true
            };
            assert!(exists, "{function}: {name}={value} is not in the emulator");
        }
    }
    assert_eq!(
        written["ProductsFunction"]["PRODUCTS_TABLE"],
        stack.get("ProductsTable").unwrap()
    );
}
