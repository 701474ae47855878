//! Retries, leftovers and hostile sizes: what a careful client or a crash
//! leaves behind must not break the contract.

use crate::helpers::{ListedCustomer, Page, open_shop, spawn_app};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use shared::domain::order::Order;

#[tokio::test]
async fn a_signup_cut_short_before_the_group_is_completed_by_the_retry() {
    let app = spawn_app().await;
    // What a crash between AdminCreateUser and AdminAddUserToGroup leaves.
    aws_sdk_cognitoidentityprovider::Client::new(&app.sdk)
        .admin_create_user()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("cpf:52998224725")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let admin = app.admin_token().await;
    let before: Page<ListedCustomer> = app.list_customers(&admin, "").await.json();
    assert!(before.items.is_empty());

    let retry = app.sign_up("529.982.247-25", "Ana").await;

    retry.expect_error(409, "customer_exists");
    let listed: Page<ListedCustomer> = app.list_customers(&admin, "").await.json();
    assert_eq!(
        listed.items[0].cpf, "***.982.247-**",
        "the customer is in its group now"
    );
}

#[tokio::test]
async fn an_expired_idempotency_record_no_longer_binds_its_key() {
    let shop = open_shop().await;
    let guest = &shop.guest;
    let sub = shop.claims_of(guest).await.sub;
    // A record whose day has passed, not yet removed by the table's TTL.
    let a_minute_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    aws_sdk_dynamodb::Client::new(&shop.sdk)
        .put_item()
        .table_name(shop.stack.get("OrdersTable").unwrap())
        .item("id", AttributeValue::S(format!("idem#{sub}#old-key")))
        .item("order_id", AttributeValue::S("an-order-long-gone".into()))
        .item("request_hash", AttributeValue::S("another-body".into()))
        .item("expires_at", AttributeValue::N(a_minute_ago.to_string()))
        .send()
        .await
        .unwrap();

    let created = shop
        .checkout_with_key(guest, "old-key", shop.burgers(1))
        .await;
    let again = shop
        .checkout_with_key(guest, "old-key", shop.burgers(1))
        .await;

    let created: Order = created.expect(201);
    let again: Order = again.expect(200);
    assert_eq!(again.id, created.id, "the key is bound to the new order");
}

#[tokio::test]
async fn ids_too_long_to_be_keys_are_404_not_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let long = "a".repeat(3000);

    let order = app.get_order(&admin, &long).await;
    let product = app.get_product(&admin, &long).await;
    let moved = app.move_order(&admin, &long, "in_preparation").await;

    order.expect_error(404, "order_not_found");
    product.expect_error(404, "product_not_found");
    assert_eq!(moved.status, 404);
}

#[tokio::test]
async fn a_cpf_sent_as_a_number_is_refused_without_echoing_it() {
    let app = spawn_app().await;

    let kiosk = app.kiosk_token().await;
    let answer = app
        .post_as("/auth", &kiosk, json!({"cpf": 52998224725u64}))
        .await;

    assert_eq!(answer.status, 400);
    assert!(
        !answer.body.to_string().contains("52998224725"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_kitchen_queue_walks_every_order_once_when_pages_hit_dynamodbs_1_mb_cap() {
    let shop = open_shop().await;
    let long_name = "X".repeat(80);
    let product = shop
        .create_product(&shop.admin, &long_name, "sandwich", 2490)
        .await;
    let guest = &shop.guest;
    // About 16 KB an order: 50 lines with long notes. 70 of them exceed the
    // 1 MB DynamoDB reads per Query page, whatever the limit asks.
    let lines: Vec<_> = (0..50)
        .map(|_| json!({"product_id": product, "quantity": 1, "note": "n".repeat(140)}))
        .collect();
    let mut expected = Vec::new();
    for i in 0..71 {
        let id = shop.place(guest, json!(lines)).await.id;
        shop.pay_approved(&id).await;
        // All but the last go on to in_preparation; the last stays received.
        if i < 70 {
            shop.moved(&shop.kitchen, &id, "in_preparation").await;
        }
        expected.push(id);
    }

    let seen = shop.my_orders(&shop.kitchen).await;

    assert_eq!(
        seen, expected,
        "in_preparation oldest paid first, then the received one; none skipped or repeated"
    );
}
