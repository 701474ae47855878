//! The authorizer's warm path makes no network call: with the emulator gone
//! after the first invocation, a second valid token still gets Allow.
//!
//! The moto server is the test's own, so that stopping it hurts no other test
//! of the binary (they share the emulator of `with-emulator.sh`).

use crate::helpers::{authorize, bare_stack, issue_guest_token, workspace_path};
use shared::config::Env;
use std::process::Stdio;
use std::time::Duration;

/// A moto server of this test's own, so that stopping it hurts no other test.
struct OwnEmulator {
    child: tokio::process::Child,
    endpoint: String,
}

async fn start_own_emulator() -> OwnEmulator {
    let moto = workspace_path(".venv/bin/moto_server");
    assert!(
        moto.exists(),
        "{} is missing: run `make venv`",
        moto.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return OwnEmulator { child, endpoint };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto did not start on port {port}");
}

#[tokio::test]
async fn a_warm_authorizer_allows_a_valid_token_with_the_emulator_gone() {
    let mut emulator = start_own_emulator().await;
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

    emulator.child.kill().await.unwrap();
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
