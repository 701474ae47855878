//! The menu over HTTP: roles, validation, listing by category, pagination,
//! soft delete, and no Scan on any path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::collections::HashSet;
use support::{TestApp, spawn_app};

async fn walk(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/products?{query}&cursor={c}"),
            None => format!("/products?{query}"),
        };
        let page = app.get_as(&path, token).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        items.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("the listing never ended");
}

#[tokio::test]
async fn only_admins_write_the_menu() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    assert_eq!(app.sign_up("529.982.247-25", "Ana").await.status, 201);
    let others = [
        app.kitchen_token().await,
        app.guest_token().await,
        app.customer_token("52998224725").await,
    ];
    let body = json!({"name": "X-Egg", "category": "sandwich", "price_cents": 2590});
    for token in &others {
        for answer in [
            app.post_as("/products", token, body.clone()).await,
            app.put_as(&format!("/products/{id}"), token, body.clone())
                .await,
            app.delete_as(&format!("/products/{id}"), token).await,
        ] {
            assert_eq!(
                (answer.status, answer.body["error"]["code"].as_str()),
                (403, Some("forbidden"))
            );
        }
        // Every role reads.
        assert_eq!(
            app.get_as(&format!("/products/{id}"), token).await.status,
            200
        );
        assert_eq!(app.get_as("/products", token).await.status, 200);
    }
    let unchanged = app.get_as(&format!("/products/{id}"), &admin).await;
    assert_eq!(
        unchanged.body["name"], "X-Burger",
        "refused writes changed nothing"
    );
    assert_eq!(
        app.send(app.http.get(format!("{}/products", app.base_url)))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_product_is_created_read_updated_and_soft_deleted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let created = app
        .post_as(
            "/products",
            &admin,
            json!({"name": "X-Salada", "description": "Com alface", "category": "sandwich",
            "price_cents": 2690, "image_url": "https://cdn.example.com/x-salada.png"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    for key in [
        "id",
        "name",
        "description",
        "category",
        "price_cents",
        "image_url",
        "active",
        "created_at",
        "updated_at",
    ] {
        assert!(
            created.body.get(key).is_some(),
            "product has {key}: {}",
            created.body
        );
    }
    assert_eq!(created.body["active"], true);
    assert_eq!(
        app.get_as(&format!("/products/{id}"), &admin).await.body,
        created.body
    );

    let updated = app
        .put_as(
            &format!("/products/{id}"),
            &admin,
            json!({"name": "X-Salada Especial", "category": "sandwich", "price_cents": 2890}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(
        (
            updated.body["name"].as_str(),
            updated.body["price_cents"].as_i64()
        ),
        (Some("X-Salada Especial"), Some(2890))
    );
    assert_eq!(
        updated.body["image_url"],
        Value::Null,
        "PUT replaces: no image_url given, none kept"
    );
    assert_eq!(updated.body["created_at"], created.body["created_at"]);

    let deleted = app.delete_as(&format!("/products/{id}"), &admin).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    for answer in [
        app.get_as(&format!("/products/{id}"), &admin).await,
        app.put_as(
            &format!("/products/{id}"),
            &admin,
            json!({"name": "Back", "category": "sandwich", "price_cents": 1}),
        )
        .await,
        app.delete_as(&format!("/products/{id}"), &admin).await,
        app.get_as("/products/no-such-id", &admin).await,
    ] {
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (404, Some("product_not_found"))
        );
    }
    assert!(
        walk(&app, &admin, "limit=100").await.is_empty(),
        "gone from the list"
    );

    // Still readable for past orders: the item is kept, inactive.
    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(&app.sdk),
        app.stack.get("ProductsTable").unwrap(),
    );
    let kept = store
        .get(&shared::domain::ProductId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.active, kept.name.as_str()),
        (false, "X-Salada Especial")
    );
}

#[tokio::test]
async fn each_validation_rule_is_a_400_with_its_code() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let base = json!({"name": "X-Burger", "category": "sandwich", "price_cents": 2490});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("name", json!("")), "invalid_name"),
        (with("name", json!("n".repeat(81))), "invalid_name"),
        (
            with("description", json!("d".repeat(501))),
            "invalid_description",
        ),
        (with("price_cents", json!(0)), "invalid_price"),
        (with("price_cents", json!(1_000_001)), "invalid_price"),
        (with("price_cents", json!(24.9)), "invalid_price"),
        (with("price_cents", json!("2490")), "invalid_price"),
        (with("category", json!("pizza")), "invalid_category"),
        (
            with("image_url", json!("http://cdn.example.com/x.png")),
            "invalid_image_url",
        ),
        (with("active", json!(false)), "invalid_body"),
        (with("id", json!("chosen-by-client")), "invalid_body"),
    ];
    let id = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    for (body, code) in cases {
        for answer in [
            app.post_as("/products", &admin, body.clone()).await,
            app.put_as(&format!("/products/{id}"), &admin, body.clone())
                .await,
        ] {
            assert_eq!(
                (answer.status, answer.body["error"]["code"].as_str()),
                (400, Some(code)),
                "{body}"
            );
        }
    }
    let not_json = app
        .send(
            app.http
                .post(format!("{}/products", app.base_url))
                .bearer_auth(&admin)
                .body("{nope"),
        )
        .await;
    assert_eq!(
        (not_json.status, not_json.body["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );
    assert_eq!(
        walk(&app, &admin, "limit=100").await.len(),
        1,
        "no refused write landed"
    );
    let limits = [1, 1_000_000];
    for price in limits {
        assert_eq!(
            app.post_as("/products", &admin, with("price_cents", json!(price)))
                .await
                .status,
            201,
            "{price}"
        );
    }
}

#[tokio::test]
async fn listing_by_category_returns_only_that_category_and_only_active_products() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut ids = std::collections::HashMap::new();
    for (name, category) in [
        ("X-Burger", "sandwich"),
        ("X-Bacon", "sandwich"),
        ("Batata Frita", "side"),
        ("Coca-Cola", "drink"),
        ("Guaraná", "drink"),
        ("Pudim", "dessert"),
    ] {
        ids.insert(name, app.create_product(&admin, name, category, 1000).await);
    }
    assert_eq!(
        app.delete_as(&format!("/products/{}", ids["X-Bacon"]), &admin)
            .await
            .status,
        204
    );
    let sandwiches = walk(&app, &admin, "category=sandwich").await;
    assert_eq!(
        sandwiches
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["X-Burger"]
    );
    let drinks = walk(&app, &admin, "category=drink&limit=1").await;
    assert_eq!(
        drinks
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Coca-Cola", "Guaraná"]
    );
    assert!(
        drinks
            .iter()
            .all(|p| p["category"] == "drink" && p["active"] == true)
    );
    assert_eq!(walk(&app, &admin, "limit=100").await.len(), 5);
}

#[tokio::test]
async fn walking_23_products_seven_at_a_time_returns_each_exactly_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let categories = ["sandwich", "side", "drink", "dessert"];
    let mut created = HashSet::new();
    for i in 0..23 {
        created.insert(
            app.create_product(
                &admin,
                &format!("Produto {i:02}"),
                categories[i % 4],
                500 + i as i64,
            )
            .await,
        );
    }
    let guest = app.guest_token().await;
    let mut pages = 0;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/products?limit=7&cursor={c}"),
            None => "/products?limit=7".to_owned(),
        };
        let page = app.get_as(&path, &guest).await;
        assert_eq!(page.status, 200);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(seen.len(), 23, "no product twice");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), created);
}

#[tokio::test]
async fn bad_cursors_unknown_categories_and_oversized_limits_are_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..3 {
        app.create_product(&admin, &format!("Suco {i}"), "drink", 900)
            .await;
    }
    let first = app.get_as("/products?category=drink&limit=1", &admin).await;
    let drink_cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"k": "products", "p": {"id": "x", "sk": "zzz"}}).to_string());
    let cases = [
        ("limit=1000".to_owned(), "invalid_limit"),
        ("limit=0".to_owned(), "invalid_limit"),
        ("limit=abc".to_owned(), "invalid_limit"),
        ("category=pizza".to_owned(), "invalid_category"),
        ("cursor=garbage!!".to_owned(), "invalid_cursor"),
        (
            "cursor=eyJrIjoiY3VzdG9tZXJzIiwicCI6IngifQ".to_owned(),
            "invalid_cursor",
        ),
        (
            format!("category=sandwich&cursor={drink_cursor}"),
            "invalid_cursor",
        ),
        (format!("category=drink&cursor={forged}"), "invalid_cursor"),
    ];
    for (query, code) in cases {
        let answer = app.get_as(&format!("/products?{query}"), &admin).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn no_request_path_scans_and_each_is_one_dynamodb_call() {
    let (app, recorder) = support::spawn_recorded_app().await;
    let admin = app.admin_token().await;
    let guest = app.guest_token().await;
    let id = app.create_product(&admin, "X-Tudo", "sandwich", 3490).await;
    app.create_product(&admin, "Água", "drink", 450).await;
    recorder.take();

    let calls = [
        (
            "GET /products",
            app.get_as("/products?limit=1", &guest).await.status,
        ),
        (
            "GET /products?category",
            app.get_as("/products?category=drink", &guest).await.status,
        ),
        (
            "GET /products/{id}",
            app.get_as(&format!("/products/{id}"), &guest).await.status,
        ),
        (
            "PUT /products/{id}",
            app.put_as(
                &format!("/products/{id}"),
                &admin,
                json!({"name": "X-Tudo", "category": "sandwich", "price_cents": 3590}),
            )
            .await
            .status,
        ),
        (
            "POST /products",
            app.post_as(
                "/products",
                &admin,
                json!({"name": "Brigadeiro", "category": "dessert", "price_cents": 390}),
            )
            .await
            .status,
        ),
        (
            "DELETE /products/{id}",
            app.delete_as(&format!("/products/{id}"), &admin)
                .await
                .status,
        ),
    ];
    let operations = recorder.take();
    assert!(calls.iter().all(|(_, status)| *status < 300), "{calls:?}");
    let dynamodb: Vec<&String> = operations
        .iter()
        .filter(|o| o.starts_with("DynamoDB"))
        .collect();
    assert!(
        !operations.iter().any(|o| o.contains("Scan")),
        "{operations:?}"
    );
    assert_eq!(
        dynamodb,
        [
            "Query",
            "Query",
            "GetItem",
            "UpdateItem",
            "PutItem",
            "UpdateItem"
        ]
        .map(|o| format!("DynamoDB_20120810.{o}"))
        .iter()
        .collect::<Vec<_>>(),
        "one DynamoDB call per request"
    );
}
