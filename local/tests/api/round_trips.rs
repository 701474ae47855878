//! Round trips: checkout, starting and confirming a payment, a kitchen move,
//! the kitchen queue and the board cost a few AWS calls each, as recorded on
//! the wire; no request path ever scans; and none of them costs more in a
//! chain of three busy stores than in a chain of one.

use crate::helpers::{Page, spawn_recorded_app, stock};
use serde_json::{Value, json};
use shared::domain::order::Order;

/// The AWS calls (and Mercado Pago calls, marked `MP`) of each hot path at
/// the home store, in a chain where `others` more stores each have a kiosk
/// and a paid order.
async fn round_trips(others: usize) -> Vec<(&'static str, Vec<String>)> {
    // Arrange
    let (app, recorder) = spawn_recorded_app().await;
    let shop = stock(app).await;
    let (admin, kitchen, guest) = (&shop.admin, &shop.kitchen, &shop.guest);
    let soda = shop.create_product(admin, "Coca-Cola", "drink", 650).await;
    for _ in 0..others {
        let store = shop.other_store().await;
        let guest = shop.guest_at(&store).await;
        let theirs = shop.placed_order(&guest).await;
        shop.pay_approved(&theirs.id).await;
    }
    let items =
        json!([{"product_id": shop.burger, "quantity": 2}, {"product_id": soda, "quantity": 1}]);
    let warm = shop.place(guest, items.clone()).await;
    shop.pay_approved(&warm.id).await;
    let queue = shop.list_orders(kitchen, "").await;
    queue.expect::<Page<Order>>(200);
    recorder.take();
    let mut seen = Vec::new();

    // Act, Assert: a warm checkout.
    let order = shop.place(guest, items).await;
    let calls = recorder.take();
    assert!(
        calls.len() <= 3,
        "a checkout is at most 3 AWS calls: {calls:?}"
    );
    seen.push(("checkout", calls));
    shop.pay_approved(&order.id).await;
    recorder.take();

    // A status move.
    shop.moved(kitchen, &order.id, "in_preparation").await;
    let (dynamodb, calls) = recorder.take_dynamodb();
    let one_update = ["DynamoDB_20120810.UpdateItem"];
    assert_eq!(dynamodb, one_update, "a move is one UpdateItem: {calls:?}");
    seen.push(("kitchen move", calls));

    // The kitchen queue.
    let queue: Page<Order> = shop.list_orders(kitchen, "").await.expect(200);
    let (dynamodb, calls) = recorder.take_dynamodb();
    assert_eq!(queue.items.len(), 2, "{queue:?}");
    let queries = dynamodb.iter().all(|o| o == "DynamoDB_20120810.Query");
    let few = !dynamodb.is_empty() && dynamodb.len() <= 3;
    assert!(few && queries, "the queue is at most 3 Queries: {calls:?}");
    seen.push(("kitchen queue", calls));

    // The board: whether the store exists and one Query per status shown
    // (received and in preparation under "preparing", ready), at once.
    let board: Value = shop.board().await.expect(200);
    // The warm order (received) and this one (in preparation).
    assert_eq!(board["preparing"].as_array().map(Vec::len), Some(2));
    let mut calls = recorder.take();
    calls.sort();
    let expected = [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.Query",
    ];
    assert_eq!(calls, expected, "the board");
    seen.push(("board", calls));

    // Paying: starting the payment is one Mercado Pago call and a few AWS
    // calls; the notification re-reads the Mercado Pago order once.
    let unpaid = shop
        .place(guest, json!([{"product_id": shop.burger, "quantity": 1}]))
        .await;
    shop.mercadopago.lock().await.take_calls();
    recorder.take();
    let payment = shop.payment_of(&unpaid.id).await;
    let (dynamodb, mut calls) = recorder.take_dynamodb();
    let mercadopago = shop.mercadopago.lock().await.take_calls();
    assert_eq!(mercadopago, ["POST /v1/orders"], "one QR order");
    let expected = [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.PutItem",
        "DynamoDB_20120810.UpdateItem",
    ];
    assert_eq!(
        dynamodb, expected,
        "read the order, note whose QR it is, keep the payment: {calls:?}"
    );
    assert!(calls.len() <= 3, "at most the secret besides: {calls:?}");
    calls.extend(mercadopago.into_iter().map(|c| format!("MP {c}")));
    seen.push(("payment", calls));
    shop.simulate(payment.provider_order_id.as_str(), "pay", false)
        .await;
    shop.mercadopago.lock().await.take_calls();
    let notified = shop
        .notify(
            payment.provider_order_id.as_str(),
            Some(&shop.webhook_secret()),
        )
        .await;
    assert_eq!(notified.status, 200);
    let mercadopago = shop.mercadopago.lock().await.take_calls();
    let reread = format!("GET /v1/orders/{}", payment.provider_order_id);
    assert_eq!(
        mercadopago,
        [reread],
        "the notification re-reads the order once"
    );
    let (dynamodb, calls) = recorder.take_dynamodb();
    let expected = [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.UpdateItem",
        "DynamoDB_20120810.TransactWriteItems",
    ];
    assert_eq!(
        dynamodb, expected,
        "whose QR it is, the order, ticket counter, order and slot: {calls:?}"
    );
    seen.push(("payment confirmation", dynamodb));

    // The other reads.
    assert_eq!(shop.list_orders(guest, "").await.status, 200);
    assert_eq!(shop.get_order(guest, &order.id).await.status, 200);
    let of_store = format!("status=ready&store_id={}", shop.home_store().await);
    assert_eq!(shop.list_orders(admin, &of_store).await.status, 200);
    let everything = recorder.all();
    let scans = everything.iter().any(|o| o.contains("Scan"));
    assert!(!scans, "{everything:?}");
    seen
}

#[tokio::test]
async fn the_hot_paths_cost_few_round_trips_never_scan_and_do_not_grow_with_stores() {
    let one = round_trips(0).await;
    let three = round_trips(2).await;
    assert_eq!(one, three, "one store and three cost the same calls");
}
