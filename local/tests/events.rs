//! Every event in `events/` (the files `sam local invoke` takes) runs through
//! the built Lambda binary, over an emulated Lambda Runtime API, against the
//! emulator: the binaries' `main`, configuration and response encoding
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kiosk_local::bootstrap::StaffUser;
use kiosk_local::runtime_api::{Outcome, invoke};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sample ids the events name; the test replaces them with ids of its own
/// stack, as a `sam local invoke` user edits them for theirs.
const SAMPLE_PRODUCT_ID: &str = "3f2b8c1e-8d7a-4c55-9a53-2a8f6c1d9e10";
const SAMPLE_ORDER_ID: &str = "7a4d2e90-5c1b-4f3e-8d6a-1b2c3d4e5f60";
/// The documented local webhook secret the sample webhook event is signed with.
const LOCAL_WEBHOOK_SECRET: &str = "local-webhook-secret-change-me-0123456789";

/// What each event must produce, in the order they run. A file in events/
/// missing here fails the test.
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
    ("orders/post-orders.json", 201),
    ("orders/post-webhooks-payment.json", 200),
    ("orders/get-order.json", 200),
    ("orders/get-orders.json", 200),
    ("orders/patch-order.json", 200),
    ("products/delete-product.json", 204),
];

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

/// The event file with the sample ids replaced; a webhook event is signed again.
fn event(file: &str, ids: &HashMap<&str, String>) -> Value {
    let mut text = std::fs::read_to_string(workspace().join("events").join(file)).unwrap();
    for (sample, real) in ids {
        text = text.replace(sample, real);
    }
    let mut event: Value = serde_json::from_str(&text).unwrap();
    if event["resource"] == "/webhooks/payment" {
        let signature = shared::payments::webhook::sign(
            LOCAL_WEBHOOK_SECRET.as_bytes(),
            event["body"].as_str().unwrap().as_bytes(),
        );
        event["headers"]["X-Signature"] = signature.clone().into();
        event["multiValueHeaders"]["X-Signature"] = json!([signature]);
    }
    event
}

fn events_on_disk() -> Vec<String> {
    let mut listed = Vec::new();
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
    listed.sort();
    listed
}

#[tokio::test]
async fn every_event_runs_through_its_built_binary() {
    let mut expected: Vec<String> = EXPECTED.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.push("validate-jwt/authorizer.json".to_owned());
    expected.sort();
    assert_eq!(
        events_on_disk(),
        expected,
        "every event has an expected outcome here"
    );

    let sdk = kiosk_local::emulator_sdk(&support::emulator_endpoint()).await;
    let template = support::template();
    // The staff event carries the documented local password of `admin`.
    let staff = [StaffUser {
        username: "admin".into(),
        password: "AdminLocal123".into(),
        group: Some("admin".into()),
    }];
    let secrets = HashMap::from([("WebhookSecret".to_owned(), LOCAL_WEBHOOK_SECRET.to_owned())]);
    let (stack, _) = kiosk_local::start_with_secrets(
        &sdk,
        &template,
        &support::unique_prefix(),
        &staff,
        &secrets,
    )
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
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            env.push((k.into(), v.into()));
        }
        env
    };

    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.get("ProductsTable").unwrap(),
    );
    let draft: shared::domain::product::ProductBody = serde_json::from_value(
        json!({"name": "Misto Quente", "category": "sandwich", "price_cents": 1290}),
    )
    .unwrap();
    let product_id = store
        .create(shared::domain::product::ProductDraft::try_from(draft).unwrap())
        .await
        .unwrap()
        .id
        .to_string();
    let mut ids = HashMap::from([(SAMPLE_PRODUCT_ID, product_id)]);

    let mut peak_memory: HashMap<String, u64> = HashMap::new();
    for (file, status) in EXPECTED {
        let function = file.split('/').next().unwrap();
        let run = invoke(
            &binary(function),
            &event(file, &ids),
            &env_for(function),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        let peak = peak_memory.entry(function.to_owned()).or_default();
        *peak = (*peak).max(run.peak_memory_kib.unwrap_or_default());
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
        if *file == "orders/post-orders.json" {
            ids.insert(SAMPLE_ORDER_ID, body["id"].as_str().unwrap().to_owned());
        }
    }

    // The memory the template gives each function holds what it used here
    // (a debug build, which uses more than the release one) twice over.
    for (binary_name, peak_kib) in &peak_memory {
        let logical_id = functions
            .iter()
            .find(|(_, b)| b.as_str() == binary_name)
            .unwrap()
            .0;
        let configured_mb = template.function_memory_mb(logical_id).unwrap();
        eprintln!("{binary_name}: peak {} KiB of {configured_mb} MB", peak_kib);
        assert!(*peak_kib > 0, "{binary_name}: peak memory measured");
        assert!(
            peak_kib * 2 < configured_mb * 1024,
            "{binary_name} peaked at {peak_kib} KiB: raise its MemorySize ({configured_mb} MB)"
        );
    }

    let authorizer = binary("validate-jwt");
    let refused = invoke(
        &authorizer,
        &event("validate-jwt/authorizer.json", &ids),
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
    let signer = <authenticate::State as shared::lambda::Function>::from_env(
        &sdk,
        &shared::config::Env::Map(env_for("authenticate").into_iter().collect()),
    )
    .unwrap();
    let token = signer
        .tokens
        .issue("guest:events", shared::Role::Guest, None)
        .await
        .unwrap()
        .access_token;
    let mut with_valid_token = event("validate-jwt/authorizer.json", &ids);
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
    let authorizer_mb = template.function_memory_mb("ValidateJwtFunction").unwrap();
    let authorizer_peak = allowed.peak_memory_kib.unwrap();
    eprintln!("validate-jwt: peak {authorizer_peak} KiB of {authorizer_mb} MB");
    assert!(
        authorizer_peak * 2 < authorizer_mb * 1024,
        "validate-jwt peaked at {authorizer_peak} KiB"
    );
}
