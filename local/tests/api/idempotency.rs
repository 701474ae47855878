//! Idempotent checkout: one `Idempotency-Key` is one order, however many
//! times and however concurrently it is sent, per caller.

use crate::helpers::{spawn_app_with_isolated_writes, stock, sub_of, summary};
use reqwest::Method;
use serde_json::json;
use shared::domain::order::Order;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_checkouts_with_one_idempotency_key_create_one_order() {
    // Arrange: DynamoDB isolates the concurrent transactions; moto does not
    // (one whose condition fails restores what the others wrote), so the
    // proxy makes its writes one at a time.
    let shop = stock(spawn_app_with_isolated_writes(&[]).await).await;
    let guest = &shop.guest;
    let key = format!("kiosk-7-{}", uuid::Uuid::new_v4());
    let items = json!([{"product_id": shop.burger, "quantity": 2, "note": "sem picles"}]);
    let request = shop.request(Method::POST, "/orders", Some(guest));
    let request = request.header("Idempotency-Key", &key);

    // Act
    let request = request.json(&crate::helpers::order_body(items.clone()));
    let answers = shop.send_concurrently(20, request).await;

    // Assert
    let summary = summary(&answers);
    let created = answers.iter().all(|a| a.status == 200 || a.status == 201);
    assert!(created, "{summary:?}");
    let id = answers[0].json::<Order>().id;
    let one_order = answers.iter().all(|a| a.body["id"] == id.as_str());
    assert!(one_order, "{summary:?}");
    assert_eq!(shop.my_orders(guest).await, [id.as_str()]);

    // A later repeat answers the same order.
    let repeat = shop.checkout_with_key(guest, &key, items.clone()).await;
    assert_eq!(repeat.expect::<Order>(200).id, id);

    // The same key with another body is refused.
    let reused = shop.checkout_with_key(guest, &key, shop.burgers(3)).await;
    reused.expect_error(422, "idempotency_key_reused");
    assert_eq!(shop.my_orders(guest).await, [id.as_str()]);

    // Keys are per caller: another guest's identical key is their own order.
    let other = shop.guest_token().await;
    let theirs = shop.checkout_with_key(&other, &key, items).await;
    let theirs: Order = theirs.expect(201);
    assert_ne!(theirs.id, id);
    assert_eq!(theirs.customer_id.to_string(), sub_of(&other));
    assert_eq!(shop.my_orders(&other).await, [theirs.id]);
    assert_eq!(shop.my_orders(guest).await, [id]);
}
