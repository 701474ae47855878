//! Expiry: settling an order still `awaiting_payment` past its deadline
//! (what the `order-expiry` job does to each order the `awaiting` index
//! names).
//!
//! With a Mercado Pago order, Mercado Pago is asked first and
//! [`settle_with`] decides, as for a notification: paid in time but never
//! notified → confirmed (`received`, a ticket number); refused → cancelled
//! (`payment_refused`). Otherwise (no Mercado Pago order, or one still
//! pending) ours is cancelled (`payment_expired`, `expired`), in one write
//! conditioned on `awaiting_payment`, then theirs. A payment that lands in
//! between is found by reading their order again when the cancel is refused,
//! and refunded ([`crate::domain::order::Settlement::Refund`]); one notified
//! later is refunded by the webhook the same way. Both the webhook's
//! confirmation and our cancel are conditional on `awaiting_payment`: of the
//! two, exactly one applies.
//!
//! Nothing is half-written when Mercado Pago cannot be reached: the order is
//! left as it is ([`Expiry::Deferred`]) for the next run.

use crate::domain::ids::{OrderId, ProviderOrderId};
use crate::domain::order::{CancelReason, Order, OrderStatus, PaymentStatus};
use crate::domain::payment::PaymentError;
use crate::service::payment::{Settled, provider_error, settle_with};
use crate::service::ports::{PaymentGateway, PaymentStore};
use crate::{Error, Result};

/// What expiring one order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// Cancelled, `payment_expired`; `provider_cancelled`: its Mercado Pago
    /// order (if it had one) was cancelled too (else it expires by itself at
    /// its `expiration_time`, which is aligned with ours).
    Expired { provider_cancelled: bool },
    /// Paid in time at Mercado Pago, never notified: confirmed now.
    Confirmed(Order),
    /// Mercado Pago refused the payment: cancelled, `payment_refused`.
    Refused,
    /// Paid as we cancelled it: refunded, and it stays cancelled.
    Refunded,
    /// Paid, but not its total: left as it is, logged as an error.
    AmountMismatch,
    /// It no longer awaits payment (a notification or its owner came first,
    /// or the index lags), or is gone: nothing to do.
    AlreadySettled,
    /// Mercado Pago cannot be reached (or is not asked, being down in this
    /// run): nothing changed; the next run tries again.
    Deferred,
}

impl Expiry {
    /// A short name, for the log and the run's report.
    pub fn name(&self) -> &'static str {
        match self {
            Expiry::Expired { .. } => "expired",
            Expiry::Confirmed(_) => "confirmed",
            Expiry::Refused => "refused",
            Expiry::Refunded => "refunded",
            Expiry::AmountMismatch => "amount_mismatch",
            Expiry::AlreadySettled => "already_settled",
            Expiry::Deferred => "deferred",
        }
    }
}

/// Settles order `id`, past its payment deadline. `gateway` is `None` when
/// Mercado Pago is known to be unreachable in this run: an order with a
/// Mercado Pago order is then [`Expiry::Deferred`] without a call.
///
/// An error leaves the order as it was or as a completed step left it
/// (every step is a conditional write a later run repeats safely).
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn expire_order<G: PaymentGateway>(
    store: &impl PaymentStore,
    gateway: Option<&G>,
    id: &OrderId,
) -> Result<Expiry> {
    let Some(stored) = store.order_with_payment(id).await? else {
        return Ok(Expiry::AlreadySettled);
    };
    if stored.order.status != OrderStatus::AwaitingPayment {
        return Ok(Expiry::AlreadySettled);
    }
    let provider_order = stored.provider_order_id();
    let gateway = match (&provider_order, gateway) {
        (None, _) => None,
        (Some(_), None) => return Ok(Expiry::Deferred),
        (Some(provider_order), Some(gateway)) => {
            match gateway.get_order(provider_order).await {
                Ok(provider) => {
                    match settle_with(store, gateway, &stored.order, &provider).await? {
                        Settled::Confirmed(order) => return Ok(Expiry::Confirmed(order)),
                        Settled::Refused => return Ok(Expiry::Refused),
                        // Mercado Pago expired it first: nothing of theirs
                        // is left to cancel.
                        Settled::Expired => {
                            return Ok(Expiry::Expired {
                                provider_cancelled: false,
                            });
                        }
                        Settled::Refunded => return Ok(Expiry::Refunded),
                        Settled::AmountMismatch => return Ok(Expiry::AmountMismatch),
                        // Pending (or not its payment): it expires.
                        Settled::Unchanged => {}
                    }
                }
                // Mercado Pago never had it: there is nothing of theirs to cancel.
                Err(PaymentError::NotFound) => {}
                Err(e) => return Err(unreachable(e)),
            }
            Some(gateway)
        }
    };
    match store
        .cancel_unpaid(id, CancelReason::PaymentExpired, PaymentStatus::Expired)
        .await
    {
        Ok(()) => {}
        // A notification (or the owner) moved it first: theirs is the outcome.
        Err(e) if e.is_conflict() => return Ok(Expiry::AlreadySettled),
        Err(e) => return Err(e),
    }
    let (Some(provider_order), Some(gateway)) = (provider_order, gateway) else {
        tracing::info!("order expired");
        return Ok(Expiry::Expired {
            provider_cancelled: false,
        });
    };
    cancel_provider_order(store, gateway, id, &provider_order).await
}

/// Cancels the Mercado Pago order of `id`, ours being cancelled already. A
/// refusal (it was paid meanwhile) or a lost answer is checked by reading
/// their order again: a payment is refunded.
async fn cancel_provider_order(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    id: &OrderId,
    provider_order: &ProviderOrderId,
) -> Result<Expiry> {
    let refused = match gateway.cancel_order(provider_order).await {
        Ok(_) | Err(PaymentError::NotFound) => {
            tracing::info!(provider_order_id = %provider_order, "order expired; its Mercado Pago order cancelled");
            return Ok(Expiry::Expired {
                provider_cancelled: true,
            });
        }
        Err(e) => e,
    };
    let provider = match gateway.get_order(provider_order).await {
        Ok(provider) => provider,
        Err(e) => {
            tracing::warn!(
                provider_order_id = %provider_order, cancel_error = %refused, error = %e,
                "order expired; its Mercado Pago order could not be cancelled and expires by itself"
            );
            return Ok(Expiry::Expired {
                provider_cancelled: false,
            });
        }
    };
    let Some(now) = store.order_with_payment(id).await? else {
        return Ok(Expiry::Expired {
            provider_cancelled: false,
        });
    };
    match settle_with(store, gateway, &now.order, &provider).await {
        Ok(Settled::Refunded) => Ok(Expiry::Refunded),
        Ok(_) => {
            tracing::warn!(
                provider_order_id = %provider_order, cancel_error = %refused,
                provider_status = %provider.raw_status,
                "order expired; its Mercado Pago order was not cancelled"
            );
            Ok(Expiry::Expired {
                provider_cancelled: false,
            })
        }
        // The refund failed: ours stays cancelled and `expired`, so the
        // next notification of the payment (or an operator) refunds it.
        Err(e) => Err(e),
    }
}

/// Mercado Pago failed or refused the re-read: we cannot know whether it was
/// paid, so nothing is changed (503 for an outage, 502 for a refusal, as
/// [`provider_error`] tells them apart and logs them).
fn unreachable(e: PaymentError) -> Error {
    tracing::warn!("Mercado Pago cannot be read; the order waits for the next run");
    provider_error(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::MpOrderStatus;
    use crate::service::testing::{Gateway, arranged, unpaid};

    fn statuses(order: &Order) -> (OrderStatus, PaymentStatus, Option<CancelReason>) {
        (order.status, order.payment_status, order.cancel_reason)
    }

    const EXPIRED: (OrderStatus, PaymentStatus, Option<CancelReason>) = (
        OrderStatus::Cancelled,
        PaymentStatus::Expired,
        Some(CancelReason::PaymentExpired),
    );

    #[tokio::test]
    async fn an_unpaid_order_expires_and_its_pending_mercado_pago_order_is_cancelled_after_ours() {
        for (with_qr, calls) in [(false, &[][..]), (true, &["get", "cancel"][..])] {
            let (store, gateway, id) = arranged(unpaid(with_qr), MpOrderStatus::Pending);
            let expiry = expire_order(&store, Some(&gateway), &id).await.unwrap();
            let provider_cancelled = with_qr;
            assert_eq!(expiry, Expiry::Expired { provider_cancelled });
            assert_eq!(statuses(&store.order(&id)), EXPIRED);
            assert_eq!(
                gateway.calls(),
                calls,
                "without a QR Mercado Pago is not asked"
            );
        }
    }

    #[tokio::test]
    async fn a_payment_never_notified_is_confirmed() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Paid);
        let expiry = expire_order(&store, Some(&gateway), &id).await.unwrap();
        assert!(matches!(expiry, Expiry::Confirmed(_)), "{expiry:?}");
        assert_eq!(store.order(&id).status, OrderStatus::Received);
        assert_eq!(gateway.calls(), ["get"]);
    }

    #[tokio::test]
    async fn a_refused_payment_cancels_the_order_as_refused() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Failed);
        let expiry = expire_order(&store, Some(&gateway), &id).await.unwrap();
        assert_eq!(expiry, Expiry::Refused);
        assert_eq!(
            store.order(&id).cancel_reason,
            Some(CancelReason::PaymentRefused)
        );
    }

    #[tokio::test]
    async fn a_payment_made_as_we_cancel_is_refunded_and_the_order_stays_cancelled() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Pending);
        *gateway.paid_at_cancel.lock().unwrap() = true;
        let expiry = expire_order(&store, Some(&gateway), &id).await.unwrap();
        assert_eq!(expiry, Expiry::Refunded);
        let order = store.order(&id);
        assert_eq!(
            statuses(&order),
            (
                OrderStatus::Cancelled,
                PaymentStatus::Refunded,
                Some(CancelReason::PaymentExpired)
            )
        );
        assert_eq!(gateway.calls(), ["get", "cancel", "get", "refund"]);
    }

    #[tokio::test]
    async fn mercado_pago_down_changes_nothing() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Pending);
        gateway.go_down();
        let failed = expire_order(&store, Some(&gateway), &id).await;
        assert!(
            matches!(failed, Err(Error::ProviderUnavailable { .. })),
            "{failed:?}"
        );
        let skipped = expire_order::<Gateway>(&store, None, &id).await.unwrap();
        assert_eq!(skipped, Expiry::Deferred);
        assert_eq!(store.order(&id).status, OrderStatus::AwaitingPayment);
    }

    #[tokio::test]
    async fn an_order_settled_meanwhile_is_left_alone() {
        let mut stored = unpaid(true);
        stored.order.status = OrderStatus::Received;
        let (store, gateway, id) = arranged(stored, MpOrderStatus::Paid);
        let expiry = expire_order(&store, Some(&gateway), &id).await.unwrap();
        assert_eq!(expiry, Expiry::AlreadySettled);
        assert!(gateway.calls().is_empty());
    }
}
