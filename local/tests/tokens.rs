//! Hostile tokens against both gates, `/validate` and the authorizer in front
//! of a protected route; and key rotation against Secrets Manager.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::config::Env;
use support::{TestApp, spawn_app};

struct Keys {
    kid: String,
    secret: String,
}

async fn current_key(app: &TestApp) -> Keys {
    let secrets = aws_sdk_secretsmanager::Client::new(&app.sdk);
    let value = secrets
        .get_secret_value()
        .secret_id(app.jwt_secret_arn())
        .send()
        .await
        .unwrap();
    Keys {
        kid: value.version_id().unwrap().to_owned(),
        secret: value.secret_string().unwrap().to_owned(),
    }
}

fn claims(app: &TestApp) -> Value {
    let env = app.function_env("AuthenticateFunction");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({"iss": env["JWT_ISSUER"], "aud": env["JWT_AUDIENCE"], "sub": "guest:x", "role": "admin",
           "iat": now, "nbf": now, "exp": now + 600, "jti": "j1"})
}

fn sign(kid: &str, secret: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut changed = claims.clone();
    changed[key] = value;
    changed
}

/// Every token that must be refused, named.
async fn hostile_tokens(app: &TestApp) -> Vec<(&'static str, String)> {
    let keys = current_key(app).await;
    let good = claims(app);
    let valid = sign(&keys.kid, &keys.secret, &good);
    let parts: Vec<&str> = valid.split('.').collect();
    let header =
        |alg: &str| B64.encode(json!({"alg": alg, "typ": "JWT", "kid": keys.kid}).to_string());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    vec![
        ("alg none", format!("{}.{}.", header("none"), parts[1])),
        (
            "RS256 header on an HS token",
            format!("{}.{}.{}", header("RS256"), parts[1], parts[2]),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                B64.encode(with(&good, "sub", json!("someone-else")).to_string()),
                parts[2]
            ),
        ),
        ("stripped signature", format!("{}.{}.", parts[0], parts[1])),
        (
            "foreign signature",
            sign(
                &keys.kid,
                "a-key-that-is-not-ours-but-is-long-enough",
                &good,
            ),
        ),
        (
            "unknown kid",
            sign("not-a-version-of-the-secret", &keys.secret, &good),
        ),
        (
            "expired",
            sign(
                &keys.kid,
                &keys.secret,
                &with(
                    &with(&good, "exp", json!(now - 3600)),
                    "iat",
                    json!(now - 7200),
                ),
            ),
        ),
        (
            "not yet valid",
            sign(
                &keys.kid,
                &keys.secret,
                &with(
                    &with(&good, "nbf", json!(now + 3600)),
                    "exp",
                    json!(now + 7200),
                ),
            ),
        ),
        (
            "wrong iss",
            sign(
                &keys.kid,
                &keys.secret,
                &with(&good, "iss", json!("someone-else")),
            ),
        ),
        (
            "wrong aud",
            sign(
                &keys.kid,
                &keys.secret,
                &with(&good, "aud", json!("another-api")),
            ),
        ),
        ("garbage", "not-a-token".to_owned()),
        ("12 KB token", format!("{valid}{}", "A".repeat(12 * 1024))),
    ]
}

#[tokio::test]
async fn validate_refuses_every_hostile_token_with_a_401() {
    let app = spawn_app().await;
    for (name, token) in hostile_tokens(&app).await {
        let answer = app.post("/validate", json!({"token": token})).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.body);
        assert_eq!(answer.body["valid"], false, "{name}");
        let expected = if name == "expired" {
            "token_expired"
        } else {
            "token_invalid"
        };
        assert_eq!(answer.body["error"]["code"], expected, "{name}");
    }
}

#[tokio::test]
async fn the_authorizer_refuses_every_hostile_token_in_front_of_a_protected_route() {
    let app = spawn_app().await;
    for (name, token) in hostile_tokens(&app).await {
        let answer = app.get_as("/customers", &token).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], "unauthorized", "{name}");
    }
    // The same claims, properly signed, pass: the refusals above are the tokens' fault.
    let keys = current_key(&app).await;
    let good = sign(&keys.kid, &keys.secret, &claims(&app));
    assert_eq!(app.get_as("/customers", &good).await.status, 200);
}

#[tokio::test]
async fn the_authorizer_function_answers_unauthorized_and_never_fails_on_hostile_tokens() {
    let app = spawn_app().await;
    let state = authorizer(&app, &[]).await;
    for (name, token) in hostile_tokens(&app).await {
        let error = validate_jwt::authorize(&state, authorizer_request(&format!("Bearer {token}")))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "Unauthorized", "{name}");
    }
    for header in ["", "Bearer", "Basic abc", "token-without-scheme"] {
        let error = validate_jwt::authorize(&state, authorizer_request(header))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "Unauthorized", "{header:?}");
    }
}

async fn authorizer(app: &TestApp, overrides: &[(&str, &str)]) -> validate_jwt::State {
    let mut env = app.function_env("ValidateJwtFunction");
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    validate_jwt::State::from_env(&app.sdk, &Env::Map(env)).unwrap()
}

fn authorizer_request(header: &str) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest {
    let mut request = aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = Some(header.to_owned());
    request.method_arn =
        Some("arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/orders/42".into());
    request
}

#[tokio::test]
async fn a_valid_token_gets_an_allow_for_the_whole_stage_with_its_context() {
    let app = spawn_app().await;
    let state = authorizer(&app, &[]).await;
    let token = app.admin_token().await;
    let answer = validate_jwt::authorize(&state, authorizer_request(&format!("Bearer {token}")))
        .await
        .unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    assert_eq!(answer["principalId"], "admin");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:api1/dev/*"
    );
    assert_eq!(
        answer["context"],
        json!({"sub": "admin", "role": "admin", "name": "admin"})
    );
}

#[tokio::test]
async fn after_a_rotation_the_previous_key_still_verifies_and_an_older_one_does_not() {
    let app = spawn_app().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&app.sdk);
    let rotate = |value: String| {
        let secrets = secrets.clone();
        let arn = app.jwt_secret_arn();
        async move {
            secrets
                .put_secret_value()
                .secret_id(arn)
                .secret_string(value)
                .send()
                .await
                .unwrap()
        }
    };
    // Verifiers that re-read the secret on every unknown kid, as after their cache expires.
    let fresh = [("JWT_KEY_CACHE_SECONDS", "0")];
    let first = current_key(&app).await;
    let token_one = sign(&first.kid, &first.secret, &claims(&app));
    rotate("second-signing-key-that-is-long-enough-0123456789".into()).await;
    let second = current_key(&app).await;
    assert_ne!(first.kid, second.kid);
    let token_two = sign(&second.kid, &second.secret, &claims(&app));

    let verifier = authorizer(&app, &fresh).await;
    for token in [&token_one, &token_two] {
        assert!(
            validate_jwt::authorize(&verifier, authorizer_request(&format!("Bearer {token}")))
                .await
                .is_ok()
        );
    }
    let validated = app.post("/validate", json!({"token": token_one})).await;
    assert_eq!(
        validated.status, 200,
        "a token of the previous key validates over HTTP: {}",
        validated.body
    );

    rotate("third-signing-key-that-is-long-enough-0123456789".into()).await;
    let verifier = authorizer(&app, &fresh).await;
    let refused = validate_jwt::authorize(
        &verifier,
        authorizer_request(&format!("Bearer {token_one}")),
    )
    .await;
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Unauthorized",
        "two rotations ago: refused"
    );
    assert!(
        validate_jwt::authorize(
            &verifier,
            authorizer_request(&format!("Bearer {token_two}"))
        )
        .await
        .is_ok()
    );
}
