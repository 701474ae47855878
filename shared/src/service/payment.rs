//! Paying an order with a Mercado Pago QR, and settling it by what Mercado
//! Pago says when re-read (never by what a notification claims).
//!
//! - [`request_payment`]: the owner's `POST /orders/{id}/payment`. One QR
//!   order per order: its idempotency key is derived from our order id, so a
//!   retry or a concurrent request gets the same one from Mercado Pago, and
//!   the store keeps the first one attached.
//! - [`settle_provider_order`]: what a notification (and the expiry job)
//!   does: re-read the provider's order, decide with
//!   [`crate::domain::order::settle`], apply.

use crate::domain::ids::{IdempotencyKey, OrderId};
use crate::domain::money::Money;
use crate::domain::order::{
    CancelReason, Order, OrderStatus, Payment, PaymentStatus, ProviderStatus, Settlement,
    invalid_transition, order_not_found, settle,
};
use crate::payments::{
    MpOrder, MpOrderStatus, PaymentError, PaymentGateway, ProviderOrderId, QrItem, QrOrderRequest,
};
use crate::{Error, Result};
use std::future::Future;
use std::time::Duration;
use time::OffsetDateTime;

/// The provider's name in [`Payment::provider`].
pub const PROVIDER: &str = "mercadopago";

/// What paying needs of the order store.
pub trait PaymentStore: Sync {
    /// The order and its payment, read consistently.
    fn order_with_payment(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<StoredOrder>>> + Send;

    /// Keeps `payment` on `owner`'s order awaiting payment, unless it has one.
    fn attach_payment(
        &self,
        id: &OrderId,
        owner: &str,
        payment: &Payment,
    ) -> impl Future<Output = Result<Attached>> + Send;

    /// `received`, `approved`, `paid_at`, a free ticket number and the
    /// provider order that paid, if the order still awaits payment (else
    /// `invalid_transition`).
    fn confirm_paid(
        &self,
        order: &Order,
        paid_by: &ProviderOrderId,
    ) -> impl Future<Output = Result<Order>> + Send;

    /// `cancelled` for `reason`, if the order still awaits payment (else
    /// `invalid_transition`).
    fn cancel_unpaid(
        &self,
        id: &OrderId,
        reason: CancelReason,
        payment_status: PaymentStatus,
    ) -> impl Future<Output = Result<()>> + Send;

    /// `payment_status: refunded` on a cancelled order.
    fn mark_refunded(&self, id: &OrderId) -> impl Future<Output = Result<()>> + Send;
}

/// An order as stored, with what it knows of its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub order: Order,
    /// The QR payment made for it, if any.
    pub payment: Option<Payment>,
    /// The provider order that paid it, once paid.
    pub paid_by: Option<String>,
}

impl StoredOrder {
    /// The provider order to refund or cancel: the one that paid, else the
    /// one made for it.
    pub fn provider_order_id(&self) -> Option<ProviderOrderId> {
        self.paid_by
            .as_deref()
            .or(self.payment.as_ref().map(|p| p.provider_order_id.as_str()))
            .and_then(ProviderOrderId::parse)
    }
}

/// What [`PaymentStore::attach_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    Attached,
    /// The order already had this payment (a concurrent request's).
    Existing(Payment),
    /// The order no longer awaits payment.
    NotAwaiting,
}

/// The key of the one QR order of `order` (and of its one refund).
pub fn payment_key(order: &OrderId) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(&format!("payment-{order}"))
        .ok_or_else(|| Error::internal("an order id makes no idempotency key"))
}

pub fn refund_key(order: &OrderId) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(&format!("refund-{order}"))
        .ok_or_else(|| Error::internal("an order id makes no idempotency key"))
}

/// A provider failure as our answer: unavailable (or refusing a request we
/// could not have got wrong) is a 503 with nothing changed on our side.
pub fn provider_error(e: PaymentError) -> Error {
    tracing::warn!(error = %e, "Mercado Pago call failed");
    Error::ProviderUnavailable {
        code: "payment_provider_unavailable",
        message: "the payment provider cannot be reached; try again".into(),
    }
}

/// `POST /orders/{id}/payment`: the order's QR payment, made once. `true`
/// when this call made it (201), `false` when it answers an existing one (200).
pub async fn request_payment(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    id: &OrderId,
    owner: &str,
    timeout: Duration,
) -> Result<(Payment, bool)> {
    let StoredOrder { order, payment, .. } = store
        .order_with_payment(id)
        .await?
        .filter(|stored| stored.order.customer_id == owner)
        .ok_or_else(order_not_found)?;
    if order.status != OrderStatus::AwaitingPayment {
        return Err(invalid_transition());
    }
    if let Some(payment) = payment {
        return Ok((payment, false));
    }
    let expires_at = order.created_at + timeout;
    if expires_at - OffsetDateTime::now_utc() < time::Duration::minutes(1) {
        // Mercado Pago takes whole minutes; the expiry job settles it soon.
        return Err(invalid_transition());
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
        provider_order_id: created.id.as_str().to_owned(),
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
        Attached::NotAwaiting => Err(invalid_transition()),
    }
}

/// What settling did, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Confirmed(Order),
    Refused,
    Refunded,
    AmountMismatch,
    Unchanged,
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
        .is_some_and(|p| p.provider_order_id != provider.id.as_str())
    {
        tracing::warn!(order_id = %order.id, provider_order_id = %id, "not the payment attached to the order");
        return Ok(Settled::Unchanged);
    }
    settle_with(store, gateway, &order, &provider).await
}

/// Settles `order` by the provider's `provider` order (already read).
pub async fn settle_with(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    order: &Order,
    provider: &MpOrder,
) -> Result<Settled> {
    let decision = settle(
        order,
        provider.external_reference.as_ref(),
        provider_status(provider.status),
        provider.total,
        provider.paid,
    );
    match decision {
        Settlement::Confirm => match store.confirm_paid(order, &provider.id).await {
            Ok(confirmed) => {
                tracing::info!(order_id = %order.id, number = confirmed.number, "payment approved");
                Ok(Settled::Confirmed(confirmed))
            }
            // It moved meanwhile (cancelled at its deadline, say): decide again.
            Err(Error::Conflict { .. }) => {
                let again = store.order_with_payment(&order.id).await?;
                match again {
                    Some(now) if now.order.status != OrderStatus::AwaitingPayment => {
                        Box::pin(settle_with(store, gateway, &now.order, provider)).await
                    }
                    _ => Ok(Settled::Unchanged),
                }
            }
            Err(e) => Err(e),
        },
        Settlement::Refuse => {
            match store
                .cancel_unpaid(
                    &order.id,
                    CancelReason::PaymentRefused,
                    PaymentStatus::Refused,
                )
                .await
            {
                Ok(()) => {
                    tracing::info!(order_id = %order.id, provider_status = %provider.raw_status, "payment refused");
                    Ok(Settled::Refused)
                }
                Err(Error::Conflict { .. }) => Ok(Settled::Unchanged),
                Err(e) => Err(e),
            }
        }
        Settlement::Refund => {
            gateway
                .refund_order(&provider.id, &refund_key(&order.id)?)
                .await
                .map_err(provider_error)?;
            store.mark_refunded(&order.id).await?;
            tracing::warn!(order_id = %order.id, "a payment came after the order was cancelled: refunded");
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
        MpOrderStatus::Failed | MpOrderStatus::Cancelled | MpOrderStatus::Expired => {
            ProviderStatus::Refused
        }
        MpOrderStatus::Pending | MpOrderStatus::Refunded | MpOrderStatus::Unknown => {
            ProviderStatus::Other
        }
    }
}
