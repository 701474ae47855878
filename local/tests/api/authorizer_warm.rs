//! The authorizer's warm path makes no network call: with the emulator gone
//! after the first invocation, a second valid token still gets Allow.
//!
//! The moto server is the test's own, so that stopping it hurts no other test
//! of the binary (they share the emulator of `with-emulator.sh`).

use crate::helpers::{OwnEmulator, authorize, bare_stack, issue_guest_token};
use shared::config::Env;

#[tokio::test]
async fn a_warm_authorizer_allows_a_valid_token_with_the_emulator_gone() {
    let mut emulator = OwnEmulator::start().await;
    let (sdk, template, stack) = bare_stack(&emulator.endpoint).await;
    let env = |function: &str| Env::Map(template.function_env(function, &stack.refs).unwrap());
    let signer = <authenticate::State as shared::lambda::Function>::from_env(
        &sdk,
        &env("AuthenticateFunction"),
    )
    .unwrap();
    let first = issue_guest_token(&signer, "guest:first").await;
    let second = issue_guest_token(&signer, "guest:second").await;

    let authorizer = validate_jwt::State::from_env(&sdk, &env("ValidateJwtFunction")).unwrap();
    assert!(
        authorize(&authorizer, &first).await.is_ok(),
        "cold: keys fetched"
    );

    emulator.kill().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    assert!(
        secrets
            .get_secret_value()
            .secret_id(stack.get("JwtSigningKey").unwrap())
            .send()
            .await
            .is_err(),
        "the emulator is really gone"
    );

    let warm = authorize(&authorizer, &second).await.unwrap();
    assert_eq!(warm.principal_id.as_deref(), Some("guest:second"));
}
