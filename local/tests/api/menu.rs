//! The real menu over HTTP (issue 19): modifier groups and combos written
//! and refused by shape, checkout pricing every choice on the server,
//! snapshots that menu changes never alter, options sold out at one store,
//! the allergen filter, and the Mercado Pago items adding up to the total.

use crate::helpers::{Answer, Shop, open_shop_without_limits, order_body};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::order::Order;
use shared::domain::product::Product;

/// A burger with extras and removals, fries and a soda in sizes, a juice,
/// and a combo of them; their ids by name.
struct Menu {
    burger: String,
    fries: String,
    soda: String,
    juice: String,
    combo: String,
}

async fn created(shop: &Shop, body: Value) -> String {
    shop.post_product(&shop.admin, body)
        .await
        .expect::<Product>(201)
        .id
        .to_string()
}

fn burger_body() -> Value {
    json!({"name": "X-Salada", "category": "sandwich", "price_cents": 2690,
        "allergens": ["wheat", "milk", "eggs"],
        "modifier_groups": [
            {"id": "salada-extras", "name": "Adicionais", "min": 0, "max": 2, "options": [
                {"id": "salada-bacon", "name": "Bacon", "price_delta_cents": 400},
                {"id": "salada-cheddar", "name": "Cheddar", "price_delta_cents": 300}]},
            {"id": "salada-remove", "name": "Retirar", "min": 0, "max": 2, "options": [
                {"id": "salada-no-onion", "name": "Sem cebola"},
                {"id": "salada-no-tomato", "name": "Sem tomate"}]}]})
}

async fn menu(shop: &Shop) -> Menu {
    let burger = created(shop, burger_body()).await;
    let fries = created(shop, json!({"name": "Fritas", "category": "side", "price_cents": 990,
        "allergens": [],
        "modifier_groups": [{"id": "fritas-size", "name": "Tamanho", "min": 1, "max": 1, "options": [
            {"id": "fritas-p", "name": "Pequena", "price_delta_cents": -200},
            {"id": "fritas-m", "name": "Média", "default": true},
            {"id": "fritas-g", "name": "Grande", "price_delta_cents": 300}]}]}))
    .await;
    let soda = created(
        shop,
        json!({"name": "Refri", "category": "drink", "price_cents": 690,
        "allergens": [],
        "modifier_groups": [{"id": "refri-size", "name": "Tamanho", "min": 1, "max": 1, "options": [
            {"id": "refri-lata", "name": "Lata", "default": true},
            {"id": "refri-600", "name": "600 ml", "price_delta_cents": 300}]}]}),
    )
    .await;
    let juice = created(
        shop,
        json!({"name": "Vitamina", "category": "drink", "price_cents": 990,
        "allergens": ["milk"]}),
    )
    .await;
    let combo = created(
        shop,
        json!({"name": "Combo Salada", "category": "combo", "kind": "combo",
        "price_cents": 3490,
        "slots": [
            {"id": "sandwich", "name": "Lanche", "options": [{"product_id": burger}]},
            {"id": "side", "name": "Acompanhamento", "options": [{"product_id": fries}]},
            {"id": "drink", "name": "Bebida", "options": [
                {"product_id": soda}, {"product_id": juice, "price_delta_cents": 250}]}]}),
    )
    .await;
    Menu {
        burger,
        fries,
        soda,
        juice,
        combo,
    }
}

fn pick(group: &str, options: &[&str]) -> Value {
    json!({"group_id": group, "option_ids": options})
}

async fn place(shop: &Shop, token: &str, items: Value) -> Answer {
    shop.post_as("/orders", token, order_body(items)).await
}

#[tokio::test]
async fn each_invalid_shape_is_refused_naming_what_is_wrong_and_nothing_is_written() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let before = shop.walk_products(&shop.admin, "").await.len();
    let group = |id: &str, min: i64, max: i64, options: Value| json!({"id": id, "name": "G", "min": min, "max": max, "options": options});
    let item = |groups: Value| {
        json!({"name": "X-Teste", "category": "sandwich", "price_cents": 1000,
            "modifier_groups": groups})
    };
    let one = json!([{"id": "t-a", "name": "A"}]);
    let eleven: Vec<Value> = (0..11)
        .map(|i| {
            group(
                &format!("g{i}"),
                0,
                1,
                json!([{"id": format!("t{i}"), "name": "A"}]),
            )
        })
        .collect();
    let thirty_one: Vec<Value> = (0..31)
        .map(|i| json!({"id": format!("t-{i}"), "name": "A"}))
        .collect();
    let combo = |slots: Value| {
        json!({"name": "Combo Teste", "category": "combo", "kind": "combo", "price_cents": 3000,
            "slots": slots})
    };
    let slot =
        |product: &str| json!([{"id": "s", "name": "S", "options": [{"product_id": product}]}]);
    let cases = [
        (
            item(json!([group("size", 2, 1, one.clone())])),
            "invalid_modifiers",
            "group size: min",
        ),
        (
            item(Value::Array(eleven)),
            "invalid_modifiers",
            "modifier_groups (groups) is a list of 0 to 10",
        ),
        (
            item(json!([group("many", 0, 1, Value::Array(thirty_one))])),
            "invalid_modifiers",
            "group many: options",
        ),
        (
            item(json!([group(
                "more",
                0,
                1,
                json!([{"id": "salada-bacon", "name": "Bacon"}])
            )])),
            "invalid_modifiers",
            "option salada-bacon is already an option of product",
        ),
        (
            // 1000 - 1000: a free burger, and an order Mercado Pago refuses.
            item(json!([group(
                "cheap",
                1,
                1,
                json!([{"id": "t-cheap", "name": "C", "price_delta_cents": -1000}])
            )])),
            "invalid_modifiers",
            "free or its price negative",
        ),
        (
            item(json!([group(
                "sauces",
                2,
                2,
                json!([{"id": "t-s1", "name": "A", "default": true}, {"id": "t-s2", "name": "B"}])
            )])),
            "invalid_modifiers",
            "fewer than min (2)",
        ),
        (combo(slot(&menu.combo)), "invalid_combo", "is a combo"),
        (
            combo(slot("no-such-product")),
            "invalid_combo",
            "is not on the menu",
        ),
        (combo(json!([])), "invalid_combo", "1 to 10 slots"),
        (
            json!({"name": "X", "category": "sandwich", "price_cents": 100, "slots": slot(&menu.burger)}),
            "invalid_combo",
            "an item has no slots",
        ),
    ];
    for (body, code, named) in cases {
        let answer = shop.post_product(&shop.admin, body).await;
        answer.expect_error(400, code);
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{message:?} should name {named:?}");
    }
    // A deleted product, and the combo itself, are no slot's.
    shop.delete_product(&shop.admin, &menu.juice).await;
    let answer = shop
        .post_product(&shop.admin, combo(slot(&menu.juice)))
        .await;
    answer.expect_error(400, "invalid_combo");
    let itself = combo(slot(&menu.combo));
    let answer = shop.put_product(&shop.admin, &menu.combo, itself).await;
    answer.expect_error(400, "invalid_combo");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the combo itself")
    );
    assert_eq!(
        shop.walk_products(&shop.admin, "").await.len(),
        before - 1,
        "nothing written but the delete"
    );
}

#[tokio::test]
async fn checkout_applies_defaults_enforces_min_and_max_and_prices_combos_exactly() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let guest = &shop.guest;
    // Defaults: fries unmentioned are medium; the burger with its picks.
    let items = json!([
        {"product_id": menu.fries, "quantity": 2},
        {"product_id": menu.burger, "quantity": 1, "modifiers": [
            pick("salada-extras", &["salada-bacon", "salada-cheddar"]),
            pick("salada-remove", &["salada-no-onion"])]}
    ]);
    let order: Order = place(&shop, guest, items).await.expect(201);
    let fries = &order.items[0];
    assert_eq!(fries.modifiers[0].option_id, "fritas-m", "the default size");
    assert_eq!(
        (
            fries.unit_price_cents.as_cents(),
            fries.subtotal_cents.as_cents()
        ),
        (990, 1980)
    );
    let burger = &order.items[1];
    assert_eq!(burger.unit_price_cents.as_cents(), 2690 + 400 + 300);
    let names: Vec<&str> = burger.modifiers.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Bacon", "Cheddar", "Sem cebola"]);
    assert_eq!(order.total_cents.as_cents(), 1980 + 3390);

    // min and max: 422 invalid_choice naming the group.
    for (modifiers, named) in [
        (
            json!([pick("fritas-size", &[])]),
            "group fritas-size takes 1 to 1",
        ),
        (
            json!([pick("fritas-size", &["fritas-p", "fritas-g"])]),
            "group fritas-size takes 1 to 1",
        ),
        (
            json!([pick("fritas-sauce", &["x"])]),
            "has no group \"fritas-sauce\"",
        ),
        (
            json!([pick("fritas-size", &["salada-bacon"])]),
            "has no option \"salada-bacon\"",
        ),
    ] {
        let items = json!([{"product_id": menu.fries, "quantity": 1, "modifiers": modifiers}]);
        let answer = place(&shop, guest, items).await;
        answer.expect_error(422, "invalid_choice");
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{message:?} should name {named:?}");
    }

    // The combo: base + slot delta + its items' deltas, exactly.
    let combo = |drink: &str, side_size: &str| {
        json!([{"product_id": menu.combo, "quantity": 3, "slots": [
            {"slot_id": "sandwich", "product_id": menu.burger, "modifiers": [
                pick("salada-extras", &["salada-bacon"]), pick("salada-remove", &["salada-no-tomato"])]},
            {"slot_id": "side", "product_id": menu.fries, "modifiers": [pick("fritas-size", &[side_size])]},
            {"slot_id": "drink", "product_id": drink}]}])
    };
    let order: Order = place(&shop, guest, combo(&menu.juice, "fritas-g"))
        .await
        .expect(201);
    // Base, bacon, no tomato (0), large fries, the smoothie instead of a soda.
    let unit = 3490 + 400 + 300 + 250;
    assert_eq!(order.items[0].unit_price_cents.as_cents(), unit);
    assert_eq!(order.total_cents.as_cents(), unit * 3);
    let order: Order = place(&shop, guest, combo(&menu.soda, "fritas-p"))
        .await
        .expect(201);
    assert_eq!(order.items[0].unit_price_cents.as_cents(), 3490 + 400 - 200);
    let slots: Vec<(&str, &str)> = order.items[0]
        .slots
        .iter()
        .map(|s| (s.slot_id.as_str(), s.product_name.as_str()))
        .collect();
    assert_eq!(
        slots,
        [
            ("sandwich", "X-Salada"),
            ("side", "Fritas"),
            ("drink", "Refri")
        ]
    );
    assert_eq!(
        order.items[0].slots[2].modifiers[0].name, "Lata",
        "the drink's default size"
    );
    // A slot left empty, or filled with a product it does not offer.
    let mut missing = combo(&menu.soda, "fritas-m");
    missing[0]["slots"].as_array_mut().unwrap().pop();
    place(&shop, guest, missing)
        .await
        .expect_error(422, "invalid_choice");
    place(&shop, guest, combo(&menu.fries, "fritas-m"))
        .await
        .expect_error(422, "invalid_choice");

    // Eat here or take away is required.
    let body = json!({"items": [{"product_id": menu.fries, "quantity": 1}]});
    shop.post_as("/orders", guest, body)
        .await
        .expect_error(400, "invalid_body");
    let body =
        json!({"items": [{"product_id": menu.fries, "quantity": 1}], "fulfillment": "dine_in"});
    let order: Order = shop.post_as("/orders", guest, body).await.expect(201);
    assert_eq!(
        order.fulfillment,
        Some(shared::domain::order::Fulfillment::DineIn)
    );

    // The kitchen reads the same lines once it is paid.
    let order: Order = place(&shop, guest, combo(&menu.soda, "fritas-m"))
        .await
        .expect(201);
    shop.pay(&order.id).await;
    let queue: Value = shop.get_as("/orders", &shop.kitchen).await.expect(200);
    let line = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == order.id.as_str())
        .map(|o| o["items"][0].clone())
        .unwrap();
    assert_eq!(line, serde_json::to_value(&order.items[0]).unwrap());
    assert_eq!(line["slots"][0]["modifiers"][1]["name"], "Sem tomate");
}

#[tokio::test]
async fn a_placed_order_keeps_its_snapshot_after_a_price_change_and_a_delete() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let items = json!([{"product_id": menu.burger, "quantity": 2, "modifiers": [
        pick("salada-extras", &["salada-bacon"])]}]);
    let placed: Order = place(&shop, &shop.guest, items).await.expect(201);
    let mut changed = burger_body();
    changed["name"] = json!("X-Salada Nova");
    changed["price_cents"] = json!(3990);
    changed["modifier_groups"][0]["options"][0]["name"] = json!("Bacon Duplo");
    changed["modifier_groups"][0]["options"][0]["price_delta_cents"] = json!(900);
    shop.put_product(&shop.admin, &menu.burger, changed)
        .await
        .expect::<Value>(200);
    let after_change = shop.order(&placed.id).await;
    assert_eq!(after_change.items, placed.items);
    shop.delete_product(&shop.admin, &menu.burger).await;
    let after_delete = shop.order(&placed.id).await;
    assert_eq!(after_delete.items, placed.items);
    assert_eq!(after_delete.items[0].name, "X-Salada");
    assert_eq!(after_delete.items[0].modifiers[0].name, "Bacon");
    assert_eq!(after_delete.total_cents.as_cents(), (2690 + 400) * 2);
}

#[tokio::test]
async fn a_combo_whose_slot_can_no_longer_be_filled_shows_unavailable() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let home = shop.home_store().await;
    let (_, elsewhere) = guest_elsewhere(&shop).await;
    let combo_of = |answer: Answer| -> bool {
        let page: Value = answer.expect(200);
        let combo = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == menu.combo);
        combo.unwrap_or_else(|| panic!("{page}"))["available"] == true
    };
    assert!(combo_of(
        shop.list_products(&shop.guest, "category=combo").await
    ));
    // The drink slot offers two: with one gone, the other fills it.
    assert_eq!(
        shop.delete_product(&shop.admin, &menu.juice).await.status,
        204
    );
    assert!(combo_of(
        shop.list_products(&shop.guest, "category=combo").await
    ));
    // The side slot offers the fries only: sold out here, no combo here.
    shop.set_available_at(&shop.kitchen, &home, &menu.fries, false)
        .await;
    assert!(!combo_of(
        shop.list_products(&shop.guest, "category=combo").await
    ));
    let here: Product = shop.get_product(&shop.guest, &menu.combo).await.expect(200);
    assert!(!here.available);
    let combo = json!([{"product_id": menu.combo, "quantity": 1, "slots": [
        {"slot_id": "sandwich", "product_id": menu.burger},
        {"slot_id": "side", "product_id": menu.fries},
        {"slot_id": "drink", "product_id": menu.soda}]}]);
    place(&shop, &shop.guest, combo.clone())
        .await
        .expect_error(422, "product_unavailable");
    // Still whole at another store, until the fries leave the menu.
    assert!(combo_of(
        shop.list_products(&elsewhere, "category=combo").await
    ));
    place(&shop, &elsewhere, combo.clone())
        .await
        .expect::<Order>(201);
    assert_eq!(
        shop.delete_product(&shop.admin, &menu.fries).await.status,
        204
    );
    let there: Product = shop.get_product(&elsewhere, &menu.combo).await.expect(200);
    assert!(!there.available);
    // The chain's menu (an admin's, no store named) reads every product
    // available, as the contract says.
    let chain: Product = shop.get_product(&shop.admin, &menu.combo).await.expect(200);
    assert!(chain.available);
    place(&shop, &elsewhere, combo)
        .await
        .expect_error(422, "product_unavailable");
}

/// A guest at a kiosk of a new store, open all day.
async fn guest_elsewhere(shop: &Shop) -> (String, String) {
    let store = shop.other_store().await;
    let guest = shop.guest_at(&store).await;
    (store, guest)
}

#[tokio::test]
async fn an_option_sold_out_at_one_store_is_still_sold_at_another() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let home = shop.home_store().await;
    let (_, elsewhere) = guest_elsewhere(&shop).await;
    let out = json!({"option_id": "salada-bacon", "available": false});
    let answer = shop.patch_availability(&shop.kitchen, &home, out).await;
    assert_eq!(
        answer.expect::<Value>(200),
        json!({"store_id": home, "option_id": "salada-bacon", "available": false})
    );
    let unknown = json!({"option_id": "no-such-option", "available": false});
    shop.patch_availability(&shop.kitchen, &home, unknown)
        .await
        .expect_error(404, "option_not_found");

    let bacon = json!([{"product_id": menu.burger, "quantity": 1, "modifiers": [
        pick("salada-extras", &["salada-bacon"])]}]);
    let answer = place(&shop, &shop.guest, bacon.clone()).await;
    answer.expect_error(422, "option_unavailable");
    // The burger itself, and its other options, still sell here.
    let plain = json!([{"product_id": menu.burger, "quantity": 1}]);
    place(&shop, &shop.guest, plain).await.expect::<Order>(201);
    // Another store still sells bacon.
    let order: Order = place(&shop, &elsewhere, bacon).await.expect(201);
    assert_eq!(order.items[0].modifiers[0].option_id, "salada-bacon");
    // The menu says so, per store.
    let here: Product = shop
        .get_product(&shop.guest, &menu.burger)
        .await
        .expect(200);
    let there: Product = shop.get_product(&elsewhere, &menu.burger).await.expect(200);
    let bacon_of = |p: &Product| p.modifier_groups[0].options[0].available;
    assert_eq!(
        (here.available, bacon_of(&here), bacon_of(&there)),
        (true, false, true)
    );
    // A sold-out default is refused too: medium fries out, unmentioned size.
    let medium = json!({"option_id": "fritas-m", "available": false});
    shop.patch_availability(&shop.admin, &home, medium)
        .await
        .expect::<Value>(200);
    let fries = json!([{"product_id": menu.fries, "quantity": 1}]);
    place(&shop, &shop.guest, fries)
        .await
        .expect_error(422, "option_unavailable");
    let large = json!([{"product_id": menu.fries, "quantity": 1,
        "modifiers": [pick("fritas-size", &["fritas-g"])]}]);
    place(&shop, &shop.guest, large).await.expect::<Order>(201);
}

#[tokio::test]
async fn the_allergen_filter_leaves_out_items_and_combos_that_cannot_avoid_them() {
    let shop = open_shop_without_limits().await;
    menu(&shop).await;
    let names = |products: Vec<Product>| -> Vec<String> {
        let mut names: Vec<String> = products.into_iter().map(|p| p.name).collect();
        names.sort();
        names
    };
    let without = |query: &'static str| {
        let shop = &shop;
        async move { names(shop.walk_products(&shop.guest, query).await) }
    };
    let all = without("").await;
    assert!(all.contains(&"Vitamina".to_owned()) && all.contains(&"Combo Salada".to_owned()));
    // Milk: the burger and the smoothie go; the combo goes, its sandwich
    // slot having only the burger.
    let no_milk = without("exclude_allergens=milk").await;
    for gone in ["X-Salada", "Vitamina", "Combo Salada"] {
        assert!(!no_milk.contains(&gone.to_owned()), "{gone} in {no_milk:?}");
    }
    assert!(no_milk.contains(&"Fritas".to_owned()) && no_milk.contains(&"Refri".to_owned()));
    // Peanuts: nothing has them.
    assert_eq!(without("exclude_allergens=peanuts,latex").await, all);
    shop.list_products(&shop.guest, "exclude_allergens=gluten")
        .await
        .expect_error(400, "invalid_body");
}

#[tokio::test]
async fn the_mercado_pago_order_lists_each_line_at_its_unit_price_and_adds_up_to_the_total() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let items = json!([
        {"product_id": menu.combo, "quantity": 2, "slots": [
            {"slot_id": "sandwich", "product_id": menu.burger, "modifiers": [
                pick("salada-extras", &["salada-cheddar"])]},
            {"slot_id": "side", "product_id": menu.fries, "modifiers": [pick("fritas-size", &["fritas-g"])]},
            {"slot_id": "drink", "product_id": menu.juice}]},
        {"product_id": menu.soda, "quantity": 3, "modifiers": [pick("refri-size", &["refri-600"])]},
        {"product_id": menu.fries, "quantity": 1}
    ]);
    let order: Order = place(&shop, &shop.guest, items).await.expect(201);
    let answer = shop.request_payment(&shop.guest, &order.id).await;
    let payment: Value = answer.expect(201);
    let path = format!(
        "/v1/orders/{}",
        payment["provider_order_id"].as_str().unwrap()
    );
    let read = shop
        .to_mercadopago(Method::GET, &path)
        .send()
        .await
        .unwrap();
    let mp: Value = read.json().await.unwrap();
    let cents = |amount: &Value| -> i64 {
        let text = amount.as_str().unwrap();
        let (reais, centavos) = text.split_once('.').unwrap();
        reais.parse::<i64>().unwrap() * 100 + centavos.parse::<i64>().unwrap()
    };
    let lines: Vec<(i64, i64)> = mp["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (cents(&i["unit_price"]), i["quantity"].as_i64().unwrap()))
        .collect();
    let expected: Vec<(i64, i64)> = order
        .items
        .iter()
        .map(|l| (l.unit_price_cents.as_cents(), i64::from(l.quantity)))
        .collect();
    assert_eq!(lines, expected);
    let sum: i64 = lines.iter().map(|(unit, quantity)| unit * quantity).sum();
    assert_eq!(sum, cents(&mp["total_amount"]));
    assert_eq!(sum, order.total_cents.as_cents());
    assert_eq!(sum, (3490 + 300 + 300 + 250) * 2 + (690 + 300) * 3 + 990);
}

#[tokio::test]
async fn any_number_of_lines_modifiers_and_combo_choices_cost_the_same_round_trips() {
    let (app, recorder) = crate::helpers::spawn_recorded_app().await;
    let shop = crate::helpers::stock(app).await;
    let menu = menu(&shop).await;
    let plain = json!([{"product_id": menu.soda, "quantity": 1}]);
    let combo = json!({"product_id": menu.combo, "quantity": 2, "slots": [
        {"slot_id": "sandwich", "product_id": menu.burger, "modifiers": [
            pick("salada-extras", &["salada-bacon", "salada-cheddar"]),
            pick("salada-remove", &["salada-no-onion"])]},
        {"slot_id": "side", "product_id": menu.fries, "modifiers": [pick("fritas-size", &["fritas-g"])]},
        {"slot_id": "drink", "product_id": menu.juice}]});
    let mut big: Vec<Value> = (0..12).map(|_| combo.clone()).collect();
    big.push(
        json!({"product_id": menu.burger, "quantity": 1, "modifiers": [
        pick("salada-extras", &["salada-bacon"])]}),
    );
    big.push(json!({"product_id": menu.fries, "quantity": 3}));
    // Warm the function (another guest: this one's two open orders are
    // the two counted), then count.
    let other = shop.guest_token().await;
    place(&shop, &other, plain.clone())
        .await
        .expect::<Order>(201);
    recorder.take();
    let mut counted = Vec::new();
    for items in [plain, Value::Array(big)] {
        let order: Order = place(&shop, &shop.guest, items).await.expect(201);
        let (mut dynamodb, _) = recorder.take_dynamodb();
        dynamodb.sort();
        counted.push((order.items.len(), dynamodb));
    }
    assert_eq!(counted[1].0, 14);
    let expected = [
        "DynamoDB_20120810.BatchGetItem",
        "DynamoDB_20120810.TransactWriteItems",
    ];
    assert_eq!(
        counted[0].1, expected,
        "one read of the menu and the store, one write"
    );
    assert_eq!(
        counted[1].1, counted[0].1,
        "14 lines, 12 combos: the same calls"
    );
}

/// Values a fuzzer tries in a field: wrong types, edges, hostile text.
fn hostile(n: u64) -> Value {
    let values = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(31),
        json!(1_000_001),
        json!(i64::MIN),
        json!(1.5),
        json!(""),
        json!("x".repeat(300)),
        json!("../../etc"),
        json!("NUL\u{0}"),
        json!([]),
        json!([{}]),
        json!({}),
        json!([1, 2, 3]),
    ];
    values[(n % values.len() as u64) as usize].clone()
}

/// Every path to a value inside `v` (object keys and array indexes).
fn paths(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let mut next = at.clone();
            next.push(k.clone());
            paths(v, next, out);
        }),
        Value::Array(list) => list.iter().enumerate().for_each(|(i, v)| {
            let mut next = at.clone();
            next.push(i.to_string());
            paths(v, next, out);
        }),
        _ => {}
    }
}

/// `body` with the value at one of its paths replaced, chosen by `seed`.
fn mutated(body: &Value, seed: u64) -> Value {
    let mut all = Vec::new();
    paths(body, Vec::new(), &mut all);
    let path = &all[(seed as usize / 7) % all.len()];
    let mut out = body.clone();
    let pointer = format!("/{}", path.join("/"));
    if path.is_empty() {
        return hostile(seed);
    }
    if let Some(slot) = out.pointer_mut(&pointer) {
        *slot = hostile(seed);
    }
    out
}

#[tokio::test]
async fn mutated_product_and_order_bodies_never_get_a_5xx() {
    let shop = open_shop_without_limits().await;
    let menu = menu(&shop).await;
    let product = burger_body();
    let combo = json!({"name": "Combo F", "category": "combo", "kind": "combo", "price_cents": 3000,
        "slots": [{"id": "s", "name": "S", "options": [
            {"product_id": menu.burger, "price_delta_cents": 100}]}]});
    let order = order_body(json!([
        {"product_id": menu.combo, "quantity": 1, "slots": [
            {"slot_id": "sandwich", "product_id": menu.burger, "modifiers": [
                pick("salada-extras", &["salada-bacon"])]},
            {"slot_id": "side", "product_id": menu.fries},
            {"slot_id": "drink", "product_id": menu.soda}]},
        {"product_id": menu.fries, "quantity": 2, "modifiers": [pick("fritas-size", &["fritas-g"])]}
    ]));
    let mut answered = std::collections::BTreeMap::new();
    // A fixed sequence (no randomness between runs): 60 mutations of each.
    for seed in 0..60u64 {
        let seed = seed.wrapping_mul(2_654_435_761) % 10_007;
        for answer in [
            shop.post_product(&shop.admin, mutated(&product, seed))
                .await,
            shop.post_product(&shop.admin, mutated(&combo, seed)).await,
            shop.put_product(&shop.admin, &menu.fries, mutated(&product, seed + 1))
                .await,
            shop.post_as("/orders", &shop.guest, mutated(&order, seed))
                .await,
        ] {
            assert!(answer.status < 500, "{} {}", answer.status, answer.body);
            *answered.entry(answer.status).or_insert(0) += 1;
        }
    }
    // The mutations reach the validators (400s) and some still pass (201/200).
    assert!(
        answered.get(&400).copied().unwrap_or(0) > 40,
        "{answered:?}"
    );
    assert!(answered.keys().any(|s| *s < 300), "{answered:?}");
}
