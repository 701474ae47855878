//! The kitchen queue: only paid orders, ready first, then in preparation,
//! then received, each oldest paid first; and every caller's own list.

use crate::helpers::{Page, Shop, open_shop};
use shared::domain::OrderId;
use shared::domain::order::{Order, OrderStatus};
use std::collections::HashMap;

#[tokio::test]
async fn unpaid_orders_are_not_in_the_kitchen_queue_and_cannot_be_started() {
    // Arrange
    let shop = open_shop().await;
    let (admin, kitchen) = (&shop.admin, &shop.kitchen);
    let id = shop.placed_order(&shop.guest).await.id;

    // Act, Assert
    for (staff, query) in [
        (kitchen, "limit=100"),
        (admin, "limit=100"),
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

/// Ten orders of two guests in every status, created, paid and moved in
/// mixed orders; their ids by name, and each guest's ids oldest first.
async fn a_busy_kitchen(
    shop: &Shop,
    guests: &[String; 2],
) -> (HashMap<&'static str, OrderId>, [Vec<OrderId>; 2]) {
    // Created in a mixed order: the queue is ordered by payment, not by creation.
    let names = [
        "received_2",
        "ready_2",
        "preparing_2",
        "unpaid",
        "received_1",
        "completed",
        "ready_1",
        "preparing_1",
        "cancelled_by_admin",
        "refused",
    ];
    let mut ids = HashMap::new();
    let mut own: [Vec<OrderId>; 2] = Default::default();
    for (i, name) in names.into_iter().enumerate() {
        let id = shop.placed_order(&guests[i % 2]).await.id;
        own[i % 2].push(id.clone());
        ids.insert(name, id);
    }
    for name in [
        "preparing_1",
        "ready_1",
        "received_1",
        "completed",
        "preparing_2",
        "ready_2",
        "cancelled_by_admin",
        "received_2",
    ] {
        shop.pay_approved(&ids[name]).await;
    }
    let refused = shop.pay(&ids["refused"], "reject").await;
    assert_eq!(refused.status, OrderStatus::Cancelled, "{refused:?}");
    // Moved in the reverse of their payment order: the queue still goes by payment.
    for (name, target) in [
        ("preparing_2", "in_preparation"),
        ("preparing_1", "in_preparation"),
        ("ready_2", "in_preparation"),
        ("ready_2", "ready"),
        ("ready_1", "in_preparation"),
        ("ready_1", "ready"),
        ("completed", "in_preparation"),
        ("completed", "ready"),
        ("completed", "completed"),
    ] {
        shop.moved(&shop.kitchen, &ids[name], target).await;
    }
    shop.moved(&shop.admin, &ids["cancelled_by_admin"], "cancelled")
        .await;
    (ids, own)
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
    let shop = open_shop().await;
    let kitchen = &shop.kitchen;
    let guests = [shop.guest_token().await, shop.guest_token().await];
    let (ids, own) = a_busy_kitchen(&shop, &guests).await;
    let expect = |names: &[&str]| names.iter().map(|n| ids[n].clone()).collect::<Vec<_>>();
    let name_of = |id: &OrderId| ids.iter().find(|(_, v)| *v == id).map_or("?", |(k, _)| *k);

    // Act
    let queue: Page<Order> = shop.list_orders(kitchen, "").await.expect(200);

    // Assert
    let queue_ids: Vec<OrderId> = queue.items.into_iter().map(|o| o.id).collect();
    let got: Vec<&str> = queue_ids.iter().map(name_of).collect();
    assert_eq!(queue_ids, expect(&QUEUE), "got {got:?}");
    assert!(queue.next_cursor.is_none());
    let by_admin = shop.walk_orders(&shop.admin, "limit=20").await;
    assert_eq!(by_admin, expect(&QUEUE), "admin sees the same queue");
    let one_by_one = shop.walk_orders(kitchen, "limit=1").await;
    assert_eq!(one_by_one, expect(&QUEUE), "page by page, the same queue");
    for (status, names) in [
        ("ready", 0..2),
        ("in_preparation", 2..4),
        ("received", 4..6),
    ] {
        let listed = shop.walk_orders(kitchen, &format!("status={status}")).await;
        assert_eq!(listed, expect(&QUEUE[names]), "{status}");
    }
    for status in ["bogus", "completed", "cancelled", "awaiting_payment"] {
        let answer = shop.list_orders(kitchen, &format!("status={status}")).await;
        answer.expect_error(400, "invalid_status");
    }

    // Each guest sees all of their own orders, whatever the status, newest first.
    for (guest, mine) in guests.iter().zip(own) {
        let newest_first: Vec<OrderId> = mine.into_iter().rev().collect();
        assert_eq!(shop.my_orders(guest).await, newest_first);
        assert_eq!(shop.walk_orders(guest, "limit=2").await, newest_first);
    }
}
