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
//!
//! By job: `server` starts and stops the stand-in and holds what every route
//! does (the token, idempotency keys, the error shape); `routes` the Orders
//! API; `simulate` the test-only customer; `orders` an order and its moves
//! between statuses (`status`); `create` reads a creation body; `notify`
//! signs and sends the notifications and expires orders on time.

mod create;
mod notify;
mod orders;
mod routes;
mod server;
mod simulate;
mod status;

pub use server::{StandIn, spawn, spawn_for_local_api};

use serde_json::json;
use std::net::SocketAddr;

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
