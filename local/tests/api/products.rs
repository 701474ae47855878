//! The menu over HTTP: roles, validation, listing by category, pagination,
//! soft delete, sold out and back, and no Scan on any path.

use crate::helpers::{Page, TestApp, open_shop, spawn_app, spawn_recorded_app};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::money::Money;
use shared::domain::product::Product;
use std::collections::HashSet;

fn names(products: &[Product]) -> Vec<&str> {
    products.iter().map(|p| p.name.as_str()).collect()
}

#[tokio::test]
async fn only_admins_write_the_menu() {
    let shop = open_shop().await;
    let (admin, id) = (&shop.admin, &shop.burger);
    shop.signed_up("529.982.247-25", "Ana").await;
    let customer = shop.customer_token("52998224725").await;
    let body = json!({"name": "X-Egg", "category": "sandwich", "price_cents": 2590});
    for token in [&shop.kitchen, &shop.guest, &customer] {
        for answer in [
            shop.post_product(token, body.clone()).await,
            shop.put_product(token, id, body.clone()).await,
            shop.delete_product(token, id).await,
        ] {
            answer.expect_error(403, "forbidden");
        }
        // Every role reads.
        shop.get_product(token, id).await.expect::<Product>(200);
        let listed = shop.list_products(token, "").await;
        listed.expect::<Page<Product>>(200);
    }
    let unchanged: Product = shop.get_product(admin, id).await.json();
    assert_eq!(unchanged.name, "X-Burger", "refused writes changed nothing");
    let anonymous = shop
        .send(shop.request(Method::GET, "/products", None))
        .await;
    assert_eq!(anonymous.status, 401);
}

/// A deleted product is 404 on every route, and gone from the list.
async fn assert_gone(app: &TestApp, admin: &str, id: &str) {
    let back = json!({"name": "Back", "category": "sandwich", "price_cents": 1});
    for answer in [
        app.get_product(admin, id).await,
        app.put_product(admin, id, back).await,
        app.delete_product(admin, id).await,
        app.get_product(admin, "no-such-id").await,
    ] {
        answer.expect_error(404, "product_not_found");
    }
    let listed = app.walk_products(admin, "limit=100").await;
    assert!(listed.is_empty(), "gone from the list");
}

#[tokio::test]
async fn a_product_is_created_read_updated_and_soft_deleted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let salada = json!({"name": "X-Salada", "description": "Com alface", "category": "sandwich",
        "price_cents": 2690, "image_url": "https://cdn.example.com/x-salada.png"});
    let created = app.post_product(&admin, salada).await;
    // Every key is there: the contract check of `send` requires them all.
    let product: Product = created.expect(201);
    assert!(product.active);
    let id = product.id.as_str();
    assert_eq!(app.get_product(&admin, id).await.body, created.body);

    let update = json!({"name": "X-Salada Especial", "category": "sandwich", "price_cents": 2890});
    let updated: Product = app.put_product(&admin, id, update).await.expect(200);
    assert_eq!(updated.name, "X-Salada Especial");
    assert_eq!(updated.price_cents, Money::cents(2890));
    let replaced = updated.image_url.is_none();
    assert!(replaced, "PUT replaces: no image_url given, none kept");
    assert_eq!(updated.created_at, product.created_at);

    let deleted = app.delete_product(&admin, id).await;
    assert_eq!((deleted.status, &deleted.body), (204, &Value::Null));
    assert_gone(&app, &admin, id).await;

    // Still readable for past orders: the item is kept, inactive.
    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(&app.sdk),
        app.stack.get("ProductsTable").unwrap(),
    );
    let kept = store
        .get(&shared::domain::ProductId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.active, kept.name),
        (false, "X-Salada Especial".to_owned())
    );
}

/// The product as stored in the table, active or not, if there is one.
async fn stored(app: &TestApp, id: &str) -> Option<Product> {
    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(&app.sdk),
        app.stack.get("ProductsTable").unwrap(),
    );
    store
        .get(&shared::domain::ProductId::parse(id).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_kitchen_and_admins_mark_a_product_sold_out_and_back() {
    let shop = open_shop().await;
    let id = &shop.burger;
    let fries = shop
        .create_product(&shop.admin, "Batata Frita", "side", 1290)
        .await;
    let created: Product = shop.get_product(&shop.guest, id).await.expect(200);
    assert!(created.available, "a new product is available");

    for staff in [&shop.kitchen, &shop.admin] {
        let sold_out = shop.set_available(staff, id, false).await;
        assert_eq!(
            (sold_out.active, &sold_out.name, sold_out.price_cents),
            (true, &created.name, created.price_cents),
            "only availability changes"
        );
        assert!(sold_out.updated_at >= created.updated_at);
        assert_eq!(sold_out.created_at, created.created_at);
        // Every role still sees it, sold out: by id, in the menu, in its category.
        let read: Product = shop.get_product(&shop.guest, id).await.expect(200);
        assert_eq!(read, sold_out);
        for query in ["", "category=sandwich", "limit=1"] {
            let listed = shop.walk_products(&shop.guest, query).await;
            let burger = listed.iter().find(|p| p.id.as_str() == id.as_str());
            assert_eq!(burger, Some(&sold_out), "listed sold out ({query})");
        }
        let listed = shop.walk_products(&shop.guest, "").await;
        let others = listed.iter().filter(|p| p.id.as_str() != id.as_str());
        assert!(others.map(|p| p.id.to_string()).eq([fries.clone()]));
        assert!(
            listed
                .iter()
                .all(|p| p.available != (p.id.as_str() == id.as_str()))
        );
        // Marking it sold out again is no error.
        shop.set_available(staff, id, false).await;

        let back = shop.set_available(staff, id, true).await;
        assert!(back.active);
        let read: Product = shop.get_product(&shop.guest, id).await.expect(200);
        assert!(read.available, "back in stock");
        let listed = shop.walk_products(&shop.guest, "category=sandwich").await;
        assert!(listed.iter().all(|p| p.available));
    }
}

#[tokio::test]
async fn guests_and_customers_may_not_mark_a_product_sold_out() {
    let shop = open_shop().await;
    let id = &shop.burger;
    shop.signed_up("529.982.247-25", "Ana").await;
    let customer = shop.customer_token("52998224725").await;
    for token in [&shop.guest, &customer] {
        for available in [false, true] {
            let answer = shop.patch_product(token, id, json!({ "available": available }));
            answer.await.expect_error(403, "forbidden");
        }
    }
    let anonymous = shop.request(Method::PATCH, &format!("/products/{id}"), None);
    let anonymous = shop
        .send(anonymous.json(&json!({"available": false})))
        .await;
    assert_eq!(anonymous.status, 401);
    let unchanged: Product = shop.get_product(&shop.admin, id).await.expect(200);
    assert!(unchanged.available, "refused changes changed nothing");
}

#[tokio::test]
async fn unknown_or_deleted_products_are_404_and_stay_deleted() {
    let shop = open_shop().await;
    let gone = shop
        .create_product(&shop.admin, "X-Bacon", "sandwich", 2790)
        .await;
    assert_eq!(shop.delete_product(&shop.admin, &gone).await.status, 204);
    let before = stored(&shop, &gone).await.unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();

    for staff in [&shop.kitchen, &shop.admin] {
        for available in [true, false] {
            let body = json!({ "available": available });
            for id in [&gone, &unknown] {
                let answer = shop.patch_product(staff, id, body.clone()).await;
                answer.expect_error(404, "product_not_found");
            }
        }
    }

    // Never resurrected, never partly written, nothing created.
    assert_eq!(stored(&shop, &gone).await, Some(before));
    assert_eq!(stored(&shop, &unknown).await, None);
    let read = shop.get_product(&shop.admin, &gone).await;
    read.expect_error(404, "product_not_found");
    let listed = shop.walk_products(&shop.guest, "").await;
    assert_eq!(names(&listed), ["X-Burger"]);
}

#[tokio::test]
async fn an_availability_change_is_exactly_one_boolean_or_400() {
    let shop = open_shop().await;
    let (kitchen, id) = (&shop.kitchen, &shop.burger);
    let refused = [
        json!({}),
        json!({"available": null}),
        json!({"available": "false"}),
        json!({"available": 0}),
        json!({"available": false, "name": "X-Egg"}),
        json!({"available": false, "active": false}),
        json!({"active": false}),
        json!([{"available": false}]),
        json!(false),
    ];
    for body in refused {
        let answer = shop.patch_product(kitchen, id, body).await;
        answer.expect_error(400, "invalid_body");
    }
    let path = format!("/products/{id}");
    for raw in ["{nope", ""] {
        let request = shop.request(Method::PATCH, &path, Some(kitchen));
        let answer = shop.send(request.body(raw.to_owned())).await;
        answer.expect_error(400, "invalid_body");
    }
    let unchanged: Product = shop.get_product(kitchen, id).await.expect(200);
    assert!(unchanged.available && unchanged.active, "{unchanged:?}");
}

/// X-Burger's body with `key` set to `value`.
fn burger_with(key: &str, value: Value) -> Value {
    let mut body = json!({"name": "X-Burger", "category": "sandwich", "price_cents": 2490});
    body[key] = value;
    body
}

/// Every body a product write refuses, with the code of its refusal.
fn invalid_bodies() -> Vec<(Value, &'static str)> {
    vec![
        (burger_with("name", json!("")), "invalid_name"),
        (burger_with("name", json!("n".repeat(81))), "invalid_name"),
        (
            burger_with("description", json!("d".repeat(501))),
            "invalid_description",
        ),
        (burger_with("price_cents", json!(0)), "invalid_price"),
        (
            burger_with("price_cents", json!(1_000_001)),
            "invalid_price",
        ),
        (burger_with("price_cents", json!(24.9)), "invalid_price"),
        (burger_with("price_cents", json!("2490")), "invalid_price"),
        (burger_with("category", json!("pizza")), "invalid_category"),
        (
            burger_with("image_url", json!("http://cdn.example.com/x.png")),
            "invalid_image_url",
        ),
        (burger_with("active", json!(false)), "invalid_body"),
        (burger_with("id", json!("chosen-by-client")), "invalid_body"),
    ]
}

#[tokio::test]
async fn each_validation_rule_is_a_400_with_its_code() {
    let shop = open_shop().await;
    let (admin, id) = (&shop.admin, &shop.burger);

    for (body, code) in invalid_bodies() {
        let created = shop.post_product(admin, body.clone()).await;
        created.expect_error(400, code);
        let updated = shop.put_product(admin, id, body).await;
        updated.expect_error(400, code);
    }
    let not_json = shop.post_raw_as("/products", admin, "{nope").await;
    not_json.expect_error(400, "invalid_body");

    let listed = shop.walk_products(admin, "limit=100").await;
    assert_eq!(listed.len(), 1, "no refused write landed");
    for price in [1, 1_000_000] {
        let at_limit = shop.post_product(admin, burger_with("price_cents", json!(price)));
        at_limit.await.expect::<Product>(201);
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
    let deleted = app.delete_product(&admin, &ids["X-Bacon"]).await;
    assert_eq!(deleted.status, 204);

    let sandwiches = app.walk_products(&admin, "category=sandwich").await;
    let drinks = app.walk_products(&admin, "category=drink&limit=1").await;

    assert_eq!(names(&sandwiches), ["X-Burger"]);
    assert_eq!(names(&drinks), ["Coca-Cola", "Guaraná"]);
    assert!(
        drinks
            .iter()
            .all(|p| p.category.as_str() == "drink" && p.active)
    );
    assert_eq!(app.walk_products(&admin, "limit=100").await.len(), 5);
}

#[tokio::test]
async fn walking_23_products_seven_at_a_time_returns_each_exactly_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let categories = ["sandwich", "side", "drink", "dessert"];
    let mut created = HashSet::new();
    for i in 0..23 {
        let name = format!("Produto {i:02}");
        let price = 500 + i as i64;
        created.insert(
            app.create_product(&admin, &name, categories[i % 4], price)
                .await,
        );
    }
    let guest = app.guest_token().await;

    let pages: Vec<Page<Product>> = app.pages(&guest, "/products?limit=7").await;

    assert!(pages.len() >= 4, "{} pages", pages.len());
    assert!(pages.iter().all(|page| page.items.len() <= 7));
    let seen: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.items)
        .map(|p| p.id.to_string())
        .collect();
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
    let first = app.list_products(&admin, "category=drink&limit=1").await;
    let drink_cursor = first.json::<Page<Product>>().next_cursor.unwrap();
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
        app.list_products(&admin, &query)
            .await
            .expect_error(400, code);
    }
}

#[tokio::test]
async fn no_request_path_scans_and_each_is_one_dynamodb_call() {
    let (app, recorder) = spawn_recorded_app().await;
    let admin = app.admin_token().await;
    let guest = app.guest_token().await;
    let id = app.create_product(&admin, "X-Tudo", "sandwich", 3490).await;
    app.create_product(&admin, "Água", "drink", 450).await;
    let tudo = json!({"name": "X-Tudo", "category": "sandwich", "price_cents": 3590});
    let brigadeiro = json!({"name": "Brigadeiro", "category": "dessert", "price_cents": 390});
    recorder.take();

    let answers = [
        app.list_products(&guest, "limit=1").await,
        app.list_products(&guest, "category=drink").await,
        app.get_product(&guest, &id).await,
        app.put_product(&admin, &id, tudo).await,
        app.patch_product(&admin, &id, json!({"available": false}))
            .await,
        app.post_product(&admin, brigadeiro).await,
        app.delete_product(&admin, &id).await,
    ];

    let (dynamodb, operations) = recorder.take_dynamodb();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|status| *status < 300), "{statuses:?}");
    assert!(
        !operations.iter().any(|o| o.contains("Scan")),
        "{operations:?}"
    );
    let one_each = [
        "Query",
        "Query",
        "GetItem",
        "UpdateItem",
        "UpdateItem",
        "PutItem",
        "UpdateItem",
    ];
    assert_eq!(
        dynamodb,
        one_each.map(|o| format!("DynamoDB_20120810.{o}")),
        "one DynamoDB call per request"
    );
}
