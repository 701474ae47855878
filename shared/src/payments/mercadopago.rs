//! The Mercado Pago Orders API over HTTPS: the [`PaymentGateway`] the
//! orders function uses (feature `mercadopago`). The API facts it relies on
//! are listed, with their sources, in [`crate::payments`].
//!
//! # One TLS stack
//!
//! The client is hyper 1 (`hyper-util`'s pooled client) with `hyper-rustls`
//! and rustls 0.23 on ring, the very crates (and versions) the AWS SDK
//! clients already link through `aws-smithy-http-client` with its
//! `rustls-ring` feature; none of them with default features, which would
//! bring aws-lc. So a function that enables this feature links no second
//! TLS stack, no second crypto provider and no new HTTP crate
//! (`scripts/check-deps.sh` holds it). The smithy client itself is not
//! reused: its `HttpConnector` interface wants the SDK's runtime components
//! and body types, and it would tie this adapter to the `aws` feature.
//! Roots of trust are the system's (as the SDK's): on Lambda's al2023 the
//! ca-certificates bundle.
//!
//! # Bounds
//!
//! Every call is bounded like the SDK calls ([`crate::config`]): 1 s to
//! connect, 3 s an attempt (connect, TLS, request, whole answer), 3.5 s the
//! call with its retries, at most 3 attempts with jittered backoff (100 ms
//! doubling, at most 500 ms). Only connection failures, timeouts, 408, 423
//! (the idempotency key is busy with a request in flight), 429 and 5xx are
//! tried again, and only for requests that are safe to repeat: `GET`s and
//! `POST`s that carry an `X-Idempotency-Key`, which all of ours do
//! (creation and refund take the caller's key, cancellation one derived from
//! the order). A dead or hung Mercado Pago is [`PaymentError::Unavailable`]
//! within 3.5 s.
//!
//! # Idempotency of the creation
//!
//! Within one call every attempt sends the same bytes. A later call for the
//! same order (our client retrying after a lost answer) recomputes
//! `expiration_time` from the deadline; it is sent in whole minutes, so it
//! only differs when a minute boundary passed in between. Whether Mercado
//! Pago then answers the first order or 409 (like the local stand-in) is not
//! documented: the caller should store the Mercado Pago order id as soon as
//! it has it and answer a repeat from its own store.

use super::credentials::AccessToken;
use super::{
    MpOrder, MpOrderStatus, MpPayment, PaymentError, QrOrderRequest, format_amount,
    iso8601_duration, parse_amount,
};
use crate::config::Env;
use crate::domain::{IdempotencyKey, OrderId, PosId, ProviderOrderId};
use crate::service::ports::PaymentGateway;
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Mercado Pago's API, the default of `MERCADOPAGO_API_URL`.
pub const DEFAULT_API_URL: &str = "https://api.mercadopago.com";

/// An answer longer than this is not read (an order is a few KB).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// How long a pooled connection may sit idle before it is dropped.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the adapter is configured with, besides the access token.
#[derive(Debug, Clone)]
pub struct MercadoPagoSettings {
    /// `MERCADOPAGO_API_URL`: where the Orders API is (the local stand-in in
    /// `make dev` and the tests), without a trailing `/`.
    pub api_url: String,
    /// `MERCADOPAGO_EXTERNAL_POS_ID`: the point of sale (created beforehand
    /// in Mercado Pago, with its store) the QR orders belong to when neither
    /// the kiosk nor its store has one of its own.
    pub external_pos_id: String,
    pub bounds: Bounds,
}

impl MercadoPagoSettings {
    pub fn new(api_url: &str, external_pos_id: &str) -> Result<Self, SetupError> {
        let api_url = api_url.trim_end_matches('/');
        let uri: http::Uri = api_url
            .parse()
            .map_err(|_| SetupError::InvalidUrl(api_url.to_owned()))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
        if !scheme_ok || uri.authority().is_none() || uri.query().is_some() {
            return Err(SetupError::InvalidUrl(api_url.to_owned()));
        }
        if PosId::parse(external_pos_id).is_none() {
            return Err(SetupError::InvalidPosId);
        }
        Ok(Self {
            api_url: api_url.to_owned(),
            external_pos_id: external_pos_id.to_owned(),
            bounds: Bounds::default(),
        })
    }

    /// `MERCADOPAGO_API_URL` (default [`DEFAULT_API_URL`]) and
    /// `MERCADOPAGO_EXTERNAL_POS_ID` (required).
    pub fn from_env(env: &Env) -> Result<Self, SetupError> {
        let api_url = env
            .get("MERCADOPAGO_API_URL")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let pos = env
            .get("MERCADOPAGO_EXTERNAL_POS_ID")
            .ok_or(SetupError::InvalidPosId)?;
        Self::new(&api_url, &pos)
    }
}

/// The bounds of every call (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            connect: crate::config::CONNECT_TIMEOUT,
            attempt: crate::config::ATTEMPT_TIMEOUT,
            operation: crate::config::OPERATION_TIMEOUT,
            max_attempts: crate::config::MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(100),
            max_backoff: crate::config::MAX_BACKOFF,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("MERCADOPAGO_API_URL {0:?} is not an http(s) URL without a query")]
    InvalidUrl(String),
    #[error("MERCADOPAGO_EXTERNAL_POS_ID is missing or not 1 to 40 letters and digits")]
    InvalidPosId,
    #[error("no root certificates to verify {0} with")]
    NoRootCertificates(String),
}

/// The Orders API client: a connection pool, the settings and the access
/// token. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct MercadoPago {
    inner: Arc<Inner>,
    token: AccessToken,
}

struct Inner {
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    settings: MercadoPagoSettings,
}

impl std::fmt::Debug for MercadoPago {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MercadoPago")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl MercadoPago {
    /// Builds the client (no network call). The system's root certificates
    /// are loaded here; an `https` URL without any is an error.
    pub fn new(settings: MercadoPagoSettings, token: AccessToken) -> Result<Self, SetupError> {
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(settings.bounds.connect));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&settings.api_url)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Ok(Self {
            inner: Arc::new(Inner { http, settings }),
            token,
        })
    }

    /// The same client (and pool) with another access token, for when the
    /// credentials secret rotates.
    pub fn with_access_token(&self, token: AccessToken) -> Self {
        Self {
            inner: self.inner.clone(),
            token,
        }
    }

    pub fn settings(&self) -> &MercadoPagoSettings {
        &self.inner.settings
    }

    /// One bounded call; the answer's body on a 2xx.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<Bytes, PaymentError> {
        let bounds = self.inner.settings.bounds;
        let uri = format!("{}{path}", self.inner.settings.api_url);
        let repeatable = method == Method::GET || idempotency_key.is_some();
        let deadline = Instant::now() + bounds.operation;
        let body = Bytes::from(body.unwrap_or_default());
        let mut attempt = 1;
        loop {
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .min(bounds.attempt);
            let reason = match tokio::time::timeout(
                budget,
                self.attempt(&method, &uri, body.clone(), idempotency_key),
            )
            .await
            {
                Ok(Attempt::Done(result)) => return result,
                Ok(Attempt::Retry(reason)) => reason,
                Err(_) => format!("no answer within {} ms", budget.as_millis()),
            };
            let backoff = backoff(bounds, attempt);
            if !repeatable || attempt >= bounds.max_attempts || Instant::now() + backoff >= deadline
            {
                tracing::warn!(%method, path, attempt, reason, "Mercado Pago call failed");
                return Err(PaymentError::Unavailable(reason));
            }
            tracing::warn!(%method, path, attempt, reason, "Mercado Pago call failed; trying again");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        uri: &str,
        body: Bytes,
        idempotency_key: Option<&str>,
    ) -> Attempt {
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.token.expose()),
            )
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "kiosk-backend");
        if !body.is_empty() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(key) = idempotency_key {
            request = request.header("X-Idempotency-Key", key);
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(e) => {
                return Attempt::Done(Err(PaymentError::Rejected {
                    status: None,
                    code: "invalid_request".into(),
                    message: format!("the request cannot be built: {e}"),
                }));
            }
        };
        let response = match self.inner.http.request(request).await {
            Ok(response) => response,
            Err(e) => return Attempt::Retry(format!("{}", crate::error::ErrorChain(&e))),
        };
        let status = response.status();
        let answer = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes());
        match status {
            s if s.is_success() => match answer {
                Ok(bytes) => Attempt::Done(Ok(bytes)),
                Err(e) => Attempt::Retry(format!("reading the answer: {e}")),
            },
            StatusCode::NOT_FOUND => Attempt::Done(Err(PaymentError::NotFound)),
            StatusCode::REQUEST_TIMEOUT | StatusCode::LOCKED | StatusCode::TOO_MANY_REQUESTS => {
                Attempt::Retry(format!("HTTP {}", status.as_u16()))
            }
            s if s.is_server_error() => Attempt::Retry(format!("HTTP {}", status.as_u16())),
            s if s.is_client_error() => Attempt::Done(Err(rejection(
                status,
                answer.as_deref().unwrap_or_default(),
            ))),
            _ => Attempt::Done(Err(PaymentError::Unavailable(format!(
                "unexpected HTTP {}",
                status.as_u16()
            )))),
        }
    }

    async fn order_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<MpOrder, PaymentError> {
        let answer = self.call(method, path, body, idempotency_key).await?;
        read_order(&answer)
    }
}

enum Attempt {
    Done(Result<Bytes, PaymentError>),
    Retry(String),
}

/// The wait before attempt `attempt + 1`: the doubled backoff, jittered
/// into its upper half.
fn backoff(bounds: Bounds, attempt: u32) -> Duration {
    let full = bounds
        .initial_backoff
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(bounds.max_backoff);
    let half = full / 2;
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1024) as u32;
    half + half.mul_f64(f64::from(jitter) / 1024.0)
}

fn tls_config(api_url: &str) -> Result<rustls::ClientConfig, SetupError> {
    use hyper_rustls::ConfigBuilderExt;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SetupError::NoRootCertificates(e.to_string()))?;
    match builder.clone().with_native_roots() {
        Ok(builder) => Ok(builder.with_no_client_auth()),
        // Plain HTTP (the local stand-in) needs no roots.
        Err(_) if api_url.starts_with("http://") => Ok(builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()),
        Err(e) => Err(SetupError::NoRootCertificates(format!("{api_url}: {e}"))),
    }
}

/// A 4xx answer as [`PaymentError::Rejected`], whichever error shape it
/// has: `{"errors": [{"code", "message"}]}` (Orders API) or `{"error",
/// "message"}` (older APIs).
fn rejection(status: StatusCode, body: &[u8]) -> PaymentError {
    #[derive(Deserialize, Default)]
    struct Shape {
        #[serde(default)]
        errors: Vec<Item>,
        error: Option<String>,
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    let shape: Shape = serde_json::from_slice(body).unwrap_or_default();
    let first = shape.errors.into_iter().next();
    let code = first
        .as_ref()
        .and_then(|item| item.code.clone())
        .or(shape.error)
        .unwrap_or_else(|| format!("http_{}", status.as_u16()));
    let message = first
        .and_then(|item| item.message)
        .or(shape.message)
        .unwrap_or_default();
    PaymentError::Rejected {
        status: Some(status.as_u16()),
        code: truncate(code, 100),
        message: truncate(message, 300),
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The order in an answer. An answer we cannot read is the provider
/// misbehaving: [`PaymentError::Unavailable`] (nothing is acted on).
pub fn read_order(answer: &[u8]) -> Result<MpOrder, PaymentError> {
    let unreadable = |what: &str| PaymentError::Unavailable(format!("unreadable order: {what}"));
    let wire: WireOrder = serde_json::from_slice(answer).map_err(|e| unreadable(&e.to_string()))?;
    let id = ProviderOrderId::parse(&wire.id).ok_or_else(|| unreadable("id"))?;
    let total = wire
        .total_amount
        .as_deref()
        .and_then(parse_amount)
        .ok_or_else(|| unreadable("total_amount"))?;
    let paid = match wire.total_paid_amount.as_deref() {
        None => None,
        Some(text) => Some(parse_amount(text).ok_or_else(|| unreadable("total_paid_amount"))?),
    };
    let payments = wire
        .transactions
        .map(|t| t.payments)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let amount = |text: Option<String>, field: &str| match text {
                None => Ok(None),
                Some(text) => parse_amount(&text)
                    .map(Some)
                    .ok_or_else(|| unreadable(field)),
            };
            Ok(MpPayment {
                id: p.id.unwrap_or_default(),
                status: p.status.unwrap_or_default(),
                status_detail: p.status_detail.unwrap_or_default(),
                amount: amount(p.amount, "payments.amount")?,
                paid_amount: amount(p.paid_amount, "payments.paid_amount")?,
            })
        })
        .collect::<Result<Vec<_>, PaymentError>>()?;
    let raw_status = wire.status.unwrap_or_default();
    let status_detail = wire.status_detail.unwrap_or_default();
    Ok(MpOrder {
        id,
        status: MpOrderStatus::from_wire(&raw_status, &status_detail),
        raw_status,
        status_detail,
        external_reference: wire.external_reference.as_deref().and_then(OrderId::parse),
        total,
        paid,
        qr_data: wire.type_response.and_then(|t| t.qr_data),
        payments,
    })
}

#[derive(Deserialize)]
struct WireOrder {
    id: String,
    status: Option<String>,
    status_detail: Option<String>,
    external_reference: Option<String>,
    total_amount: Option<String>,
    total_paid_amount: Option<String>,
    type_response: Option<WireTypeResponse>,
    transactions: Option<WireTransactions>,
}

#[derive(Deserialize)]
struct WireTypeResponse {
    qr_data: Option<String>,
}

#[derive(Deserialize)]
struct WireTransactions {
    #[serde(default)]
    payments: Vec<WirePayment>,
}

#[derive(Deserialize)]
struct WirePayment {
    id: Option<String>,
    status: Option<String>,
    status_detail: Option<String>,
    amount: Option<String>,
    paid_amount: Option<String>,
}

/// The body of `POST /v1/orders` for a dynamic QR order.
#[derive(Serialize)]
struct CreateQrOrder<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    external_reference: &'a str,
    total_amount: String,
    expiration_time: String,
    config: CreateConfig<'a>,
    transactions: CreateTransactions,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<CreateItem<'a>>,
}

#[derive(Serialize)]
struct CreateConfig<'a> {
    qr: QrConfig<'a>,
}

#[derive(Serialize)]
struct QrConfig<'a> {
    external_pos_id: &'a str,
    mode: &'static str,
}

#[derive(Serialize)]
struct CreateTransactions {
    payments: [CreatePayment; 1],
}

#[derive(Serialize)]
struct CreatePayment {
    amount: String,
}

#[derive(Serialize)]
struct CreateItem<'a> {
    title: &'a str,
    unit_price: String,
    quantity: u32,
    unit_measure: &'static str,
}

fn refused(code: &str, message: impl Into<String>) -> PaymentError {
    PaymentError::Rejected {
        status: None,
        code: code.to_owned(),
        message: message.into(),
    }
}

/// The body of a QR order creation, or why it cannot be sent: on the
/// request's point of sale, else on `default_pos` (the deployment's).
fn create_body(
    request: &QrOrderRequest,
    default_pos: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, PaymentError> {
    let external_pos_id = request.pos_id.as_ref().map_or(default_pos, PosId::as_str);
    let total = format_amount(request.total)
        .filter(|_| request.total.as_cents() > 0)
        .ok_or_else(|| refused("invalid_amount", "the total must be positive"))?;
    // Whole minutes (the form of Mercado Pago's examples, `PT15M`), rounded
    // up: the QR never dies before the deadline the kiosk shows; at the
    // deadline the expiry job cancels it at Mercado Pago (a payment in the
    // seconds between is refunded by its sweep).
    let left = Duration::try_from(request.expires_at - now)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let minutes = left.div_ceil(60);
    if left < 60 {
        return Err(refused(
            "expired",
            "less than a minute is left before the payment deadline",
        ));
    }
    let items = request
        .items
        .iter()
        .map(|item| {
            let unit_price = format_amount(item.unit_price)
                .ok_or_else(|| refused("invalid_amount", "an item's price is negative"))?;
            Ok(CreateItem {
                title: &item.title,
                unit_price,
                quantity: item.quantity,
                unit_measure: "unit",
            })
        })
        .collect::<Result<Vec<_>, PaymentError>>()?;
    let body = CreateQrOrder {
        kind: "qr",
        external_reference: request.order_id.as_str(),
        total_amount: total.clone(),
        expiration_time: iso8601_duration(Duration::from_secs(minutes * 60)),
        config: CreateConfig {
            qr: QrConfig {
                external_pos_id,
                mode: "dynamic",
            },
        },
        transactions: CreateTransactions {
            payments: [CreatePayment { amount: total }],
        },
        items,
    };
    serde_json::to_vec(&body).map_err(|e| refused("invalid_request", e.to_string()))
}

impl PaymentGateway for MercadoPago {
    #[tracing::instrument(skip_all, fields(order_id = %request.order_id))]
    async fn create_qr_order(&self, request: &QrOrderRequest) -> Result<MpOrder, PaymentError> {
        let body = create_body(
            request,
            &self.inner.settings.external_pos_id,
            time::OffsetDateTime::now_utc(),
        )?;
        let created = self
            .order_call(
                Method::POST,
                "/v1/orders",
                Some(body),
                Some(request.idempotency_key.as_str()),
            )
            .await;
        // A 404 here names something else than an order (the point of sale).
        created.map_err(|e| match e {
            PaymentError::NotFound => {
                refused("not_found", "Mercado Pago answered 404 to the creation")
            }
            e => e,
        })
    }

    #[tracing::instrument(skip_all, fields(mp_order_id = %id))]
    async fn get_order(&self, id: &ProviderOrderId) -> Result<MpOrder, PaymentError> {
        self.order_call(Method::GET, &format!("/v1/orders/{id}"), None, None)
            .await
    }

    #[tracing::instrument(skip_all, fields(mp_order_id = %id))]
    async fn cancel_order(&self, id: &ProviderOrderId) -> Result<MpOrder, PaymentError> {
        // One cancellation per order: the key is the order's, so a retry
        // (or a second caller) gets the first answer.
        let key = format!("cancel-{id}");
        self.order_call(
            Method::POST,
            &format!("/v1/orders/{id}/cancel"),
            None,
            Some(&key),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(mp_order_id = %id))]
    async fn refund_order(
        &self,
        id: &ProviderOrderId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<MpOrder, PaymentError> {
        self.order_call(
            Method::POST,
            &format!("/v1/orders/{id}/refund"),
            None,
            Some(idempotency_key.as_str()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use crate::payments::QrItem;

    /// An answer of `POST /v1/orders` shaped like the example of Mercado
    /// Pago's QR Code guide (ids and QR text shortened).
    const CREATED: &str = r#"{
        "id": "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3",
        "type": "qr",
        "processing_mode": "automatic",
        "external_reference": "6f0c7a52-5f7d-4d49-9d39-0e3c2f0a9b11",
        "expiration_time": "PT15M",
        "country_code": "BRA",
        "user_id": "2021490138",
        "status": "created",
        "status_detail": "created",
        "currency": "BRL",
        "created_date": "2026-11-23T19:23:43.000Z",
        "last_updated_date": "2026-11-23T19:23:43.000Z",
        "total_amount": "24.90",
        "integration_data": {"application_id": "1234"},
        "transactions": {"payments": [
            {"id": "PAY01JQ4S4KY8HWQ6NA5PXB65B3D3", "amount": "24.90", "status": "created", "status_detail": "ready_to_process"}
        ]},
        "config": {"qr": {"external_pos_id": "KIOSK001POS001", "mode": "dynamic"}},
        "type_response": {"qr_data": "00020101021243650016COM.MERCADOLIBRE02013063638"}
    }"#;

    #[test]
    fn a_created_order_is_read_with_its_qr_and_exact_amounts() {
        let order = read_order(CREATED.as_bytes()).unwrap();
        assert_eq!(order.id.as_str(), "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3");
        assert_eq!(order.status, MpOrderStatus::Pending);
        assert_eq!(order.total, Money::cents(2490));
        assert_eq!(order.paid, None);
        assert_eq!(
            order.external_reference.as_ref().map(OrderId::as_str),
            Some("6f0c7a52-5f7d-4d49-9d39-0e3c2f0a9b11")
        );
        assert_eq!(
            order.qr_data.as_deref(),
            Some("00020101021243650016COM.MERCADOLIBRE02013063638")
        );
        assert_eq!(order.payments[0].amount, Some(Money::cents(2490)));
    }

    #[test]
    fn an_order_without_a_readable_id_or_total_is_unavailable() {
        let without_total = CREATED.replace(r#""total_amount": "24.90","#, "");
        let float_total = CREATED.replace(r#""total_amount": "24.90""#, r#""total_amount": 24.9"#);
        let odd_total =
            CREATED.replace(r#""total_amount": "24.90""#, r#""total_amount": "24.905""#);
        let bad_id = CREATED.replace("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3\"", "ORD/../x\"");
        for answer in [
            without_total,
            float_total,
            odd_total,
            bad_id,
            "<html>".to_owned(),
        ] {
            assert!(
                matches!(
                    read_order(answer.as_bytes()),
                    Err(PaymentError::Unavailable(_))
                ),
                "{answer}"
            );
        }
    }

    #[test]
    fn error_bodies_of_either_shape_become_rejections() {
        let orders_api = br#"{"errors":[{"code":"idempotency_key_already_used","message":"another body","details":[]}]}"#;
        let older =
            br#"{"message":"invalid access token","error":"unauthorized","status":401,"cause":[]}"#;
        assert_eq!(
            rejection(StatusCode::CONFLICT, orders_api),
            PaymentError::Rejected {
                status: Some(409),
                code: "idempotency_key_already_used".into(),
                message: "another body".into()
            }
        );
        assert_eq!(
            rejection(StatusCode::UNAUTHORIZED, older),
            PaymentError::Rejected {
                status: Some(401),
                code: "unauthorized".into(),
                message: "invalid access token".into()
            }
        );
        assert_eq!(
            rejection(StatusCode::BAD_REQUEST, b"not json"),
            PaymentError::Rejected {
                status: Some(400),
                code: "http_400".into(),
                message: String::new()
            }
        );
    }

    fn request(total: i64, lifetime: time::Duration) -> (QrOrderRequest, time::OffsetDateTime) {
        let now = time::OffsetDateTime::now_utc();
        let request = QrOrderRequest {
            order_id: OrderId::parse("order-1").unwrap(),
            total: Money::cents(total),
            expires_at: now + lifetime,
            idempotency_key: IdempotencyKey::parse("payment-order-1").unwrap(),
            items: vec![QrItem {
                title: "X-Burger".into(),
                unit_price: Money::cents(total / 2),
                quantity: 2,
            }],
            pos_id: None,
        };
        (request, now)
    }

    #[test]
    fn the_creation_body_has_the_documented_shape() {
        // 15 min 59 s left: the QR lives 16 minutes, never less than ours.
        let (request, now) = request(4980, time::Duration::seconds(959));
        let body: serde_json::Value =
            serde_json::from_slice(&create_body(&request, "KIOSK001POS001", now).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "qr",
                "external_reference": "order-1",
                "total_amount": "49.80",
                "expiration_time": "PT16M",
                "config": {"qr": {"external_pos_id": "KIOSK001POS001", "mode": "dynamic"}},
                "transactions": {"payments": [{"amount": "49.80"}]},
                "items": [{"title": "X-Burger", "unit_price": "24.90", "quantity": 2, "unit_measure": "unit"}]
            })
        );
    }

    #[test]
    fn a_kiosks_or_stores_point_of_sale_replaces_the_deployments() {
        let (mut request, now) = request(4980, time::Duration::minutes(15));
        request.pos_id = PosId::parse("SHOPPING01");
        let body: serde_json::Value =
            serde_json::from_slice(&create_body(&request, "KIOSK001POS001", now).unwrap()).unwrap();
        assert_eq!(body["config"]["qr"]["external_pos_id"], "SHOPPING01");
    }

    #[test]
    fn a_creation_that_cannot_make_sense_is_not_sent() {
        let rejected = |total, lifetime| {
            let (request, now) = request(total, lifetime);
            matches!(
                create_body(&request, "POS", now),
                Err(PaymentError::Rejected { status: None, .. })
            )
        };
        assert!(rejected(0, time::Duration::minutes(15)));
        assert!(rejected(-100, time::Duration::minutes(15)));
        assert!(rejected(100, time::Duration::seconds(59)));
        assert!(rejected(100, time::Duration::minutes(-1)));
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let bounds = Bounds::default();
        for attempt in 1..=5 {
            let wait = backoff(bounds, attempt);
            let full = (Duration::from_millis(100) * 2u32.pow(attempt - 1)).min(bounds.max_backoff);
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
    }

    #[test]
    fn settings_refuse_what_is_not_a_base_url_or_a_pos() {
        assert!(MercadoPagoSettings::new("https://api.mercadopago.com/", "POS1").is_ok());
        assert_eq!(
            MercadoPagoSettings::new("http://127.0.0.1:3001/", "POS1")
                .unwrap()
                .api_url,
            "http://127.0.0.1:3001"
        );
        for url in [
            "",
            "api.mercadopago.com",
            "ftp://x",
            "https://x/?a=b",
            "https://",
        ] {
            assert!(MercadoPagoSettings::new(url, "POS1").is_err(), "{url}");
        }
        for pos in ["", "has space", "POS-1", &"p".repeat(41)] {
            assert!(
                MercadoPagoSettings::new(DEFAULT_API_URL, pos).is_err(),
                "{pos}"
            );
        }
    }
}
