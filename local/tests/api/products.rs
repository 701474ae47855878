//! The menu over HTTP: roles, validation, listing by category, pagination,
//! soft delete, sold out at one store and back, and no Scan on any path.

use crate::helpers::{Page, TestApp, open_shop, spawn_app, spawn_recorded_app, token_of};
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

/// Store `store`'s sold-out set, as its record holds it.
async fn sold_out_at(app: &TestApp, store: &str) -> std::collections::BTreeSet<String> {
    let stores = shared::store::stores::StoreStore::new(
        aws_sdk_dynamodb::Client::new(&app.sdk),
        app.stack.get("StoresTable").unwrap(),
    );
    let id = shared::domain::StoreId::parse(store).unwrap();
    stores.get(&id).await.unwrap().unwrap().sold_out
}

/// A guest at a kiosk of `store`.
async fn guest_at(app: &TestApp, store: &str) -> String {
    let (kiosk, secret) = app.enrol_kiosk_at("Totem B", store).await;
    let kiosk = token_of(app.kiosk_sign_in(&kiosk, &secret).await);
    token_of(app.post_as("/auth/guest", &kiosk, Value::Null).await)
}

/// Whether `token` reads product `id` available, by id and in every list.
async fn reads_available(app: &TestApp, token: &str, id: &str, query: &str) -> bool {
    let sep = if query.is_empty() { "" } else { "?" };
    let read: Product = app
        .get_as(&format!("/products/{id}{sep}{query}"), token)
        .await
        .expect(200);
    let category = format!("category={}", read.category.as_str());
    for list in ["", &category, "limit=1"] {
        let query = [list, query]
            .iter()
            .filter(|q| !q.is_empty())
            .copied()
            .collect::<Vec<_>>();
        let listed = app.walk_products(token, &query.join("&")).await;
        let found = listed.iter().find(|p| p.id.as_str() == id);
        assert_eq!(found, Some(&read), "listed as read ({query:?})");
    }
    read.available
}

#[tokio::test]
async fn a_stores_kitchen_and_admins_sell_a_product_out_at_that_store_only() {
    let shop = open_shop().await;
    let (id, home, other) = (
        &shop.burger,
        shop.home_store().await,
        shop.other_store().await,
    );
    let guest_b = guest_at(&shop, &other).await;
    let fries = shop
        .create_product(&shop.admin, "Batata Frita", "side", 1290)
        .await;
    let created: Product = shop.get_product(&shop.guest, id).await.expect(200);
    assert!(created.available, "a new product is available");
    let before = stored(&shop, id).await;

    for staff in [&shop.kitchen, &shop.admin] {
        shop.set_available(staff, id, false).await;
        // This store's guests see it listed, sold out; nothing else changed.
        assert!(!reads_available(&shop, &shop.guest, id, "").await);
        let read: Product = shop.get_product(&shop.guest, id).await.expect(200);
        assert_eq!(
            read,
            Product {
                available: false,
                ..created.clone()
            }
        );
        assert!(reads_available(&shop, &shop.guest, &fries, "").await);
        // The other store still sells it, and so reads the chain's admin,
        // unless it asks as at this store.
        assert!(reads_available(&shop, &guest_b, id, "").await);
        assert!(reads_available(&shop, &shop.admin, id, "").await);
        let at_home = format!("store_id={home}");
        assert!(!reads_available(&shop, &shop.admin, id, &at_home).await);
        let at_other = format!("store_id={other}");
        assert!(reads_available(&shop, &shop.admin, id, &at_other).await);
        // Selling it out again is no error.
        shop.set_available(staff, id, false).await;
        assert_eq!(sold_out_at(&shop, &home).await.len(), 1);

        shop.set_available(staff, id, true).await;
        assert!(
            reads_available(&shop, &shop.guest, id, "").await,
            "back in stock"
        );
        assert!(sold_out_at(&shop, &home).await.is_empty());
    }
    // The product itself was never written.
    assert_eq!(stored(&shop, id).await, before);
    assert!(sold_out_at(&shop, &other).await.is_empty());
    let unknown = format!("/products/{id}?store_id={}", uuid::Uuid::new_v4());
    let answer = shop.get_as(&unknown, &shop.admin).await;
    answer.expect_error(404, "store_not_found");
}

#[tokio::test]
async fn guests_customers_and_other_stores_staff_may_not_sell_a_product_out() {
    let shop = open_shop().await;
    let (id, home, other) = (
        &shop.burger,
        shop.home_store().await,
        shop.other_store().await,
    );
    shop.signed_up("529.982.247-25", "Ana").await;
    let customer = shop.customer_token("52998224725").await;
    let kiosk = shop.kiosk_token().await;
    for token in [&shop.guest, &customer, &kiosk] {
        for available in [false, true] {
            let body = json!({ "product_id": id, "available": available });
            let answer = shop.patch_availability(token, &home, body);
            answer.await.expect_error(403, "forbidden");
        }
    }
    // Home's kitchen and manager are nobody at the other store: 404.
    for token in [&shop.kitchen, &shop.manager_token().await] {
        let body = json!({ "product_id": id, "available": false });
        let answer = shop.patch_availability(token, &other, body).await;
        answer.expect_error(404, "store_not_found");
    }
    let path = format!("/stores/{home}/availability");
    let anonymous = shop.request(Method::PATCH, &path, None);
    let body = json!({"product_id": id, "available": false});
    assert_eq!(shop.send(anonymous.json(&body)).await.status, 401);
    assert!(reads_available(&shop, &shop.guest, id, "").await);
    assert!(sold_out_at(&shop, &home).await.is_empty());
    assert!(sold_out_at(&shop, &other).await.is_empty());
}

#[tokio::test]
async fn unknown_or_deleted_products_stores_and_options_are_404_and_nothing_is_written() {
    let shop = open_shop().await;
    let home = shop.home_store().await;
    let gone = shop
        .create_product(&shop.admin, "X-Bacon", "sandwich", 2790)
        .await;
    assert_eq!(shop.delete_product(&shop.admin, &gone).await.status, 204);
    let before = stored(&shop, &gone).await.unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();

    for staff in [&shop.kitchen, &shop.admin] {
        for available in [true, false] {
            for id in [&gone, &unknown] {
                let body = json!({ "product_id": id, "available": available });
                let answer = shop.patch_availability(staff, &home, body).await;
                answer.expect_error(404, "product_not_found");
            }
            // No option is on the menu until modifiers arrive.
            let body = json!({ "option_id": "bacon", "available": available });
            let answer = shop.patch_availability(staff, &home, body).await;
            answer.expect_error(404, "option_not_found");
        }
    }
    let body = json!({ "product_id": shop.burger, "available": false });
    let answer = shop.patch_availability(&shop.admin, &unknown, body).await;
    answer.expect_error(404, "store_not_found");

    // Never resurrected, never partly written, nothing created.
    assert_eq!(stored(&shop, &gone).await, Some(before));
    assert_eq!(stored(&shop, &unknown).await, None);
    assert!(sold_out_at(&shop, &home).await.is_empty());
    let stores = shared::store::stores::StoreStore::new(
        aws_sdk_dynamodb::Client::new(&shop.sdk),
        shop.stack.get("StoresTable").unwrap(),
    );
    let unknown_store = shared::domain::StoreId::parse(&unknown).unwrap();
    assert_eq!(
        stores.get(&unknown_store).await.unwrap(),
        None,
        "no store created"
    );
    let read = shop.get_product(&shop.admin, &gone).await;
    read.expect_error(404, "product_not_found");
    let listed = shop.walk_products(&shop.guest, "").await;
    assert_eq!(names(&listed), ["X-Burger"]);
}

#[tokio::test]
async fn an_availability_change_names_one_product_or_option_with_a_boolean_or_400() {
    let shop = open_shop().await;
    let (kitchen, id, home) = (&shop.kitchen, &shop.burger, shop.home_store().await);
    let refused = [
        json!({}),
        json!({"available": false}),
        json!({"product_id": id}),
        json!({"product_id": id, "available": null}),
        json!({"product_id": id, "available": "false"}),
        json!({"product_id": id, "available": 0}),
        json!({"product_id": id, "available": false, "name": "X-Egg"}),
        json!({"product_id": id, "option_id": "bacon", "available": false}),
        json!({"product_id": 7, "available": false}),
        json!([{"product_id": id, "available": false}]),
        json!(false),
    ];
    for body in refused {
        let answer = shop.patch_availability(kitchen, &home, body).await;
        answer.expect_error(400, "invalid_body");
    }
    let path = format!("/stores/{home}/availability");
    for raw in ["{nope", ""] {
        let request = shop.request(Method::PATCH, &path, Some(kitchen));
        let answer = shop.send(request.body(raw.to_owned())).await;
        answer.expect_error(400, "invalid_body");
    }
    let unchanged: Product = shop.get_product(kitchen, id).await.expect(200);
    assert!(unchanged.available && unchanged.active, "{unchanged:?}");
    assert!(sold_out_at(&shop, &home).await.is_empty());
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

/// The DynamoDB calls made since the last take, sorted (the concurrent ones
/// come in any order), after `answer` succeeded.
fn calls(recorder: &crate::helpers::Recorder, answer: &crate::helpers::Answer) -> Vec<String> {
    assert!(answer.status < 300, "{} {}", answer.status, answer.body);
    let (mut dynamodb, operations) = recorder.take_dynamodb();
    assert!(
        !operations.iter().any(|o| o.contains("Scan")),
        "{operations:?}"
    );
    dynamodb.sort();
    dynamodb
        .into_iter()
        .map(|o| o.trim_start_matches("DynamoDB_20120810.").to_owned())
        .collect()
}

#[tokio::test]
async fn no_request_path_scans_and_each_makes_a_fixed_number_of_dynamodb_calls() {
    let (app, recorder) = spawn_recorded_app().await;
    let admin = app.admin_token().await;
    let guest = app.guest_token().await;
    let home = app.home_store().await;
    let id = app.create_product(&admin, "X-Tudo", "sandwich", 3490).await;
    app.create_product(&admin, "Água", "drink", 450).await;
    let tudo = json!({"name": "X-Tudo", "category": "sandwich", "price_cents": 3590});
    let brigadeiro = json!({"name": "Brigadeiro", "category": "dessert", "price_cents": 390});
    let sold_out = json!({"product_id": id, "available": false});
    recorder.take();

    // A menu read at a store reads its sold-out set beside the menu, at once.
    let answer = app.list_products(&guest, "limit=1").await;
    assert_eq!(calls(&recorder, &answer), ["GetItem", "Query"]);
    let answer = app.list_products(&guest, "category=drink").await;
    assert_eq!(calls(&recorder, &answer), ["GetItem", "Query"]);
    let answer = app.list_products(&admin, "").await;
    assert_eq!(
        calls(&recorder, &answer),
        ["Query"],
        "the chain's: no store"
    );
    // The same pages again within MENU_CACHE_SECONDS: the menu from the
    // instance's memory, the store's sold-out set read as ever.
    let answer = app.list_products(&guest, "limit=1").await;
    assert_eq!(calls(&recorder, &answer), ["GetItem"]);
    let answer = app.list_products(&admin, "").await;
    assert_eq!(calls(&recorder, &answer), [] as [&str; 0]);
    let answer = app.get_product(&guest, &id).await;
    assert_eq!(calls(&recorder, &answer), ["GetItem", "GetItem"]);
    // Writes: one each; selling out reads the product first.
    let answer = app.put_product(&admin, &id, tudo).await;
    assert_eq!(calls(&recorder, &answer), ["UpdateItem"]);
    // A write clears the instance's pages: the next read sees it.
    let answer = app.list_products(&admin, "").await;
    assert_eq!(calls(&recorder, &answer), ["Query"]);
    let page: Value = answer.json();
    let tudo = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id.as_str());
    assert_eq!(
        tudo.map(|p| p["price_cents"].clone()),
        Some(json!(3590)),
        "{page}"
    );
    let answer = app.patch_availability(&admin, &home, sold_out).await;
    assert_eq!(calls(&recorder, &answer), ["GetItem", "UpdateItem"]);
    let answer = app.post_product(&admin, brigadeiro).await;
    assert_eq!(calls(&recorder, &answer), ["PutItem"]);
    let answer = app.delete_product(&admin, &id).await;
    assert_eq!(calls(&recorder, &answer), ["UpdateItem"]);
}
