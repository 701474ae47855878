//! Orders over HTTP: checkout priced from the menu, idempotent checkout, the
//! signed payment webhook, the status machine per role, the kitchen queue,
//! ownership (never reveal another caller's order), concurrency and round trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{Answer, TestApp, spawn_app};

/// `POST /orders` with `{"items": items}`.
async fn checkout(app: &TestApp, token: &str, items: Value) -> Answer {
    app.post_as("/orders", token, json!({ "items": items }))
        .await
}

/// `POST /orders` with an `Idempotency-Key` header.
async fn checkout_with_key(app: &TestApp, token: &str, key: &str, items: Value) -> Answer {
    app.send(
        app.http
            .post(format!("{}/orders", app.base_url))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({ "items": items })),
    )
    .await
}

/// Checks out and returns the new order's id.
async fn place(app: &TestApp, token: &str, items: Value) -> String {
    let created = checkout(app, token, items).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, token: &str, id: &str, status: &str) -> Answer {
    app.send(
        app.http
            .patch(format!("{}/orders/{id}", app.base_url))
            .bearer_auth(token)
            .json(&json!({ "status": status })),
    )
    .await
}

async fn webhook_secret(app: &TestApp) -> String {
    let arn = app.stack.get("WebhookSecret").unwrap();
    aws_sdk_secretsmanager::Client::new(&app.sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

/// `sha256=<lowercase hex HMAC-SHA256 of body>`.
fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// `POST /webhooks/payment` with this raw body and `X-Signature` header (none when `None`).
async fn notify(app: &TestApp, body: &str, signature: Option<&str>) -> Answer {
    let mut request = app
        .http
        .post(format!("{}/webhooks/payment", app.base_url))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("X-Signature", signature);
    }
    app.send(request).await
}

/// The payment notification for `order_id`; one payment id per (order, outcome).
fn notification(order_id: &str, status: &str) -> String {
    json!({"order_id": order_id, "payment_id": format!("pay-{status}-{order_id}"), "status": status})
        .to_string()
}

/// A correctly signed payment notification.
async fn pay(app: &TestApp, secret: &str, order_id: &str, status: &str) -> Answer {
    let body = notification(order_id, status);
    notify(app, &body, Some(&sign(secret, &body))).await
}

async fn pay_approved(app: &TestApp, secret: &str, order_id: &str) {
    let paid = pay(app, secret, order_id, "approved").await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "received", "{}", paid.body);
}

/// The ids of every page of `GET /orders?{query}`, cursor after cursor.
async fn walk(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/orders?{query}&cursor={c}"),
            None => format!("/orders?{query}"),
        };
        let page = app.get_as(&path, token).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        ids.extend(
            page.body["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {}", page.body))
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the listing never ended");
}

/// The `sub` claim of a token (read, not verified).
fn sub_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

/// A stack with a product on the menu and the staff signed in.
struct Shop {
    app: TestApp,
    admin: String,
    kitchen: String,
    burger: String,
    secret: String,
}

async fn open_shop() -> Shop {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let secret = webhook_secret(&app).await;
    Shop {
        app,
        admin,
        kitchen,
        burger,
        secret,
    }
}

fn code(answer: &Answer) -> (u16, Option<&str>) {
    (answer.status, answer.body["error"]["code"].as_str())
}

fn is_rfc3339(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

#[tokio::test]
async fn checkout_totals_are_computed_from_the_menu_and_kept_when_the_menu_changes() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let soda = app.create_product(&admin, "Coca-Cola", "drink", 650).await;
    let guest = app.guest_token().await;

    // Act
    let created = checkout(
        &app,
        &guest,
        json!([
            {"product_id": burger, "quantity": 2, "note": "sem cebola"},
            {"product_id": soda, "quantity": 3}
        ]),
    )
    .await;

    // Assert
    assert_eq!(created.status, 201, "{}", created.body);
    let order = &created.body;
    for key in [
        "id",
        "number",
        "customer_id",
        "items",
        "total_cents",
        "status",
        "payment_status",
        "created_at",
        "updated_at",
    ] {
        assert!(order.get(key).is_some(), "order has {key}: {order}");
    }
    for line in order["items"].as_array().unwrap() {
        for key in [
            "product_id",
            "name",
            "unit_price_cents",
            "quantity",
            "note",
            "subtotal_cents",
        ] {
            assert!(line.get(key).is_some(), "line has {key}: {order}");
        }
    }
    assert_eq!(order["items"].as_array().unwrap().len(), 2, "{order}");
    let (first, second) = (&order["items"][0], &order["items"][1]);
    assert_eq!(
        (
            first["product_id"].as_str(),
            first["name"].as_str(),
            first["unit_price_cents"].as_i64(),
            first["quantity"].as_i64(),
            first["note"].as_str(),
            first["subtotal_cents"].as_i64()
        ),
        (
            Some(burger.as_str()),
            Some("X-Burger"),
            Some(2490),
            Some(2),
            Some("sem cebola"),
            Some(4980)
        ),
        "{order}"
    );
    assert_eq!(
        (
            second["product_id"].as_str(),
            second["name"].as_str(),
            second["unit_price_cents"].as_i64(),
            second["quantity"].as_i64(),
            second["subtotal_cents"].as_i64()
        ),
        (
            Some(soda.as_str()),
            Some("Coca-Cola"),
            Some(650),
            Some(3),
            Some(1950)
        ),
        "{order}"
    );
    assert!(second["note"].is_null(), "no note given: {order}");
    assert_eq!(order["total_cents"].as_i64(), Some(6930), "{order}");
    assert_eq!(
        (order["status"].as_str(), order["payment_status"].as_str()),
        (Some("awaiting_payment"), Some("pending"))
    );
    assert!(
        order["number"]
            .as_i64()
            .is_some_and(|n| (1..=999).contains(&n)),
        "{order}"
    );
    assert_eq!(order["customer_id"].as_str(), Some(sub_of(&guest).as_str()));
    assert!(order["customer_id"].as_str().unwrap().starts_with("guest:"));
    assert!(!order["id"].as_str().unwrap().is_empty());
    assert!(is_rfc3339(&order["created_at"]), "{order}");
    assert!(is_rfc3339(&order["updated_at"]), "{order}");
    let id = order["id"].as_str().unwrap();
    assert_eq!(
        app.get_as(&format!("/orders/{id}"), &guest).await.body,
        *order
    );

    // The menu changes: the order keeps the names and prices it was placed with.
    let updated = app
        .put_as(
            &format!("/products/{burger}"),
            &admin,
            json!({"name": "X-Burger Duplo", "category": "sandwich", "price_cents": 9990}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(
        app.delete_as(&format!("/products/{soda}"), &admin)
            .await
            .status,
        204
    );
    let after = app.get_as(&format!("/orders/{id}"), &guest).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(after.body, *order, "the order is a snapshot of the menu");

    // A new order reads the new price.
    let later = checkout(&app, &guest, json!([{"product_id": burger, "quantity": 1}])).await;
    assert_eq!(later.status, 201, "{}", later.body);
    assert_eq!(
        (
            later.body["items"][0]["name"].as_str(),
            later.body["items"][0]["unit_price_cents"].as_i64(),
            later.body["total_cents"].as_i64()
        ),
        (Some("X-Burger Duplo"), Some(9990), Some(9990))
    );
}

#[tokio::test]
async fn a_price_sent_by_the_client_and_every_other_malformed_body_is_400_invalid_body() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let guest = app.guest_token().await;
    let line = |extra: Value| {
        let mut line = json!({"product_id": burger, "quantity": 1});
        for (key, value) in extra.as_object().unwrap() {
            line[key] = value.clone();
        }
        line
    };
    let lines = |n: usize| Value::Array((0..n).map(|_| line(json!({}))).collect());
    let cases = [
        (
            "line unit_price_cents",
            json!({"items": [line(json!({"unit_price_cents": 1}))]}),
        ),
        (
            "line price_cents",
            json!({"items": [line(json!({"price_cents": 1}))]}),
        ),
        (
            "top-level total_cents",
            json!({"items": [line(json!({}))], "total_cents": 1}),
        ),
        (
            "top-level unknown field",
            json!({"items": [line(json!({}))], "coupon": "FREE"}),
        ),
        ("no items field", json!({})),
        ("empty items", json!({"items": []})),
        (
            "quantity 0",
            json!({"items": [line(json!({"quantity": 0}))]}),
        ),
        (
            "quantity 21",
            json!({"items": [line(json!({"quantity": 21}))]}),
        ),
        ("51 lines", json!({"items": lines(51)})),
        (
            "note of 141 chars",
            json!({"items": [line(json!({"note": "n".repeat(141)}))]}),
        ),
    ];

    // Act, Assert
    for (case, body) in cases {
        let answer = app.post_as("/orders", &guest, body.clone()).await;
        assert_eq!(
            code(&answer),
            (400, Some("invalid_body")),
            "{case}: {body} -> {}",
            answer.body
        );
    }
    let not_json = app
        .send(
            app.http
                .post(format!("{}/orders", app.base_url))
                .bearer_auth(&guest)
                .body("{nope"),
        )
        .await;
    not_json.expect_error(400, "invalid_body");
    assert!(
        walk(&app, &guest, "limit=100").await.is_empty(),
        "no refused checkout created an order"
    );

    // The limits themselves are accepted.
    let at_limits = checkout(
        &app,
        &guest,
        json!([line(json!({"quantity": 20, "note": "n".repeat(140)}))]),
    )
    .await;
    assert_eq!(at_limits.status, 201, "{}", at_limits.body);
    assert_eq!(at_limits.body["total_cents"].as_i64(), Some(20 * 2490));
    let fifty = checkout(&app, &guest, lines(50)).await;
    assert_eq!(fifty.status, 201, "50 lines: {}", fifty.body);
    assert_eq!(fifty.body["total_cents"].as_i64(), Some(50 * 2490));
}

#[tokio::test]
async fn a_deleted_or_unknown_product_is_422_product_unavailable_and_creates_nothing() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let gone = app
        .create_product(&admin, "X-Bacon", "sandwich", 2790)
        .await;
    assert_eq!(
        app.delete_as(&format!("/products/{gone}"), &admin)
            .await
            .status,
        204
    );
    let guest = app.guest_token().await;
    let unknown = uuid::Uuid::new_v4().to_string();

    // Act, Assert
    for items in [
        json!([{"product_id": gone, "quantity": 1}]),
        json!([{"product_id": unknown, "quantity": 1}]),
        json!([{"product_id": burger, "quantity": 1}, {"product_id": gone, "quantity": 1}]),
        json!([{"product_id": burger, "quantity": 1}, {"product_id": unknown, "quantity": 2}]),
    ] {
        let answer = checkout(&app, &guest, items.clone()).await;
        assert_eq!(
            code(&answer),
            (422, Some("product_unavailable")),
            "{items}: {}",
            answer.body
        );
    }
    assert!(
        walk(&app, &guest, "limit=100").await.is_empty(),
        "no order was created"
    );
}

#[tokio::test]
async fn unpaid_orders_are_not_in_the_kitchen_queue_and_cannot_be_started() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let guest = app.guest_token().await;
    let id = place(&app, &guest, json!([{"product_id": burger, "quantity": 1}])).await;

    // Act, Assert
    assert!(walk(&app, &kitchen, "limit=100").await.is_empty());
    assert!(walk(&app, &admin, "limit=100").await.is_empty());
    assert!(walk(&app, &kitchen, "status=received").await.is_empty());
    for target in ["in_preparation", "ready", "completed"] {
        for staff in [&kitchen, &admin] {
            let answer = patch(&app, staff, &id, target).await;
            assert_eq!(
                code(&answer),
                (409, Some("invalid_transition")),
                "{target}: {}",
                answer.body
            );
        }
    }
    let still = app.get_as(&format!("/orders/{id}"), &kitchen).await;
    assert_eq!(
        (still.status, still.body["status"].as_str()),
        (200, Some("awaiting_payment"))
    );

    // Once paid it is in the queue, and can be started.
    let secret = webhook_secret(&app).await;
    pay_approved(&app, &secret, &id).await;
    assert_eq!(walk(&app, &kitchen, "limit=100").await, [id.as_str()]);
    let started = patch(&app, &kitchen, &id, "in_preparation").await;
    assert_eq!(
        (started.status, started.body["status"].as_str()),
        (200, Some("in_preparation")),
        "{}",
        started.body
    );
}

#[tokio::test]
async fn the_payment_webhook_accepts_only_valid_signatures_and_applies_each_notification_once() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let guest = app.guest_token().await;
    let secret = webhook_secret(&app).await;
    let paid_id = place(&app, &guest, json!([{"product_id": burger, "quantity": 1}])).await;
    let refused_id = place(&app, &guest, json!([{"product_id": burger, "quantity": 2}])).await;
    let body = notification(&paid_id, "approved");
    let good = sign(&secret, &body);
    let other_body = notification(&refused_id, "approved");
    let bare_hex = good.trim_start_matches("sha256=").to_owned();

    // Act, Assert: every bad signature is 401 and changes nothing.
    let wrong_secret = sign("not-the-secret", &body);
    let over_other_body = sign(&secret, &other_body);
    let zz = "sha256=zz".to_owned();
    for (case, signature) in [
        ("missing header", None),
        ("sha256=zz", Some(&zz)),
        ("no sha256= prefix", Some(&bare_hex)),
        ("wrong secret", Some(&wrong_secret)),
        ("signed over another body", Some(&over_other_body)),
    ] {
        let answer = notify(&app, &body, signature.map(String::as_str)).await;
        assert_eq!(
            code(&answer),
            (401, Some("invalid_signature")),
            "{case}: {}",
            answer.body
        );
    }
    let not_json = notify(&app, "{nope", Some(&wrong_secret)).await;
    assert_eq!(
        code(&not_json),
        (401, Some("invalid_signature")),
        "the signature is checked before parsing: {}",
        not_json.body
    );
    let unchanged = app.get_as(&format!("/orders/{paid_id}"), &guest).await;
    assert_eq!(
        (
            unchanged.body["status"].as_str(),
            unchanged.body["payment_status"].as_str()
        ),
        (Some("awaiting_payment"), Some("pending"))
    );

    // Approved: received; its replay answers 200 and changes nothing.
    let approved = notify(&app, &body, Some(&good)).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(
        (
            approved.body["id"].as_str(),
            approved.body["status"].as_str(),
            approved.body["payment_status"].as_str()
        ),
        (Some(paid_id.as_str()), Some("received"), Some("approved"))
    );
    let replayed = notify(&app, &body, Some(&good)).await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(replayed.body, approved.body, "a replay changes nothing");
    assert_eq!(
        app.get_as(&format!("/orders/{paid_id}"), &guest).await.body,
        approved.body
    );

    // Refused: cancelled; a later approval for it is 409.
    let refused = pay(&app, &secret, &refused_id, "refused").await;
    assert_eq!(refused.status, 200, "{}", refused.body);
    assert_eq!(
        (
            refused.body["status"].as_str(),
            refused.body["payment_status"].as_str()
        ),
        (Some("cancelled"), Some("refused"))
    );
    let late = pay(&app, &secret, &refused_id, "approved").await;
    late.expect_error(409, "invalid_transition");
    assert_eq!(
        app.get_as(&format!("/orders/{refused_id}"), &guest)
            .await
            .body,
        refused.body
    );
    let refused_after_approval = pay(&app, &secret, &paid_id, "refused").await;
    refused_after_approval.expect_error(409, "invalid_transition");

    // Unknown order.
    let unknown = pay(&app, &secret, &uuid::Uuid::new_v4().to_string(), "approved").await;
    unknown.expect_error(404, "order_not_found");
}

#[tokio::test]
async fn the_kitchen_queue_is_ready_then_in_preparation_then_received_oldest_paid_first() {
    // Arrange
    let Shop {
        app,
        admin,
        kitchen,
        burger,
        secret,
    } = open_shop().await;
    let guests = [app.guest_token().await, app.guest_token().await];
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
    let mut ids = std::collections::HashMap::new();
    let mut own: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (i, name) in names.into_iter().enumerate() {
        let id = place(
            &app,
            &guests[i % 2],
            json!([{"product_id": burger, "quantity": 1}]),
        )
        .await;
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
        pay_approved(&app, &secret, &ids[name]).await;
    }
    assert_eq!(
        pay(&app, &secret, &ids["refused"], "refused").await.status,
        200
    );
    // Moved in the reverse of their payment order: the queue still goes by payment.
    let moves = [
        ("preparing_2", "in_preparation"),
        ("preparing_1", "in_preparation"),
        ("ready_2", "in_preparation"),
        ("ready_2", "ready"),
        ("ready_1", "in_preparation"),
        ("ready_1", "ready"),
        ("completed", "in_preparation"),
        ("completed", "ready"),
        ("completed", "completed"),
    ];
    for (name, target) in moves {
        let moved = patch(&app, &kitchen, &ids[name], target).await;
        assert_eq!(moved.status, 200, "{name} -> {target}: {}", moved.body);
    }
    let cancelled = patch(&app, &admin, &ids["cancelled_by_admin"], "cancelled").await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let expect = |names: &[&str]| names.iter().map(|n| ids[n].clone()).collect::<Vec<_>>();

    // Act
    let queue = app.get_as("/orders", &kitchen).await;

    // Assert
    assert_eq!(queue.status, 200, "{}", queue.body);
    let queue_ids: Vec<String> = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let name_of = |id: &String| ids.iter().find(|(_, v)| *v == id).map_or("?", |(k, _)| *k);
    let full = expect(&[
        "ready_1",
        "ready_2",
        "preparing_1",
        "preparing_2",
        "received_1",
        "received_2",
    ]);
    assert_eq!(
        queue_ids,
        full,
        "got {:?}",
        queue_ids.iter().map(name_of).collect::<Vec<_>>()
    );
    assert!(queue.body["next_cursor"].is_null(), "{}", queue.body);
    assert_eq!(
        walk(&app, &admin, "limit=20").await,
        full,
        "admin sees the same queue"
    );
    assert_eq!(
        walk(&app, &kitchen, "limit=1").await,
        full,
        "page by page, the same queue"
    );
    assert_eq!(
        walk(&app, &kitchen, "status=ready").await,
        expect(&["ready_1", "ready_2"])
    );
    assert_eq!(
        walk(&app, &kitchen, "status=in_preparation").await,
        expect(&["preparing_1", "preparing_2"])
    );
    assert_eq!(
        walk(&app, &kitchen, "status=received").await,
        expect(&["received_1", "received_2"])
    );
    for status in ["bogus", "completed", "cancelled", "awaiting_payment"] {
        let answer = app
            .get_as(&format!("/orders?status={status}"), &kitchen)
            .await;
        assert_eq!(
            code(&answer),
            (400, Some("invalid_status")),
            "status={status}: {}",
            answer.body
        );
    }

    // Each guest sees all of their own orders, whatever the status, newest first.
    for (guest, mine) in guests.iter().zip(own) {
        let newest_first: Vec<String> = mine.into_iter().rev().collect();
        assert_eq!(walk(&app, guest, "limit=100").await, newest_first);
        assert_eq!(walk(&app, guest, "limit=2").await, newest_first);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_identical_moves_succeed_exactly_once() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let guest = app.guest_token().await;
    let id = place(&app, &guest, json!([{"product_id": burger, "quantity": 1}])).await;
    pay_approved(&app, &webhook_secret(&app).await, &id).await;

    // Act
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url, token) = (
            app.http.clone(),
            format!("{}/orders/{id}", app.base_url),
            kitchen.clone(),
        );
        tasks.spawn(async move {
            let response = http
                .patch(url)
                .bearer_auth(token)
                .json(&json!({"status": "in_preparation"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let answers = tasks.join_all().await;

    // Assert
    let won: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 200).collect();
    let lost: Vec<&(u16, Value)> = answers
        .iter()
        .filter(|(s, body)| *s == 409 && body["error"]["code"] == "invalid_transition")
        .collect();
    assert_eq!(
        (won.len(), lost.len()),
        (1, 19),
        "{:?}",
        answers
            .iter()
            .map(|(s, b)| format!("{s} {b}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(won[0].1["status"], "in_preparation");
    assert_eq!(
        app.get_as(&format!("/orders/{id}"), &kitchen).await.body,
        won[0].1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_checkouts_with_one_idempotency_key_create_one_order() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let guest = app.guest_token().await;
    let key = format!("kiosk-7-{}", uuid::Uuid::new_v4());
    let items = json!([{"product_id": burger, "quantity": 2, "note": "sem picles"}]);

    // Act
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url, token, key, items) = (
            app.http.clone(),
            format!("{}/orders", app.base_url),
            guest.clone(),
            key.clone(),
            items.clone(),
        );
        tasks.spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(&json!({ "items": items }))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let answers = tasks.join_all().await;

    // Assert
    let summary: Vec<String> = answers.iter().map(|(s, b)| format!("{s} {b}")).collect();
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 201),
        "{summary:?}"
    );
    let id = answers[0].1["id"].as_str().unwrap().to_owned();
    assert!(
        answers
            .iter()
            .all(|(_, b)| b["id"].as_str() == Some(id.as_str())),
        "{summary:?}"
    );
    assert_eq!(walk(&app, &guest, "limit=100").await, [id.as_str()]);

    // A later repeat answers the same order.
    let repeat = checkout_with_key(&app, &guest, &key, items.clone()).await;
    assert_eq!(repeat.status, 200, "{}", repeat.body);
    assert_eq!(repeat.body["id"].as_str(), Some(id.as_str()));

    // The same key with another body is refused.
    let reused = checkout_with_key(
        &app,
        &guest,
        &key,
        json!([{"product_id": burger, "quantity": 3}]),
    )
    .await;
    reused.expect_error(422, "idempotency_key_reused");
    assert_eq!(walk(&app, &guest, "limit=100").await, [id.as_str()]);

    // Keys are per caller: another guest's identical key is their own order.
    let other = app.guest_token().await;
    let theirs = checkout_with_key(&app, &other, &key, items.clone()).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let their_id = theirs.body["id"].as_str().unwrap().to_owned();
    assert_ne!(their_id, id);
    assert_eq!(
        theirs.body["customer_id"].as_str(),
        Some(sub_of(&other).as_str())
    );
    assert_eq!(walk(&app, &other, "limit=100").await, [their_id]);
    assert_eq!(walk(&app, &guest, "limit=100").await, [id]);
}

#[tokio::test]
async fn another_callers_order_is_404_whether_read_cancelled_or_listed() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let signup = app.sign_up("529.982.247-25", "Ana").await;
    assert_eq!(signup.status, 201, "{}", signup.body);
    let customer = app.customer_token("52998224725").await;
    let (alice, bob) = (app.guest_token().await, app.guest_token().await);
    let items = json!([{"product_id": burger, "quantity": 1}]);
    let alices = place(&app, &alice, items.clone()).await;
    let created = checkout(&app, &customer, items.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body["customer_id"], signup.body["id"],
        "{}",
        created.body
    );
    let customers = created.body["id"].as_str().unwrap().to_owned();

    // Act, Assert
    for (intruder, order) in [
        (&bob, &alices),
        (&customer, &alices),
        (&alice, &customers),
        (&bob, &customers),
    ] {
        let read = app.get_as(&format!("/orders/{order}"), intruder).await;
        read.expect_error(404, "order_not_found");
        let cancel = patch(&app, intruder, order, "cancelled").await;
        cancel.expect_error(404, "order_not_found");
        assert!(!walk(&app, intruder, "limit=100").await.contains(order));
    }
    assert!(walk(&app, &bob, "limit=100").await.is_empty());
    assert_eq!(walk(&app, &alice, "limit=100").await, [alices.as_str()]);
    assert_eq!(
        walk(&app, &customer, "limit=100").await,
        [customers.as_str()]
    );
    for order in [&alices, &customers] {
        for reader in [&kitchen, &admin] {
            let read = app.get_as(&format!("/orders/{order}"), reader).await;
            assert_eq!(
                (read.status, read.body["status"].as_str()),
                (200, Some("awaiting_payment")),
                "nothing was cancelled: {}",
                read.body
            );
        }
    }
    let unknown = uuid::Uuid::new_v4();
    for reader in [&alice, &kitchen, &admin] {
        let read = app.get_as(&format!("/orders/{unknown}"), reader).await;
        read.expect_error(404, "order_not_found");
    }
    let cancel = patch(&app, &alice, &unknown.to_string(), "cancelled").await;
    cancel.expect_error(404, "order_not_found");
    let start = patch(&app, &kitchen, &unknown.to_string(), "in_preparation").await;
    start.expect_error(404, "order_not_found");
}

#[tokio::test]
async fn owners_cancel_only_unpaid_orders_and_admins_cancel_received_ones() {
    // Arrange
    let Shop {
        app,
        admin,
        kitchen,
        burger,
        secret,
    } = open_shop().await;
    let guest = app.guest_token().await;
    let items = json!([{"product_id": burger, "quantity": 1}]);
    let unpaid = place(&app, &guest, items.clone()).await;
    let paid = place(&app, &guest, items.clone()).await;
    pay_approved(&app, &secret, &paid).await;

    // Act, Assert: the owner cancels while awaiting payment, not after.
    let cancelled = patch(&app, &guest, &unpaid, "cancelled").await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].as_str()),
        (200, Some("cancelled")),
        "{}",
        cancelled.body
    );
    let again = patch(&app, &guest, &unpaid, "cancelled").await;
    again.expect_error(409, "invalid_transition");
    let late_payment = pay(&app, &secret, &unpaid, "approved").await;
    late_payment.expect_error(409, "invalid_transition");
    let too_late = patch(&app, &guest, &paid, "cancelled").await;
    too_late.expect_error(409, "invalid_transition");

    // Targets a role may never set are 403, whatever the order's status.
    for (token, target) in [
        (&kitchen, "cancelled"),
        (&guest, "in_preparation"),
        (&guest, "ready"),
        (&guest, "completed"),
        (&guest, "received"),
        (&kitchen, "received"),
        (&admin, "awaiting_payment"),
    ] {
        let answer = patch(&app, token, &paid, target).await;
        assert_eq!(
            code(&answer),
            (403, Some("forbidden")),
            "{target}: {}",
            answer.body
        );
    }
    // A permitted target from the wrong status is 409.
    let skip = patch(&app, &kitchen, &paid, "completed").await;
    skip.expect_error(409, "invalid_transition");
    let still = app.get_as(&format!("/orders/{paid}"), &guest).await;
    assert_eq!(still.body["status"], "received", "{}", still.body);

    // The admin cancels a received order, and nothing after it is started.
    let by_admin = patch(&app, &admin, &paid, "cancelled").await;
    assert_eq!(
        (by_admin.status, by_admin.body["status"].as_str()),
        (200, Some("cancelled")),
        "{}",
        by_admin.body
    );
    let started = patch(&app, &admin, &paid, "in_preparation").await;
    started.expect_error(409, "invalid_transition");

    // Not once it is in preparation.
    let cooking = place(&app, &guest, items).await;
    pay_approved(&app, &secret, &cooking).await;
    assert_eq!(
        patch(&app, &kitchen, &cooking, "in_preparation")
            .await
            .status,
        200
    );
    let too_late = patch(&app, &admin, &cooking, "cancelled").await;
    too_late.expect_error(409, "invalid_transition");
}

#[tokio::test]
async fn checkout_moves_and_the_queue_cost_few_round_trips_and_never_scan() {
    // Arrange
    let (app, recorder) = support::spawn_recorded_app().await;
    let mut everything = Vec::new();
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let guest = app.guest_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let soda = app.create_product(&admin, "Coca-Cola", "drink", 650).await;
    let secret = webhook_secret(&app).await;
    let items = json!([{"product_id": burger, "quantity": 2}, {"product_id": soda, "quantity": 1}]);
    let warm = place(&app, &guest, items.clone()).await;
    pay_approved(&app, &secret, &warm).await;
    assert_eq!(app.get_as("/orders", &kitchen).await.status, 200);
    everything.extend(recorder.take());

    // Act, Assert: a warm checkout.
    let created = checkout(&app, &guest, items).await;
    let checkout_calls = recorder.take();
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        checkout_calls.len() <= 3,
        "a checkout is at most 3 AWS calls: {checkout_calls:?}"
    );
    everything.extend(checkout_calls);
    let id = created.body["id"].as_str().unwrap().to_owned();
    pay_approved(&app, &secret, &id).await;
    everything.extend(recorder.take());

    // A status move.
    let moved = patch(&app, &kitchen, &id, "in_preparation").await;
    let move_calls = recorder.take();
    assert_eq!(moved.status, 200, "{}", moved.body);
    let dynamodb: Vec<&String> = move_calls
        .iter()
        .filter(|o| o.starts_with("DynamoDB"))
        .collect();
    assert_eq!(
        dynamodb,
        ["DynamoDB_20120810.UpdateItem"],
        "a move is one UpdateItem: {move_calls:?}"
    );
    everything.extend(move_calls);

    // The kitchen queue.
    let queue = app.get_as("/orders", &kitchen).await;
    let queue_calls = recorder.take();
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(
        queue.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        queue.body
    );
    let dynamodb: Vec<&String> = queue_calls
        .iter()
        .filter(|o| o.starts_with("DynamoDB"))
        .collect();
    assert!(
        !dynamodb.is_empty()
            && dynamodb.len() <= 3
            && dynamodb.iter().all(|o| *o == "DynamoDB_20120810.Query"),
        "the queue is at most 3 Queries: {queue_calls:?}"
    );
    everything.extend(queue_calls);

    // The other reads.
    assert_eq!(app.get_as("/orders", &guest).await.status, 200);
    assert_eq!(
        app.get_as(&format!("/orders/{id}"), &guest).await.status,
        200
    );
    assert_eq!(app.get_as("/orders?status=ready", &admin).await.status, 200);
    everything.extend(recorder.take());
    assert!(
        !everything.iter().any(|o| o.contains("Scan")),
        "{everything:?}"
    );
}

#[tokio::test]
async fn only_guests_and_customers_check_out() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    let items = json!([{"product_id": burger, "quantity": 1}]);

    // Act, Assert
    for staff in [&kitchen, &admin] {
        let answer = checkout(&app, staff, items.clone()).await;
        answer.expect_error(403, "forbidden");
    }
    let anonymous = app
        .send(
            app.http
                .post(format!("{}/orders", app.base_url))
                .json(&json!({ "items": items })),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(app.sign_up("111.444.777-35", "Bia").await.status, 201);
    let customer = app.customer_token("11144477735").await;
    assert_eq!(checkout(&app, &customer, items).await.status, 201);
}
