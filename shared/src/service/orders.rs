//! Moving an order through its status machine (`PATCH /orders/{id}`): the
//! kitchen's steps, an owner's cancel before payment (its Mercado Pago QR
//! cancelled first, so no payment can land on a cancelled order), and
//! staff's cancel of a paid order, which gives the money back first.

use crate::domain::Subject;
use crate::domain::ids::OrderId;
use crate::domain::order::{Actor, Order, OrderStatus, PaymentStatus};
use crate::domain::payment::PaymentError;
use crate::service::payment::{Refunds, provider_error, refund, settle_with};
use crate::service::ports::{OrderMoves, PaymentAccount, PaymentGateway, PaymentStore, Reach};
use crate::{Code, Error, Result};

/// What Mercado Pago answers a cancel with while the payer is paying the QR.
const LOCKED: &str = "instore_order_locked_error";

/// Moves order `id` by `actor` to `to`, if it is within `reach` (an owner's
/// own, a store's staff's store's; another answers 404 like a missing one). An owner's cancel of an order
/// whose QR was made cancels the Mercado Pago order first (if Mercado Pago
/// says no, the order stays as it is). An admin's cancel of a paid order is
/// one conditional write to `cancelled`/`refund_pending`, so no kitchen move
/// can follow, then the refund: `refunded` when it completed here, else it
/// stays `refund_pending` and the expiry job retries it every minute.
///
/// # Errors
/// 403 for a move the actor may never make, 409 `invalid_transition`, 409
/// `payment_in_progress` (the payer is paying the QR right now), 404
/// `order_not_found`, 503 when Mercado Pago cannot be reached, 502 when it
/// refuses.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn move_order(
    store: &(impl OrderMoves + PaymentStore),
    account: &impl PaymentAccount,
    id: &OrderId,
    actor: Actor,
    to: OrderStatus,
    reach: Reach<'_>,
) -> Result<Order> {
    if let (Actor::Owner, OrderStatus::Cancelled, Reach::Owner(owner)) = (actor, to, reach) {
        cancel_qr(store, account, id, owner).await?;
    }
    let order = store.move_status(id, actor, to, reach).await?;
    tracing::info!(status = %order.status, "order moved");
    if order.payment_status != PaymentStatus::RefundPending {
        return Ok(order);
    }
    match refund_now(store, account, &order).await {
        Ok(()) => Ok(order.refunded(crate::clock::now())),
        Err(e) => {
            tracing::warn!(error = %e, "the refund did not complete now; the expiry job retries it");
            Ok(order)
        }
    }
}

/// The refund of a paid order staff just cancelled.
async fn refund_now(
    store: &impl PaymentStore,
    account: &impl PaymentAccount,
    order: &Order,
) -> Result<()> {
    let provider_order = store
        .order_with_payment(&order.id)
        .await?
        .and_then(|s| s.provider_order_id())
        .ok_or_else(|| Error::internal("a paid order without its Mercado Pago order"))?;
    let gateway = account.gateway().await?;
    refund(store, &gateway, &order.id, &provider_order).await
}

/// Cancels the Mercado Pago order of `owner`'s order awaiting payment, so
/// that the QR can no longer be paid. If Mercado Pago will not cancel it
/// because it is paid or over already, it is re-read and ours settled by it
/// (the move then answers 409).
async fn cancel_qr(
    store: &impl PaymentStore,
    account: &impl PaymentAccount,
    id: &OrderId,
    owner: &Subject,
) -> Result<()> {
    let stored = store
        .order_with_payment(id)
        .await?
        .filter(|s| s.order.is_owned_by(owner))
        .ok_or_else(Error::order_not_found)?;
    let Some(provider_order) = stored.payment.as_ref().map(|p| p.provider_order_id.clone()) else {
        return Ok(());
    };
    if stored.order.status != OrderStatus::AwaitingPayment {
        return Ok(()); // the move answers 409
    }
    let gateway = account.gateway().await?;
    match gateway.cancel_order(&provider_order).await {
        Ok(_) | Err(PaymentError::NotFound) => Ok(()),
        Err(PaymentError::Rejected { code, .. }) if code == LOCKED => Err(Error::conflict(
            Code::PaymentInProgress,
            "the QR is being paid right now; look at the order again in a moment",
        )),
        Err(PaymentError::Rejected {
            status: Some(409), ..
        }) => {
            let provider = gateway
                .get_order(&provider_order)
                .await
                .map_err(provider_error)?;
            settle_with(store, &gateway, &stored.order, &provider, Refunds::Deferred).await?;
            Ok(())
        }
        Err(e) => Err(provider_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{CancelReason, PaymentStatus};
    use crate::domain::payment::MpOrderStatus;
    use crate::service::testing::{Account, Memory, arranged, paid, provider_id, unpaid};

    /// A paid order in memory, and the account whose gateway paid it.
    async fn paid_with_account() -> (Memory, Account, OrderId) {
        let (store, gateway, id) = paid().await;
        let account = Account {
            gateway,
            ..Account::default()
        };
        (store, account, id)
    }

    async fn staff_move(
        store: &Memory,
        account: &Account,
        id: &OrderId,
        actor: Actor,
        to: OrderStatus,
    ) -> Result<Order> {
        move_order(store, account, id, actor, to, Reach::Chain).await
    }

    async fn owner_cancel(store: &Memory, account: &Account, id: &OrderId) -> Result<Order> {
        let owner = store.order(id).customer_id;
        move_order(
            store,
            account,
            id,
            Actor::Owner,
            OrderStatus::Cancelled,
            Reach::Owner(&owner),
        )
        .await
    }

    fn unpaid_with_qr(status: MpOrderStatus) -> (Memory, Account, OrderId) {
        let (store, gateway, id) = arranged(unpaid(true), status);
        let account = Account {
            gateway,
            ..Account::default()
        };
        (store, account, id)
    }

    #[tokio::test]
    async fn an_owner_cancel_cancels_the_qr_first() {
        let (store, account, id) = unpaid_with_qr(MpOrderStatus::Pending);
        let order = owner_cancel(&store, &account, &id).await.unwrap();
        assert_eq!(
            (order.status, order.cancel_reason),
            (OrderStatus::Cancelled, Some(CancelReason::Customer))
        );
        assert_eq!(account.gateway.calls(), ["cancel"]);
        let qr = account.gateway.orders.lock().unwrap()[&provider_id()].status;
        assert_eq!(qr, MpOrderStatus::Cancelled);
    }

    #[tokio::test]
    async fn a_cancel_while_the_qr_is_being_paid_is_409_and_changes_nothing() {
        let (store, account, id) = unpaid_with_qr(MpOrderStatus::Pending);
        *account.gateway.locked.lock().unwrap() = true;
        let refused = owner_cancel(&store, &account, &id).await.unwrap_err();
        assert_eq!(
            (refused.status_code(), refused.public_parts().0),
            (409, Code::PaymentInProgress)
        );
        assert_eq!(store.order(&id).status, OrderStatus::AwaitingPayment);
    }

    #[tokio::test]
    async fn a_cancel_of_an_order_paid_meanwhile_confirms_it_instead() {
        let (store, account, id) = unpaid_with_qr(MpOrderStatus::Paid);
        let refused = owner_cancel(&store, &account, &id).await.unwrap_err();
        assert_eq!(refused.public_parts().0, Code::InvalidTransition);
        assert_eq!(store.order(&id).status, OrderStatus::Received);
        assert_eq!(account.gateway.calls(), ["cancel", "get"]);
    }

    #[tokio::test]
    async fn a_cancel_with_mercado_pago_down_is_503_and_changes_nothing() {
        let (store, account, id) = unpaid_with_qr(MpOrderStatus::Pending);
        account.gateway.go_down();
        let failed = owner_cancel(&store, &account, &id).await.unwrap_err();
        assert_eq!(failed.status_code(), 503);
        assert_eq!(store.order(&id).status, OrderStatus::AwaitingPayment);
    }

    #[tokio::test]
    async fn an_admin_cancel_of_a_paid_order_closes_it_then_refunds_it() {
        let (store, account, id) = paid_with_account().await;
        let order = staff_move(&store, &account, &id, Actor::Admin, OrderStatus::Cancelled)
            .await
            .unwrap();
        assert_eq!(
            (order.status, order.payment_status, order.cancel_reason),
            (
                OrderStatus::Cancelled,
                PaymentStatus::Refunded,
                Some(CancelReason::Staff)
            )
        );
        assert_eq!(account.gateway.calls(), ["get", "refund"]);
        assert_eq!(store.order(&id).payment_status, PaymentStatus::Refunded);
        assert!(!store.is_watched(&id), "nothing left for the expiry job");
    }

    #[tokio::test]
    async fn a_refund_that_fails_leaves_the_order_cancelled_and_its_refund_pending() {
        let (store, account, id) = paid_with_account().await;
        account.gateway.go_down();
        let order = staff_move(&store, &account, &id, Actor::Admin, OrderStatus::Cancelled)
            .await
            .unwrap();
        assert_eq!(
            (order.status, order.payment_status),
            (OrderStatus::Cancelled, PaymentStatus::RefundPending)
        );
        assert_eq!(store.order(&id), order);
        assert!(store.is_watched(&id), "the expiry job retries the refund");
        let kitchen = staff_move(
            &store,
            &account,
            &id,
            Actor::Kitchen,
            OrderStatus::InPreparation,
        )
        .await;
        assert_eq!(kitchen.unwrap_err().status_code(), 409, "never served");
    }

    #[tokio::test]
    async fn the_kitchen_moves_without_touching_the_money_and_owners_see_only_theirs() {
        let (store, account, id) = paid_with_account().await;
        let order = staff_move(
            &store,
            &account,
            &id,
            Actor::Kitchen,
            OrderStatus::InPreparation,
        )
        .await
        .unwrap();
        assert_eq!(order.status, OrderStatus::InPreparation);
        assert_eq!(account.gateway.calls(), ["get"]);
        let stranger = Subject::new_guest();
        let refused = move_order(
            &store,
            &account,
            &id,
            Actor::Owner,
            OrderStatus::Cancelled,
            Reach::Owner(&stranger),
        )
        .await;
        assert_eq!(refused.unwrap_err().status_code(), 404);
    }

    #[tokio::test]
    async fn a_stores_staff_cannot_move_another_stores_order() {
        let (store, account, id) = paid_with_account().await;
        let elsewhere = crate::domain::StoreId::parse("b2").unwrap();
        let refused = move_order(
            &store,
            &account,
            &id,
            Actor::Kitchen,
            OrderStatus::InPreparation,
            Reach::Store(&elsewhere),
        )
        .await;
        assert_eq!(refused.unwrap_err().status_code(), 404);
        assert_eq!(store.order(&id).status, OrderStatus::Received, "unchanged");
    }
}
