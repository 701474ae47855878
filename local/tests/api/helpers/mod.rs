//! The end-to-end tests' helpers, by job:
//! - [`emulator`]: `spawn_app` and its kin: an isolated stack in the emulator
//!   and the local API on a free port, a moto of a test's own to pause or
//!   kill, and what a test reads from a stack directly;
//! - [`routes`]: `TestApp`'s client, one method per route, every answer
//!   checked against openapi.yaml;
//! - [`shop`]: the arrangements: staff, kiosks and customers signed in, the
//!   menu, orders placed, paid and moved (`Shop`), the expiry job run "later";
//! - [`proxy`]: proxies in front of the emulator and of Mercado Pago that
//!   record, serialise, fail or stall calls.
//!
//! Here: `TestApp`, `Answer` (a response read into the API's types) and
//! tokens read or made without the API.

mod emulator;
mod proxy;
mod routes;
mod shop;

pub use emulator::*;
pub use proxy::*;
pub use routes::*;
pub use shop::*;

use kiosk_local::bootstrap::LocalStack;
use kiosk_local::template::Template;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "AdminTest1234";
pub const KITCHEN_PASSWORD: &str = "KitchenTest1234";
pub const MANAGER_PASSWORD: &str = "ManagerTest1234";
/// A user with a password but in no staff group.
pub const OUTSIDER_PASSWORD: &str = "OutsiderTest1234";

/// A stack of its own in the emulator and the local API in front of it, on
/// a free port (see [`spawn_app`]).
pub struct TestApp {
    pub base_url: String,
    pub http: reqwest::Client,
    pub stack: LocalStack,
    pub sdk: aws_config::SdkConfig,
    pub template: Template,
    /// This stack's Mercado Pago stand-in (stopped when the app is dropped).
    pub mercadopago: tokio::sync::Mutex<kiosk_local::mercadopago::StandIn>,
    pub mercadopago_url: String,
    pub mercadopago_config: kiosk_local::mercadopago::StandInConfig,
    /// Who placed each order `place` placed (order id → token), so that the
    /// owner is who pays it.
    pub owners: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// This stack's kiosk (id, token), enrolled on first use.
    pub kiosk: tokio::sync::OnceCell<(String, String)>,
    /// This stack's store (its id), open every day all day: the kiosks the
    /// helpers enrol stand in it, and its `kitchen` and `manager` belong to it.
    pub store: tokio::sync::OnceCell<String>,
}

/// A response's status and JSON body (Null when empty), and the request it
/// answers (for the failure messages).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    request: String,
}

impl Answer {
    /// Sends the request and reads its answer.
    async fn of(request: reqwest::RequestBuilder) -> Answer {
        let (client, request) = request.build_split();
        let request = request.unwrap();
        let sent: String = request
            .body()
            .and_then(|body| body.as_bytes())
            .map(|bytes| String::from_utf8_lossy(bytes).chars().take(300).collect())
            .unwrap_or_default();
        let query = request.url().query().map(|q| format!("?{q}"));
        let request_line = format!(
            "{} {}{} {sent}",
            request.method(),
            request.url().path(),
            query.unwrap_or_default()
        );
        let response = client.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            request: request_line,
        }
    }

    /// The contract's error code, if the body is an error.
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// Asserts the answer is the contract's error `code` with `status`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "{} -> {}",
            self.request,
            self.body
        );
    }

    /// Asserts the status and reads the body as a `T`.
    #[track_caller]
    pub fn expect<T: DeserializeOwned>(&self, status: u16) -> T {
        assert_eq!(self.status, status, "{} -> {}", self.request, self.body);
        self.json()
    }

    /// The body as a `T`.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        match serde_json::from_value(self.body.clone()) {
            Ok(value) => value,
            Err(e) => panic!("{} -> {}: {e}", self.request, self.body),
        }
    }
}

/// Each answer's status and body, for the failure messages.
pub fn summary(answers: &[Answer]) -> Vec<String> {
    answers
        .iter()
        .map(|a| format!("{} {}", a.status, a.body))
        .collect()
}

/// Runs `request`; its answer and how long it took.
pub async fn timed(request: impl Future<Output = Answer>) -> (Answer, std::time::Duration) {
    let started = std::time::Instant::now();
    let answer = request.await;
    (answer, started.elapsed())
}

/// The access token of a sign-in, which must have succeeded.
#[track_caller]
pub fn token_of(answer: Answer) -> String {
    answer.expect::<Tokens>(200).access_token
}

/// The claims of a token as JSON (read, not verified).
pub fn claims_json(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The `sub` claim of a token (read, not verified).
pub fn sub_of(token: &str) -> String {
    claims_json(token)["sub"].as_str().unwrap().to_owned()
}

/// A TOKEN authorizer request carrying this `Authorization` header.
pub fn authorizer_request(
    header: &str,
) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest {
    let mut request = aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = Some(header.to_owned());
    request.method_arn =
        Some("arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/orders/42".into());
    request
}

/// The authorizer function's answer to `Bearer {token}`.
pub fn authorize(
    state: &validate_jwt::State,
    token: &str,
) -> Result<
    aws_lambda_events::apigw::ApiGatewayCustomAuthorizerResponse,
    validate_jwt::runtime::FunctionError,
> {
    validate_jwt::authorize(state, authorizer_request(&format!("Bearer {token}")))
}

/// A guest token issued by the authenticate function's own state, for `sub`.
pub async fn issue_guest_token(signer: &authenticate::State, sub: &str) -> String {
    let subject = sub
        .parse::<shared::domain::Subject>()
        .expect("a guest subject");
    let issued = signer
        .tokens
        .issue(
            &subject,
            shared::Role::Guest,
            &shared::domain::token::Scope::chain(),
        )
        .await;
    issued.unwrap().access_token
}
