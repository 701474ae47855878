//! Moving an order through its status machine (`PATCH /orders/{id}`): the
//! kitchen's steps, an owner's cancel before payment, and staff's cancel of
//! a paid order, which gives the money back first.

use crate::Result;
use crate::domain::Subject;
use crate::domain::ids::OrderId;
use crate::domain::order::{Actor, Order, OrderStatus};
use crate::service::payment::refund_paid;
use crate::service::ports::{OrderMoves, PaymentAccount, PaymentStore};

/// Moves order `id` by `actor` to `to`; `owner`: only that owner's order
/// (another's answers 404 like a missing one). An admin's cancel of a paid
/// order is refunded first: if the refund fails (503) the order stays as it
/// is.
///
/// # Errors
/// 403 for a move the actor may never make, 409 `invalid_transition`, 404
/// `order_not_found`, 503 when Mercado Pago cannot refund.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn move_order(
    store: &(impl OrderMoves + PaymentStore),
    account: &impl PaymentAccount,
    id: &OrderId,
    actor: Actor,
    to: OrderStatus,
    owner: Option<&Subject>,
) -> Result<Order> {
    if actor == Actor::Admin && to == OrderStatus::Cancelled {
        refund_paid(store, account, id).await?;
    }
    let order = store.move_status(id, actor, to, owner).await?;
    tracing::info!(status = %order.status, "order moved");
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{CancelReason, PaymentStatus};
    use crate::service::testing::{Account, Memory, paid};

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
        move_order(store, account, id, actor, to, None).await
    }

    #[tokio::test]
    async fn an_admin_cancel_of_a_paid_order_refunds_it_then_closes_it() {
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
        assert_eq!(store.order(&id), order);
    }

    #[tokio::test]
    async fn a_refund_that_fails_leaves_the_order_in_the_kitchen() {
        let (store, account, id) = paid_with_account().await;
        account.gateway.go_down();
        let failed = staff_move(&store, &account, &id, Actor::Admin, OrderStatus::Cancelled).await;
        assert_eq!(failed.unwrap_err().status_code(), 503);
        assert_eq!(store.order(&id).status, OrderStatus::Received);
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
            Some(&stranger),
        )
        .await;
        assert_eq!(refused.unwrap_err().status_code(), 404);
    }
}
