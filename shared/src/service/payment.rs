//! Payment confirmation: a notification is believed only with a valid
//! signature (checked on the raw body before anything is parsed), then
//! applied to the order awaiting payment.

use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::keys::KeyRing;
use crate::domain::order::{Order, PaymentStatus};
use crate::http::parse::parse_json;
use crate::payments::webhook::{NotifiedStatus, PaymentNotification, signature_is_valid};
use crate::{Error, Result};
use std::future::Future;

/// What payment confirmation needs of the order store.
pub trait PaymentStore: Sync {
    /// Moves the order awaiting payment by `outcome`; a replay of the
    /// notification that already applied answers the order as it is.
    fn apply_payment(
        &self,
        id: &OrderId,
        payment_id: &PaymentId,
        outcome: PaymentStatus,
    ) -> impl Future<Output = Result<Order>> + Send;
}

/// Verifies and applies one notification: `body` as received, `signature`
/// the `X-Signature` header.
#[tracing::instrument(skip_all)]
pub async fn confirm_payment(
    webhook_keys: &KeyRing,
    store: &impl PaymentStore,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Order> {
    let keys = webhook_keys.current_and_previous().await?;
    let mut valid = signature_is_valid(body, signature, &keys);
    if !valid && signature.is_some() {
        // The secret may have been rotated since it was cached.
        let keys = webhook_keys.refreshed().await?;
        valid = signature_is_valid(body, signature, &keys);
    }
    if !valid {
        tracing::warn!("payment notification with an invalid signature");
        return Err(Error::unauthorized(
            "invalid_signature",
            "the X-Signature header does not match the body",
        ));
    }
    let notification: PaymentNotification = parse_json(body)?;
    let outcome = match notification.status {
        NotifiedStatus::Approved => PaymentStatus::Approved,
        NotifiedStatus::Refused => PaymentStatus::Refused,
    };
    let order = store
        .apply_payment(&notification.order_id, &notification.payment_id, outcome)
        .await?;
    tracing::info!(order_id = %order.id, status = order.status.as_str(), "payment notification applied");
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::domain::keys::{KeySet, KeySource, SigningKey};
    use crate::domain::order::OrderStatus;
    use crate::payments::webhook::sign;
    use std::sync::Mutex;
    use std::time::Duration;

    const SECRET: &str = "a-webhook-secret-of-at-least-32-bytes!!";

    #[derive(Default)]
    struct Applied(Mutex<Vec<(String, String, PaymentStatus)>>);

    impl PaymentStore for Applied {
        async fn apply_payment(
            &self,
            id: &OrderId,
            payment_id: &PaymentId,
            outcome: PaymentStatus,
        ) -> Result<Order> {
            self.0
                .lock()
                .unwrap()
                .push((id.to_string(), payment_id.to_string(), outcome));
            Ok(Order {
                id: id.clone(),
                number: 7,
                customer_id: "c".into(),
                items: vec![],
                total_cents: crate::domain::Money::cents(100),
                status: OrderStatus::Received,
                payment_status: outcome,
                created_at: clock::now(),
                updated_at: clock::now(),
            })
        }
    }

    fn keys() -> KeyRing {
        let current = SigningKey::new("v1", SECRET).unwrap();
        KeyRing::new(
            KeySource::Fixed(KeySet {
                current,
                previous: None,
            }),
            Duration::from_secs(300),
        )
    }

    const BODY: &str = r#"{"order_id":"o-1","payment_id":"pay-1","status":"approved"}"#;

    #[tokio::test]
    async fn a_signed_notification_is_applied_as_it_says() {
        let store = Applied::default();
        let signature = sign(SECRET.as_bytes(), BODY.as_bytes());
        let order = confirm_payment(&keys(), &store, BODY.as_bytes(), Some(&signature))
            .await
            .unwrap();
        assert_eq!(order.payment_status, PaymentStatus::Approved);
        assert_eq!(
            *store.0.lock().unwrap(),
            vec![(
                "o-1".to_owned(),
                "pay-1".to_owned(),
                PaymentStatus::Approved
            )]
        );
    }

    #[tokio::test]
    async fn an_unsigned_or_forged_notification_changes_nothing() {
        let store = Applied::default();
        let forged = sign(b"another-secret-of-at-least-32-bytes!!!", BODY.as_bytes());
        for signature in [None, Some(forged.as_str()), Some("sha256=00")] {
            let e = confirm_payment(&keys(), &store, BODY.as_bytes(), signature)
                .await
                .unwrap_err();
            assert_eq!(e.public_parts().0, "invalid_signature");
        }
        assert!(store.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_signed_body_with_an_oversized_id_is_a_bad_request() {
        let body = format!(
            r#"{{"order_id":"{}","payment_id":"p","status":"approved"}}"#,
            "o".repeat(129)
        );
        let signature = sign(SECRET.as_bytes(), body.as_bytes());
        let e = confirm_payment(
            &keys(),
            &Applied::default(),
            body.as_bytes(),
            Some(&signature),
        )
        .await
        .unwrap_err();
        assert_eq!((e.status_code(), e.public_parts().0), (400, "invalid_body"));
    }
}
