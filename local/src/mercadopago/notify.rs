//! Notifications as Mercado Pago sends them: signed over `data.id` as sent,
//! retried while not answered 2xx in time, each attempt kept for `GET
//! /simulate/notifications`; and the tick that expires orders on time.

use super::orders::Notice;
use super::server::{Shared, answer};
use super::{APPLICATION_ID, USER_ID};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long an attempt may wait for its answer before it counts as not
/// answered (Mercado Pago's 5 s per retry).
pub(super) const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a notification not answered 2xx is sent again.
pub(super) const RETRIES: u32 = 3;
/// The wait before each retry, locally (Mercado Pago's spread over days).
pub(super) const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often the stand-in looks for orders whose time has come, so their
/// expiry is notified even if nobody reads them.
const TICK: Duration = Duration::from_millis(500);

/// Whether a notification carries `x-signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signing {
    Signed,
    Unsigned,
}

/// The notifications sent: the client that sends them and every attempt.
pub(super) struct Outbox {
    http: reqwest::Client,
    sent: Mutex<Vec<Sent>>,
    /// Orders the attempts by when they were sent.
    next: AtomicU64,
}

/// One attempt, as `GET /simulate/notifications` lists it.
struct Sent {
    order: u64,
    url: String,
    signature: Option<String>,
    request_id: String,
    body: Value,
    attempt: u32,
    /// The webhook's answer; `None` when it gave none in time.
    status: Option<u16>,
    sent_at: String,
    answered_ms: Option<u128>,
}

/// A notification ready to go (every attempt sends the same).
struct Outgoing {
    action: String,
    order_id: String,
    url: String,
    signature: Option<String>,
    request_id: String,
    body: Value,
}

impl Outbox {
    pub(super) fn new() -> reqwest::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            sent: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
        })
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, Vec<Sent>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    /// Sends each notice in the background.
    pub(super) fn notify_later(self: &Arc<Self>, notices: Vec<Notice>) {
        for notice in notices {
            let shared = self.clone();
            tokio::spawn(async move { shared.deliver(&notice, Signing::Signed).await });
        }
    }

    /// Sends one notification as Mercado Pago would and waits for the first
    /// attempt; retries, if it was not answered 2xx, go on in the
    /// background. `{"action", "status"}` (`status` the webhook's answer,
    /// `null` with an `error` when none came).
    pub(super) async fn deliver(self: &Arc<Self>, notice: &Notice, signing: Signing) -> Value {
        let Some(outgoing) = self.outgoing(notice, signing) else {
            return json!({"action": notice.action, "status": null,
                "error": "no webhook URL is configured"});
        };
        let first = self.attempt(&outgoing, 1).await;
        if !matches!(first, Ok(status) if is_2xx(status)) {
            let shared = self.clone();
            tokio::spawn(async move { shared.retry(outgoing).await });
        }
        match first {
            Ok(status) => json!({"action": notice.action, "status": status}),
            Err(error) => json!({"action": notice.action, "status": null, "error": error}),
        }
    }

    fn outgoing(&self, notice: &Notice, signing: Signing) -> Option<Outgoing> {
        let url = self.config.webhook_url.as_ref()?;
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("data.id", &notice.order_id)
            .append_pair("type", "order")
            .finish();
        let separator = if url.contains('?') { '&' } else { '?' };
        let request_id = uuid::Uuid::new_v4().to_string();
        let ts = u64::try_from(shared::clock::now_unix()).unwrap_or_default();
        let signature = (signing == Signing::Signed).then(|| {
            sign(
                self.config.webhook_secret.as_bytes(),
                &notice.order_id,
                &request_id,
                ts,
            )
        });
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
        Some(Outgoing {
            action: notice.action.clone(),
            order_id: notice.order_id.clone(),
            url: format!("{url}{separator}{query}"),
            signature,
            request_id,
            body,
        })
    }

    /// Sends `outgoing` again, [`RETRY_INTERVAL`] apart, until it is
    /// answered 2xx, [`RETRIES`] times at most or the stand-in stops.
    async fn retry(self: Arc<Self>, outgoing: Outgoing) {
        let mut stopped = self.stopped.clone();
        for attempt in 2..=RETRIES + 1 {
            tokio::select! {
                _ = tokio::time::sleep(self.config.retry_interval) => {}
                _ = stopped.wait_for(|stopped| *stopped) => return,
            }
            if matches!(self.attempt(&outgoing, attempt).await, Ok(status) if is_2xx(status)) {
                return;
            }
        }
    }

    /// One attempt, kept in the outbox: the webhook's status, or why there
    /// was none within [`super::StandInConfig::notify_timeout`].
    async fn attempt(&self, outgoing: &Outgoing, attempt: u32) -> Result<u16, String> {
        let outbox = &self.outbox;
        let order = outbox.next.fetch_add(1, Ordering::Relaxed);
        let sent_at = shared::clock::now_rfc3339();
        let started = Instant::now();
        let mut request = outbox
            .http
            .post(&outgoing.url)
            .timeout(self.config.notify_timeout)
            .header("x-request-id", &outgoing.request_id)
            .json(&outgoing.body);
        if let Some(signature) = &outgoing.signature {
            request = request.header("x-signature", signature);
        }
        let result = match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if e.is_timeout() => Err(format!(
                "not answered within {} ms",
                self.config.notify_timeout.as_millis()
            )),
            Err(e) => Err(e.to_string()),
        };
        let (action, order_id) = (outgoing.action.as_str(), outgoing.order_id.as_str());
        match &result {
            Ok(status) => {
                tracing::info!(
                    action,
                    order_id,
                    attempt,
                    status,
                    "Mercado Pago stand-in notified"
                );
            }
            Err(error) => {
                tracing::warn!(
                    action,
                    order_id,
                    attempt,
                    error,
                    "Mercado Pago stand-in could not notify"
                );
            }
        }
        outbox.sent().push(Sent {
            order,
            url: outgoing.url.clone(),
            signature: outgoing.signature.clone(),
            request_id: outgoing.request_id.clone(),
            body: outgoing.body.clone(),
            attempt,
            status: result.as_ref().ok().copied(),
            sent_at,
            answered_ms: result.is_ok().then(|| started.elapsed().as_millis()),
        });
        result
    }

    /// Expires, every [`TICK`] until the stand-in stops, the orders whose
    /// time has come, and notifies them (requests that touch an order
    /// expire it too, without waiting for the tick).
    pub(super) async fn tick(self: Arc<Self>) {
        let mut stopped = self.stopped.clone();
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stopped.wait_for(|stopped| *stopped) => return,
            }
            let now = Instant::now();
            let notices: Vec<Notice> = self
                .books()
                .orders
                .values_mut()
                .filter_map(|order| order.settle(now))
                .collect();
            self.notify_later(notices);
        }
    }
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

/// `GET /simulate/notifications`: every attempt at a notification, oldest
/// first: `{"url", "headers": {"x-signature", "x-request-id"}, "body",
/// "attempt", "status", "sent_at", "answered_ms"}`. An attempt is listed
/// once answered or given up on.
pub(super) async fn notifications(State(shared): State<Arc<Shared>>) -> Response {
    let mut sent: Vec<(u64, Value)> = shared
        .outbox
        .sent()
        .iter()
        .map(|sent| {
            let json = json!({
                "url": sent.url,
                "headers": {"x-signature": sent.signature, "x-request-id": sent.request_id},
                "body": sent.body,
                "attempt": sent.attempt,
                "status": sent.status,
                "sent_at": sent.sent_at,
                "answered_ms": sent.answered_ms,
            });
            (sent.order, json)
        })
        .collect();
    sent.sort_by_key(|(order, _)| *order);
    let list: Vec<Value> = sent.into_iter().map(|(_, json)| json).collect();
    answer((StatusCode::OK, Value::Array(list)))
}

/// `x-signature: ts=<ts>,v1=<hex>`: HMAC-SHA256 keyed by the webhook secret
/// over `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, `data.id` exactly
/// as sent (the official SDKs' validators take it as received; a lower-cased
/// id would fail them). Not `shared::payments::signature::sign`, which
/// lower-cases it as Mercado Pago's docs say.
fn sign(secret: &[u8], data_id: &str, request_id: &str, ts: u64) -> String {
    let ts = ts.to_string();
    let manifest = shared::payments::signature::manifest(Some(data_id), Some(request_id), &ts);
    let hex = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(manifest.as_bytes());
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        }
        // HMAC takes a key of any length: this cannot happen.
        Err(_) => String::new(),
    };
    format!("ts={ts},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_id_as_sent_and_verifies() {
        let id = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";
        let header = sign(b"secret", id, "request-1", 1_700_000_000);

        assert!(header.starts_with("ts=1700000000,v1="), "{header}");
        let documented = shared::payments::signature::sign(
            b"secret",
            Some(id),
            Some("request-1"),
            1_700_000_000,
        );
        assert_ne!(header, documented, "not over the lower-cased id");
        let verified = shared::payments::signature::verify(
            Some(&header),
            Some("request-1"),
            Some(id),
            &[b"secret"],
        );
        assert_eq!(verified, Ok(()));
    }
}
