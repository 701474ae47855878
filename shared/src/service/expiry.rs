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
//!
//! The same job finishes what cancelled orders leave ([`sweep`]): a refund
//! pending since staff cancelled a paid order is retried every run until
//! Mercado Pago confirms it; an order cancelled while its Mercado Pago order
//! was not over is re-read every run until that order is over, and a payment
//! found there is refunded. So a customer who pays a QR whose order was
//! cancelled gets the money back within about two minutes.

use crate::domain::ids::{OrderId, ProviderOrderId};
use crate::domain::order::{CancelReason, Order, OrderStatus, PaymentStatus, WATCH_EVERY};
use crate::domain::payment::{MpOrderStatus, PaymentError};
use crate::service::payment::{Refunds, Settled, provider_error, refund, settle_with};
use crate::service::ports::{PaymentGateway, PaymentStore, StoredOrder};
use crate::{Error, Result};

/// What expiring one order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// Cancelled, `payment_expired`; `provider_cancelled`: its Mercado Pago
    /// order (if it had one) was cancelled too (else it expires by itself at
    /// its `expiration_time`, which is aligned with ours).
    Expired { provider_cancelled: bool },
    /// Paid in time at Mercado Pago, never notified: confirmed now.
    Confirmed(Box<Order>),
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
    /// A cancelled order whose Mercado Pago order is over: nothing left to
    /// watch.
    Swept,
    /// A cancelled order whose Mercado Pago order is not over yet: watched
    /// again next run.
    Watching,
    /// A refund that did not complete this run: retried next run.
    RefundPending,
    /// The payer is paying at the deadline (Mercado Pago locks the cancel):
    /// left awaiting payment for the next run, up to [`PAYMENT_GRACE`].
    PaymentInProgress,
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
            Expiry::Swept => "swept",
            Expiry::Watching => "watching",
            Expiry::RefundPending => "refund_pending",
            Expiry::PaymentInProgress => "payment_in_progress",
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
    now: time::OffsetDateTime,
) -> Result<Expiry> {
    let Some(stored) = store.order_with_payment(id).await? else {
        return Ok(Expiry::AlreadySettled);
    };
    if stored.order.status == OrderStatus::Cancelled {
        return sweep(store, gateway, &stored).await;
    }
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
                    match settle_with(store, gateway, &stored.order, &provider, Refunds::Inline)
                        .await?
                    {
                        Settled::Confirmed(order) => return Ok(Expiry::Confirmed(order)),
                        Settled::Refused => return Ok(Expiry::Refused),
                        // Mercado Pago expired it first: nothing of theirs
                        // is left to cancel.
                        Settled::Expired => {
                            return Ok(Expiry::Expired {
                                provider_cancelled: false,
                            });
                        }
                        Settled::Refunded | Settled::RefundDue => return Ok(Expiry::Refunded),
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
    // Theirs first: a payment in progress there (Mercado Pago locks the
    // cancel) is waited for, up to PAYMENT_GRACE past the deadline.
    let mut cancelled_there = false;
    let mut refused = None;
    if let (Some(provider_order), Some(gateway)) = (&provider_order, gateway) {
        match gateway.cancel_order(provider_order).await {
            Ok(_) | Err(PaymentError::NotFound) => cancelled_there = true,
            Err(PaymentError::Rejected { code, .. })
                if code == LOCKED && within_grace(&stored, now) =>
            {
                tracing::info!("a payment is in progress at the deadline: waited for");
                return Ok(Expiry::PaymentInProgress);
            }
            Err(e) => refused = Some(e),
        }
    }
    let watch = provider_order.is_some() && !cancelled_there;
    match store
        .cancel_unpaid(
            id,
            CancelReason::PaymentExpired,
            PaymentStatus::Expired,
            watch,
        )
        .await
    {
        Ok(()) => {}
        // A notification (or the owner) moved it first: theirs is the outcome.
        Err(e) if e.is_conflict() => return Ok(Expiry::AlreadySettled),
        Err(e) => return Err(e),
    }
    let (Some(provider_order), Some(gateway), Some(refused)) = (provider_order, gateway, refused)
    else {
        tracing::info!(provider_cancelled = cancelled_there, "order expired");
        return Ok(Expiry::Expired {
            provider_cancelled: cancelled_there,
        });
    };
    after_refused_cancel(store, gateway, id, &provider_order, refused).await
}

/// How long past its deadline a payment in progress is waited for.
pub const PAYMENT_GRACE: time::Duration = time::Duration::minutes(5);

/// What Mercado Pago answers a cancel with while the payer is paying.
const LOCKED: &str = "instore_order_locked_error";

/// Whether `now` is within [`PAYMENT_GRACE`] of the order's deadline.
fn within_grace(stored: &StoredOrder, now: time::OffsetDateTime) -> bool {
    stored
        .payment
        .as_ref()
        .is_some_and(|p| now < p.expires_at + PAYMENT_GRACE)
}

/// Ours is cancelled; Mercado Pago refused to cancel theirs (paid meanwhile,
/// or not reachable): their order is read again and a payment refunded; it
/// stays watched otherwise, for the sweep.
async fn after_refused_cancel(
    store: &impl PaymentStore,
    gateway: &impl PaymentGateway,
    id: &OrderId,
    provider_order: &ProviderOrderId,
    refused: PaymentError,
) -> Result<Expiry> {
    let provider = match gateway.get_order(provider_order).await {
        Ok(provider) => provider,
        Err(e) => {
            tracing::warn!(
                provider_order_id = %provider_order, cancel_error = %refused, error = %e,
                "order expired; its Mercado Pago order could not be cancelled: the sweep watches it"
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
    match settle_with(store, gateway, &now.order, &provider, Refunds::Inline).await {
        Ok(Settled::Refunded) => Ok(Expiry::Refunded),
        Ok(_) => {
            tracing::warn!(
                provider_order_id = %provider_order, cancel_error = %refused,
                provider_status = %provider.raw_status,
                "order expired; its Mercado Pago order was not cancelled: the sweep watches it"
            );
            Ok(Expiry::Expired {
                provider_cancelled: false,
            })
        }
        // The refund failed: ours stays cancelled, `expired` and watched,
        // so the next run's sweep refunds it.
        Err(e) => Err(e),
    }
}

/// How long a refund may stay pending before it is logged as overdue (the
/// alarm of template.yaml watches that line).
pub const REFUND_OVERDUE: time::Duration = time::Duration::minutes(10);

/// Finishes what a cancelled order leaves: its pending refund, retried; or
/// its Mercado Pago order, re-read until it is over, a payment found there
/// refunded, one still payable cancelled again.
///
/// # Errors
/// As the refund and the re-read: the order stays watched for the next run.
pub async fn sweep<G: PaymentGateway>(
    store: &impl PaymentStore,
    gateway: Option<&G>,
    stored: &StoredOrder,
) -> Result<Expiry> {
    let id = &stored.order.id;
    let Some(provider_order) = stored.provider_order_id() else {
        store.watch(id, None).await?;
        return Ok(Expiry::Swept);
    };
    let Some(gateway) = gateway else {
        return Ok(Expiry::Deferred);
    };
    if stored.order.payment_status == PaymentStatus::RefundPending {
        return match refund(store, gateway, id, &provider_order).await {
            Ok(()) => {
                tracing::info!(order_id = %id, "pending refund completed");
                Ok(Expiry::Refunded)
            }
            Err(e) if stored.order.updated_at + REFUND_OVERDUE <= crate::clock::now() => {
                tracing::error!(
                    event = "refund_overdue",
                    order_id = %id,
                    error = %e,
                    "refund_overdue: a staff cancel's refund has been pending for over 10 minutes"
                );
                Ok(Expiry::RefundPending)
            }
            Err(e) => {
                tracing::warn!(order_id = %id, error = %e, "the pending refund failed; retried next run");
                Ok(Expiry::RefundPending)
            }
        };
    }
    let provider = gateway
        .get_order(&provider_order)
        .await
        .map_err(unreachable)?;
    match provider.status {
        MpOrderStatus::Paid => {
            refund(store, gateway, id, &provider_order).await?;
            tracing::warn!(
                event = "late_payment_refunded",
                order_id = %id,
                "late_payment_refunded: a payment came after the order was cancelled"
            );
            Ok(Expiry::Refunded)
        }
        MpOrderStatus::Refunded => {
            store.mark_refunded(id).await?;
            Ok(Expiry::Refunded)
        }
        MpOrderStatus::Cancelled | MpOrderStatus::Expired | MpOrderStatus::Failed => {
            store.watch(id, None).await?;
            Ok(Expiry::Swept)
        }
        MpOrderStatus::Pending | MpOrderStatus::Unknown => {
            if let Err(e) = gateway.cancel_order(&provider_order).await {
                tracing::info!(order_id = %id, error = %e, "its Mercado Pago order is still open; watched next run");
            }
            store
                .watch(id, Some(crate::clock::now() + WATCH_EVERY))
                .await?;
            Ok(Expiry::Watching)
        }
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
    use crate::service::ports::PaymentStore;
    use crate::service::testing::{Gateway, Memory, arranged, unpaid};

    /// One expiry (or sweep) of order `id`, now.
    async fn expire(store: &Memory, gateway: &Gateway, id: &OrderId) -> Expiry {
        expire_order(store, Some(gateway), id, crate::clock::now())
            .await
            .unwrap()
    }

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
            let expiry = expire(&store, &gateway, &id).await;
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
        let expiry = expire(&store, &gateway, &id).await;
        assert!(matches!(expiry, Expiry::Confirmed(_)), "{expiry:?}");
        assert_eq!(store.order(&id).status, OrderStatus::Received);
        assert_eq!(gateway.calls(), ["get"]);
    }

    #[tokio::test]
    async fn a_refused_payment_cancels_the_order_as_refused() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Failed);
        let expiry = expire(&store, &gateway, &id).await;
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
        let expiry = expire(&store, &gateway, &id).await;
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
        let failed = expire_order(&store, Some(&gateway), &id, crate::clock::now()).await;
        assert!(
            matches!(failed, Err(Error::ProviderUnavailable { .. })),
            "{failed:?}"
        );
        let skipped = expire_order::<Gateway>(&store, None, &id, crate::clock::now())
            .await
            .unwrap();
        assert_eq!(skipped, Expiry::Deferred);
        assert_eq!(store.order(&id).status, OrderStatus::AwaitingPayment);
    }

    #[tokio::test]
    async fn an_order_settled_meanwhile_is_left_alone() {
        let mut stored = unpaid(true);
        stored.order.status = OrderStatus::Received;
        let (store, gateway, id) = arranged(stored, MpOrderStatus::Paid);
        let expiry = expire(&store, &gateway, &id).await;
        assert_eq!(expiry, Expiry::AlreadySettled);
        assert!(gateway.calls().is_empty());
    }

    /// A guest's order cancelled at its deadline while its Mercado Pago order
    /// could not be cancelled: watched, in `status` at Mercado Pago.
    fn cancelled_and_watched(status: MpOrderStatus) -> (Memory, Gateway, OrderId) {
        let (store, gateway, id) = arranged(unpaid(true), status);
        store.cancel_for_expiry_test(&id);
        (store, gateway, id)
    }

    #[tokio::test]
    async fn the_sweep_refunds_a_payment_made_on_the_qr_of_a_cancelled_order() {
        let (store, gateway, id) = cancelled_and_watched(MpOrderStatus::Pending);
        let expiry = expire(&store, &gateway, &id).await;
        assert_eq!(
            expiry,
            Expiry::Watching,
            "still payable: cancelled again, watched"
        );
        assert!(store.is_watched(&id));
        // The payer pays all the same (the cancel had failed).
        gateway.set_status(&crate::service::testing::provider_id(), MpOrderStatus::Paid);
        let expiry = expire(&store, &gateway, &id).await;
        assert_eq!(expiry, Expiry::Refunded);
        assert_eq!(store.order(&id).payment_status, PaymentStatus::Refunded);
        assert!(!store.is_watched(&id));
    }

    #[tokio::test]
    async fn the_sweep_lets_go_of_an_order_whose_mercado_pago_order_is_over() {
        let (store, gateway, id) = cancelled_and_watched(MpOrderStatus::Expired);
        let expiry = expire(&store, &gateway, &id).await;
        assert_eq!(expiry, Expiry::Swept);
        assert!(!store.is_watched(&id));
        assert_eq!(store.order(&id).payment_status, PaymentStatus::Expired);
    }

    #[tokio::test]
    async fn a_pending_refund_that_fails_twice_ends_refunded_by_the_job() {
        let (store, gateway, id) = crate::service::testing::paid().await;
        store.cancel_for_test(&id);
        store.watch(&id, Some(crate::clock::now())).await.unwrap();
        gateway.go_down();
        for _ in 0..2 {
            let expiry = expire(&store, &gateway, &id).await;
            assert_eq!(expiry, Expiry::RefundPending);
            assert_eq!(
                store.order(&id).payment_status,
                PaymentStatus::RefundPending
            );
        }
        *gateway.down.lock().unwrap() = false;
        let expiry = expire(&store, &gateway, &id).await;
        assert_eq!(expiry, Expiry::Refunded);
        assert_eq!(store.order(&id).payment_status, PaymentStatus::Refunded);
        assert!(!store.is_watched(&id));
    }

    #[tokio::test]
    async fn a_payment_in_progress_at_the_deadline_is_waited_for_five_minutes() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Pending);
        *gateway.locked.lock().unwrap() = true;
        let deadline = store.orders.lock().unwrap()[&id]
            .payment
            .as_ref()
            .unwrap()
            .expires_at;
        let soon = deadline + time::Duration::minutes(4);
        let expiry = expire_order(&store, Some(&gateway), &id, soon)
            .await
            .unwrap();
        assert_eq!(expiry, Expiry::PaymentInProgress);
        assert_eq!(store.order(&id).status, OrderStatus::AwaitingPayment);
        // Paid meanwhile: the next run confirms it.
        gateway.set_status(&crate::service::testing::provider_id(), MpOrderStatus::Paid);
        let expiry = expire_order(&store, Some(&gateway), &id, soon)
            .await
            .unwrap();
        assert!(matches!(expiry, Expiry::Confirmed(_)), "{expiry:?}");
    }

    #[tokio::test]
    async fn past_the_grace_a_locked_order_is_cancelled_here_and_watched() {
        let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Pending);
        *gateway.locked.lock().unwrap() = true;
        let late = crate::clock::now() + time::Duration::minutes(6);
        let expiry = expire_order(&store, Some(&gateway), &id, late)
            .await
            .unwrap();
        assert_eq!(
            expiry,
            Expiry::Expired {
                provider_cancelled: false
            }
        );
        assert_eq!(statuses(&store.order(&id)), EXPIRED);
        assert!(
            store.is_watched(&id),
            "the sweep watches its Mercado Pago order"
        );
    }
}
