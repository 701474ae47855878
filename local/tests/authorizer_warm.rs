//! The authorizer's warm path makes no network call: with the emulator gone
//! after the first invocation, a second valid token still gets Allow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use shared::config::Env;
use std::process::Stdio;
use std::time::Duration;

/// A moto server of this test's own, so that stopping it hurts no other test.
struct OwnEmulator {
    child: tokio::process::Child,
    endpoint: String,
}

async fn start_own_emulator() -> OwnEmulator {
    let moto = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
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

fn request(token: &str) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest {
    let mut request = aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = Some(format!("Bearer {token}"));
    request.method_arn =
        Some("arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/products".into());
    request
}

#[tokio::test]
async fn a_warm_authorizer_allows_a_valid_token_with_the_emulator_gone() {
    let mut emulator = start_own_emulator().await;
    let sdk = kiosk_local::emulator_sdk(&emulator.endpoint).await;
    let template = support::template();
    let (stack, _router) = kiosk_local::start(&sdk, &template, &support::unique_prefix(), &[])
        .await
        .unwrap();
    let env = |function: &str| Env::Map(template.function_env(function, &stack.refs).unwrap());
    let signer = <authenticate::State as shared::lambda::Function>::from_env(
        &sdk,
        &env("AuthenticateFunction"),
    )
    .unwrap();
    let first = signer
        .tokens
        .issue("guest:first", shared::Role::Guest, None)
        .await
        .unwrap()
        .access_token;
    let second = signer
        .tokens
        .issue("guest:second", shared::Role::Guest, None)
        .await
        .unwrap()
        .access_token;

    let authorizer = validate_jwt::State::from_env(&sdk, &env("ValidateJwtFunction")).unwrap();
    assert!(
        validate_jwt::authorize(&authorizer, request(&first))
            .await
            .is_ok(),
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

    let warm = validate_jwt::authorize(&authorizer, request(&second))
        .await
        .unwrap();
    assert_eq!(warm.principal_id.as_deref(), Some("guest:second"));
}
