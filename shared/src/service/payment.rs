//! Paying an order with a Mercado Pago QR, and settling it by what Mercado
//! Pago says when re-read (never by what a notification claims).
//!
//! - [`request_payment`]: the owner's `POST /orders/{id}/payment`. One QR
//!   order per order: its idempotency key is derived from our order id, so a
//!   retry or a concurrent request gets the same one from Mercado Pago, and
//!   the store keeps the first one attached.
//! - [`receive_notification`]: `POST /webhooks/mercadopago`: the signature
//!   checked (the secret re-read once if none matched), then
//!   [`settle_provider_order`].
//! - [`settle_provider_order`]: what a notification (and the expiry job)
//!   does: re-read the provider's order, decide with
//!   [`crate::domain::order::settle`], apply.
//! - [`refund`]: the money of a cancelled order back (staff's cancel of a
//!   paid order, a payment that came after the order was cancelled).

use crate::domain::Subject;
use crate::domain::ids::{IdempotencyKey, OrderId, ProviderOrderId};
use crate::domain::money::Money;
use crate::domain::order::{
    CancelReason, Order, OrderStatus, Payment, PaymentStatus, ProviderStatus, Settlement, settle,
};
use crate::domain::payment::{MpOrder, MpOrderStatus, PaymentError, QrItem, QrOrderRequest};
use crate::domain::signature::{self, SignatureError};
use crate::service::ports::{Attached, PaymentAccount, PaymentGateway, PaymentStore, StoredOrder};
use crate::{Code, Error, Result};
use std::time::Duration;
use time::OffsetDateTime;

/// The provider's name in [`Payment::provider`].
pub const PROVIDER: &str = "mercadopago";

/// The key of the one QR order of `order` (and of its one refund).
pub fn payment_key(order: &OrderId) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(&format!("payment-{order}"))
        .ok_or_else(|| Error::internal("an order id makes no idempotency key"))
}

pub fn refund_key(order: &OrderId) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(&format!("refund-{order}"))
        .ok_or_else(|| Error::internal("an order id makes no idempotency key"))
}

/// A provider failure as our answer, nothing changed on our side: an
/// outage (timeout, 5xx, 429, locked) is 503, worth a retry; a permanent
/// refusal (any other 4xx, or an order it does not have) is 502, logged
/// with the provider's code for the metric and alarm of template.yaml
/// (`payment_provider_error`, and `payment_provider_unauthorized` for a 401:
/// a wrong or revoked access token).
pub fn provider_error(e: PaymentError) -> Error {
    match &e {
        PaymentError::Unavailable(_) => {
            tracing::warn!(error = %e, "Mercado Pago is unavailable");
            Error::provider_unavailable()
        }
        PaymentError::Rejected {
            status: Some(401),
            code,
            ..
        } => {
            tracing::error!(
                event = "payment_provider_unauthorized",
                provider_code = %code,
                "payment_provider_unauthorized: Mercado Pago refused the access token"
            );
            Error::provider_refused()
        }
        PaymentError::Rejected { status, code, .. } => {
            tracing::error!(
                event = "payment_provider_error",
                provider_status = status,
                provider_code = %code,
                "payment_provider_error: Mercado Pago refused the request"
            );
            Error::provider_refused()
        }
        PaymentError::NotFound => {
            tracing::error!(
                event = "payment_provider_error",
                provider_status = 404,
                "payment_provider_error: Mercado Pago has no such order"
            );
            Error::provider_refused()
        }
    }
}

/// `POST /orders/{id}/payment`: the order's QR payment, made once. `true`
/// when this call made it (201), `false` when it answers an existing one (200).
pub async fn request_payment(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    id: &OrderId,
    owner: &Subject,
    timeout: Duration,
) -> Result<(Payment, bool)> {
    let StoredOrder { order, payment, .. } = store
        .order_with_payment(id)
        .await?
        .filter(|stored| stored.order.is_owned_by(owner))
        .ok_or_else(Error::order_not_found)?;
    if order.status != OrderStatus::AwaitingPayment {
        return Err(Error::invalid_transition());
    }
    if let Some(payment) = payment {
        return Ok((payment, false));
    }
    let expires_at = order.created_at + timeout;
    if expires_at - OffsetDateTime::now_utc() < time::Duration::minutes(1) {
        // Mercado Pago takes whole minutes; the expiry job settles it soon.
        return Err(Error::invalid_transition());
    }
    let request = QrOrderRequest {
        order_id: order.id.clone(),
        total: order.total_cents,
        expires_at,
        idempotency_key: payment_key(&order.id)?,
        items: order
            .items
            .iter()
            .map(|line| QrItem {
                title: line.name.clone(),
                unit_price: line.unit_price_cents,
                quantity: u32::from(line.quantity),
            })
            .collect(),
        pos_id: order.mercadopago_pos_id.clone(),
    };
    let created = gateway
        .create_qr_order(&request)
        .await
        .map_err(provider_error)?;
    let qr_data = created.qr_data.clone().ok_or_else(|| {
        provider_error(PaymentError::Unavailable(
            "the QR order came back without qr_data".into(),
        ))
    })?;
    let payment = Payment {
        provider: PROVIDER.to_owned(),
        provider_order_id: created.id.clone(),
        qr_data,
        amount_cents: order.total_cents,
        expires_at,
    };
    match store.attach_payment(id, owner, &payment).await? {
        Attached::Attached => {
            tracing::info!(order_id = %id, provider_order_id = %created.id, "payment created");
            Ok((payment, true))
        }
        Attached::Existing(existing) => Ok((existing, false)),
        Attached::NotAwaiting => Err(Error::invalid_transition()),
    }
}

/// What settling did, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Boxed: an order is a few hundred bytes, the other outcomes none.
    Confirmed(Box<Order>),
    Refused,
    Expired,
    Refunded,
    /// A refund is due and left to the expiry job ([`Refunds::Deferred`]).
    RefundDue,
    AmountMismatch,
    Unchanged,
}

impl Settled {
    /// A short name, for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Settled::Confirmed(_) => "confirmed",
            Settled::Refused => "refused",
            Settled::Expired => "expired",
            Settled::Refunded => "refunded",
            Settled::RefundDue => "refund_due",
            Settled::AmountMismatch => "amount_mismatch",
            Settled::Unchanged => "unchanged",
        }
    }
}

/// A Mercado Pago notification as it arrived: `?data.id=&type=` and the
/// `x-signature` and `x-request-id` headers. The body is never read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notification<'a> {
    pub data_id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// `POST /webhooks/mercadopago`: believed only with a valid `x-signature`
/// (checked against the cached webhook secrets, and once more against the
/// secret read again when none matched: it may have been rotated); then the
/// Mercado Pago order is re-read and settled by what it says. `None`: not
/// an order notification, nothing to do.
///
/// # Errors
/// 401 `invalid_signature` for a missing or wrong signature; 503 when the
/// secret or Mercado Pago cannot be read.
#[tracing::instrument(skip_all)]
pub async fn receive_notification(
    store: &impl PaymentStore,
    account: &impl PaymentAccount,
    notification: Notification<'_>,
) -> Result<Option<Settled>> {
    let Notification {
        data_id,
        kind,
        signature: header,
        request_id,
    } = notification;
    let check = |secrets: &[_]| signature::verify(header, request_id, data_id, secrets);
    let mut verified = check(&account.webhook_secrets(false).await?);
    if matches!(verified, Err(SignatureError::Mismatch)) {
        verified = check(&account.webhook_secrets(true).await?);
    }
    let provider_order = data_id
        .filter(|_| kind == Some("order"))
        .and_then(ProviderOrderId::parse);
    // Only a Mercado Pago order of ours is ever re-read.
    let ours = match &provider_order {
        Some(provider_order) => store.order_of(provider_order).await?,
        None => None,
    };
    if let Err(e) = verified {
        // The metric filter of template.yaml counts this line's event name.
        tracing::warn!(
            event = "invalid_signature",
            reason = %e,
            "invalid_signature: a Mercado Pago notification without a valid x-signature"
        );
        // A hint all the same: the order it names, if ours and still
        // awaiting payment, is re-read (at most once per READ_EVERY), so a
        // payment is never lost to a signature we could not verify.
        if let (Some(id), Some(provider_order)) = (ours, provider_order) {
            let hinted = reread_hinted(store, account, &id, &provider_order).await;
            if let Err(e) = hinted {
                tracing::warn!(error = %e, "the hinted order could not be re-read");
            }
        }
        return Err(Error::unauthorized(
            Code::InvalidSignature,
            "the x-signature header does not sign this notification",
        ));
    }
    let (Some(provider_order), Some(_)) = (provider_order, ours) else {
        tracing::info!("a notification of no order of ours: nothing read");
        return Ok(None);
    };
    let gateway = account.gateway().await?;
    let settled = settle_provider_order(store, &gateway, &provider_order).await?;
    tracing::info!(provider_order_id = %provider_order, outcome = settled.name(), "Mercado Pago notification");
    Ok(Some(settled))
}

/// Re-reads and settles order `id` on an unverified notification's word,
/// if it still awaits the payment of `provider_order` and was not re-read
/// in the last [`READ_EVERY`].
async fn reread_hinted(
    store: &impl PaymentStore,
    account: &impl PaymentAccount,
    id: &OrderId,
    provider_order: &ProviderOrderId,
) -> Result<()> {
    let Some(stored) = store.order_with_payment(id).await? else {
        return Ok(());
    };
    let attached = stored
        .payment
        .as_ref()
        .is_some_and(|p| &p.provider_order_id == provider_order);
    if !attached
        || stored.order.status != OrderStatus::AwaitingPayment
        || !store
            .claim_read(id, crate::clock::now(), READ_EVERY)
            .await?
    {
        return Ok(());
    }
    let settled = reread(store, account, &stored.order, provider_order).await?;
    tracing::info!(outcome = settled.name(), "hinted order re-read");
    Ok(())
}

/// How often an order's Mercado Pago order may be re-read on behalf of a
/// poll or an unverified notification.
pub const READ_EVERY: Duration = Duration::from_secs(5);

/// `GET /orders/{id}` by its owner: the order, settled first by what
/// Mercado Pago says when it awaits a payment started more than
/// [`READ_EVERY`] after the last re-read (one conditional write claims the
/// re-read, so concurrent polls make one call). A kiosk polling every few
/// seconds sees its order `received` within seconds of the payment even if
/// no notification ever arrives. Mercado Pago failing here is logged and the
/// order answered as it is: the next poll tries again.
///
/// # Errors
/// `order_not_found` for a missing order or another owner's.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn poll_order(
    store: &impl PaymentStore,
    account: &impl PaymentAccount,
    id: &OrderId,
    owner: &Subject,
    now: OffsetDateTime,
) -> Result<Order> {
    let stored = store
        .order_with_payment(id)
        .await?
        .filter(|s| s.order.is_owned_by(owner))
        .ok_or_else(Error::order_not_found)?;
    let Some(payment) = stored.payment.as_ref() else {
        return Ok(stored.order);
    };
    if stored.order.status != OrderStatus::AwaitingPayment
        || !store.claim_read(id, now, READ_EVERY).await?
    {
        return Ok(stored.order);
    }
    match reread(store, account, &stored.order, &payment.provider_order_id).await {
        Ok(Settled::Confirmed(order)) => Ok(*order),
        Ok(Settled::Unchanged | Settled::AmountMismatch) => Ok(stored.order),
        Ok(_) => Ok(store
            .order_with_payment(id)
            .await?
            .map_or(stored.order, |s| s.order)),
        Err(e) => {
            tracing::warn!(error = %e, "the poll could not re-read Mercado Pago; the order is answered as stored");
            Ok(stored.order)
        }
    }
}

/// Re-reads `order`'s Mercado Pago order and settles ours by it.
async fn reread(
    store: &impl PaymentStore,
    account: &impl PaymentAccount,
    order: &Order,
    provider_order: &ProviderOrderId,
) -> Result<Settled> {
    let gateway = account.gateway().await?;
    let provider = gateway
        .get_order(provider_order)
        .await
        .map_err(provider_error)?;
    settle_with(store, &gateway, order, &provider, Refunds::Deferred).await
}

/// Re-reads the provider's order `id` and settles ours by it.
pub async fn settle_provider_order(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    id: &ProviderOrderId,
) -> Result<Settled> {
    let provider = match gateway.get_order(id).await {
        Ok(order) => order,
        Err(PaymentError::NotFound) => {
            tracing::warn!(provider_order_id = %id, "notification for an order Mercado Pago does not have");
            return Ok(Settled::Unchanged);
        }
        Err(e) => return Err(provider_error(e)),
    };
    let Some(our_id) = provider.external_reference.clone() else {
        return Ok(Settled::Unchanged);
    };
    let Some(StoredOrder { order, payment, .. }) = store.order_with_payment(&our_id).await? else {
        tracing::warn!(provider_order_id = %id, "Mercado Pago order for no order of ours");
        return Ok(Settled::Unchanged);
    };
    if payment
        .as_ref()
        .is_some_and(|p| p.provider_order_id != provider.id)
    {
        tracing::warn!(order_id = %order.id, provider_order_id = %id, "not the payment attached to the order");
        return Ok(Settled::Unchanged);
    }
    settle_with(store, gateway, &order, &provider, Refunds::Deferred).await
}

/// Refunds provider order `provider_order` of our cancelled order `id` in
/// full (one idempotency key per order, so a retry is the same refund) and
/// notes it. A refund Mercado Pago reports as made already counts as done.
///
/// # Errors
/// 503 or 502 as [`provider_error`] tells them apart; nothing noted.
pub async fn refund(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    id: &OrderId,
    provider_order: &ProviderOrderId,
) -> Result<()> {
    match gateway.refund_order(provider_order, &refund_key(id)?).await {
        Ok(_) => {}
        Err(PaymentError::Rejected { code, .. }) if code == ALREADY_REFUNDED => {
            tracing::info!(order_id = %id, "Mercado Pago had refunded it already");
        }
        Err(e) => return Err(provider_error(e)),
    }
    store.mark_refunded(id).await
}

/// What Mercado Pago answers a refund of an order refunded already.
const ALREADY_REFUNDED: &str = "order_already_refunded";

/// Where a refund that settling decides on runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refunds {
    /// Here and now (the expiry job, which has the time).
    Inline,
    /// Later, by the expiry job: the order is made due for it at once. A
    /// webhook must answer within Mercado Pago's 5 s, and a poll quickly.
    Deferred,
}

/// Settles `order` by the provider's `provider` order (already read).
pub async fn settle_with(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    order: &Order,
    provider: &MpOrder,
    refunds: Refunds,
) -> Result<Settled> {
    let decision = settle(
        order,
        provider.external_reference.as_ref(),
        provider_status(provider.status),
        provider.total,
    );
    match decision {
        Settlement::Confirm => match store.confirm_paid(order, &provider.id, provider.paid).await {
            Ok(confirmed) => {
                if confirmed.paid_cents != Some(order.total_cents) {
                    tracing::warn!(
                        order_id = %order.id,
                        total_cents = order.total_cents.as_cents(),
                        paid_cents = confirmed.paid_cents.map(Money::as_cents),
                        "the payer paid another amount than the total (a Mercado Pago discount): confirmed all the same"
                    );
                }
                tracing::info!(order_id = %order.id, number = confirmed.number, "payment approved");
                Ok(Settled::Confirmed(Box::new(confirmed)))
            }
            // It moved meanwhile (cancelled at its deadline, say): decide again.
            Err(e) if e.is_conflict() => {
                let again = store.order_with_payment(&order.id).await?;
                match again {
                    Some(now) if now.order.status != OrderStatus::AwaitingPayment => {
                        Box::pin(settle_with(store, gateway, &now.order, provider, refunds)).await
                    }
                    _ => Ok(Settled::Unchanged),
                }
            }
            Err(e) => Err(e),
        },
        Settlement::Refuse | Settlement::Expire => {
            let (reason, payment_status, settled) = if decision == Settlement::Expire {
                (
                    CancelReason::PaymentExpired,
                    PaymentStatus::Expired,
                    Settled::Expired,
                )
            } else {
                (
                    CancelReason::PaymentRefused,
                    PaymentStatus::Refused,
                    Settled::Refused,
                )
            };
            // Over at Mercado Pago: nothing there to watch.
            match store
                .cancel_unpaid(&order.id, reason, payment_status, false)
                .await
            {
                Ok(()) => {
                    tracing::info!(order_id = %order.id, provider_status = %provider.raw_status, outcome = settled.name(), "payment not made");
                    Ok(settled)
                }
                Err(e) if e.is_conflict() => Ok(Settled::Unchanged),
                Err(e) => Err(e),
            }
        }
        Settlement::Refund if refunds == Refunds::Deferred => {
            store.watch(&order.id, Some(crate::clock::now())).await?;
            tracing::warn!(order_id = %order.id, "a payment came after the order was cancelled: the expiry job refunds it");
            Ok(Settled::RefundDue)
        }
        Settlement::Refund => {
            refund(store, gateway, &order.id, &provider.id).await?;
            // The metric filter of template.yaml counts this line's event name.
            tracing::warn!(
                event = "late_payment_refunded",
                order_id = %order.id,
                "late_payment_refunded: a payment came after the order was cancelled"
            );
            Ok(Settled::Refunded)
        }
        Settlement::AmountMismatch => {
            // The metric filter of template.yaml counts this line's event name.
            tracing::error!(
                event = "payment_amount_mismatch",
                order_id = %order.id,
                provider_order_id = %provider.id,
                expected_cents = order.total_cents.as_cents(),
                provider_total_cents = provider.total.as_cents(),
                provider_paid_cents = provider.paid.map(Money::as_cents),
                "payment_amount_mismatch: the payment is not the order's total; nothing changed"
            );
            Ok(Settled::AmountMismatch)
        }
        Settlement::Nothing => Ok(Settled::Unchanged),
    }
}

fn provider_status(status: MpOrderStatus) -> ProviderStatus {
    match status {
        MpOrderStatus::Paid => ProviderStatus::Paid,
        MpOrderStatus::Failed | MpOrderStatus::Cancelled => ProviderStatus::Refused,
        MpOrderStatus::Expired => ProviderStatus::Expired,
        MpOrderStatus::Pending | MpOrderStatus::Refunded | MpOrderStatus::Unknown => {
            ProviderStatus::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::signature::WebhookSecret;
    use crate::service::testing::{Account, Gateway, Memory, mp_order, paid, provider_id, unpaid};

    const SECRET: &str = "the-webhook-secret-of-the-account";

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    /// An account whose cached secret is `cached`, and `SECRET` after a
    /// refresh; its gateway holds `ORD01` for `order` in `status`.
    fn account(cached: &str, order: &Order, status: MpOrderStatus) -> Account {
        Account {
            gateway: Gateway::holding(order, status),
            cached: vec![secret(cached)],
            after_refresh: vec![secret(SECRET)],
            ..Account::default()
        }
    }

    /// A signed order notification for `ORD01`.
    fn signed(header: &str) -> Notification<'_> {
        Notification {
            data_id: Some("ORD01"),
            kind: Some("order"),
            signature: Some(header),
            request_id: Some("req-1"),
        }
    }

    /// An order notification for `ORD01` with no `x-signature`.
    fn unsigned() -> Notification<'static> {
        Notification {
            signature: None,
            ..signed("")
        }
    }

    /// A guest's order (its QR `ORD01` made when `with_payment`) in memory,
    /// and an account whose cached secret is `cached` and whose gateway holds
    /// `ORD01` in `status`.
    fn arranged_account(
        with_payment: bool,
        cached: &str,
        status: MpOrderStatus,
    ) -> (Memory, Account, StoredOrder) {
        let stored = unpaid(with_payment);
        let account = account(cached, &stored.order, status);
        (Memory::with(stored.clone()), account, stored)
    }

    fn signature_header() -> String {
        signature::sign(
            SECRET.as_bytes(),
            Some("ORD01"),
            Some("req-1"),
            1_704_908_010,
        )
    }

    #[tokio::test]
    async fn a_signature_of_a_rotated_secret_is_checked_again_after_one_refresh() {
        let stored = unpaid(true);
        let store = Memory::with(stored.clone());
        let account = account(
            "the-old-secret-before-the-rotation",
            &stored.order,
            MpOrderStatus::Paid,
        );
        let header = signature_header();
        let settled = receive_notification(&store, &account, signed(&header))
            .await
            .unwrap();
        assert!(
            matches!(settled, Some(Settled::Confirmed(_))),
            "{settled:?}"
        );
        assert_eq!(*account.refreshes.lock().unwrap(), 1);
        assert_eq!(store.order(&stored.order.id).status, OrderStatus::Received);
    }

    #[tokio::test]
    async fn a_bad_signature_is_refused_after_one_refresh_and_its_body_never_used() {
        // Mercado Pago says the order is still unpaid, whatever a forger claims.
        let (store, account, stored) = arranged_account(true, SECRET, MpOrderStatus::Pending);
        let forged = signature::sign(
            b"not-our-secret-at-all-not-ours",
            Some("ORD01"),
            Some("req-1"),
            1,
        );
        let refused = receive_notification(&store, &account, signed(&forged)).await;
        let error = refused.unwrap_err();
        assert_eq!(
            (error.status_code(), error.public_parts().0),
            (401, Code::InvalidSignature)
        );
        assert_eq!(
            *account.refreshes.lock().unwrap(),
            1,
            "refreshed once, not more"
        );
        assert_eq!(
            account.gateway.calls(),
            ["get"],
            "at most a re-read of our own order"
        );
        assert_eq!(
            store.order(&stored.order.id).status,
            OrderStatus::AwaitingPayment
        );
    }

    #[tokio::test]
    async fn an_unsigned_notification_is_refused_but_still_settles_our_order_at_most_every_5_s() {
        let (store, account, stored) = arranged_account(true, SECRET, MpOrderStatus::Pending);
        let unsigned = unsigned();
        for _ in 0..2 {
            let refused = receive_notification(&store, &account, unsigned).await;
            assert_eq!(refused.unwrap_err().status_code(), 401);
        }
        assert_eq!(account.gateway.calls(), ["get"], "one re-read in 5 s");
        // Paid now: once the 5 s have passed, a hint confirms it.
        account
            .gateway
            .set_status(&provider_id(), MpOrderStatus::Paid);
        store.reads.lock().unwrap().clear();
        let refused = receive_notification(&store, &account, unsigned).await;
        assert_eq!(refused.unwrap_err().status_code(), 401);
        assert_eq!(store.order(&stored.order.id).status, OrderStatus::Received);
    }

    #[tokio::test]
    async fn an_id_we_do_not_hold_is_never_sent_to_mercado_pago() {
        let (store, account, stored) = arranged_account(false, SECRET, MpOrderStatus::Paid);
        let header = signature_header();
        let signed_for_unknown = receive_notification(&store, &account, signed(&header)).await;
        assert_eq!(signed_for_unknown.unwrap(), None);
        let forged = unsigned();
        assert!(
            receive_notification(&store, &account, forged)
                .await
                .is_err()
        );
        assert!(account.gateway.calls().is_empty());
        assert_eq!(
            store.order(&stored.order.id).status,
            OrderStatus::AwaitingPayment
        );
    }

    #[tokio::test]
    async fn a_notification_for_another_order_changes_nothing() {
        let ours = unpaid(true);
        let store = Memory::with(ours.clone());
        let mut theirs = unpaid(false).order;
        theirs.total_cents = ours.order.total_cents;
        // Mercado Pago's order ORD01 names an order we do not hold.
        let account = account(SECRET, &theirs, MpOrderStatus::Paid);
        let header = signature_header();
        let settled = receive_notification(&store, &account, signed(&header))
            .await
            .unwrap();
        assert_eq!(settled, Some(Settled::Unchanged));
        assert_eq!(
            store.order(&ours.order.id).status,
            OrderStatus::AwaitingPayment
        );
        // A provider order that is not the one attached to ours is not ours either.
        let mut attached_elsewhere = unpaid(true);
        attached_elsewhere
            .payment
            .as_mut()
            .unwrap()
            .provider_order_id = ProviderOrderId::parse("ORD99").unwrap();
        let store = Memory::with(attached_elsewhere.clone());
        let gateway = Gateway::holding(&attached_elsewhere.order, MpOrderStatus::Paid);
        let settled = settle_provider_order(&store, &gateway, &provider_id())
            .await
            .unwrap();
        assert_eq!(settled, Settled::Unchanged);
        assert_eq!(
            store.order(&attached_elsewhere.order.id).status,
            OrderStatus::AwaitingPayment
        );
    }

    #[tokio::test]
    async fn a_payment_of_another_amount_changes_nothing() {
        let stored = unpaid(true);
        let store = Memory::with(stored.clone());
        let gateway = Gateway::default();
        let mut provider = mp_order(&stored.order, MpOrderStatus::Paid);
        provider.total = Money::cents(1990);
        gateway.put(provider);
        let settled = settle_provider_order(&store, &gateway, &provider_id())
            .await
            .unwrap();
        assert_eq!(settled, Settled::AmountMismatch);
        let order = store.order(&stored.order.id);
        assert_eq!(
            (order.status, order.payment_status, order.number),
            (OrderStatus::AwaitingPayment, PaymentStatus::Pending, None)
        );
        assert_eq!(gateway.calls(), ["get"], "no refund, no cancel");
    }

    #[tokio::test]
    async fn a_discounted_payment_confirms_the_order_and_keeps_what_was_paid() {
        let stored = unpaid(true);
        let store = Memory::with(stored.clone());
        let gateway = Gateway::default();
        let mut provider = mp_order(&stored.order, MpOrderStatus::Paid);
        provider.paid = Some(Money::cents(1990));
        gateway.put(provider);
        let settled = settle_provider_order(&store, &gateway, &provider_id())
            .await
            .unwrap();
        let Settled::Confirmed(order) = settled else {
            panic!("a discount never blocks the order: {settled:?}")
        };
        assert_eq!(
            (order.status, order.total_cents, order.paid_cents),
            (
                OrderStatus::Received,
                Money::cents(2490),
                Some(Money::cents(1990))
            )
        );
        assert_eq!(store.order(&stored.order.id), *order);
    }

    #[tokio::test]
    async fn an_order_mercado_pago_expired_is_cancelled_as_expired_not_refused() {
        let stored = unpaid(true);
        let store = Memory::with(stored.clone());
        let gateway = Gateway::holding(&stored.order, MpOrderStatus::Expired);
        let settled = settle_provider_order(&store, &gateway, &provider_id())
            .await
            .unwrap();
        assert_eq!(settled, Settled::Expired);
        let order = store.order(&stored.order.id);
        assert_eq!(
            (order.status, order.payment_status, order.cancel_reason),
            (
                OrderStatus::Cancelled,
                PaymentStatus::Expired,
                Some(CancelReason::PaymentExpired)
            )
        );
    }

    #[tokio::test]
    async fn permanent_refusals_are_502_and_outages_503() {
        let refused = PaymentError::Rejected {
            status: Some(400),
            code: "invalid_external_pos_id".into(),
            message: String::new(),
        };
        let revoked = PaymentError::Rejected {
            status: Some(401),
            code: "unauthorized".into(),
            message: String::new(),
        };
        let status = |e| provider_error(e).status_code();
        assert_eq!(status(refused), 502);
        assert_eq!(status(revoked), 502);
        assert_eq!(status(PaymentError::NotFound), 502);
        assert_eq!(status(PaymentError::Unavailable("timeout".into())), 503);
    }

    fn poller(status: MpOrderStatus) -> (Memory, Account, OrderId, Subject) {
        let stored = unpaid(true);
        let owner = stored.order.customer_id.clone();
        let account = Account {
            gateway: Gateway::holding(&stored.order, status),
            ..Account::default()
        };
        let id = stored.order.id.clone();
        (Memory::with(stored), account, id, owner)
    }

    #[tokio::test]
    async fn a_poll_confirms_a_payment_no_notification_announced() {
        let (store, account, id, owner) = poller(MpOrderStatus::Paid);
        let order = poll_order(&store, &account, &id, &owner, crate::clock::now())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::Received);
        assert_eq!(store.order(&id), order);
    }

    #[tokio::test]
    async fn polls_within_five_seconds_make_one_call_and_strangers_get_404() {
        let (store, account, id, owner) = poller(MpOrderStatus::Pending);
        let now = crate::clock::now();
        for offset in [0, 1, 4] {
            let at = now + time::Duration::seconds(offset);
            let order = poll_order(&store, &account, &id, &owner, at).await.unwrap();
            assert_eq!(order.status, OrderStatus::AwaitingPayment);
        }
        assert_eq!(account.gateway.calls(), ["get"]);
        let later = now + time::Duration::seconds(6);
        poll_order(&store, &account, &id, &owner, later)
            .await
            .unwrap();
        assert_eq!(account.gateway.calls(), ["get", "get"]);
        let stranger = Subject::new_guest();
        let hidden = poll_order(&store, &account, &id, &stranger, later).await;
        assert_eq!(hidden.unwrap_err().status_code(), 404);
    }

    #[tokio::test]
    async fn a_poll_with_mercado_pago_down_answers_the_order_as_stored() {
        let (store, account, id, owner) = poller(MpOrderStatus::Paid);
        account.gateway.go_down();
        let order = poll_order(&store, &account, &id, &owner, crate::clock::now())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::AwaitingPayment);
    }

    #[tokio::test]
    async fn a_payment_after_the_order_was_cancelled_is_refunded_by_the_job_not_the_webhook() {
        let mut stored = unpaid(true);
        stored.order = stored.order.cancelled_unpaid(
            CancelReason::PaymentExpired,
            PaymentStatus::Expired,
            crate::clock::now(),
        );
        let store = Memory::with(stored.clone());
        let gateway = Gateway::holding(&stored.order, MpOrderStatus::Paid);
        // The notification (or a poll) only makes the refund due.
        let settled = settle_provider_order(&store, &gateway, &provider_id())
            .await
            .unwrap();
        assert_eq!(settled, Settled::RefundDue);
        assert!(store.is_watched(&stored.order.id));
        assert_eq!(gateway.calls(), ["get"], "no refund inside the webhook");
        // The expiry job refunds it.
        let provider = gateway.get_order(&provider_id()).await.unwrap();
        let order = store.order(&stored.order.id);
        let settled = settle_with(&store, &gateway, &order, &provider, Refunds::Inline)
            .await
            .unwrap();
        assert_eq!(settled, Settled::Refunded);
        let order = store.order(&stored.order.id);
        assert_eq!(
            (order.status, order.payment_status),
            (OrderStatus::Cancelled, PaymentStatus::Refunded)
        );
        assert!(!store.is_watched(&stored.order.id));
        assert_eq!(gateway.calls(), ["get", "get", "refund"]);
    }

    #[tokio::test]
    async fn a_qr_is_made_once_per_order_and_only_for_its_owner() {
        let stored = unpaid(false);
        let (store, id, owner) = (
            Memory::with(stored.clone()),
            stored.order.id.clone(),
            stored.order.customer_id.clone(),
        );
        let gateway = Gateway::default();
        let timeout = Duration::from_secs(900);
        let (first, created) = request_payment(&store, &gateway, &id, &owner, timeout)
            .await
            .unwrap();
        assert!(created);
        let (again, created) = request_payment(&store, &gateway, &id, &owner, timeout)
            .await
            .unwrap();
        assert_eq!((again, created), (first, false));
        assert_eq!(gateway.calls(), ["create"]);
        let stranger = Subject::new_guest();
        let refused = request_payment(&store, &gateway, &id, &stranger, timeout).await;
        assert_eq!(refused.unwrap_err().public_parts().0, Code::OrderNotFound);
    }

    #[tokio::test]
    async fn a_refund_mercado_pago_made_already_counts_as_done() {
        let (store, gateway, id) = paid().await;
        store.cancel_for_test(&id);
        gateway.set_status(&provider_id(), MpOrderStatus::Refunded);
        refund(&store, &gateway, &id, &provider_id()).await.unwrap();
        assert_eq!(store.order(&id).payment_status, PaymentStatus::Refunded);
        gateway.go_down();
        let failed = refund(&store, &gateway, &id, &provider_id()).await;
        assert_eq!(failed.unwrap_err().status_code(), 503);
    }
}
