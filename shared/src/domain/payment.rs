//! The payment provider's orders as the domain sees them: what a QR order
//! is created from, what reading one back tells, and how a provider call
//! fails. The port that speaks them is `service::ports::PaymentGateway`; its
//! Mercado Pago adapter is `payments::mercadopago`.

use crate::domain::ids::{IdempotencyKey, OrderId, PosId, ProviderOrderId};
use crate::domain::money::Money;
use crate::error::{Code, Error};
use time::OffsetDateTime;

/// `mercadopago_pos_id` as a client sent it (a kiosk's at enrolment, a
/// store's): 400 `invalid_pos_id` unless Mercado Pago would take it.
pub fn pos_id(value: &serde_json::Value) -> Result<PosId, Error> {
    value.as_str().and_then(PosId::parse).ok_or_else(|| {
        Error::validation(
            Code::InvalidPosId,
            "mercadopago_pos_id is the external_id of a Mercado Pago point of sale: 1 to 40 \
             letters and digits",
        )
    })
}

/// What a QR order is created from.
#[derive(Debug, Clone)]
pub struct QrOrderRequest {
    /// Our order: Mercado Pago keeps it as `external_reference`.
    pub order_id: OrderId,
    /// The amount to collect; must be positive.
    pub total: Money,
    /// When the QR stops being payable (our order's deadline). Sent as a
    /// duration from now in whole minutes, rounded up, so the QR never dies
    /// before the deadline the kiosk shows; at the deadline the expiry job
    /// cancels it at Mercado Pago.
    pub expires_at: OffsetDateTime,
    /// Derived from our order id by the caller, so that a retry (ours or
    /// the adapter's) never creates a second Mercado Pago order.
    pub idempotency_key: IdempotencyKey,
    /// Shown to the payer; may be empty.
    pub items: Vec<QrItem>,
    /// The point of sale it is created on: the kiosk's, else its store's;
    /// `None` for the deployment's (`MERCADOPAGO_EXTERNAL_POS_ID`).
    pub pos_id: Option<PosId>,
}

/// One line of a QR order, as the payer's app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrItem {
    pub title: String,
    pub unit_price: Money,
    pub quantity: u32,
}

/// A Mercado Pago order as read back from the API: what the webhook, the
/// expiry job and the payment route act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpOrder {
    pub id: ProviderOrderId,
    pub status: MpOrderStatus,
    /// The status and detail as sent, for the log.
    pub raw_status: String,
    pub status_detail: String,
    /// Our order id, as we sent it (`None` when absent or not an id of ours).
    pub external_reference: Option<OrderId>,
    /// `total_amount`, to the cent.
    pub total: Money,
    /// `total_paid_amount`, when Mercado Pago sends it.
    pub paid: Option<Money>,
    /// `type_response.qr_data`: the EMVCo text of the QR to show.
    pub qr_data: Option<String>,
    pub payments: Vec<MpPayment>,
}

/// A payment transaction of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpPayment {
    pub id: String,
    pub status: String,
    pub status_detail: String,
    pub amount: Option<Money>,
    pub paid_amount: Option<Money>,
}

/// An order's status, reduced to what we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpOrderStatus {
    /// `processed` (detail `accredited`, or any but the refund details): the
    /// money is collected.
    Paid,
    /// `created`, `processing`, `action_required`, `at_terminal`: no outcome
    /// yet.
    Pending,
    /// `failed`: the payment was refused.
    Failed,
    /// `canceled` (by us, through the API).
    Cancelled,
    /// `expired`: not paid in time.
    Expired,
    /// `refunded`, or `processed` with detail `refunded`.
    Refunded,
    /// Anything else, `processed`/`partially_refunded` included (we never
    /// refund in part): logged, never acted on.
    Unknown,
}

impl MpOrderStatus {
    pub fn from_wire(status: &str, detail: &str) -> Self {
        match (status, detail) {
            ("processed", "refunded") | ("refunded", _) => Self::Refunded,
            ("processed", "partially_refunded") => Self::Unknown,
            ("processed", _) => Self::Paid,
            ("created" | "processing" | "action_required" | "at_terminal", _) => Self::Pending,
            ("failed", _) => Self::Failed,
            ("canceled" | "cancelled", _) => Self::Cancelled,
            ("expired", _) => Self::Expired,
            _ => Self::Unknown,
        }
    }
}

/// What can go wrong talking to the provider, as callers branch on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Timed out, refused, reset, throttled (429), locked (423), failing
    /// (5xx) or answering something unreadable: nothing is known to have
    /// changed; worth a retry later (503 to our client).
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (a 4xx other than 404 and the
    /// retryable ones), or we refused to send it: `status` is `None` then.
    #[error("the payment provider refused the request ({status:?} {code}): {message}")]
    Rejected {
        status: Option<u16>,
        code: String,
        message: String,
    },
    /// No such order at the provider.
    #[error("the payment provider has no such order")]
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_we_act_on() {
        use MpOrderStatus::*;
        let cases = [
            ("processed", "accredited", Paid),
            ("processed", "processed", Paid),
            ("processed", "refunded", Refunded),
            ("processed", "partially_refunded", Unknown),
            ("refunded", "refunded", Refunded),
            ("created", "created", Pending),
            ("processing", "in_process", Pending),
            ("action_required", "waiting_payment", Pending),
            ("at_terminal", "at_terminal", Pending),
            ("failed", "rejected_by_issuer", Failed),
            ("canceled", "canceled", Cancelled),
            ("expired", "expired", Expired),
            ("charged_back", "", Unknown),
            ("", "", Unknown),
        ];
        for (status, detail, expected) in cases {
            assert_eq!(
                MpOrderStatus::from_wire(status, detail),
                expected,
                "{status}/{detail}"
            );
        }
    }
}
