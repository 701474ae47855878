//! The authorizer needs no network at all: with the emulator gone, a cold
//! process of the built binary still allows a valid token.
//!
//! The moto server is the test's own, so that stopping it hurts no other test
//! of the binary (they share the emulator of `with-emulator.sh`).

use crate::helpers::{
    OwnEmulator, authorizer_request, bare_stack, issue_guest_token, workspace_path,
};
use kiosk_local::runtime_api::{Outcome, invoke};
use shared::config::Env;
use std::time::Duration;

#[tokio::test]
async fn a_cold_authorizer_allows_a_valid_token_with_the_emulator_gone() {
    let mut emulator = OwnEmulator::start().await;
    let (sdk, template, stack) = bare_stack(&emulator.endpoint).await;
    let env = |function: &str| template.function_env(function, &stack.refs).unwrap();
    let signer = <authenticate::State as shared::lambda::Function>::from_env(
        &sdk,
        &Env::Map(env("AuthenticateFunction")),
    )
    .unwrap();
    let token = issue_guest_token(&signer, "guest:cold").await;

    emulator.kill().await;

    // A fresh process: nothing fetched, nothing cached, nothing to reach.
    let mut process_env: Vec<(String, String)> = env("ValidateJwtFunction").into_iter().collect();
    process_env.push(("AWS_ENDPOINT_URL".into(), emulator.endpoint.clone()));
    let event = serde_json::to_value(authorizer_request(&format!("Bearer {token}"))).unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_path("target"));
    let ran = invoke(
        &target.join("debug").join("validate-jwt"),
        &event,
        &process_env,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let Outcome::Response(policy) = ran.outcome else {
        panic!("{:?}\n{}", ran.outcome, ran.logs)
    };
    assert_eq!(policy["principalId"], "guest:cold");
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
}
