//! An order of the stand-in, its payment, its JSON in Mercado Pago's shape,
//! and its moves from one status to another (each move a notice).

use super::server::{Answer, failure};
use super::status::{Detail, Status};
use super::{APPLICATION_ID, USER_ID};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

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
    pub(super) expires_at: Instant,
    pub(super) created_date: String,
    pub(super) last_updated_date: String,
    pub(super) status: Status,
    pub(super) status_detail: Detail,
    pub(super) pos_id: String,
    pub(super) mode: String,
    pub(super) items: Option<Value>,
    pub(super) qr_data: Option<String>,
    pub(super) payment: StandInPayment,
    pub(super) refund_id: Option<String>,
    pub(super) version: u32,
}

pub(super) struct StandInPayment {
    pub(super) id: String,
    pub(super) status: Status,
    pub(super) status_detail: Detail,
    pub(super) paid: bool,
}

impl StandInOrder {
    pub(super) fn to_json(&self) -> Value {
        let mut payment = json!({
            "id": self.payment.id,
            "amount": self.total_amount,
            "status": self.payment.status.as_str(),
            "status_detail": self.payment.status_detail.as_str(),
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
            "status_detail": self.status_detail.as_str(),
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

    /// Moves the order and its payment to `status`, the order with `detail`
    /// and the payment with `payment_detail`.
    pub(super) fn enter(&mut self, status: Status, detail: Detail, payment_detail: Detail) {
        self.status = status;
        self.status_detail = detail;
        self.payment.status = status;
        self.payment.status_detail = payment_detail;
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

    /// Expires the order if its time has come; the notice to send if so.
    pub(super) fn settle(&mut self) -> Option<Notice> {
        (self.status == Status::Created && Instant::now() >= self.expires_at).then(|| {
            self.enter(Status::Expired, Detail::Expired, Detail::Expired);
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
