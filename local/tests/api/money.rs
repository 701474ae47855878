//! The money invariants under races: a paid order is either served or
//! refunded, never both.

use crate::helpers::{spawn_app_with_isolated_writes, statuses, stock};
use shared::domain::order::OrderStatus::{Cancelled, InPreparation};
use shared::domain::order::PaymentStatus::{Approved, RefundPending, Refunded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_cancel_racing_the_kitchen_twenty_times_is_never_both_refunded_and_served() {
    // DynamoDB applies conditional writes one at a time; the emulator does
    // not, so writes go through the stack's serialising proxy.
    let shop = stock(spawn_app_with_isolated_writes(&[]).await).await;
    let mut outcomes = (0, 0);
    for _ in 0..20 {
        let order = shop.placed_order(&shop.guest).await;
        shop.pay_approved(&order.id).await;

        let (cancel, cook) = tokio::join!(
            shop.move_order(&shop.admin, &order.id, "cancelled"),
            shop.move_order(&shop.kitchen, &order.id, "in_preparation"),
        );

        let now = shop.order(&order.id).await;
        match (cancel.status, cook.status) {
            (200, 409) => {
                outcomes.0 += 1;
                assert_eq!(now.status, Cancelled, "{now:?}");
                assert!(
                    matches!(now.payment_status, Refunded | RefundPending),
                    "{now:?}"
                );
            }
            (409, 200) => {
                outcomes.1 += 1;
                assert_eq!(statuses(&now), (InPreparation, Approved));
            }
            other => panic!("exactly one of the two moves wins: {other:?}, {now:?}"),
        }
    }
    assert_eq!(outcomes.0 + outcomes.1, 20, "{outcomes:?}");
}
