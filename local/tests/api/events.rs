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
use kiosk_local::runtime_api::{Invocation, Outcome, invoke};
use kiosk_local::template::Template;
use serde_json::{Value, json};
use shared::config::Env;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The sample ids the events name; the test replaces them with ids of its own
/// stack, as a `sam local invoke` user edits them for theirs.
const SAMPLE_PRODUCT_ID: &str = "3f2b8c1e-8d7a-4c55-9a53-2a8f6c1d9e10";
const SAMPLE_ORDER_ID: &str = "7a4d2e90-5c1b-4f3e-8d6a-1b2c3d4e5f60";
const SAMPLE_STORE_ID: &str = "7d1e4b2a-9c3f-4e8d-a5b6-1f2e3d4c5b6a";
/// The Mercado Pago order the sample webhook event names.
const SAMPLE_PROVIDER_ORDER_ID: &str = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";

/// What each API Gateway event must produce, in the order they run. A file
/// in events/ missing here (or from the authorizer's and the schedule's
/// checks below) fails the test.
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
    ("products/post-stores.json", 201),
    ("products/get-stores.json", 200),
    ("products/patch-store.json", 200),
    ("orders/post-orders.json", 201),
    ("orders/post-orders-payment.json", 201),
    ("orders/post-webhooks-mercadopago.json", 200),
    ("orders/get-order.json", 200),
    ("orders/get-orders.json", 200),
    ("orders/get-store-board.json", 200),
    ("orders/patch-order.json", 200),
    // After checkout: the store's kitchen sells the product out there, then
    // it is deleted.
    ("products/patch-store-availability.json", 200),
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

/// The event file with the sample ids replaced; a webhook event is signed
/// again, with `webhook_secret`.
fn event(file: &str, ids: &HashMap<&str, String>, webhook_secret: &[u8]) -> Value {
    let mut text = std::fs::read_to_string(workspace_path("events").join(file)).unwrap();
    for (sample, real) in ids {
        text = text.replace(sample, real);
    }
    let mut event: Value = serde_json::from_str(&text).unwrap();
    if event["resource"] == "/webhooks/mercadopago" {
        let data_id = event["queryStringParameters"]["data.id"]
            .as_str()
            .unwrap()
            .to_owned();
        let request_id = event["headers"]["x-request-id"]
            .as_str()
            .unwrap()
            .to_owned();
        let ts = u64::try_from(shared::clock::now_unix()).unwrap();
        let signature = shared::payments::signature::sign(
            webhook_secret,
            Some(&data_id),
            Some(&request_id),
            ts,
        );
        event["headers"]["x-signature"] = signature.clone().into();
        event["multiValueHeaders"]["x-signature"] = json!([signature]);
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
    mercadopago: kiosk_local::mercadopago::StandIn,
    mercadopago_config: kiosk_local::mercadopago::StandInConfig,
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
        // Mercado Pago: the stand-in, notifying nobody (the test sends the
        // webhook event itself).
        let config = kiosk_local::mercadopago::StandInConfig::local(None);
        let (addr, stand_in) = kiosk_local::mercadopago::spawn(config.clone())
            .await
            .unwrap();
        let overrides = kiosk_local::Overrides::mercadopago(&config, &format!("http://{addr}"));
        let prefix = unique_prefix();
        let started = kiosk_local::start_with(&sdk, &template, &prefix, &staff, &overrides).await;
        let (stack, _) = started.unwrap();
        Lambdas {
            sdk,
            template,
            stack,
            mercadopago: stand_in,
            mercadopago_config: config,
        }
    }

    /// The template's logical id of the function built as `binary_name`.
    fn logical_id(&self, binary_name: &str) -> String {
        let functions = self.template.functions().unwrap();
        let found = functions.iter().find(|(_, b)| b.as_str() == binary_name);
        found.unwrap().0.clone()
    }

    fn env_for(&self, binary_name: &str) -> Vec<(String, String)> {
        let declared = self
            .template
            .function_env(&self.logical_id(binary_name), &self.stack.refs)
            .unwrap();
        let mut env: Vec<(String, String)> = declared.into_iter().collect();
        env.push(("AWS_ENDPOINT_URL".into(), emulator_endpoint()));
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            env.push((k.into(), v.into()));
        }
        env
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
        let store = shared::store::products::ProductStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.stack.get("ProductsTable").unwrap(),
        );
        let draft: shared::domain::product::ProductBody = serde_json::from_value(
            json!({"name": "Misto Quente", "category": "sandwich", "price_cents": 1290}),
        )
        .unwrap();
        let draft = shared::domain::product::ProductDraft::try_from(draft).unwrap();
        store.create(draft).await.unwrap().id.to_string()
    }

    /// Runs every event of `EXPECTED` in order; each function's peak memory.
    async fn run_expected(&self, ids: &mut HashMap<&str, String>) -> HashMap<String, u64> {
        let mut peak_memory: HashMap<String, u64> = HashMap::new();
        for (file, status) in EXPECTED {
            let function = file.split('/').next().unwrap();
            if *file == "orders/post-webhooks-mercadopago.json" {
                // The customer pays the QR; Mercado Pago's notification is the event.
                let url = format!(
                    "{}/simulate/orders/{}/pay?notify=false",
                    self.mercadopago.base_url(),
                    ids[SAMPLE_PROVIDER_ORDER_ID]
                );
                let paid = reqwest::Client::new().post(url).send().await.unwrap();
                assert!(paid.status().is_success(), "{}", paid.status());
            }
            let secret = self.mercadopago_config.webhook_secret.as_bytes();
            let run = self.invoke(function, &event(file, ids, secret)).await;
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
            if *file == "orders/get-store-board.json" {
                // The order the webhook event paid, still received.
                assert_eq!(
                    body["preparing"].as_array().map(Vec::len),
                    Some(1),
                    "{body}"
                );
            }
            if *file == "orders/post-orders.json" {
                ids.insert(SAMPLE_ORDER_ID, body["id"].as_str().unwrap().to_owned());
            }
            if *file == "products/post-stores.json" {
                ids.insert(SAMPLE_STORE_ID, body["id"].as_str().unwrap().to_owned());
            }
            if *file == "products/patch-store.json" {
                assert_eq!(body["name"], "Shopping Norte", "{body}");
            }
            if *file == "products/patch-store-availability.json" {
                assert_eq!(body["available"], false, "{body}");
                assert_eq!(body["store_id"], ids[SAMPLE_STORE_ID].as_str(), "{body}");
            }
            if *file == "orders/post-orders-payment.json" {
                let id = body["provider_order_id"].as_str().unwrap().to_owned();
                ids.insert(SAMPLE_PROVIDER_ORDER_ID, id);
            }
        }
        peak_memory
    }
}

#[tokio::test]
async fn every_event_runs_through_its_built_binary() {
    let mut expected: Vec<String> = EXPECTED.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.push("validate-jwt/authorizer.json".to_owned());
    expected.push("order-expiry/scheduled.json".to_owned());
    expected.sort();
    let listed = events_on_disk();
    assert_eq!(listed, expected, "every event has an expected outcome here");
    let lambdas = Lambdas::start().await;
    let mut ids = HashMap::from([(SAMPLE_PRODUCT_ID, lambdas.product().await)]);

    let peak_memory = lambdas.run_expected(&mut ids).await;
    for (binary_name, peak_kib) in &peak_memory {
        lambdas.assert_memory_fits(binary_name, *peak_kib);
    }

    let authorizer_event = event("validate-jwt/authorizer.json", &ids, b"");
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

    // The schedule's event (not an API Gateway one): the expiry job's report.
    // The one order of the events was paid, so nothing is due.
    let scheduled = event("order-expiry/scheduled.json", &ids, b"");
    let run = lambdas.invoke("order-expiry", &scheduled).await;
    let Outcome::Response(report) = run.outcome else {
        panic!("{:?}\n{}", run.outcome, run.logs)
    };
    assert_eq!(report["due"], 0, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    lambdas.assert_memory_fits("order-expiry", run.peak_memory_kib.unwrap());
}

/// An API Gateway event of `method` on `resource` (at `path`) with `body`,
/// shaped as the event files are; `context` is what the authorizer passed
/// on (none for a public route).
fn api_event(
    method: &str,
    resource: &str,
    path: &str,
    body: &Value,
    context: Option<Value>,
) -> Value {
    let mut event = event("authenticate/post-auth.json", &HashMap::new(), b"");
    event["resource"] = resource.into();
    event["path"] = path.into();
    event["httpMethod"] = method.into();
    event["requestContext"]["resourcePath"] = resource.into();
    event["requestContext"]["httpMethod"] = method.into();
    event["requestContext"]["path"] = format!("/dev{path}").into();
    event["body"] = match body {
        Value::Null => Value::Null,
        body => body.to_string().into(),
    };
    match context {
        Some(context) => event["requestContext"]["authorizer"] = context,
        None => {
            if let Some(request_context) = event["requestContext"].as_object_mut() {
                request_context.remove("authorizer");
            }
        }
    }
    event
}

/// What one invocation of a warm instance answered: status and JSON body.
async fn answer(instance: &mut kiosk_local::runtime_api::Instance, event: &Value) -> (u64, Value) {
    let answered = instance.invoke(event).await.unwrap();
    let Outcome::Response(response) = answered.outcome else {
        panic!("{event}: {:?}", answered.outcome)
    };
    let status = response["statusCode"].as_u64().unwrap();
    let body = match response["body"].as_str() {
        Some(text) if !text.is_empty() => serde_json::from_str(text).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

/// Asked for TRACE, the functions log at DEBUG at most: lambda_runtime logs
/// each raw event at TRACE, and events carry CPFs, passwords, codes and
/// tokens. One warm `authenticate` process goes through signup, CPF sign-in,
/// the e-mailed code and its confirmation, a staff sign-in with TOTP
/// enrolment and a refresh; no CPF, password, address, code, session, TOTP
/// secret or token any of them carried or answered reaches its log.
#[tokio::test]
async fn at_trace_level_no_event_reaches_the_log() {
    let lambdas = Lambdas::start().await;
    let mut env = lambdas.env_for("authenticate");
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "TRACE".into()));
    env.push(("RUST_LOG".into(), "trace,lambda_runtime=trace".into()));
    let mut instance = kiosk_local::runtime_api::Instance::start(
        &binary("authenticate"),
        &env,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let kiosk =
        event("authenticate/post-auth.json", &HashMap::new(), b"")["requestContext"]["authorizer"]
            .clone();
    let address = crate::helpers::unique_address("trace");
    let mut secrets: Vec<String> = vec![
        "52998224725".into(),
        "529.982.247-25".into(),
        "AdminLocal123".into(),
        address.clone(),
        "raw JSON event".into(),
    ];

    // Signup and CPF sign-in, as the kiosk.
    let signup = json!({"cpf": "529.982.247-25", "name": "Ana Souza", "email": address});
    let (status, _) = answer(
        &mut instance,
        &api_event(
            "POST",
            "/customers",
            "/customers",
            &signup,
            Some(kiosk.clone()),
        ),
    )
    .await;
    assert_eq!(status, 201);
    let sign_in = json!({"cpf": "52998224725"});
    let (status, signed_in) = answer(
        &mut instance,
        &api_event("POST", "/auth", "/auth", &sign_in, Some(kiosk.clone())),
    )
    .await;
    assert_eq!(status, 200, "{signed_in}");
    let customer_token = signed_in["access_token"].as_str().unwrap().to_owned();
    secrets.push(customer_token.clone());
    let claims = crate::helpers::claims_json(&customer_token);
    let customer = json!({
        "principalId": claims["sub"], "sub": claims["sub"], "role": "customer",
        "store_id": claims["store_id"], "kiosk_id": claims["kiosk_id"], "amr": "cpf",
    });

    // The e-mailed code, asked for and confirmed.
    let path = "/customers/me/verification";
    let (status, sent) = answer(
        &mut instance,
        &api_event("POST", path, path, &Value::Null, Some(customer.clone())),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let code = crate::helpers::latest_code_sent_to(&address).await;
    secrets.push(code.clone());
    let path = "/customers/me/verification/confirm";
    let (status, verified) = answer(
        &mut instance,
        &api_event("POST", path, path, &json!({ "code": code }), Some(customer)),
    )
    .await;
    assert_eq!(status, 200, "{verified}");
    secrets.push(verified["access_token"].as_str().unwrap().to_owned());

    // A staff sign-in under the template's STAFF_MFA=required: the
    // password, TOTP enrolment with a real code, then a refresh.
    let staff = json!({"username": "admin", "password": "AdminLocal123"});
    let (status, challenge) = answer(
        &mut instance,
        &api_event("POST", "/auth/staff", "/auth/staff", &staff, None),
    )
    .await;
    assert_eq!(
        (status, &challenge["challenge"]),
        (200, &json!("totp_setup")),
        "{challenge}"
    );
    secrets.push(challenge["session"].as_str().unwrap().to_owned());
    let path = "/auth/staff/totp/setup";
    let body = json!({ "session": challenge["session"] });
    let (status, setup) = answer(&mut instance, &api_event("POST", path, path, &body, None)).await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    secrets.push(secret.clone());
    secrets.push(setup["session"].as_str().unwrap().to_owned());
    let path = "/auth/staff/totp";
    let (mut status, mut tokens) = (0, Value::Null);
    for _ in 0..2 {
        // A code computed at the very end of its 30 s step may arrive in the next.
        let step = crate::totp::current_step();
        let code = crate::totp::code_at(&secret, step);
        secrets.push(code.clone());
        let body = json!({ "session": setup["session"], "code": code });
        (status, tokens) = answer(&mut instance, &api_event("POST", path, path, &body, None)).await;
        if status == 200 || crate::totp::current_step() == step {
            break;
        }
    }
    assert_eq!(status, 200, "{tokens}");
    secrets.push(tokens["access_token"].as_str().unwrap().to_owned());
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(refresh_token.clone());
    let body = json!({ "refresh_token": refresh_token });
    let (status, refreshed) = answer(
        &mut instance,
        &api_event("POST", "/auth/refresh", "/auth/refresh", &body, None),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());

    let logs = instance.stop().await;
    assert!(!logs.is_empty(), "the function did log");
    for secret in &secrets {
        assert!(
            !holds(&logs, secret),
            "the log holds {secret:?}:\n{logs:.3000}"
        );
    }
}

/// Whether `logs` holds `secret`; a number (a 6-digit code) only standing
/// alone, not inside a longer one (a timestamp, a request id).
fn holds(logs: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return logs.contains(secret);
    }
    logs.match_indices(secret).any(|(at, _)| {
        let before = logs[..at].bytes().next_back();
        let after = logs[at + secret.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

/// A staff session begun while TOTP was optional ends at its first refresh
/// once the function runs with `STAFF_MFA=required` (the template's default),
/// and stays ended: the family is revoked. The built binary, both ways, on
/// one stack.
#[tokio::test]
async fn a_session_without_totp_gets_no_refresh_once_totp_is_required() {
    let lambdas = Lambdas::start().await;
    let start = |mfa: &str| {
        let mut env = lambdas.env_for("authenticate");
        env.retain(|(name, _)| name != "STAFF_MFA");
        env.push(("STAFF_MFA".into(), mfa.into()));
        let binary = binary("authenticate");
        async move {
            kiosk_local::runtime_api::Instance::start(&binary, &env, Duration::from_secs(30))
                .await
                .unwrap()
        }
    };
    let mut optional = start("optional").await;
    let staff = json!({"username": "admin", "password": "AdminLocal123"});
    let sign_in = api_event("POST", "/auth/staff", "/auth/staff", &staff, None);
    let (status, tokens) = answer(&mut optional, &sign_in).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = |token: &Value| {
        let body = json!({ "refresh_token": token });
        api_event("POST", "/auth/refresh", "/auth/refresh", &body, None)
    };
    // Under optional, the refresh works.
    let (status, rotated) = answer(&mut optional, &refresh(&tokens["refresh_token"])).await;
    assert_eq!(status, 200, "{rotated}");

    let mut required = start("required").await;
    let (status, refused) = answer(&mut required, &refresh(&rotated["refresh_token"])).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (401, &json!("invalid_refresh_token"))
    );
    required.stop().await;
    // The family is revoked: its newest token fails even where TOTP is optional.
    let (status, _) = answer(&mut optional, &refresh(&rotated["refresh_token"])).await;
    assert_eq!(status, 401);
    optional.stop().await;
}
