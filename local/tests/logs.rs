//! Everything the code logs during signup and sign-in, captured at DEBUG for
//! every crate (the SDKs' included), holds no CPF, token, password or key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn signup_and_sign_in_log_no_cpf_token_password_or_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .init();

    let app = support::spawn_app().await;
    let cpf_formatted = "111.444.777-35";
    let cpf_digits = "11144477735";
    assert_eq!(app.sign_up(cpf_formatted, "Luiza Prado").await.status, 201);
    let customer_token = app.customer_token(cpf_digits).await;
    assert_eq!(
        app.post("/auth", json!({"cpf": "123.456.789-09"}))
            .await
            .status,
        404
    );
    let admin_token = app.admin_token().await;
    assert_eq!(app.get_as("/customers", &admin_token).await.status, 200);
    assert_eq!(
        app.post("/validate", json!({"token": customer_token}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.post(
            "/auth/staff",
            json!({"username": "admin", "password": "Wrong-password-9"})
        )
        .await
        .status,
        401
    );

    let secrets = aws_sdk_secretsmanager::Client::new(&app.sdk);
    let key = secrets
        .get_secret_value()
        .secret_id(app.jwt_secret_arn())
        .send()
        .await
        .unwrap();
    let key = key.secret_string().unwrap().to_owned();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("customer signed up") && logs.contains("customer authenticated"),
        "the handlers did log:\n{logs:.2000}"
    );
    let token_signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    let forbidden = [
        ("CPF digits", cpf_digits.to_owned()),
        ("formatted CPF", cpf_formatted.to_owned()),
        ("unknown CPF", "12345678909".to_owned()),
        ("customer token", token_signature(&customer_token)),
        ("admin token", token_signature(&admin_token)),
        ("admin password", support::ADMIN_PASSWORD.to_owned()),
        ("wrong password", "Wrong-password-9".to_owned()),
        ("signing key", key),
    ];
    for (what, secret) in forbidden {
        assert!(!logs.contains(&secret), "the logs hold the {what}");
    }
}
