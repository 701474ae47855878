//! The pickup board: public, ticket numbers only, `preparing` (received or in
//! preparation) and `ready`, each oldest payment first; never an unpaid,
//! completed or cancelled order.

use crate::helpers::{
    Shop, open_shop, open_shop_without_limits, spawn_app, spawn_app_failing, spawn_recorded_app,
    stock,
};
use serde::Deserialize;
use serde_json::Value;
use shared::domain::OrderId;

/// The board as the contract shows it: these two lists and no other field.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Board {
    preparing: Vec<u16>,
    ready: Vec<u16>,
}

/// The board, read without a token; nothing but the two lists of numbers.
async fn board_of(shop: &Shop) -> Board {
    let answer = shop.board().await;
    let body = answer.expect::<Value>(200);
    let fields = body
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(
        fields,
        Some(vec!["preparing".into(), "ready".into()]),
        "{body}"
    );
    answer.json()
}

/// Pays the order (approved) and returns its ticket number, read from the
/// order as JSON.
async fn paid_number(shop: &Shop, id: &OrderId) -> u16 {
    shop.pay_approved(id).await;
    let paid: Value = shop.get_order(&shop.admin, id).await.expect(200);
    assert_eq!(paid["status"], "received", "{paid}");
    let number = paid["number"].as_u64().unwrap_or_else(|| panic!("{paid}"));
    u16::try_from(number).unwrap()
}

/// The order's ticket number, if it has one (read as JSON).
async fn number_of(shop: &Shop, id: &OrderId) -> Option<u16> {
    let order: Value = shop.get_order(&shop.admin, id).await.expect(200);
    order["number"].as_u64().map(|n| u16::try_from(n).unwrap())
}

#[tokio::test]
async fn the_board_lists_paid_orders_by_status_oldest_payment_first_and_numbers_only() {
    // Arrange: orders of two guests, created, paid and moved in mixed orders.
    let shop = open_shop_without_limits().await;
    let kitchen = shop.busy_kitchen().await;
    let expect = |names: &[&str]| names.iter().map(|n| kitchen.numbers[n]).collect::<Vec<_>>();

    // Act
    let board = board_of(&shop).await;

    // Assert: received and in preparation merged by payment time.
    let preparing = expect(&["preparing_1", "received_1", "preparing_2", "received_2"]);
    let ready = expect(&["ready_1", "ready_2"]);
    assert_eq!(board, Board { preparing, ready });
    for name in [
        "unpaid",
        "refused",
        "cancelled_by_owner",
        "completed",
        "cancelled_by_admin",
    ] {
        // An order with no number (unpaid ones) cannot be on the board at all.
        if let Some(number) = number_of(&shop, &kitchen.ids[name]).await {
            let shown = board.preparing.contains(&number) || board.ready.contains(&number);
            assert!(!shown, "{name} ({number}) is on the board: {board:?}");
        }
    }
}

#[tokio::test]
async fn an_order_moves_across_the_board_and_leaves_it_when_completed() {
    // Arrange
    let shop = open_shop().await;
    let (kitchen, guest) = (&shop.kitchen, &shop.guest);
    let id = shop.placed_order(guest).await.id;
    let empty = Board {
        preparing: vec![],
        ready: vec![],
    };
    assert_eq!(board_of(&shop).await, empty, "not paid yet");

    // Act, Assert
    let number = paid_number(&shop, &id).await;
    let preparing = Board {
        preparing: vec![number],
        ready: vec![],
    };
    assert_eq!(board_of(&shop).await, preparing, "received");
    shop.moved(kitchen, &id, "in_preparation").await;
    assert_eq!(board_of(&shop).await, preparing, "in preparation");
    shop.moved(kitchen, &id, "ready").await;
    let ready = Board {
        preparing: vec![],
        ready: vec![number],
    };
    assert_eq!(board_of(&shop).await, ready, "ready");
    shop.moved(kitchen, &id, "completed").await;
    assert_eq!(board_of(&shop).await, empty, "completed");
}

#[tokio::test]
async fn the_board_is_public_and_cacheable_for_five_seconds() {
    // Arrange
    let app = spawn_app().await;

    // Act: no token, and a header that is no token at all.
    let path = format!("/stores/{}/board", app.home_store().await);
    let response = app.http.get(app.url(&path)).send().await.unwrap();
    let with_junk = app.request(reqwest::Method::GET, &path, None);
    let junk = app
        .send(with_junk.header("Authorization", "Bearer not-a-token"))
        .await;

    // Assert
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap());
    assert_eq!(header("cache-control"), Some("public, max-age=5"));
    assert_eq!(header("content-type"), Some(shared::http::response::JSON));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"preparing": [], "ready": []}));
    assert_eq!(junk.status, 200, "the board ignores Authorization");
    let public = app.board().await;
    assert_eq!(public.expect::<Value>(200), body);
}

#[tokio::test]
async fn the_board_is_its_stores_key_and_at_most_three_queries_and_a_failing_table_is_503() {
    // Arrange
    let (app, recorder) = spawn_recorded_app().await;
    let shop = stock(app).await;
    for _ in 0..3 {
        let id = shop.placed_order(&shop.guest).await.id;
        paid_number(&shop, &id).await;
    }
    recorder.take();

    // Act
    let board = board_of(&shop).await;
    let (dynamodb, calls) = recorder.take_dynamodb();

    // Assert
    assert_eq!(board.preparing.len(), 3, "{board:?}");
    // The store's record (is there such a store?) and its board, at once.
    let reads = dynamodb
        .iter()
        .filter(|o| *o == "DynamoDB_20120810.GetItem")
        .count();
    let queries = dynamodb
        .iter()
        .filter(|o| *o == "DynamoDB_20120810.Query")
        .count();
    assert_eq!(reads + queries, dynamodb.len(), "{calls:?}");
    assert!(
        reads == 1 && (1..=3).contains(&queries),
        "one GetItem and at most 3 Queries: {calls:?}"
    );

    // A table that answers 500: 503, like every other route.
    let failing = spawn_app_failing("Query").await;
    failing
        .board()
        .await
        .expect_error(503, "service_unavailable");
}
