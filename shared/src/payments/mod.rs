//! The payment provider's side: Mercado Pago QR orders behind a small port
//! ([`PaymentGateway`]), the credentials they need, and the signature of
//! its notifications.
//!
//! - [`signature`]: the `x-signature` check of Mercado Pago's webhooks.
//! - [`credentials`]: the access token and webhook secrets (one Secrets
//!   Manager secret).
//! - `mercadopago` (feature `mercadopago`): the HTTPS adapter of the Orders
//!   API.
//! - `account` (features `secrets` and `mercadopago`): the adapter built from
//!   the environment and the credentials secret, as the functions use it.
//!
//! # What Mercado Pago's Orders API does (the facts this port relies on)
//!
//! Sources: the Orders API reference and guides for QR Code
//! (<https://www.mercadopago.com.br/developers/en/docs/qr-code/payment-processing>,
//! `.../reference/in-person-payments/qr-code/orders/create-order/post`,
//! `.../docs/qr-code/resources/status-order-transaction`,
//! `.../docs/order/status-errors/order-status`), and the official SDKs read
//! 2026-08: sdk-nodejs `src/clients/order/{create,get,cancel,refund}`,
//! `src/clients/order/commonTypes.ts`, `src/utils/restClient`,
//! `src/utils/errors`; sdk-python `mercadopago/resources/order.py`.
//!
//! - `POST /v1/orders`, `Authorization: Bearer <access token>`,
//!   `X-Idempotency-Key` required, body
//!   `{"type": "qr", "external_reference", "total_amount": "24.90",
//!   "expiration_time": "PT15M", "config": {"qr": {"external_pos_id",
//!   "mode": "dynamic"}}, "transactions": {"payments": [{"amount"}]},
//!   "items": [{"title", "unit_price", "quantity", "unit_measure",
//!   "external_code"}], "description"}`. Amounts are strings with exactly two
//!   decimals; `expiration_time` is an ISO 8601 duration (15 minutes when
//!   absent). `mode: dynamic` gives a QR for this order alone, answered in
//!   `type_response.qr_data` (an EMVCo string the kiosk renders). Answer 201
//!   with the order.
//! - The order: `id` (`ORD01...`), `type`, `status`, `status_detail`,
//!   `external_reference`, `total_amount`, `total_paid_amount`,
//!   `transactions.payments[{id, amount, paid_amount, status,
//!   status_detail}]`, `transactions.refunds[...]`, `type_response.qr_data`.
//! - `GET /v1/orders/{id}`: the order (404 when unknown).
//! - `POST /v1/orders/{id}/cancel`: cancels an order not yet paid (answer:
//!   the order, `canceled`).
//! - `POST /v1/orders/{id}/refund`, its own `X-Idempotency-Key`: no body is a
//!   full refund (answer: the order, `refunded`).
//! - Order statuses for QR: `created` -> `processed` (paid, detail
//!   `accredited`) -> `refunded`; `created` -> `canceled` (by the API) or
//!   `expired`. The Orders API at large also has `processing`,
//!   `action_required`, `at_terminal` (in progress), `failed` (payment
//!   refused) and `processed`/`refunded` or `partially_refunded` as a detail
//!   (Checkout Pro orders keep `processed` when refunded). Mercado Pago spells
//!   it `canceled`.
//! - Errors: 400 invalid request, 401 bad token, 404 unknown order, 409
//!   idempotency key reused with another body or a move the order's state
//!   forbids, 422 business rule, 423 idempotency key locked (a request with it
//!   is in flight; retryable), 429 throttled, 5xx. Error bodies come as
//!   `{"errors": [{"code", "message", "details"}]}` or, from older APIs,
//!   `{"error", "message", "status", "cause"}`; the adapter reads both.
//! - The SDKs retry 429 and 5xx (and connection errors) with backoff and send
//!   an idempotency key on every POST.

#[cfg(all(feature = "secrets", feature = "mercadopago"))]
pub mod account;
pub mod credentials;
#[cfg(feature = "mercadopago")]
pub mod mercadopago;

use crate::domain::Money;

pub use crate::domain::ProviderOrderId;
pub use crate::domain::payment::{
    MpOrder, MpOrderStatus, MpPayment, PaymentError, QrItem, QrOrderRequest,
};
pub use crate::domain::signature;
/// The port this folder's adapter implements.
pub use crate::service::ports::PaymentGateway;

/// An amount as the Orders API writes it: reais with two decimals
/// (`2490` cents is `"24.90"`). `None` for a negative amount.
pub fn format_amount(amount: Money) -> Option<String> {
    let cents = amount.as_cents();
    (cents >= 0).then(|| format!("{}.{:02}", cents / 100, cents % 100))
}

/// An amount the Orders API sent, to the cent and without floating point:
/// digits, optionally a `.` and decimals beyond the second of which must be
/// zeros (`"24.90"`, `"24.9"`, `"24"`, `"24.900"`). Signs, exponents,
/// spaces, a third significant decimal or an overflow are `None`.
pub fn parse_amount(text: &str) -> Option<Money> {
    let (units, decimals) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(decimals) || text.ends_with('.') {
        return None;
    }
    let (cents_part, rest) = decimals.split_at(decimals.len().min(2));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let cents: i64 = format!("{cents_part:0<2}").parse().ok()?;
    units.checked_mul(100)?.checked_add(cents).map(Money::cents)
}

/// A duration as ISO 8601 (`PT15M`, `PT1H30M`, `PT45S`), whole seconds.
pub fn iso8601_duration(duration: std::time::Duration) -> String {
    let total = duration.as_secs();
    if total == 0 {
        return "PT0S".to_owned();
    }
    let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60);
    let mut text = String::from("PT");
    for (value, unit) in [(hours, 'H'), (minutes, 'M'), (seconds, 'S')] {
        if value > 0 {
            text.push_str(&value.to_string());
            text.push(unit);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn amounts_are_parsed_to_the_cent_without_floats() {
        let cases = [
            ("24.90", Some(2490)),
            ("24.9", Some(2490)),
            ("24", Some(2400)),
            ("0.01", Some(1)),
            ("24.900", Some(2490)),
            ("1000000.00", Some(100_000_000)),
            ("92233720368547758.07", Some(i64::MAX)),
        ];
        for (text, cents) in cases {
            assert_eq!(parse_amount(text), cents.map(Money::cents), "{text}");
        }
        for bad in [
            "",
            ".",
            "24.",
            ".90",
            "24.901",
            "-1.00",
            "+1.00",
            "1e3",
            " 1.00",
            "1.00 ",
            "1,00",
            "24.9O",
            "92233720368547758.08",
            "0x10",
            "NaN",
            "1..0",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_written_with_two_decimals() {
        assert_eq!(format_amount(Money::cents(2490)).as_deref(), Some("24.90"));
        assert_eq!(format_amount(Money::cents(5)).as_deref(), Some("0.05"));
        assert_eq!(format_amount(Money::cents(100)).as_deref(), Some("1.00"));
        assert_eq!(format_amount(Money::cents(-1)), None);
        for cents in [0, 1, 99, 100, 2490, 123_456_789] {
            let text = format_amount(Money::cents(cents)).unwrap();
            assert_eq!(parse_amount(&text), Some(Money::cents(cents)));
        }
    }

    #[test]
    fn durations_are_iso_8601() {
        let cases = [
            (900, "PT15M"),
            (960, "PT16M"),
            (45, "PT45S"),
            (5400, "PT1H30M"),
            (3661, "PT1H1M1S"),
            (0, "PT0S"),
        ];
        for (seconds, text) in cases {
            assert_eq!(iso8601_duration(Duration::from_secs(seconds)), text);
        }
        assert_eq!(iso8601_duration(Duration::from_millis(59_999)), "PT59S");
    }
}
