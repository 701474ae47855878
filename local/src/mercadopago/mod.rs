//! A Mercado Pago stand-in: the subset of the Orders API the kiosk uses,
//! in memory, for `make dev` and the tests (`kiosk-local serve` starts it
//! on 127.0.0.1:$MERCADOPAGO_PORT, 3001 by default). It behaves as Mercado
//! Pago does where it matters to us (API.md, "Payment with Mercado Pago
//! (v3)"; facts and sources in `shared::payments` and ARCHITECTURE.md,
//! "Mercado Pago, as it behaves"):
//!
//! - `POST /v1/orders` (`type: "qr"`, `mode` `dynamic` or `hybrid` answer a
//!   `type_response.qr_data`), `GET /v1/orders/{id}`,
//!   `POST /v1/orders/{id}/cancel`, `POST /v1/orders/{id}/refund` (a full
//!   refund, 201); answers are the order's JSON in Mercado Pago's shape;
//! - every route wants `Authorization: Bearer <access token>` (401
//!   otherwise); every `POST` wants `X-Idempotency-Key` (400 without): the
//!   same key with the same method, path and body answers the first
//!   answer's status with the order as it is now (a repeated creation
//!   answers the order first created), with anything else 409
//!   `idempotency_key_already_used` (errors are not remembered, so a request
//!   refused for the order's state may be tried again under its key);
//! - amounts must be strings with exactly two decimals, the payment's amount
//!   must equal `total_amount`, `external_reference` has 1 to 64 characters
//!   (the stand-in's own limit); `expiration_time` is an ISO 8601 duration
//!   (`P1DT2H3M4S` forms; 15 minutes when absent), from the creation: an
//!   order still `created` then becomes `expired` (and is notified), except
//!   while a payment is in progress on it. Expiry is evaluated on every
//!   request that touches the order and by a tick every 500 ms (which
//!   notifies it), so nothing waits on a timer;
//! - statuses as the QR Code docs list them, order / payment:
//!   `created`/`created` and `created`/`created`; paid `processed`/`processed`
//!   and `processed`/`accredited`; `canceled`/`canceled` and
//!   `canceled`/`canceled_by_api`; `expired`, `refunded` likewise. A QR
//!   order never reads `failed`: a declined attempt leaves it `created`;
//! - cancelling anything but a `created` order is 409, and so is cancelling
//!   one with a payment in progress (`instore_order_locked_error`);
//!   refunding anything but a `processed` one is 409
//!   (`order_already_refunded` when it was refunded);
//! - errors are `{"errors": [{"code", "message", "details"}]}`.
//!
//! Notifications go to the configured webhook URL the way Mercado Pago
//! sends them: `POST {url}?data.id=<order id>&type=order`, headers
//! `x-signature: ts=<unix seconds>,v1=<hex>` (HMAC-SHA256 over
//! `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, `data.id` as sent) and
//! `x-request-id`, body `{"action": "order.processed", "type": "order",
//! "data": {"id", ...}, ...}`. The actions are `order.processed`,
//! `order.canceled`, `order.refunded` and `order.expired` (the ones Mercado
//! Pago lists for QR). One not answered 2xx within 5 s is sent again, three
//! times at most, 1 s apart (Mercado Pago spreads its retries over days).
//!
//! Test-only routes (no token needed): `simulate` plays the customer and
//! Mercado Pago's clock (`start`, `abandon`, `pay`, `expire` an order);
//! `POST /simulate/faults` fails the next calls to a route (`faults`);
//! `GET /simulate/notifications` lists every notification sent (`notify`).
//!
//! Codes and details of the stand-in's errors are its own where Mercado
//! Pago's are not documented.
//!
//! By job: `server` starts and stops the stand-in and holds what every route
//! does (the token, idempotency keys, the error shape); `routes` the Orders
//! API; `simulate` the test-only customer; `faults` the armed failures;
//! `orders` an order and its moves between statuses (`status`); `create`
//! reads a creation body; `notify` signs, sends, retries and lists the
//! notifications and ticks the expiries.

mod create;
mod faults;
mod notify;
mod orders;
mod routes;
mod server;
mod simulate;
mod status;

pub use server::{StandIn, spawn, spawn_for_local_api};

use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

/// The access token the local stack uses for the stand-in.
pub const LOCAL_ACCESS_TOKEN: &str = "TEST-0000000000000000-local-kiosk-stand-in";
/// The webhook secret when `DEV_MERCADOPAGO_WEBHOOK_SECRET` is not set.
pub const DEFAULT_WEBHOOK_SECRET: &str = "local-mercadopago-webhook-secret-0123456789";
/// The stand-in's port when `MERCADOPAGO_PORT` is not set.
pub const DEFAULT_PORT: u16 = 3001;

/// The stand-in's Mercado Pago account (`user_id`) and application.
const USER_ID: &str = "1234567890";
const APPLICATION_ID: &str = "9876543210";

#[derive(Debug, Clone)]
pub struct StandInConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    pub access_token: String,
    pub webhook_secret: String,
    /// Where notifications go; none are sent without one.
    pub webhook_url: Option<String>,
    /// How long a notification may wait for its answer before it is sent
    /// again (5 s).
    pub notify_timeout: Duration,
    /// The wait before each retry of a notification (1 s).
    pub retry_interval: Duration,
    /// How long a `timeout` fault holds a request unanswered (4 s: longer
    /// than the adapter's attempt).
    pub fault_hold: Duration,
}

impl StandInConfig {
    /// On a free port of 127.0.0.1, with the local token and secret.
    pub fn local(webhook_url: Option<String>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_token: LOCAL_ACCESS_TOKEN.to_owned(),
            webhook_secret: DEFAULT_WEBHOOK_SECRET.to_owned(),
            webhook_url,
            notify_timeout: notify::NOTIFY_TIMEOUT,
            retry_interval: notify::RETRY_INTERVAL,
            fault_hold: faults::FAULT_HOLD,
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
        let webhook_url = format!("http://127.0.0.1:{api_port}/webhooks/mercadopago");
        Ok(Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            webhook_secret: setting("DEV_MERCADOPAGO_WEBHOOK_SECRET")
                .unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.to_owned()),
            ..Self::local(Some(webhook_url))
        })
    }

    /// The Secrets Manager secret string that gives the orders function
    /// these credentials (`shared::payments::credentials`).
    pub fn secret_string(&self) -> String {
        json!({"access_token": self.access_token, "webhook_secret": self.webhook_secret})
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
