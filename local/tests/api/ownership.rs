//! Ownership: another caller's order is never revealed, whether read,
//! cancelled or listed; staff read every order.

use crate::helpers::{Shop, open_shop};
use shared::domain::OrderId;
use shared::domain::order::Order;
use shared::domain::order::OrderStatus::AwaitingPayment;

/// `intruder` can neither read, cancel nor list `order`.
async fn assert_hidden_from(shop: &Shop, intruder: &str, order: &OrderId) {
    let read = shop.get_order(intruder, order).await;
    read.expect_error(404, "order_not_found");
    let cancel = shop.move_order(intruder, order, "cancelled").await;
    cancel.expect_error(404, "order_not_found");
    let listed = shop.my_orders(intruder).await;
    assert!(!listed.iter().any(|id| id == order), "{listed:?}");
}

#[tokio::test]
async fn another_callers_order_is_404_whether_read_cancelled_or_listed() {
    // Arrange
    let shop = open_shop().await;
    let (admin, kitchen) = (&shop.admin, &shop.kitchen);
    let ana = shop.signed_up("529.982.247-25", "Ana").await;
    let customer = shop.customer_token("52998224725").await;
    let (alice, bob) = (shop.guest_token().await, shop.guest_token().await);
    let alices = shop.placed_order(&alice).await.id;
    let customers = shop.placed_order(&customer).await;
    assert_eq!(customers.customer_id.to_string(), ana.id, "{customers:?}");
    let customers = customers.id;

    // Act, Assert
    for (intruder, order) in [
        (&bob, &alices),
        (&customer, &alices),
        (&alice, &customers),
        (&bob, &customers),
    ] {
        assert_hidden_from(&shop, intruder, order).await;
    }
    assert!(shop.my_orders(&bob).await.is_empty());
    assert_eq!(shop.my_orders(&alice).await, [alices.as_str()]);
    assert_eq!(shop.my_orders(&customer).await, [customers.as_str()]);
    for (order, reader) in [
        (&alices, kitchen),
        (&alices, admin),
        (&customers, kitchen),
        (&customers, admin),
    ] {
        let read: Order = shop.get_order(reader, order).await.expect(200);
        assert_eq!(read.status, AwaitingPayment, "nothing was cancelled");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    for reader in [&alice, kitchen, admin] {
        let read = shop.get_order(reader, &unknown).await;
        read.expect_error(404, "order_not_found");
    }
    let cancel = shop.move_order(&alice, &unknown, "cancelled").await;
    cancel.expect_error(404, "order_not_found");
    let start = shop.move_order(kitchen, &unknown, "in_preparation").await;
    start.expect_error(404, "order_not_found");
}

#[tokio::test]
async fn a_kiosk_device_may_neither_read_nor_list_orders() {
    // Arrange: an order placed at the kiosk, by its guest.
    let shop = open_shop().await;
    let kiosk = shop.kiosk_token().await;
    let order = shop.placed_order(&shop.guest).await.id;

    // Act, Assert: its customers sign in and read theirs; the device reads none.
    let read = shop.get_order(&kiosk, &order).await;
    read.expect_error(403, "forbidden");
    for query in ["", "status=ready"] {
        let listed = shop.list_orders(&kiosk, query).await;
        listed.expect_error(403, "forbidden");
    }
}
