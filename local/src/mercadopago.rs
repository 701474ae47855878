//! A Mercado Pago stand-in: the subset of the Orders API the kiosk uses,
//! in memory, for `make dev` and the tests (`kiosk-local serve` starts it
//! on 127.0.0.1:$MERCADOPAGO_PORT, 3001 by default).
//!
//! Like the real API (facts and sources in `shared::payments`):
//!
//! - `POST /v1/orders` (`type: "qr"`, `mode` `dynamic` or `hybrid` answer a
//!   `type_response.qr_data`), `GET /v1/orders/{id}`,
//!   `POST /v1/orders/{id}/cancel`, `POST /v1/orders/{id}/refund` (a full
//!   refund); answers are the order's JSON in Mercado Pago's shape;
//! - every route wants `Authorization: Bearer <access token>` (401
//!   otherwise); every `POST` wants `X-Idempotency-Key` (400 without): the
//!   same key with the same method, path and body answers what the first
//!   successful request answered, with anything else 409
//!   `idempotency_key_already_used` (errors are not remembered, so a request
//!   refused for the order's state may be tried again under its key);
//! - amounts must be strings with exactly two decimals, the payment's amount
//!   must equal `total_amount`, `external_reference` has 1 to 64 characters
//!   (the stand-in's own limit); `expiration_time` is an ISO 8601 duration
//!   (`P1DT2H3M4S` forms; 15 minutes when absent) and is honoured: an order
//!   still `created` then becomes `expired` (and is notified);
//! - statuses and details: `created`/`created`, `processed`/`accredited`,
//!   `failed`/`failed`, `canceled`/`canceled`, `expired`/`expired`,
//!   `refunded`/`refunded`; cancelling anything but a `created` order, or
//!   refunding anything but a `processed` one, is 409;
//! - errors are `{"errors": [{"code", "message", "details"}]}`.
//!
//! Notifications go to the configured webhook URL the way Mercado Pago
//! sends them: `POST {url}?data.id=<order id>&type=order`, headers
//! `x-signature: ts=<unix seconds>,v1=<hex>` (signed with
//! `shared::payments::signature::sign`) and `x-request-id`, body
//! `{"action": "order.processed", "type": "order", "data": {"id", ...},
//! ...}`. The actions are `order.processed`, `order.canceled`,
//! `order.refunded`, `order.expired` (the ones Mercado Pago lists for QR)
//! and `order.failed` (for a refused payment, which the QR list does not
//! name; the general Orders API has the `failed` status). Cancellations,
//! refunds and expiries are notified in the background; they are not
//! retried.
//!
//! Two test-only routes play the customer (no token needed):
//! `POST /simulate/orders/{id}/pay` and `POST /simulate/orders/{id}/reject`,
//! each with an optional `?notify=false` to change the state without a
//! notification. They answer `{"order": ..., "notification": null |
//! {"action", "status" | "error"}}` once the notification was delivered (or
//! failed), so a caller knows it has happened.
//!
//! Codes and details of the stand-in's errors are its own; Mercado Pago's
//! exact codes are not documented for all of these cases.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// The access token the local stack uses for the stand-in.
pub const LOCAL_ACCESS_TOKEN: &str = "TEST-0000000000000000-local-kiosk-stand-in";
/// The webhook secret when `DEV_MERCADOPAGO_WEBHOOK_SECRET` is not set.
pub const DEFAULT_WEBHOOK_SECRET: &str = "local-mercadopago-webhook-secret-0123456789";
/// The stand-in's port when `MERCADOPAGO_PORT` is not set.
pub const DEFAULT_PORT: u16 = 3001;

const USER_ID: &str = "1234567890";
const APPLICATION_ID: &str = "9876543210";
/// How long a notification may take to be answered.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct StandInConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    pub access_token: String,
    pub webhook_secret: String,
    /// Where notifications go; none are sent without one.
    pub webhook_url: Option<String>,
}

impl StandInConfig {
    /// On a free port of 127.0.0.1, with the local token and secret.
    pub fn local(webhook_url: Option<String>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_token: LOCAL_ACCESS_TOKEN.to_owned(),
            webhook_secret: DEFAULT_WEBHOOK_SECRET.to_owned(),
            webhook_url,
        }
    }

    /// What `kiosk-local serve` runs: 127.0.0.1:$MERCADOPAGO_PORT (3001),
    /// signing with $DEV_MERCADOPAGO_WEBHOOK_SECRET, notifying the local
    /// API's `POST /webhooks/mercadopago` on `api_port`.
    pub fn for_local_api(api_port: u16) -> Result<Self, String> {
        let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let port = match setting("MERCADOPAGO_PORT") {
            Some(port) => port
                .parse()
                .map_err(|_| "MERCADOPAGO_PORT is not a port number".to_owned())?,
            None => DEFAULT_PORT,
        };
        Ok(Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            access_token: LOCAL_ACCESS_TOKEN.to_owned(),
            webhook_secret: setting("DEV_MERCADOPAGO_WEBHOOK_SECRET")
                .unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.to_owned()),
            webhook_url: Some(format!("http://127.0.0.1:{api_port}/webhooks/mercadopago")),
        })
    }

    /// The Secrets Manager secret string that gives the orders function
    /// these credentials (`shared::payments::credentials`).
    pub fn secret_string(&self) -> String {
        json!({"access_token": self.access_token, "webhook_secret": self.webhook_secret})
            .to_string()
    }
}

/// The running stand-in. Dropping it stops it too, without waiting.
pub struct StandIn {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<String>>>,
    shutdown: Option<oneshot::Sender<()>>,
    stopped: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl StandIn {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests received so far (`POST /v1/orders`, ...), and forgets them.
    pub fn take_calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .map(|mut calls| std::mem::take(&mut *calls))
            .unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`: what `MERCADOPAGO_API_URL` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening, closes idle connections, waits for the requests in
    /// flight (at most 5 s) and cancels the pending expiries.
    pub async fn stop(&mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    fn signal_stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = self.stopped.send(true);
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// Starts the stand-in; its address and the handle that stops it.
pub async fn spawn(config: StandInConfig) -> std::io::Result<(SocketAddr, StandIn)> {
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let (stopped, stopped_rx) = watch::channel(false);
    let http = reqwest::Client::builder()
        .timeout(NOTIFY_TIMEOUT)
        .build()
        .map_err(std::io::Error::other)?;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        config,
        calls: calls.clone(),
        orders: Mutex::new(Books::default()),
        http,
        stopped: stopped_rx,
    });
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let app = router(shared);
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = shutdown_rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the Mercado Pago stand-in stopped");
        }
    });
    Ok((
        addr,
        StandIn {
            addr,
            calls,
            shutdown: Some(shutdown),
            stopped,
            task: Some(task),
        },
    ))
}

/// [`spawn`] with [`StandInConfig::for_local_api`]: what `kiosk-local
/// serve` starts.
pub async fn spawn_for_local_api(
    api_port: u16,
) -> Result<(SocketAddr, StandIn), Box<dyn std::error::Error + Send + Sync>> {
    let config = StandInConfig::for_local_api(api_port)?;
    let addr = config.addr;
    spawn(config)
        .await
        .map_err(|e| format!("cannot start the Mercado Pago stand-in on {addr}: {e}").into())
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/orders", post(create))
        .route("/v1/orders/{id}", get(read))
        .route("/v1/orders/{id}/cancel", post(cancel))
        .route("/v1/orders/{id}/refund", post(refund))
        .route("/simulate/orders/{id}/pay", post(simulate_pay))
        .route("/simulate/orders/{id}/reject", post(simulate_reject))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Notes each request in [`Shared::calls`].
async fn record(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Ok(mut calls) = shared.calls.lock() {
        calls.push(format!("{} {}", request.method(), request.uri().path()));
    }
    next.run(request).await
}

struct Shared {
    config: StandInConfig,
    /// Every request received, as `METHOD /path` (the tests count round trips).
    calls: Arc<Mutex<Vec<String>>>,
    orders: Mutex<Books>,
    http: reqwest::Client,
    stopped: watch::Receiver<bool>,
}

#[derive(Default)]
struct Books {
    orders: HashMap<String, StandInOrder>,
    /// Idempotency key -> the request it came with and the answer it got.
    answers: HashMap<String, (String, Answer)>,
}

type Answer = (StatusCode, Value);

/// A notification to send once the books are unlocked.
struct Notice {
    action: &'static str,
    order_id: String,
    data: Value,
}

struct StandInOrder {
    id: String,
    external_reference: String,
    total_amount: String,
    expiration_time: String,
    expires_at: Instant,
    created_date: String,
    last_updated_date: String,
    status: &'static str,
    status_detail: &'static str,
    pos_id: String,
    mode: String,
    items: Option<Value>,
    qr_data: Option<String>,
    payment: StandInPayment,
    refund_id: Option<String>,
    version: u32,
}

struct StandInPayment {
    id: String,
    status: &'static str,
    status_detail: &'static str,
    paid: bool,
}

impl StandInOrder {
    fn to_json(&self) -> Value {
        let mut payment = json!({
            "id": self.payment.id,
            "amount": self.total_amount,
            "status": self.payment.status,
            "status_detail": self.payment.status_detail,
        });
        if self.payment.paid {
            payment["paid_amount"] = json!(self.total_amount);
        }
        let mut transactions = json!({"payments": [payment]});
        if let Some(refund) = &self.refund_id {
            transactions["refunds"] = json!([{
                "id": refund,
                "transaction_id": self.payment.id,
                "amount": self.total_amount,
                "status": "processed",
            }]);
        }
        let mut order = json!({
            "id": self.id,
            "type": "qr",
            "processing_mode": "automatic",
            "external_reference": self.external_reference,
            "expiration_time": self.expiration_time,
            "country_code": "BRA",
            "user_id": USER_ID,
            "status": self.status,
            "status_detail": self.status_detail,
            "currency": "BRL",
            "created_date": self.created_date,
            "last_updated_date": self.last_updated_date,
            "total_amount": self.total_amount,
            "integration_data": {"application_id": APPLICATION_ID},
            "transactions": transactions,
            "config": {"qr": {"external_pos_id": self.pos_id, "mode": self.mode}},
        });
        if self.payment.paid {
            order["total_paid_amount"] = json!(self.total_amount);
        }
        if let Some(items) = &self.items {
            order["items"] = items.clone();
        }
        if let Some(qr) = &self.qr_data {
            order["type_response"] = json!({"qr_data": qr});
        }
        order
    }

    fn set(&mut self, status: &'static str, detail: &'static str) {
        self.status = status;
        self.status_detail = detail;
        self.last_updated_date = shared::clock::now_rfc3339();
        self.version += 1;
    }

    fn notice(&self, action: &'static str) -> Notice {
        let mut data = self.to_json();
        if let Some(data) = data.as_object_mut() {
            data.remove("type_response");
            data.insert("version".into(), json!(self.version));
        }
        Notice {
            action,
            order_id: self.id.clone(),
            data,
        }
    }

    /// Expires the order if its time has come; the notice to send if so.
    fn settle(&mut self) -> Option<Notice> {
        (self.status == "created" && Instant::now() >= self.expires_at).then(|| {
            self.set("expired", "expired");
            self.payment.status = "expired";
            self.payment.status_detail = "expired";
            self.notice("order.expired")
        })
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    answer(failure(status, code, message))
}

fn answer((status, body): Answer) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn failure(status: StatusCode, code: &str, message: &str) -> Answer {
    (
        status,
        json!({"errors": [{"code": code, "message": message, "details": []}]}),
    )
}

impl Shared {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| token == self.config.access_token)
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock would poison it; the books are
        // still consistent (every change is made in one step), so go on.
        self.orders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A POST under an idempotency key: `act` runs once per key; a repeat
    /// with the same request answers the remembered answer.
    fn keyed(
        self: &Arc<Self>,
        headers: &HeaderMap,
        request: String,
        act: impl FnOnce(&mut Books) -> (Answer, Vec<Notice>),
    ) -> Response {
        if !self.authorized(headers) {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid access token",
            );
        }
        let Some(key) = headers
            .get("x-idempotency-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
        else {
            return error(
                StatusCode::BAD_REQUEST,
                "missing_idempotency_key",
                "the X-Idempotency-Key header is required",
            );
        };
        let (reply, notices) = {
            let mut books = self.books();
            match books.answers.get(&key) {
                Some((seen, reply)) if *seen == request => (reply.clone(), Vec::new()),
                Some(_) => (
                    failure(
                        StatusCode::CONFLICT,
                        "idempotency_key_already_used",
                        "the idempotency key was used with another request",
                    ),
                    Vec::new(),
                ),
                None => {
                    let (reply, notices) = act(&mut books);
                    if reply.0.is_success() {
                        books.answers.insert(key, (request, reply.clone()));
                    }
                    (reply, notices)
                }
            }
        };
        self.notify_later(notices);
        answer(reply)
    }

    fn notify_later(self: &Arc<Self>, notices: Vec<Notice>) {
        for notice in notices {
            let shared = self.clone();
            tokio::spawn(async move {
                let _ = shared.notify(&notice).await;
            });
        }
    }

    /// Sends one notification as Mercado Pago would; the webhook's status.
    async fn notify(&self, notice: &Notice) -> Result<u16, String> {
        let Some(url) = &self.config.webhook_url else {
            return Err("no webhook URL is configured".into());
        };
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("data.id", &notice.order_id)
            .append_pair("type", "order")
            .finish();
        let separator = if url.contains('?') { '&' } else { '?' };
        let request_id = uuid::Uuid::new_v4().to_string();
        let ts = u64::try_from(shared::clock::now_unix()).unwrap_or_default();
        let signature = shared::payments::signature::sign(
            self.config.webhook_secret.as_bytes(),
            Some(&notice.order_id),
            Some(&request_id),
            ts,
        );
        let body = json!({
            "action": notice.action,
            "api_version": "v1",
            "application_id": APPLICATION_ID,
            "data": notice.data,
            "date_created": shared::clock::now_rfc3339(),
            "id": uuid::Uuid::new_v4().simple().to_string(),
            "live_mode": false,
            "type": "order",
            "user_id": USER_ID,
        });
        let sent = self
            .http
            .post(format!("{url}{separator}{query}"))
            .header("x-signature", signature)
            .header("x-request-id", &request_id)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::info!(action = notice.action, order = %notice.order_id, status, "Mercado Pago stand-in notified");
                Ok(status)
            }
            Err(e) => {
                tracing::warn!(action = notice.action, order = %notice.order_id, error = %e, "Mercado Pago stand-in could not notify");
                Err(e.to_string())
            }
        }
    }

    /// Waits for `id`'s deadline, then expires it (unless paid, cancelled
    /// or stopped before).
    async fn expire_at(self: Arc<Self>, id: String, deadline: Instant) {
        let mut stopped = self.stopped.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
        let notice = self
            .books()
            .orders
            .get_mut(&id)
            .and_then(StandInOrder::settle);
        self.notify_later(notice.into_iter().collect());
    }
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = format!("POST /v1/orders {}", String::from_utf8_lossy(&body));
    let expiries = shared.clone();
    shared.keyed(&headers, request, |books| {
        let order = match new_order(&body) {
            Ok(order) => order,
            Err(message) => {
                return (
                    failure(StatusCode::BAD_REQUEST, "invalid_properties", &message),
                    Vec::new(),
                );
            }
        };
        tokio::spawn(expiries.expire_at(order.id.clone(), order.expires_at));
        let reply = (StatusCode::CREATED, order.to_json());
        books.orders.insert(order.id.clone(), order);
        (reply, Vec::new())
    })
}

/// An order from a creation body, or what is wrong with it.
fn new_order(body: &[u8]) -> Result<StandInOrder, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    if text("/type") != Some("qr") {
        return Err("type must be \"qr\"".into());
    }
    let external_reference = text("/external_reference")
        .filter(|r| (1..=64).contains(&r.len()))
        .ok_or("external_reference must have 1 to 64 characters")?;
    let total_amount = text("/total_amount")
        .filter(|a| is_amount(a) && *a != "0.00")
        .ok_or("total_amount must be a positive amount with two decimals, as a string")?;
    let payment = body
        .pointer("/transactions/payments")
        .and_then(Value::as_array)
        .filter(|p| p.len() == 1)
        .and_then(|p| p.first())
        .ok_or("transactions.payments must hold one payment")?;
    if payment.get("amount").and_then(Value::as_str) != Some(total_amount) {
        return Err("the payment's amount must equal total_amount".into());
    }
    let pos_id = text("/config/qr/external_pos_id")
        .filter(|p| !p.is_empty())
        .ok_or("config.qr.external_pos_id is required")?;
    let mode = text("/config/qr/mode").unwrap_or("static");
    if !["static", "dynamic", "hybrid"].contains(&mode) {
        return Err("config.qr.mode must be static, dynamic or hybrid".into());
    }
    let (expiration_time, lifetime) = match text("/expiration_time") {
        None => ("PT15M".to_owned(), DEFAULT_LIFETIME),
        Some(text) => (
            text.to_owned(),
            parse_duration(text).ok_or("expiration_time must be an ISO 8601 duration")?,
        ),
    };
    let items = match body.get("items") {
        None => None,
        Some(items) => {
            let list = items
                .as_array()
                .filter(|l| !l.is_empty())
                .ok_or("items must be a non-empty array")?;
            for item in list {
                let title_ok = item
                    .get("title")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty());
                let price_ok = item
                    .get("unit_price")
                    .and_then(Value::as_str)
                    .is_some_and(is_amount);
                let quantity_ok = item
                    .get("quantity")
                    .and_then(Value::as_u64)
                    .is_some_and(|q| q > 0);
                if !(title_ok && price_ok && quantity_ok) {
                    return Err("each item needs a title, a unit_price with two decimals and a positive quantity".into());
                }
            }
            Some(items.clone())
        }
    };
    let id = mp_id("ORD");
    let now = shared::clock::now_rfc3339();
    Ok(StandInOrder {
        qr_data: (mode != "static").then(|| {
            format!(
                "00020101021243650016COM.MERCADOLIBRE020130636{}5204000053039865802BR5913KIOSK STAND-IN6009SAO PAULO62070503***6304",
                id.to_ascii_lowercase()
            )
        }),
        id,
        external_reference: external_reference.to_owned(),
        total_amount: total_amount.to_owned(),
        expiration_time,
        expires_at: Instant::now() + lifetime,
        created_date: now.clone(),
        last_updated_date: now,
        status: "created",
        status_detail: "created",
        pos_id: pos_id.to_owned(),
        mode: mode.to_owned(),
        items,
        payment: StandInPayment {
            id: mp_id("PAY"),
            status: "created",
            status_detail: "ready_to_process",
            paid: false,
        },
        refund_id: None,
        version: 1,
    })
}

/// An id in Mercado Pago's style: a prefix and 26 upper-case letters and
/// digits (`ORD01JQ4S4KY8HWQ6NA5PXB65B3D3`).
fn mp_id(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    format!("{prefix}{}", &random[..26])
}

/// `123.45`: digits, a point, two digits.
fn is_amount(text: &str) -> bool {
    match text.split_once('.') {
        Some((units, cents)) => {
            !units.is_empty()
                && units.bytes().all(|b| b.is_ascii_digit())
                && cents.len() == 2
                && cents.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// An ISO 8601 duration of days, hours, minutes and seconds
/// (`P1DT2H3M4S`, `PT15M`, `PT1S`); at least one second.
fn parse_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, time),
        Some(_) => return None,
        None => (rest, ""),
    };
    let mut seconds: u64 = 0;
    let mut parts = 0;
    let mut add = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        let mut allowed = units.iter();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, size) = allowed.by_ref().find(|(unit, _)| *unit == c)?;
            let value: u64 = number.parse().ok()?;
            seconds = seconds.checked_add(value.checked_mul(*size)?)?;
            number.clear();
            parts += 1;
        }
        number.is_empty().then_some(())
    };
    add(days, &[('D', 86_400)])?;
    add(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    (parts > 0 && seconds > 0).then(|| Duration::from_secs(seconds))
}

async fn read(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !shared.authorized(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid access token",
        );
    }
    let (reply, notice) = {
        let mut books = shared.books();
        match books.orders.get_mut(&id) {
            Some(order) => {
                let notice = order.settle();
                ((StatusCode::OK, order.to_json()), notice)
            }
            None => (
                failure(StatusCode::NOT_FOUND, "order_not_found", "no such order"),
                None,
            ),
        }
    };
    shared.notify_later(notice.into_iter().collect());
    answer(reply)
}

/// Applies `change` to order `id` (once its expiry is settled).
fn change(
    books: &mut Books,
    id: &str,
    change: impl FnOnce(&mut StandInOrder) -> Result<&'static str, Answer>,
) -> (Answer, Vec<Notice>) {
    let Some(order) = books.orders.get_mut(id) else {
        return (
            failure(StatusCode::NOT_FOUND, "order_not_found", "no such order"),
            Vec::new(),
        );
    };
    let mut notices: Vec<Notice> = order.settle().into_iter().collect();
    match change(order) {
        Ok(action) => {
            notices.push(order.notice(action));
            ((StatusCode::OK, order.to_json()), notices)
        }
        Err(refused) => (refused, notices),
    }
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = format!(
        "POST /v1/orders/{id}/cancel {}",
        String::from_utf8_lossy(&body)
    );
    shared.keyed(&headers, request, |books| {
        change(books, &id, |order| {
            if order.status != "created" {
                return Err(failure(
                    StatusCode::CONFLICT,
                    "order_cannot_be_canceled",
                    &format!("an order {} cannot be canceled", order.status),
                ));
            }
            order.set("canceled", "canceled");
            order.payment.status = "canceled";
            order.payment.status_detail = "canceled";
            Ok("order.canceled")
        })
    })
}

async fn refund(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = format!(
        "POST /v1/orders/{id}/refund {}",
        String::from_utf8_lossy(&body)
    );
    shared.keyed(&headers, request, |books| {
        change(books, &id, |order| {
            if order.status != "processed" {
                return Err(failure(
                    StatusCode::CONFLICT,
                    "order_cannot_be_refunded",
                    &format!("an order {} cannot be refunded", order.status),
                ));
            }
            order.set("refunded", "refunded");
            order.payment.status = "refunded";
            order.payment.status_detail = "refunded";
            order.refund_id = Some(mp_id("REF"));
            Ok("order.refunded")
        })
    })
}

async fn simulate_pay(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    simulate(shared, &id, query.as_deref(), |order| {
        order.set("processed", "accredited");
        order.payment.status = "processed";
        order.payment.status_detail = "accredited";
        order.payment.paid = true;
        "order.processed"
    })
    .await
}

async fn simulate_reject(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    simulate(shared, &id, query.as_deref(), |order| {
        order.set("failed", "failed");
        order.payment.status = "failed";
        order.payment.status_detail = "rejected_by_issuer";
        "order.failed"
    })
    .await
}

/// The customer pays or is refused: the order must still be `created`.
async fn simulate(
    shared: Arc<Shared>,
    id: &str,
    query: Option<&str>,
    outcome: impl FnOnce(&mut StandInOrder) -> &'static str,
) -> Response {
    let notify = !form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(name, value)| name == "notify" && value == "false");
    let (reply, mut notices) = {
        let mut books = shared.books();
        change(&mut books, id, |order| {
            if order.status != "created" {
                return Err(failure(
                    StatusCode::CONFLICT,
                    "order_not_payable",
                    &format!("the order is {}", order.status),
                ));
            }
            Ok(outcome(order))
        })
    };
    let (status, order) = reply;
    if !status.is_success() {
        shared.notify_later(notices);
        return answer((status, order));
    }
    // The outcome's notice is the last; an expiry cannot precede a success.
    let notice = notices.pop();
    let notification = match notice.filter(|_| notify) {
        None => Value::Null,
        Some(notice) => match shared.notify(&notice).await {
            Ok(status) => json!({"action": notice.action, "status": status}),
            Err(error) => json!({"action": notice.action, "error": error}),
        },
    };
    answer((
        status,
        json!({"order": order, "notification": notification}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_days_hours_minutes_and_seconds_parse() {
        let cases = [
            ("PT15M", Some(900)),
            ("PT1S", Some(1)),
            ("P1D", Some(86_400)),
            ("P1DT2H3M4S", Some(93_784)),
            ("PT1H30M", Some(5400)),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                seconds.map(Duration::from_secs),
                "{text}"
            );
        }
        for bad in [
            "", "P", "PT", "15M", "PT0S", "PT15", "PTM", "PT1M1H", "PT1.5S", "P1H", "PT-1S",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_local_secret_string_is_what_the_credentials_read() {
        let config = StandInConfig::local(None);
        let credentials =
            shared::payments::credentials::MercadoPagoCredentials::from_secret_strings(
                &config.secret_string(),
                None,
            )
            .unwrap();
        assert_eq!(credentials.access_token.expose(), LOCAL_ACCESS_TOKEN);
        assert_eq!(
            credentials.webhook_secrets[0].expose(),
            DEFAULT_WEBHOOK_SECRET.as_bytes()
        );
    }

    #[test]
    fn amounts_have_exactly_two_decimals() {
        assert!(is_amount("24.90") && is_amount("0.01"));
        for bad in ["24.9", "24", "24.901", ".90", "-1.00", "1e2", "24,90"] {
            assert!(!is_amount(bad), "{bad}");
        }
    }
}
