//! The CPU work on the request paths, measured: `make bench`.
//! (Network round trips are counted by the end-to-end tests instead.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use shared::domain::ProductId;
use shared::domain::Subject;
use shared::domain::jwk::{PrivateKey, PublicKeys};
use shared::domain::keys::{KeySet, SigningKey};
use shared::domain::menu;
use shared::domain::money::Money;
use shared::domain::order::{Checkout, CheckoutBody, CheckoutLine};
use shared::domain::product::{Category, Product};
use shared::domain::token::TokenSettings;
use shared::service::tokens::TokenService;
use shared::store::keys::{KeyRing, KeySource};
use shared::{Cpf, Role};
use std::hint::black_box;
use std::time::Duration;

fn token_service() -> TokenService<KeyRing> {
    let private = PrivateKey::from_seed([7; 32]);
    let key = SigningKey::new("v1", private.to_jwk()).unwrap();
    let ring = KeyRing::new(
        KeySource::Fixed(KeySet {
            current: key,
            previous: None,
        }),
        Duration::from_secs(300),
    );
    let settings = TokenSettings {
        issuer: "kiosk-bench".into(),
        audience: "kiosk-api".into(),
        customer_ttl: Duration::from_secs(3600),
        staff_ttl: Duration::from_secs(8 * 3600),
    };
    TokenService::new(
        ring,
        PublicKeys::new(vec![private.public()]).unwrap(),
        settings,
    )
}

fn tokens(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let service = token_service();
    let guest: Subject = "guest:bench".parse().unwrap();
    let scope = shared::domain::token::Scope::chain();
    let token = runtime
        .block_on(service.issue(&guest, Role::Guest, &scope))
        .unwrap()
        .access_token;
    // The authorizer's whole path: Ed25519 verified, claims checked.
    c.bench_function("verify a token", |b| {
        b.iter(|| service.verify(black_box(&token)))
    });
    c.bench_function("issue a token (warm keys)", |b| {
        b.to_async(&runtime)
            .iter(|| service.issue(black_box(&guest), Role::Guest, &scope))
    });
}

fn cpf(c: &mut Criterion) {
    c.bench_function("parse a formatted CPF", |b| {
        b.iter(|| Cpf::parse(black_box("529.982.247-25")))
    });
}

fn checkout(c: &mut Criterion) {
    // Each burger: a size (default medium) and extras; each line picks the
    // large size, two extras and leaves the onion out.
    let groups = |i: i64| {
        serde_json::json!([
            {"id": format!("size-{i}"), "name": "Tamanho", "min": 1, "max": 1, "options": [
                {"id": format!("m-{i}"), "name": "Médio", "default": true},
                {"id": format!("g-{i}"), "name": "Grande", "price_delta_cents": 300}]},
            {"id": format!("extras-{i}"), "name": "Adicionais", "min": 0, "max": 2, "options": [
                {"id": format!("bacon-{i}"), "name": "Bacon", "price_delta_cents": 400},
                {"id": format!("cheddar-{i}"), "name": "Cheddar", "price_delta_cents": 300}]},
            {"id": format!("remove-{i}"), "name": "Retirar", "min": 0, "max": 1, "options": [
                {"id": format!("onion-{i}"), "name": "Sem cebola"}]}
        ])
    };
    let menu: std::collections::HashMap<ProductId, Product> = (0..50)
        .map(|i| {
            let id = ProductId::parse(&format!("p{i}")).unwrap();
            let product = Product {
                id: id.clone(),
                name: format!("Produto {i}"),
                description: String::new(),
                category: Category::Sandwich,
                price_cents: Money::cents(1000 + i),
                image_url: None,
                kind: Default::default(),
                modifier_groups: menu::parse_groups(Some(&groups(i))).unwrap(),
                slots: Vec::new(),
                allergens: Vec::new(),
                dietary: Vec::new(),
                available: true,
                active: true,
                created_at: shared::clock::now(),
                updated_at: shared::clock::now(),
            };
            (id, product)
        })
        .collect();
    let pick = |group: String, options: Vec<String>| menu::ModifierChoice {
        group_id: group,
        option_ids: options,
    };
    let body = CheckoutBody {
        items: (0..50)
            .map(|i| CheckoutLine {
                product_id: format!("p{i}"),
                quantity: 2,
                note: Some("bem passado".into()),
                modifiers: vec![
                    pick(format!("size-{i}"), vec![format!("g-{i}")]),
                    pick(
                        format!("extras-{i}"),
                        vec![format!("bacon-{i}"), format!("cheddar-{i}")],
                    ),
                    pick(format!("remove-{i}"), vec![format!("onion-{i}")]),
                ],
                slots: Vec::new(),
            })
            .collect(),
        fulfillment: Some("takeout".into()),
    };
    let sells = |_: &menu::MenuKey| true;
    c.bench_function(
        "validate and price a 50-line checkout with modifiers",
        |b| {
            b.iter(|| {
                let checkout = Checkout::try_from(black_box(&body).clone()).unwrap();
                checkout.price(black_box(&menu), &sells).unwrap()
            })
        },
    );
}

criterion_group!(benches, tokens, cpf, checkout);
criterion_main!(benches);
