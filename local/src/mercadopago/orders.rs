//! An order of the stand-in, its payment, its JSON in Mercado Pago's shape,
//! and its moves from one status to another (each move a notice).

use super::server::{Answer, failure};
use super::status::Status;
use super::{APPLICATION_ID, USER_ID};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

/// What Mercado Pago answers a cancel while the payer is paying.
pub(super) const LOCKED: &str = "instore_order_locked_error";

/// A notification to send once the books are unlocked.
pub(super) struct Notice {
    pub(super) action: String,
    pub(super) order_id: String,
    pub(super) data: Value,
}

pub(super) struct StandInOrder {
    pub(super) id: String,
    pub(super) external_reference: String,
    pub(super) total_amount: String,
    pub(super) expiration_time: String,
    /// When it expires (unless a payment is in progress then).
    pub(super) expires_at: Instant,
    pub(super) created_date: String,
    pub(super) last_updated_date: String,
    /// The order's status, which its payment shares.
    pub(super) status: Status,
    pub(super) pos_id: String,
    pub(super) mode: String,
    pub(super) items: Option<Value>,
    pub(super) qr_data: Option<String>,
    pub(super) payment_id: String,
    /// What the payer paid, once paid (less than the total with a discount).
    pub(super) paid_amount: Option<String>,
    pub(super) refund_id: Option<String>,
    /// The payer opened the QR and is paying: it can be neither canceled nor
    /// expired.
    pub(super) in_progress: bool,
    pub(super) version: u32,
}

impl StandInOrder {
    pub(super) fn to_json(&self) -> Value {
        let (detail, payment_detail) = self.status.details();
        let mut payment = json!({
            "id": self.payment_id,
            "amount": self.total_amount,
            "status": self.status.as_str(),
            "status_detail": payment_detail.as_str(),
        });
        if let Some(paid) = &self.paid_amount {
            payment["paid_amount"] = json!(paid);
        }
        let mut transactions = json!({"payments": [payment]});
        if let Some(refund) = &self.refund_id {
            transactions["refunds"] = json!([{
                "id": refund,
                "transaction_id": self.payment_id,
                "amount": self.paid_amount,
                "status": Status::Processed.as_str(),
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
            "status": self.status.as_str(),
            "status_detail": detail.as_str(),
            "currency": "BRL",
            "created_date": self.created_date,
            "last_updated_date": self.last_updated_date,
            "total_amount": self.total_amount,
            "integration_data": {"application_id": APPLICATION_ID},
            "transactions": transactions,
            "config": {"qr": {"external_pos_id": self.pos_id, "mode": self.mode}},
        });
        if let Some(paid) = &self.paid_amount {
            order["total_paid_amount"] = json!(paid);
        }
        if let Some(items) = &self.items {
            order["items"] = items.clone();
        }
        if let Some(qr) = &self.qr_data {
            order["type_response"] = json!({"qr_data": qr});
        }
        order
    }

    /// Moves the order and its payment to `status`; whatever was in
    /// progress is over.
    pub(super) fn enter(&mut self, status: Status) {
        self.status = status;
        self.in_progress = false;
        self.last_updated_date = shared::clock::now_rfc3339();
        self.version += 1;
    }

    /// The notification of the order as it is now: its action is
    /// `order.<status>`.
    pub(super) fn notice(&self) -> Notice {
        let mut data = self.to_json();
        if let Some(data) = data.as_object_mut() {
            data.remove("type_response");
            data.insert("version".into(), json!(self.version));
        }
        Notice {
            action: format!("order.{}", self.status),
            order_id: self.id.clone(),
            data,
        }
    }

    /// 409 `code` unless the order is `required`; `message` says why, given
    /// the status it is in.
    pub(super) fn require(
        &self,
        required: Status,
        code: &str,
        message: impl FnOnce(Status) -> String,
    ) -> Result<(), Answer> {
        if self.status == required {
            return Ok(());
        }
        Err(failure(StatusCode::CONFLICT, code, &message(self.status)))
    }

    /// 409 [`LOCKED`] while a payment is in progress; `doing` says what
    /// cannot be done.
    pub(super) fn require_unlocked(&self, doing: &str) -> Result<(), Answer> {
        if !self.in_progress {
            return Ok(());
        }
        let message = format!("a payment is in progress on the order: it cannot be {doing}");
        Err(failure(StatusCode::CONFLICT, LOCKED, &message))
    }

    /// Expires the order if its time had come at `now` and no payment is in
    /// progress on it; the notice to send if so. Every request that touches
    /// the order calls it first, and so does the stand-in's tick.
    pub(super) fn settle(&mut self, now: Instant) -> Option<Notice> {
        let due = self.status == Status::Created && !self.in_progress && now >= self.expires_at;
        due.then(|| {
            self.enter(Status::Expired);
            self.notice()
        })
    }
}

/// An id in Mercado Pago's style: a prefix and 26 upper-case letters and
/// digits (`ORD01JQ4S4KY8HWQ6NA5PXB65B3D3`).
pub(super) fn mp_id(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    format!("{prefix}{}", &random[..26])
}

#[cfg(test)]
mod tests {
    use super::super::create::new_order;
    use super::*;
    use std::time::Duration;

    fn order(expiration_time: &str) -> StandInOrder {
        let body = json!({
            "type": "qr",
            "external_reference": "order-1",
            "total_amount": "24.90",
            "expiration_time": expiration_time,
            "config": {"qr": {"external_pos_id": "POS1", "mode": "dynamic"}},
            "transactions": {"payments": [{"amount": "24.90"}]},
        });
        new_order(body.to_string().as_bytes()).unwrap()
    }

    /// `status/status_detail` of the order's JSON and of its payment's.
    fn statuses(json: &Value) -> [String; 2] {
        let payment = &json["transactions"]["payments"][0];
        [json, payment].map(|j| format!("{}/{}", j["status"], j["status_detail"]).replace('"', ""))
    }

    #[test]
    fn a_new_order_and_its_payment_read_created() {
        let json = order("PT15M").to_json();
        assert_eq!(statuses(&json), ["created/created", "created/created"]);
        let payment = &json["transactions"]["payments"][0];
        assert!(json.get("total_paid_amount").is_none() && payment.get("paid_amount").is_none());
    }

    #[test]
    fn an_order_expires_at_its_expiration_time_and_not_before() {
        let mut order = order("PT15M");
        let deadline = order.expires_at;

        assert!(order.settle(deadline - Duration::from_millis(1)).is_none());
        assert_eq!(order.status, Status::Created);
        let notice = order.settle(deadline).expect("expired at its deadline");

        assert_eq!(
            (notice.action.as_str(), order.status),
            ("order.expired", Status::Expired)
        );
        assert_eq!(
            statuses(&notice.data),
            ["expired/expired", "expired/expired"]
        );
        assert!(
            order.settle(deadline + Duration::from_secs(60)).is_none(),
            "once"
        );
    }

    #[test]
    fn an_order_being_paid_does_not_expire_until_the_payer_gives_up() {
        let mut order = order("PT1M");
        let later = order.expires_at + Duration::from_secs(600);
        order.in_progress = true;

        assert!(order.settle(later).is_none());
        assert_eq!(
            order.require_unlocked("canceled").unwrap_err().1["errors"][0]["code"],
            LOCKED
        );
        order.in_progress = false;
        assert_eq!(
            order.settle(later).map(|n| n.action),
            Some("order.expired".to_owned())
        );
    }

    #[test]
    fn a_paid_order_reads_processed_and_its_payment_accredited() {
        let mut order = order("PT15M");
        order.paid_amount = Some("20.00".into());
        order.enter(Status::Processed);

        let json = order.to_json();
        assert_eq!(
            statuses(&json),
            ["processed/processed", "processed/accredited"]
        );
        let payment = &json["transactions"]["payments"][0];
        assert_eq!(
            (&json["total_amount"], &json["total_paid_amount"]),
            (&json!("24.90"), &json!("20.00"))
        );
        assert_eq!(payment["paid_amount"], "20.00");
        assert!(
            order.settle(order.expires_at).is_none(),
            "a paid order never expires"
        );
    }
}
