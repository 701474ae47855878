//! Retries, leftovers and hostile sizes: what a careful client or a crash
//! leaves behind must not break the contract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use support::spawn_app;

#[tokio::test]
async fn a_signup_cut_short_before_the_group_is_completed_by_the_retry() {
    let app = spawn_app().await;
    // What a crash between AdminCreateUser and AdminAddUserToGroup leaves.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    cognito
        .admin_create_user()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("52998224725")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let admin = app.admin_token().await;
    assert!(
        app.get_as("/customers", &admin).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let retry = app.sign_up("529.982.247-25", "Ana").await;
    assert_eq!(
        (retry.status, retry.body["error"]["code"].as_str()),
        (409, Some("customer_exists"))
    );
    let listed = app.get_as("/customers", &admin).await;
    assert_eq!(
        listed.body["items"][0]["cpf"], "***.982.247-**",
        "the customer is in its group now"
    );
}

#[tokio::test]
async fn an_expired_idempotency_record_no_longer_binds_its_key() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Pudim", "dessert", 990).await;
    let guest = app.guest_token().await;
    let sub = app.post("/validate", json!({"token": guest})).await.body["claims"]["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    // A record whose day has passed, not yet removed by the table's TTL.
    let dynamodb = aws_sdk_dynamodb::Client::new(&app.sdk);
    dynamodb
        .put_item()
        .table_name(app.stack.get("OrdersTable").unwrap())
        .item("id", AttributeValue::S(format!("idem#{sub}#old-key")))
        .item("order_id", AttributeValue::S("an-order-long-gone".into()))
        .item("request_hash", AttributeValue::S("another-body".into()))
        .item(
            "expires_at",
            AttributeValue::N((time::OffsetDateTime::now_utc().unix_timestamp() - 60).to_string()),
        )
        .send()
        .await
        .unwrap();
    let request = app
        .http
        .post(format!("{}/orders", app.base_url))
        .bearer_auth(&guest)
        .header("Idempotency-Key", "old-key")
        .json(&json!({"items": [{"product_id": product, "quantity": 1}]}));
    let created = app.send(request).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let again = app
        .send(
            app.http
                .post(format!("{}/orders", app.base_url))
                .bearer_auth(&guest)
                .header("Idempotency-Key", "old-key")
                .json(&json!({"items": [{"product_id": product, "quantity": 1}]})),
        )
        .await;
    assert_eq!(
        (again.status, &again.body["id"]),
        (200, &created.body["id"]),
        "the key is bound to the new order"
    );
}

#[tokio::test]
async fn ids_too_long_to_be_keys_are_404_not_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let long = "a".repeat(3000);
    for (path, code) in [
        (format!("/orders/{long}"), "order_not_found"),
        (format!("/products/{long}"), "product_not_found"),
    ] {
        let answer = app.get_as(&path, &admin).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (404, Some(code))
        );
    }
    let patch = app
        .send(
            app.http
                .patch(format!("{}/orders/{long}", app.base_url))
                .bearer_auth(&admin)
                .json(&json!({"status": "in_preparation"})),
        )
        .await;
    assert_eq!(patch.status, 404);
}

#[tokio::test]
async fn a_cpf_sent_as_a_number_is_refused_without_echoing_it() {
    let app = spawn_app().await;
    let answer = app.post("/auth", json!({"cpf": 52998224725u64})).await;
    assert_eq!(answer.status, 400);
    assert!(
        !answer.body.to_string().contains("52998224725"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_kitchen_queue_walks_every_order_once_when_pages_hit_dynamodbs_1_mb_cap() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let product = app
        .create_product(&admin, &"X".repeat(80), "sandwich", 2490)
        .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&app.sdk);
    let secret = secrets
        .get_secret_value()
        .secret_id(app.stack.get("WebhookSecret").unwrap())
        .send()
        .await
        .unwrap();
    let secret = secret.secret_string().unwrap().to_owned();
    let guest = app.guest_token().await;
    // About 16 KB an order: 50 lines with long notes. 70 of them exceed the
    // 1 MB DynamoDB reads per Query page, whatever the limit asks.
    let lines: Vec<_> = (0..50)
        .map(|_| json!({"product_id": product, "quantity": 1, "note": "n".repeat(140)}))
        .collect();
    let mut expected = Vec::new();
    for i in 0..71 {
        let order = app
            .post_as("/orders", &guest, json!({"items": lines}))
            .await;
        assert_eq!(order.status, 201, "{}", order.body);
        let id = order.body["id"].as_str().unwrap().to_owned();
        let body = json!({"order_id": id, "payment_id": format!("pay-{i}"), "status": "approved"})
            .to_string();
        let signature = shared::payments::webhook::sign(secret.as_bytes(), body.as_bytes());
        let paid = app
            .send(
                app.http
                    .post(format!("{}/webhooks/payment", app.base_url))
                    .header("X-Signature", signature)
                    .body(body),
            )
            .await;
        assert_eq!(paid.status, 200);
        // All but the last go on to in_preparation; the last stays received.
        if i < 70 {
            let started = app
                .send(
                    app.http
                        .patch(format!("{}/orders/{id}", app.base_url))
                        .bearer_auth(&kitchen)
                        .json(&json!({"status": "in_preparation"})),
                )
                .await;
            assert_eq!(started.status, 200);
        }
        expected.push(id);
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(c) => format!("/orders?limit=100&cursor={c}"),
            None => "/orders?limit=100".to_owned(),
        };
        let page = app.get_as(&path, &kitchen).await;
        assert_eq!(page.status, 200);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "in_preparation oldest paid first, then the received one; none skipped or repeated"
    );
}
