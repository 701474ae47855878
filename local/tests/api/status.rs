//! The status machine per role: who may set which status from which, the
//! owner's and the admin's cancellations, and concurrent moves.

use crate::helpers::{Answer, open_shop, spawn_app_with_isolated_writes, stock, summary};
use reqwest::Method;
use serde_json::json;
use shared::domain::order::{Order, OrderStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_identical_moves_succeed_exactly_once() {
    // Arrange: DynamoDB applies conditional writes on one item one at a
    // time; the emulator does not, so writes go through the serialising proxy.
    let shop = stock(spawn_app_with_isolated_writes(&[]).await).await;
    let guest = &shop.guest;
    let id = shop.order_in(guest, OrderStatus::Received).await.id;
    let request = shop.request(Method::PATCH, &format!("/orders/{id}"), Some(&shop.kitchen));

    // Act
    let answers = shop
        .send_concurrently(20, request.json(&json!({"status": "in_preparation"})))
        .await;

    // Assert
    let won: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    let lost = answers
        .iter()
        .filter(|a| (a.status, a.code()) == (409, Some("invalid_transition")))
        .count();
    let summary = summary(&answers);
    assert_eq!((won.len(), lost), (1, 19), "{summary:?}");
    assert_eq!(won[0].json::<Order>().status, OrderStatus::InPreparation);
    // The same order (but its wait, which counts seconds since payment).
    let without_wait = |mut body: serde_json::Value| {
        body.as_object_mut().map(|o| o.remove("waiting_seconds"));
        body
    };
    let read = shop.get_order(&shop.kitchen, &id).await.body;
    assert_eq!(without_wait(read), without_wait(won[0].body.clone()));
}

#[tokio::test]
async fn owners_cancel_only_unpaid_orders_and_admins_cancel_received_ones() {
    // Arrange
    let shop = open_shop().await;
    let (admin, kitchen, guest) = (&shop.admin, &shop.kitchen, &shop.guest);
    let unpaid = shop.placed_order(guest).await.id;
    let paid = shop.order_in(guest, OrderStatus::Received).await.id;

    // Act, Assert: the owner cancels while awaiting payment, not after.
    shop.moved(guest, &unpaid, "cancelled").await;
    let again = shop.move_order(guest, &unpaid, "cancelled").await;
    again.expect_error(409, "invalid_transition");
    let no_payment_now = shop.request_payment(guest, &unpaid).await;
    no_payment_now.expect_error(409, "invalid_transition");
    let too_late = shop.move_order(guest, &paid, "cancelled").await;
    too_late.expect_error(409, "invalid_transition");

    // Targets a role may never set are 403, whatever the order's status.
    for (token, target) in [
        (kitchen, "cancelled"),
        (guest, "in_preparation"),
        (guest, "ready"),
        (guest, "completed"),
        (guest, "received"),
        (kitchen, "received"),
        (admin, "awaiting_payment"),
    ] {
        let answer = shop.move_order(token, &paid, target).await;
        answer.expect_error(403, "forbidden");
    }
    // A permitted target from the wrong status is 409.
    let skip = shop.move_order(kitchen, &paid, "completed").await;
    skip.expect_error(409, "invalid_transition");
    assert_eq!(shop.order(&paid).await.status, OrderStatus::Received);

    // The admin cancels a received order, and nothing after it is started.
    shop.moved(admin, &paid, "cancelled").await;
    let started = shop.move_order(admin, &paid, "in_preparation").await;
    started.expect_error(409, "invalid_transition");

    // Not once it is in preparation.
    let cooking = shop.order_in(guest, OrderStatus::InPreparation).await.id;
    let too_late = shop.move_order(admin, &cooking, "cancelled").await;
    too_late.expect_error(409, "invalid_transition");
}

/// Each stage records when it was reached, and the kitchen sees how long a
/// paid order has waited until it is ready (`waiting_seconds`).
#[tokio::test]
async fn every_stage_records_its_time_and_the_wait_is_shown_until_ready() {
    let shop = open_shop().await;
    let (order, _) = shop.paid_order().await;
    let read = |token: String| {
        let shop = &shop;
        let id = order.id.clone();
        async move {
            shop.get_order(&token, &id)
                .await
                .expect::<serde_json::Value>(200)
        }
    };
    let time = |value: &serde_json::Value, field: &str| {
        value[field].as_str().map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
        })
    };

    let received = read(shop.kitchen.clone()).await;
    let paid_at = time(&received, "paid_at").unwrap();
    assert!(
        received["waiting_seconds"].as_i64().is_some_and(|w| w >= 0),
        "{received}"
    );
    for field in [
        "in_preparation_at",
        "ready_at",
        "completed_at",
        "cancelled_at",
    ] {
        assert!(received[field].is_null(), "{field}: {received}");
    }
    let queue: crate::helpers::Page<serde_json::Value> =
        shop.list_orders(&shop.kitchen, "").await.expect(200);
    assert!(
        queue.items[0]["waiting_seconds"].is_i64(),
        "the queue shows the wait"
    );

    shop.moved(&shop.kitchen, &order.id, "in_preparation").await;
    let preparing = read(shop.kitchen.clone()).await;
    let started = time(&preparing, "in_preparation_at").unwrap();
    assert!(started >= paid_at, "{preparing}");
    assert!(
        preparing["waiting_seconds"].is_i64(),
        "still waiting: {preparing}"
    );

    shop.moved(&shop.kitchen, &order.id, "ready").await;
    let ready = read(shop.kitchen.clone()).await;
    assert!(time(&ready, "ready_at").unwrap() >= started);
    assert!(
        ready["waiting_seconds"].is_null(),
        "ready: no longer waiting: {ready}"
    );
    assert_eq!(time(&ready, "in_preparation_at"), Some(started), "kept");

    shop.moved(&shop.kitchen, &order.id, "completed").await;
    let completed = read(shop.admin.clone()).await;
    assert!(time(&completed, "completed_at").is_some() && completed["cancelled_at"].is_null());

    // A cancel records its time too (the owner's, before payment).
    let unpaid = shop.placed_order(&shop.guest).await;
    let cancelled: serde_json::Value = shop
        .move_order(&shop.guest, &unpaid.id, "cancelled")
        .await
        .expect(200);
    assert!(cancelled["cancelled_at"].is_string() && cancelled["waiting_seconds"].is_null());
}
