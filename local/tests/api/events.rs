//! Every event in `events/` (the files `sam local invoke` takes) runs through
//! the built Lambda binary, over an emulated Lambda Runtime API, against the
//! emulator: the binaries' `main`, configuration and response encoding
//! included.
//!
//! The binaries run as child processes of their own, with the environment
//! given here: nothing of this test process's state reaches them.

use crate::helpers::{
    emulator_endpoint, issue_guest_token, template, unique_prefix, workspace_path,
};
use kiosk_local::bootstrap::{LocalStack, StaffUser};
use kiosk_local::events::{SAMPLE_ORDER_ID, SAMPLE_PRODUCT_ID};
use kiosk_local::runtime_api::{Invocation, Outcome, invoke};
use kiosk_local::template::Template;
use serde_json::{Value, json};
use shared::config::Env;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
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

fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_path("target"));
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
    let mut event = kiosk_local::events::load(file, ids).unwrap();
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
    for dir in std::fs::read_dir(workspace_path("events")).unwrap() {
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

/// This test's stack, and the Lambda binaries run against it with the
/// environment template.yaml gives them.
struct Lambdas {
    sdk: aws_config::SdkConfig,
    template: Template,
    stack: LocalStack,
}

impl Lambdas {
    async fn start() -> Lambdas {
        let sdk = kiosk_local::emulator_sdk(&emulator_endpoint()).await;
        let template = template();
        // The staff event carries the documented local password of `admin`.
        let staff = [StaffUser {
            username: "admin".into(),
            password: "AdminLocal123".into(),
            group: Some("admin".into()),
        }];
        let secrets =
            HashMap::from([("WebhookSecret".to_owned(), LOCAL_WEBHOOK_SECRET.to_owned())]);
        let prefix = unique_prefix();
        let started =
            kiosk_local::start_with_secrets(&sdk, &template, &prefix, &staff, &secrets).await;
        let (stack, _) = started.unwrap();
        Lambdas {
            sdk,
            template,
            stack,
        }
    }

    /// The template's logical id of the function built as `binary_name`.
    fn logical_id(&self, binary_name: &str) -> String {
        let functions = self.template.functions().unwrap();
        let found = functions.iter().find(|(_, b)| b.as_str() == binary_name);
        found.unwrap().0.clone()
    }

    /// The function's environment, as `make dev` writes it to `.local/env.json`.
    fn env_for(&self, binary_name: &str) -> Vec<(String, String)> {
        let mut all =
            kiosk_local::env_file::resolve(&self.template, &self.stack, &emulator_endpoint())
                .unwrap();
        let env = all.remove(&self.logical_id(binary_name)).unwrap();
        env.into_iter().collect()
    }

    /// Runs the built `binary_name` on `event`.
    async fn invoke(&self, binary_name: &str, event: &Value) -> Invocation {
        let env = self.env_for(binary_name);
        let ran = invoke(&binary(binary_name), event, &env, Duration::from_secs(30)).await;
        ran.unwrap()
    }

    /// The memory the template gives `binary_name`'s function holds `peak_kib`
    /// (a debug build, which uses more than the release one) twice over.
    fn assert_memory_fits(&self, binary_name: &str, peak_kib: u64) {
        let configured_mb = self
            .template
            .function_memory_mb(&self.logical_id(binary_name))
            .unwrap();
        eprintln!("{binary_name}: peak {peak_kib} KiB of {configured_mb} MB");
        assert!(peak_kib > 0, "{binary_name}: peak memory measured");
        assert!(
            peak_kib * 2 < configured_mb * 1024,
            "{binary_name} peaked at {peak_kib} KiB: raise its MemorySize ({configured_mb} MB)"
        );
    }

    /// A product of this stack, written straight into its table.
    async fn product(&self) -> String {
        let created = kiosk_local::events::create_product(&self.sdk, &self.stack).await;
        created.unwrap()
    }

    /// Runs every event of `EXPECTED` in order; each function's peak memory.
    async fn run_expected(&self, ids: &mut HashMap<&str, String>) -> HashMap<String, u64> {
        let mut peak_memory: HashMap<String, u64> = HashMap::new();
        for (file, status) in EXPECTED {
            let function = file.split('/').next().unwrap();
            let run = self.invoke(function, &event(file, ids)).await;
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
                let error_body = body["error"]["code"].is_string();
                assert!(error_body, "{file}: the contract's error body: {body}");
            }
            if *file == "orders/post-orders.json" {
                ids.insert(SAMPLE_ORDER_ID, body["id"].as_str().unwrap().to_owned());
            }
        }
        peak_memory
    }
}

#[tokio::test]
async fn every_event_runs_through_its_built_binary() {
    let mut expected: Vec<String> = EXPECTED.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.push("validate-jwt/authorizer.json".to_owned());
    expected.sort();
    let listed = events_on_disk();
    assert_eq!(listed, expected, "every event has an expected outcome here");
    let lambdas = Lambdas::start().await;
    let mut ids = HashMap::from([(SAMPLE_PRODUCT_ID, lambdas.product().await)]);

    let peak_memory = lambdas.run_expected(&mut ids).await;
    for (binary_name, peak_kib) in &peak_memory {
        lambdas.assert_memory_fits(binary_name, *peak_kib);
    }

    let authorizer_event = event("validate-jwt/authorizer.json", &ids);
    let refused = lambdas.invoke("validate-jwt", &authorizer_event).await;
    let Outcome::Error(error) = refused.outcome else {
        panic!("the sample token must be refused: {:?}", refused.outcome)
    };
    assert_eq!(error["errorMessage"], "Unauthorized");

    // The same event with a token of this stack: Allow for the whole stage.
    let env = Env::Map(lambdas.env_for("authenticate").into_iter().collect());
    let signer =
        <authenticate::State as shared::lambda::Function>::from_env(&lambdas.sdk, &env).unwrap();
    let token = issue_guest_token(&signer, "guest:events").await;
    let mut with_valid_token = authorizer_event;
    with_valid_token["authorizationToken"] = format!("Bearer {token}").into();
    let allowed = lambdas.invoke("validate-jwt", &with_valid_token).await;
    let Outcome::Response(policy) = allowed.outcome else {
        panic!("{:?}\n{}", allowed.outcome, allowed.logs)
    };
    assert_eq!(policy["principalId"], "guest:events");
    let resource = &policy["policyDocument"]["Statement"][0]["Resource"][0];
    assert_eq!(
        resource,
        "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/*"
    );
    assert_eq!(policy["context"]["role"], "guest");
    lambdas.assert_memory_fits("validate-jwt", allowed.peak_memory_kib.unwrap());
}
