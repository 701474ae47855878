//! The stand-in's server: starting and stopping it, its routes, and what
//! every route does alike (the bearer token, idempotency keys, the error
//! shape).

use super::StandInConfig;
use super::faults::{Faults, arm, inject};
use super::notify::{Outbox, notifications};
use super::orders::{Notice, StandInOrder};
use super::routes::{cancel, create, read, refund};
use super::simulate::simulate;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

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
    /// flight (at most 5 s) and stops the expiry tick and the retries.
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
    let calls = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        config,
        calls: calls.clone(),
        orders: Mutex::new(Books::default()),
        outbox: Outbox::new().map_err(std::io::Error::other)?,
        faults: Faults::default(),
        stopped: stopped_rx,
    });
    tokio::spawn(shared.clone().tick());
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
        .route("/simulate/orders/{id}/{action}", post(simulate))
        .route("/simulate/faults", post(arm))
        .route("/simulate/notifications", get(notifications))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), inject))
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

/// What every route of one stand-in shares.
pub(super) struct Shared {
    pub(super) config: StandInConfig,
    /// Every request received, as `METHOD /path` (the tests count round trips).
    calls: Arc<Mutex<Vec<String>>>,
    orders: Mutex<Books>,
    pub(super) outbox: Outbox,
    pub(super) faults: Faults,
    pub(super) stopped: watch::Receiver<bool>,
}

/// The orders, and what was done under each idempotency key.
#[derive(Default)]
pub(super) struct Books {
    pub(super) orders: HashMap<String, StandInOrder>,
    /// Idempotency key -> what it was used for.
    keys: HashMap<String, Keyed>,
}

/// A request that succeeded under an idempotency key.
struct Keyed {
    /// Its method, path and body.
    request: String,
    /// Its answer's status; a repeat answers it with the order as it is now.
    status: StatusCode,
    order_id: String,
}

impl Books {
    /// Order `id`, expired first if its time has come (the notice to send
    /// then), or 404.
    pub(super) fn touch(&mut self, id: &str) -> Result<(&mut StandInOrder, Vec<Notice>), Answer> {
        let order = self
            .orders
            .get_mut(id)
            .ok_or_else(|| failure(StatusCode::NOT_FOUND, "order_not_found", "no such order"))?;
        let notices = order
            .settle(tokio::time::Instant::now())
            .into_iter()
            .collect();
        Ok((order, notices))
    }
}

/// A status and a JSON body.
pub(super) type Answer = (StatusCode, Value);

/// An error answer: `{"errors": [{"code", "message", "details"}]}`.
pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    answer(failure(status, code, message))
}

/// The answer as a JSON response.
pub(super) fn answer((status, body): Answer) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An error body: `{"errors": [{"code", "message", "details"}]}`.
pub(super) fn failure(status: StatusCode, code: &str, message: &str) -> Answer {
    (
        status,
        json!({"errors": [{"code": code, "message": message, "details": []}]}),
    )
}

impl Shared {
    /// The 401 to answer unless the request carries the stand-in's access
    /// token.
    pub(super) fn unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let authorized = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| token == self.config.access_token);
        (!authorized).then(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid access token",
            )
        })
    }

    /// The books, locked.
    pub(super) fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock would poison it; the books are
        // still consistent (every change is made in one step), so go on.
        self.orders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A POST under an idempotency key: `act` runs once per key (until it
    /// succeeds: errors are not remembered); a repeat with the same request
    /// answers the first answer's status with the order as it is now, with
    /// another request 409 `idempotency_key_already_used`.
    pub(super) fn keyed(
        self: &Arc<Self>,
        headers: &HeaderMap,
        request: String,
        act: impl FnOnce(&mut Books) -> (Answer, Vec<Notice>),
    ) -> Response {
        if let Some(refused) = self.unauthorized(headers) {
            return refused;
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
            match books.keys.get(&key) {
                Some(seen) if seen.request == request => {
                    let status = seen.status;
                    let order_id = seen.order_id.clone();
                    match books.touch(&order_id) {
                        Ok((order, notices)) => ((status, order.to_json()), notices),
                        Err(missing) => (missing, Vec::new()),
                    }
                }
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
                    let order_id = reply.1.get("id").and_then(Value::as_str);
                    if let Some(order_id) = order_id.filter(|_| reply.0.is_success()) {
                        let keyed = Keyed {
                            request,
                            status: reply.0,
                            order_id: order_id.to_owned(),
                        };
                        books.keys.insert(key, keyed);
                    }
                    (reply, notices)
                }
            }
        };
        self.notify_later(notices);
        answer(reply)
    }
}
