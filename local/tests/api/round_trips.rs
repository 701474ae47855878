//! Round trips: checkout, a status move and the kitchen queue cost a few AWS
//! calls each, as recorded on the wire, and no request path ever scans.

use crate::helpers::{Page, spawn_recorded_app, stock};
use serde_json::json;
use shared::domain::order::Order;

#[tokio::test]
async fn checkout_moves_and_the_queue_cost_few_round_trips_and_never_scan() {
    // Arrange
    let (app, recorder) = spawn_recorded_app().await;
    let shop = stock(app).await;
    let (admin, kitchen, guest) = (&shop.admin, &shop.kitchen, &shop.guest);
    let soda = shop.create_product(admin, "Coca-Cola", "drink", 650).await;
    let items =
        json!([{"product_id": shop.burger, "quantity": 2}, {"product_id": soda, "quantity": 1}]);
    let warm = shop.place(guest, items.clone()).await;
    shop.pay_approved(&warm.id).await;
    let queue = shop.list_orders(kitchen, "").await;
    queue.expect::<Page<Order>>(200);
    recorder.take();

    // Act, Assert: a warm checkout.
    let order = shop.place(guest, items).await;
    let calls = recorder.take();
    let few = calls.len() <= 3;
    assert!(few, "a checkout is at most 3 AWS calls: {calls:?}");
    shop.pay_approved(&order.id).await;
    recorder.take();

    // A status move.
    shop.moved(kitchen, &order.id, "in_preparation").await;
    let (dynamodb, calls) = recorder.take_dynamodb();
    let one_update = ["DynamoDB_20120810.UpdateItem"];
    assert_eq!(dynamodb, one_update, "a move is one UpdateItem: {calls:?}");

    // The kitchen queue.
    let queue: Page<Order> = shop.list_orders(kitchen, "").await.expect(200);
    let (dynamodb, calls) = recorder.take_dynamodb();
    assert_eq!(queue.items.len(), 2, "{queue:?}");
    let queries = dynamodb.iter().all(|o| o == "DynamoDB_20120810.Query");
    let few = !dynamodb.is_empty() && dynamodb.len() <= 3;
    assert!(few && queries, "the queue is at most 3 Queries: {calls:?}");

    // Paying: starting the payment is one Mercado Pago call and a few AWS
    // calls; the notification re-reads the Mercado Pago order once.
    let unpaid = shop
        .place(guest, json!([{"product_id": shop.burger, "quantity": 1}]))
        .await;
    shop.mercadopago.lock().await.take_calls();
    recorder.take();
    let payment = shop.payment_of(&unpaid.id).await;
    let (dynamodb, calls) = recorder.take_dynamodb();
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

    // The other reads.
    assert_eq!(shop.list_orders(guest, "").await.status, 200);
    assert_eq!(shop.get_order(guest, &order.id).await.status, 200);
    let of_store = format!("status=ready&store_id={}", shop.home_store().await);
    assert_eq!(shop.list_orders(admin, &of_store).await.status, 200);
    let everything = recorder.all();
    let scans = everything.iter().any(|o| o.contains("Scan"));
    assert!(!scans, "{everything:?}");
}
