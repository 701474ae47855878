//! Hostile tokens against both gates, `/validate` and the authorizer in front
//! of a protected route; the JWKS; and key rotation with `kiosk_local::keys` (what `make rotate-keys` runs).
//!
//! The tokens are put together here by hand (base64url, Ed25519, HMAC), not by
//! the code under test, so a bug in our signer cannot hide one in our verifier.

use crate::helpers::{TestApp, Validation, authorize, authorizer_request, spawn_app};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use shared::domain::jwk::PrivateKey;

/// `header.payload.signature`, Ed25519-signed with `seed`.
fn eddsa(seed: &[u8; 32], header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = ed25519_dalek::SigningKey::from_bytes(seed).sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

/// The seed of a private key, from its JWK (what the secret holds).
fn seed_of(key: &PrivateKey) -> [u8; 32] {
    let jwk: Value = serde_json::from_str(&key.to_jwk()).unwrap();
    B64.decode(jwk["d"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn header(kid: &str) -> Value {
    json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})
}

fn claims(app: &TestApp) -> Value {
    let env = app.function_env("AuthenticateFunction");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({"iss": env["JWT_ISSUER"], "aud": env["JWT_AUDIENCE"], "sub": "guest:x", "role": "admin",
           "iat": now, "nbf": now, "exp": now + 600, "jti": "j1"})
}

fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut changed = claims.clone();
    changed[key] = value;
    changed
}

/// Every token that must be refused, named.
async fn hostile_tokens(app: &TestApp) -> Vec<(&'static str, String)> {
    let key = app.signing_key().await;
    let seed = seed_of(&key);
    let good = claims(app);
    let sign = |claims: &Value| eddsa(&seed, &header(&key.kid), claims);
    let valid = sign(&good);
    let parts: Vec<&str> = valid.split('.').collect();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // HS256 keyed with the public key, as a verifier that lets the header pick
    // the algorithm would check it.
    let jwks: Value =
        serde_json::from_str(&app.function_env("ValidateJwtFunction")["JWT_PUBLIC_KEYS"]).unwrap();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let hs_input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).to_string()),
        parts[1]
    );
    let hs256 = |secret: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(hs_input.as_bytes());
        format!("{hs_input}.{}", B64.encode(mac.finalize().into_bytes()))
    };
    let none_header =
        B64.encode(json!({"alg": "none", "typ": "at+jwt", "kid": key.kid}).to_string());
    vec![
        (
            "HS256 keyed with the public key (base64url)",
            hs256(public_x.as_bytes()),
        ),
        (
            "HS256 keyed with the public key (raw)",
            hs256(&B64.decode(&public_x).unwrap()),
        ),
        ("alg none", format!("{none_header}.{}.", parts[1])),
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
        ("no signature part", format!("{}.{}", parts[0], parts[1])),
        (
            "foreign key, our kid",
            eddsa(&[9; 32], &header(&key.kid), &good),
        ),
        (
            "unknown kid",
            eddsa(&seed, &header("not-one-of-our-keys"), &good),
        ),
        (
            "no kid",
            eddsa(&seed, &json!({"alg": "EdDSA", "typ": "at+jwt"}), &good),
        ),
        (
            "typ JWT",
            eddsa(
                &seed,
                &json!({"alg": "EdDSA", "typ": "JWT", "kid": key.kid}),
                &good,
            ),
        ),
        (
            "no typ",
            eddsa(&seed, &json!({"alg": "EdDSA", "kid": key.kid}), &good),
        ),
        (
            "expired",
            sign(&with(
                &with(&good, "exp", json!(now - 3600)),
                "iat",
                json!(now - 7200),
            )),
        ),
        (
            "not yet valid",
            sign(&with(
                &with(&good, "nbf", json!(now + 3600)),
                "exp",
                json!(now + 7200),
            )),
        ),
        (
            "issued in the future",
            sign(&with(&good, "iat", json!(now + 3600))),
        ),
        (
            "wrong iss",
            sign(&with(&good, "iss", json!("someone-else"))),
        ),
        ("wrong aud", sign(&with(&good, "aud", json!("another-api")))),
        ("unknown role", sign(&with(&good, "role", json!("root")))),
        ("garbage", "not-a-token".to_owned()),
        ("12 KB token", format!("{valid}{}", "A".repeat(12 * 1024))),
    ]
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
    // No token at all, in either place: 401 token_missing, as the contract says.
    for body in ["{}", ""] {
        let answer = app.post_raw("/validate", body).await;
        answer.expect_error(401, "token_missing");
    }
}

#[tokio::test]
async fn the_authorizer_refuses_every_hostile_token_in_front_of_a_protected_route() {
    let app = spawn_app().await;
    for (_, token) in hostile_tokens(&app).await {
        let answer = app.list_customers(&token, "").await;
        answer.expect_error(401, "unauthorized");
    }
    // The same claims, signed the same way with our key, pass: the refusals
    // above are the tokens' fault, and the hand-made tokens are well made.
    let key = app.signing_key().await;
    let good = eddsa(&seed_of(&key), &header(&key.kid), &claims(&app));
    assert_eq!(app.list_customers(&good, "").await.status, 200);
}

#[tokio::test]
async fn the_authorizer_function_answers_unauthorized_and_never_fails_on_hostile_tokens() {
    let app = spawn_app().await;
    let state =
        validate_jwt::State::from_env(&app.redeployed_env("ValidateJwtFunction").await).unwrap();
    for (name, token) in hostile_tokens(&app).await {
        let error = authorize(&state, &token).unwrap_err();
        assert_eq!(error.message, "Unauthorized", "{name}");
    }
    for header in ["", "Bearer", "Basic abc", "token-without-scheme"] {
        let error = validate_jwt::authorize(&state, authorizer_request(header)).unwrap_err();
        assert_eq!(error.message, "Unauthorized", "{header:?}");
    }
}

#[tokio::test]
async fn a_valid_token_gets_an_allow_for_the_whole_stage_with_its_context() {
    let app = spawn_app().await;
    let state =
        validate_jwt::State::from_env(&app.redeployed_env("ValidateJwtFunction").await).unwrap();
    let token = app.admin_token().await;

    let answer = serde_json::to_value(authorize(&state, &token).unwrap()).unwrap();

    let sub = app.claims_of(&token).await.sub;
    assert_eq!(answer["principalId"], sub.as_str());
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:api1/dev/*"
    );
    assert_eq!(answer["context"], json!({"sub": sub, "role": "admin"}));
}

#[tokio::test]
async fn the_jwks_publishes_the_verification_keys_and_nothing_private() {
    let app = spawn_app().await;
    let answer = app
        .send(app.request(reqwest::Method::GET, "/.well-known/jwks.json", None))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let jwks: Value = answer.json();
    let key = app.signing_key().await;
    assert_eq!(
        jwks,
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": key.kid, "x": serde_json::from_str::<Value>(&key.to_jwk()).unwrap()["x"], "alg": "EdDSA", "use": "sig"}]})
    );
    // What a third party would do with it: verify one of our tokens.
    let token = app.guest_token().await;
    let x = B64.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
    verifying
        .verify_strict(input.as_bytes(), &signature)
        .unwrap();
}

#[tokio::test]
async fn after_a_rotation_the_previous_key_still_verifies_and_the_one_before_does_not() {
    let app = spawn_app().await;
    let names = app.key_names();
    let first = app.signing_key().await;
    let token_one = app.guest_token().await;

    kiosk_local::keys::rotate(&app.sdk, &names).await.unwrap();
    let second = app.signing_key().await;
    assert_ne!(first.kid, second.kid);

    // Not deployed yet: the running functions know only the first key, so
    // the signer keeps signing with it and nobody is locked out.
    let before_deploy = app.guest_token().await;
    assert_eq!(kid_of(&before_deploy), first.kid);
    assert_eq!(app.validate(&before_deploy).await.status, 200);

    // Deployed: the new key signs, and both verify.
    let signer = <authenticate::State as shared::lambda::Function>::from_env(
        &app.sdk,
        &app.redeployed_env("AuthenticateFunction").await,
    )
    .unwrap();
    let token_two = crate::helpers::issue_guest_token(&signer, "guest:two").await;
    assert_eq!(kid_of(&token_two), second.kid);
    let verifier =
        validate_jwt::State::from_env(&app.redeployed_env("ValidateJwtFunction").await).unwrap();
    for token in [&token_one, &token_two] {
        assert!(authorize(&verifier, token).is_ok());
    }

    kiosk_local::keys::rotate(&app.sdk, &names).await.unwrap();
    let verifier =
        validate_jwt::State::from_env(&app.redeployed_env("ValidateJwtFunction").await).unwrap();
    let refused = authorize(&verifier, &token_one).unwrap_err();
    assert_eq!(
        refused.message, "Unauthorized",
        "two rotations ago: refused"
    );
    assert!(authorize(&verifier, &token_two).is_ok());
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&B64.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}
