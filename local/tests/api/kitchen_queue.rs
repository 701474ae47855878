//! The kitchen queue: only paid orders, ready first, then in preparation,
//! then received, each oldest paid first; and every caller's own list.

use crate::helpers::{Page, open_shop, open_shop_without_limits};
use shared::domain::OrderId;
use shared::domain::order::{Order, OrderStatus};

#[tokio::test]
async fn unpaid_orders_are_not_in_the_kitchen_queue_and_cannot_be_started() {
    // Arrange
    let shop = open_shop().await;
    let (admin, kitchen) = (&shop.admin, &shop.kitchen);
    let id = shop.placed_order(&shop.guest).await.id;
    let of_store = format!("limit=100&store_id={}", shop.home_store().await);

    // Act, Assert
    for (staff, query) in [
        (kitchen, "limit=100"),
        (admin, of_store.as_str()),
        (kitchen, "status=received"),
    ] {
        assert!(shop.walk_orders(staff, query).await.is_empty(), "{query}");
    }
    for target in ["in_preparation", "ready", "completed"] {
        for staff in [kitchen, admin] {
            let answer = shop.move_order(staff, &id, target).await;
            answer.expect_error(409, "invalid_transition");
        }
    }
    let still: Order = shop.get_order(kitchen, &id).await.expect(200);
    assert_eq!(still.status, OrderStatus::AwaitingPayment);

    // Once paid it is in the queue, and can be started.
    shop.pay_approved(&id).await;
    assert_eq!(shop.my_orders(kitchen).await, [id.as_str()]);
    shop.moved(kitchen, &id, "in_preparation").await;
}

/// The queue of the busy kitchen: ready, then in preparation, then received,
/// each oldest paid first.
const QUEUE: [&str; 6] = [
    "ready_1",
    "ready_2",
    "preparing_1",
    "preparing_2",
    "received_1",
    "received_2",
];

#[tokio::test]
async fn the_kitchen_queue_is_ready_then_in_preparation_then_received_oldest_paid_first() {
    // Arrange
    let shop = open_shop_without_limits().await;
    let kitchen = &shop.kitchen;
    let busy = shop.busy_kitchen().await;
    let expected = busy.ids_of(&QUEUE);

    // Act
    let queue: Page<Order> = shop.list_orders(kitchen, "").await.expect(200);

    // Assert
    let queue_ids: Vec<OrderId> = queue.items.into_iter().map(|o| o.id).collect();
    let got: Vec<&str> = queue_ids.iter().map(|id| busy.name_of(id)).collect();
    assert_eq!(queue_ids, expected, "got {got:?}");
    assert!(queue.next_cursor.is_none());
    let of_store = format!("limit=20&store_id={}", shop.home_store().await);
    let by_admin = shop.walk_orders(&shop.admin, &of_store).await;
    assert_eq!(by_admin, expected, "admin sees the same queue");
    let one_by_one = shop.walk_orders(kitchen, "limit=1").await;
    assert_eq!(one_by_one, expected, "page by page, the same queue");
    for (status, names) in [
        ("ready", 0..2),
        ("in_preparation", 2..4),
        ("received", 4..6),
    ] {
        let listed = shop.walk_orders(kitchen, &format!("status={status}")).await;
        assert_eq!(listed, busy.ids_of(&QUEUE[names]), "{status}");
    }
    for status in ["bogus", "completed", "cancelled", "awaiting_payment"] {
        let answer = shop.list_orders(kitchen, &format!("status={status}")).await;
        answer.expect_error(400, "invalid_status");
    }

    // Each guest sees all of their own orders, whatever the status, newest first.
    for (guest, mine) in busy.guests.iter().zip(&busy.own) {
        let newest_first: Vec<OrderId> = mine.iter().rev().cloned().collect();
        assert_eq!(shop.my_orders(guest).await, newest_first);
        assert_eq!(shop.walk_orders(guest, "limit=2").await, newest_first);
    }
}
