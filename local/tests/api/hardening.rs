//! The edge: no caching of tokens or personal data, bodies bounded before
//! parsing, and text that cannot hide or reorder what a screen shows.

use crate::helpers::{open_shop, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::product::Product;

#[tokio::test]
async fn tokens_and_personal_data_are_never_cacheable() {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    let kiosk = shop.kiosk_token().await;
    let cache_control = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let value = response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), value)
    };
    for (what, request, status) in [
        (
            "guest token",
            shop.request(Method::POST, "/auth/guest", Some(&kiosk)),
            200,
        ),
        (
            "staff token",
            shop.request(Method::POST, "/auth/staff", None)
                .json(&json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD})),
            200,
        ),
        (
            "customers",
            shop.request(Method::GET, "/customers", Some(&shop.admin)),
            200,
        ),
        (
            "an order",
            shop.request(
                Method::GET,
                &format!("/orders/{}", order.id),
                Some(&shop.guest),
            ),
            200,
        ),
        (
            "validation",
            shop.request(Method::POST, "/validate", None)
                .json(&json!({"token": shop.guest})),
            200,
        ),
        (
            "an error",
            shop.request(Method::POST, "/auth/staff", None)
                .json(&json!({})),
            400,
        ),
    ] {
        let answer = cache_control(request).await;
        assert_eq!(answer, (status, Some("no-store".into())), "{what}");
    }
    // The public, shared answers say how long they may be kept.
    let board_path = format!("/stores/{}/board", shop.home_store().await);
    let board = cache_control(shop.request(Method::GET, &board_path, None)).await;
    assert_eq!(board, (200, Some("public, max-age=5".into())));
    let jwks = cache_control(shop.request(Method::GET, "/.well-known/jwks.json", None)).await;
    assert_eq!(jwks, (200, Some("public, max-age=300".into())));
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_unread_with_413() {
    let shop = open_shop().await;
    let padding = "x".repeat(65 * 1024);
    let big = json!({"cpf": "529.982.247-25", "name": padding, "email": "a@b.co"}).to_string();
    let kiosk = shop.kiosk_token().await;
    shop.post_raw_as("/customers", &kiosk, &big)
        .await
        .expect_error(413, "body_too_large");
    shop.post_raw("/auth/staff", &format!("{{\"username\": \"{padding}\"}}"))
        .await
        .expect_error(413, "body_too_large");
    let items: Vec<Value> = (0..2000)
        .map(|_| json!({"product_id": shop.burger, "quantity": 1, "note": "n".repeat(40)}))
        .collect();
    let answer = shop
        .post_raw_as(
            "/orders",
            &shop.guest,
            &crate::helpers::order_body(Value::Array(items)).to_string(),
        )
        .await;
    answer.expect_error(413, "body_too_large");
    assert!(
        shop.my_orders(&shop.guest).await.is_empty(),
        "nothing was written"
    );
    let sold_out = json!({"product_id": shop.burger, "available": false, "note": padding});
    let home = shop.home_store().await;
    let answer = shop
        .patch_availability(&shop.kitchen, &home, sold_out)
        .await;
    answer.expect_error(413, "body_too_large");
    let burger: Product = shop
        .get_product(&shop.guest, &shop.burger)
        .await
        .expect(200);
    assert!(burger.available, "nothing was written");
    // Just under the bound is read (and refused for what it says).
    let under = json!({"token": "t".repeat(60 * 1024)}).to_string();
    assert_eq!(shop.post_raw("/validate", &under).await.status, 401);
}

#[tokio::test]
async fn names_and_notes_are_stored_composed_and_refused_with_invisible_characters() {
    let app = spawn_app().await;
    // "Joa" + COMBINING TILDE + "o" is stored as the one "João".
    let signed_up: Value = app
        .sign_up("529.982.247-25", "Joa\u{303}o Silva")
        .await
        .expect(201);
    assert_eq!(signed_up["first_name"], "João");
    for (cpf, name) in [
        ("111.444.777-35", "Ana\u{202e}airaM"),
        ("111.444.777-35", "An\u{200b}a"),
        ("111.444.777-35", "\u{feff}Ana"),
        ("111.444.777-35", "Ana\u{1b}[2J"),
    ] {
        app.sign_up(cpf, name)
            .await
            .expect_error(400, "invalid_name");
    }

    let shop = crate::helpers::stock(app).await;
    for note in ["sem\u{0}cebola", "sem cebola\u{202e}", "\u{200d}"] {
        let items = json!([{"product_id": shop.burger, "quantity": 1, "note": note}]);
        shop.checkout(&shop.guest, items)
            .await
            .expect_error(400, "invalid_body");
    }
    let composed =
        json!([{"product_id": shop.burger, "quantity": 1, "note": "sem pimenta\u{301}o"}]);
    let order = shop.place(&shop.guest, composed).await;
    // "a" + COMBINING ACUTE ACCENT is stored as the one "á".
    assert_eq!(order.items[0].note.as_deref(), Some("sem pimentáo"));
}
