//! Hostile tokens against both gates, `/validate` and the authorizer in front
//! of a protected route; and key rotation against Secrets Manager.

use crate::helpers::{TestApp, Validation, authorize, authorizer_request, spawn_app};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::config::Env;

struct Keys {
    kid: String,
    secret: String,
}

impl Keys {
    /// A token of these claims, signed with this key.
    fn sign(&self, claims: &Value) -> String {
        sign(&self.kid, &self.secret, claims)
    }
}

async fn current_key(app: &TestApp) -> Keys {
    let (kid, secret) = app.secret("JwtSigningKey").await;
    Keys { kid, secret }
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
    let valid = keys.sign(&good);
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
            keys.sign(&with(
                &with(&good, "exp", json!(now - 3600)),
                "iat",
                json!(now - 7200),
            )),
        ),
        (
            "not yet valid",
            keys.sign(&with(
                &with(&good, "nbf", json!(now + 3600)),
                "exp",
                json!(now + 7200),
            )),
        ),
        (
            "wrong iss",
            keys.sign(&with(&good, "iss", json!("someone-else"))),
        ),
        (
            "wrong aud",
            keys.sign(&with(&good, "aud", json!("another-api"))),
        ),
        ("garbage", "not-a-token".to_owned()),
        ("12 KB token", format!("{valid}{}", "A".repeat(12 * 1024))),
    ]
}

/// The authorizer of this stack, its environment changed by `overrides`.
async fn authorizer(app: &TestApp, overrides: &[(&str, &str)]) -> validate_jwt::State {
    let mut env = app.function_env("ValidateJwtFunction");
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    validate_jwt::State::from_env(&app.sdk, &Env::Map(env)).unwrap()
}

#[tokio::test]
async fn validate_refuses_every_hostile_token_with_a_401() {
    let app = spawn_app().await;
    for (name, token) in hostile_tokens(&app).await {
        let answer = app.validate(&token).await;
        let expected = if name == "expired" {
            "token_expired"
        } else {
            "token_invalid"
        };
        answer.expect_error(401, expected);
        assert!(!answer.json::<Validation>().valid, "{name}");
    }
}

#[tokio::test]
async fn the_authorizer_refuses_every_hostile_token_in_front_of_a_protected_route() {
    let app = spawn_app().await;
    for (_, token) in hostile_tokens(&app).await {
        let answer = app.list_customers(&token, "").await;
        answer.expect_error(401, "unauthorized");
    }
    // The same claims, properly signed, pass: the refusals above are the tokens' fault.
    let keys = current_key(&app).await;
    let good = keys.sign(&claims(&app));
    assert_eq!(app.list_customers(&good, "").await.status, 200);
}

#[tokio::test]
async fn the_authorizer_function_answers_unauthorized_and_never_fails_on_hostile_tokens() {
    let app = spawn_app().await;
    let state = authorizer(&app, &[]).await;
    for (name, token) in hostile_tokens(&app).await {
        let error = authorize(&state, &token).await.unwrap_err();
        assert_eq!(error.to_string(), "Unauthorized", "{name}");
    }
    for header in ["", "Bearer", "Basic abc", "token-without-scheme"] {
        let error = validate_jwt::authorize(&state, authorizer_request(header))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "Unauthorized", "{header:?}");
    }
}

#[tokio::test]
async fn a_valid_token_gets_an_allow_for_the_whole_stage_with_its_context() {
    let app = spawn_app().await;
    let state = authorizer(&app, &[]).await;
    let token = app.admin_token().await;

    let answer = authorize(&state, &token).await.unwrap();

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
    // Verifiers that re-read the secret on every unknown kid, as after their cache expires.
    let fresh = [("JWT_KEY_CACHE_SECONDS", "0")];
    let first = current_key(&app).await;
    let token_one = first.sign(&claims(&app));
    rotate(&app, "second-signing-key-that-is-long-enough-0123456789").await;
    let second = current_key(&app).await;
    assert_ne!(first.kid, second.kid);
    let token_two = second.sign(&claims(&app));

    let verifier = authorizer(&app, &fresh).await;
    for token in [&token_one, &token_two] {
        assert!(authorize(&verifier, token).await.is_ok());
    }
    let validated = app.validate(&token_one).await;
    assert_eq!(
        validated.status, 200,
        "a token of the previous key validates over HTTP: {}",
        validated.body
    );

    rotate(&app, "third-signing-key-that-is-long-enough-0123456789").await;
    let verifier = authorizer(&app, &fresh).await;
    let refused = authorize(&verifier, &token_one).await;
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Unauthorized",
        "two rotations ago: refused"
    );
    assert!(authorize(&verifier, &token_two).await.is_ok());
}

/// Puts a new current value into the JWT signing secret.
async fn rotate(app: &TestApp, value: &str) {
    aws_sdk_secretsmanager::Client::new(&app.sdk)
        .put_secret_value()
        .secret_id(app.jwt_secret_arn())
        .secret_string(value)
        .send()
        .await
        .unwrap();
}
