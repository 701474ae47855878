//! Everything the code logs during signup, sign-in and e-mail verification,
//! captured at DEBUG for every crate (the SDKs' included), holds no CPF,
//! token, e-mailed code, e-mail address, password or key.
//!
//! The subscriber is the process's global one, installed once by the first
//! capture: the tests of this binary share one process, and a global
//! subscriber is the one that sees every task and thread of the local API
//! this test spawns (and the `log` records of the crates that use `log`).
//! What the tests running alongside log lands in the same buffer; it is held
//! to the same rule.

use crate::helpers::{ADMIN_PASSWORD, spawn_app};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

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

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Everything logged in this process since the first call, at DEBUG.
fn capture_logs() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("nothing else in the test binary installs a global subscriber");
            captured
        })
        .clone()
}

#[tokio::test]
async fn signup_sign_in_and_verification_log_no_cpf_token_code_address_password_or_key() {
    let captured = capture_logs();
    let app = spawn_app().await;
    let cpf_formatted = "111.444.777-35";
    let cpf_digits = "11144477735";

    let (customer, address) = app
        .signed_up_at(cpf_formatted, "Luiza Prado", "luiza")
        .await;
    let customer_token = app.customer_token(cpf_digits).await;
    let verified_token = app.verified(&customer_token, &address).await;
    let code = crate::helpers::latest_code_sent_to(&address).await;
    assert_eq!(app.auth("123.456.789-09").await.status, 404);
    let admin_token = app.admin_token().await;
    assert_eq!(app.list_customers(&admin_token, "").await.status, 200);
    assert_eq!(app.validate(&customer_token).await.status, 200);
    let wrong_password = app.staff_sign_in("admin", "Wrong-password-9").await;
    assert_eq!(wrong_password.status, 401);

    let private_jwk: serde_json::Value =
        serde_json::from_str(&app.signing_key().await.to_jwk()).unwrap();
    let key = private_jwk["d"].as_str().unwrap().to_owned();
    let logs = captured.text();
    // The handlers' own lines for this test's customer were captured.
    let logged = |message: &str| {
        logs.lines()
            .any(|line| line.contains(message) && line.contains(&customer.id))
    };
    assert!(
        logged("customer signed up")
            && logged("customer authenticated")
            && logged("verification code sent")
            && logged("customer verified"),
        "the handlers did log:\n{logs:.2000}"
    );
    let token_signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    let forbidden = [
        ("CPF digits", cpf_digits.to_owned()),
        ("formatted CPF", cpf_formatted.to_owned()),
        ("unknown CPF", "12345678909".to_owned()),
        ("customer token", token_signature(&customer_token)),
        ("admin token", token_signature(&admin_token)),
        ("verified token", token_signature(&verified_token)),
        // Quoted, as a body or a field would hold it: bare, six digits are
        // found in any timestamp sooner or later.
        ("e-mailed code", format!("\"{code}\"")),
        ("e-mailed code", format!("\\\"{code}\\\"")),
        ("e-mailed code", format!("é {code}.")),
        ("e-mail address", address.clone()),
        ("admin password", ADMIN_PASSWORD.to_owned()),
        ("wrong password", "Wrong-password-9".to_owned()),
        ("signing key", key),
    ];
    for (what, secret) in forbidden {
        assert!(!logs.contains(&secret), "the logs hold the {what}");
    }
}
