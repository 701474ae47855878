//! Every event in `events/` (the files `sam local invoke` takes) runs through
//! the built Lambda binary, over an emulated Lambda Runtime API, against the
//! emulator: the binaries' `main`, configuration and response encoding
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kiosk_local::bootstrap::StaffUser;
use kiosk_local::runtime_api::{Outcome, invoke};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` (make test does)",
        path.display()
    );
    path
}

fn event(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(workspace().join("events").join(file)).unwrap())
        .unwrap()
}

/// What each event must produce, in the order they run (signup before sign-in).
/// A file in events/ missing here fails the test.
const EXPECTED: &[(&str, u16)] = &[
    ("authenticate/post-customers.json", 201),
    ("authenticate/post-auth.json", 200),
    ("authenticate/post-auth-guest.json", 200),
    ("authenticate/post-auth-staff.json", 200),
    ("authenticate/post-validate.json", 401),
    ("authenticate/get-customers.json", 200),
    ("products/post-products.json", 201),
    ("products/get-products.json", 200),
    ("products/get-product.json", 200),
    ("products/put-product.json", 200),
    ("products/delete-product.json", 204),
];

/// Events of `/products/{id}` name a sample id; the test points them at a
/// product of its own stack, as a `sam local invoke` user would edit them.
fn with_product_id(mut event: Value, id: &str) -> Value {
    if event["pathParameters"]["id"].is_string() {
        event["pathParameters"]["id"] = id.into();
        let path = event["resource"].as_str().unwrap().replace("{id}", id);
        event["path"] = path.clone().into();
        event["requestContext"]["path"] = format!("/dev{path}").into();
    }
    event
}

#[tokio::test]
async fn every_event_runs_through_its_built_binary() {
    let sdk = kiosk_local::emulator_sdk(&support::emulator_endpoint()).await;
    let template = support::template();
    // The staff event carries the documented local password of `admin`.
    let staff = [StaffUser {
        username: "admin".into(),
        password: "AdminLocal123".into(),
        group: Some("admin".into()),
    }];
    let (stack, _) = kiosk_local::start(&sdk, &template, &support::unique_prefix(), &staff)
        .await
        .unwrap();
    let functions = template.functions().unwrap();
    let env_for = |binary_name: &str| -> Vec<(String, String)> {
        let logical_id = functions
            .iter()
            .find(|(_, b)| b.as_str() == binary_name)
            .unwrap()
            .0;
        let mut env: Vec<(String, String)> = template
            .function_env(logical_id, &stack.refs)
            .unwrap()
            .into_iter()
            .collect();
        env.push(("AWS_ENDPOINT_URL".into(), support::emulator_endpoint()));
        env.extend(
            [
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_REGION", "us-east-1"),
            ]
            .map(|(k, v)| (k.into(), v.into())),
        );
        env
    };

    let mut listed: Vec<String> = Vec::new();
    for dir in std::fs::read_dir(workspace().join("events")).unwrap() {
        let dir = dir.unwrap();
        for file in std::fs::read_dir(dir.path()).unwrap() {
            listed.push(format!(
                "{}/{}",
                dir.file_name().to_string_lossy(),
                file.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    listed.retain(|f| !f.starts_with("validate-jwt/"));
    listed.sort();
    let mut expected: Vec<String> = EXPECTED.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "every HTTP event has an expected status here"
    );

    let products = kiosk::catalog::ProductStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.get("ProductsTable").unwrap(),
    );
    let draft: kiosk::product::ProductBody = serde_json::from_value(
        serde_json::json!({"name": "Misto Quente", "category": "sandwich", "price_cents": 1290}),
    )
    .unwrap();
    let draft = kiosk::product::ProductDraft::try_from(draft).unwrap();
    let product_id = products.create(draft).await.unwrap().id;

    for (file, status) in EXPECTED {
        let function = file.split('/').next().unwrap();
        let event = with_product_id(event(file), &product_id);
        let run = invoke(
            &binary(function),
            &event,
            &env_for(function),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        let Outcome::Response(response) = run.outcome else {
            panic!("{file}: {:?}\n{}", run.outcome, run.logs)
        };
        assert_eq!(response["statusCode"], *status, "{file}: {response}");
        let body: Value = match response["body"].as_str() {
            Some(text) if !text.is_empty() => serde_json::from_str(text).unwrap(),
            _ => Value::Null,
        };
        if *status >= 400 {
            assert!(
                body["error"]["code"].is_string(),
                "{file}: the contract's error body: {body}"
            );
        }
    }

    let authorizer = binary("validate-jwt");
    let refused = invoke(
        &authorizer,
        &event("validate-jwt/authorizer.json"),
        &env_for("validate-jwt"),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let Outcome::Error(error) = refused.outcome else {
        panic!("the sample token must be refused: {:?}", refused.outcome)
    };
    assert_eq!(error["errorMessage"], "Unauthorized");

    // The same event with a token of this stack: Allow for the whole stage.
    let signer = authenticate::State::from_env(
        &sdk,
        &kiosk::config::Env::Map(env_for("authenticate").into_iter().collect()),
    )
    .unwrap();
    let token = signer
        .tokens
        .issue("guest:events", kiosk::Role::Guest, None)
        .await
        .unwrap()
        .access_token;
    let mut with_valid_token = event("validate-jwt/authorizer.json");
    with_valid_token["authorizationToken"] = format!("Bearer {token}").into();
    let allowed = invoke(
        &authorizer,
        &with_valid_token,
        &env_for("validate-jwt"),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let Outcome::Response(policy) = allowed.outcome else {
        panic!("{:?}\n{}", allowed.outcome, allowed.logs)
    };
    assert_eq!(policy["principalId"], "guest:events");
    assert_eq!(
        policy["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/*"
    );
    assert_eq!(policy["context"]["role"], "guest");
}
