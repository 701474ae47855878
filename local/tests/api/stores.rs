//! The chain's stores over HTTP: anyone reads them, only admins open and
//! change them; hours and timezones are validated, and `open_now` is judged
//! in each store's own timezone.

use crate::helpers::{Answer, Page, TestApp, open_shop, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The same intervals every day of the week.
fn week(day: Value) -> Value {
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

fn store_body(name: &str, timezone: &str, hours: Value) -> Value {
    json!({"name": name, "timezone": timezone, "hours": hours})
}

impl TestApp {
    pub async fn post_store(&self, token: &str, body: Value) -> Answer {
        self.post_as("/stores", token, body).await
    }

    pub async fn patch_store(&self, token: &str, id: &str, body: Value) -> Answer {
        let request = self.request(Method::PATCH, &format!("/stores/{id}"), Some(token));
        self.send(request.json(&body)).await
    }

    /// `GET /stores/{id}` without a token (the route is public).
    pub async fn get_store(&self, id: &str) -> Answer {
        self.send(self.request(Method::GET, &format!("/stores/{id}"), None))
            .await
    }

    /// A store opened by the admin, which must succeed: its id.
    pub async fn open_store(
        &self,
        admin: &str,
        name: &str,
        timezone: &str,
        hours: Value,
    ) -> String {
        let store: Value = self
            .post_store(admin, store_body(name, timezone, hours))
            .await
            .expect(201);
        store["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn anyone_reads_stores_and_only_admins_write_them() {
    let shop = open_shop().await;
    let always = week(json!([["00:00", "24:00"]]));
    let created: Value = shop
        .post_store(
            &shop.admin,
            store_body(" Centro ", "America/Sao_Paulo", always.clone()),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["name"], "Centro", "trimmed");
    assert_eq!(created["hours"], always);
    assert_eq!(
        (created["paused"].clone(), created["open_now"].clone()),
        (json!(false), json!(true))
    );

    // Public reads, no token.
    let read: Value = shop.get_store(id).await.expect(200);
    assert_eq!(read, created);
    let listed: Page<Value> = shop
        .send(shop.request(Method::GET, "/stores", None))
        .await
        .expect(200);
    assert!(listed.items.iter().any(|s| s["id"] == id));

    // Writes: admins only; without a token the gateway answers first.
    shop.signed_up("529.982.247-25", "Ana").await;
    let customer = shop.customer_token("52998224725").await;
    let kiosk = shop.kiosk_token().await;
    for token in [&shop.kitchen, &shop.guest, &customer, &kiosk] {
        shop.post_store(token, store_body("Sé", "America/Sao_Paulo", always.clone()))
            .await
            .expect_error(403, "forbidden");
        shop.patch_store(token, id, json!({"paused": true}))
            .await
            .expect_error(403, "forbidden");
    }
    let anonymous = shop
        .send(
            shop.request(Method::POST, "/stores", None)
                .json(&store_body("Sé", "UTC", always)),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    let unchanged: Value = shop.get_store(id).await.expect(200);
    assert_eq!(unchanged, created, "refused writes changed nothing");
}

#[tokio::test]
async fn a_patch_sets_only_what_it_names_and_never_creates() {
    let shop = open_shop().await;
    let id = shop
        .open_store(
            &shop.admin,
            "Shopping",
            "America/Sao_Paulo",
            week(json!([["10:00", "22:00"]])),
        )
        .await;
    let paused: Value = shop
        .patch_store(&shop.admin, &id, json!({"paused": true}))
        .await
        .expect(200);
    assert_eq!(
        (paused["paused"].clone(), paused["open_now"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(paused["name"], "Shopping", "untouched");
    assert_eq!(
        paused["hours"]["sun"],
        json!([["10:00", "22:00"]]),
        "untouched"
    );

    let mut sunday_off = week(json!([["10:00", "22:00"]]));
    sunday_off["sun"] = json!([]);
    let renamed: Value = shop
        .patch_store(
            &shop.admin,
            &id,
            json!({"name": "Shopping Norte", "hours": sunday_off, "timezone": "America/Manaus"}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Shopping Norte");
    assert_eq!(renamed["timezone"], "America/Manaus");
    assert_eq!(renamed["hours"], sunday_off);
    assert_eq!(renamed["paused"], true, "still paused");
    assert_eq!(shop.get_store(&id).await.expect::<Value>(200), renamed);

    // The list follows the new name.
    let listed: Vec<Value> = shop.walk(&shop.admin, "/stores?limit=100").await;
    assert!(
        listed
            .iter()
            .any(|s| s["id"] == id.as_str() && s["name"] == "Shopping Norte")
    );

    for missing in ["0b6f3c1e-3a53-4c2e-9d63-1f1b2a7c9e10", "not#an#id"] {
        shop.get_store(missing)
            .await
            .expect_error(404, "store_not_found");
        shop.patch_store(&shop.admin, missing, json!({"paused": false}))
            .await
            .expect_error(404, "store_not_found");
    }
    shop.get_store("0b6f3c1e-3a53-4c2e-9d63-1f1b2a7c9e10")
        .await
        .expect_error(404, "store_not_found");
}

#[tokio::test]
async fn bad_stores_are_refused_with_their_own_codes() {
    let shop = open_shop().await;
    let admin = &shop.admin;
    let good = week(json!([["11:00", "15:00"]]));
    let mut missing_day = good.clone();
    missing_day.as_object_mut().unwrap().remove("wed");
    for hours in [
        json!("11:00-15:00"),
        missing_day,
        week(json!([["15:00", "11:00"]])),
        week(json!([["11:00", "24:30"]])),
        week(json!([["11:00", "15:00"], ["14:00", "16:00"]])),
        week(json!([["11:00"]])),
        week(json!([[1100, 1500]])),
    ] {
        shop.post_store(admin, store_body("Sé", "America/Sao_Paulo", hours.clone()))
            .await
            .expect_error(400, "invalid_hours");
    }
    for timezone in [json!("Mars/Olympus"), json!("-03:00"), json!(""), json!(3)] {
        shop.post_store(
            admin,
            json!({"name": "Sé", "timezone": timezone, "hours": good}),
        )
        .await
        .expect_error(400, "invalid_timezone");
    }
    for name in [
        json!(""),
        json!("   "),
        json!("a\u{202e}b"),
        json!("x".repeat(81)),
        json!(null),
    ] {
        shop.post_store(
            admin,
            json!({"name": name, "timezone": "America/Sao_Paulo", "hours": good}),
        )
        .await
        .expect_error(400, "invalid_name");
    }
    let mut extra = store_body("Sé", "America/Sao_Paulo", good.clone());
    extra["open_now"] = json!(true);
    shop.post_store(admin, extra)
        .await
        .expect_error(400, "invalid_body");
    let id = shop
        .open_store(admin, "Sé", "America/Sao_Paulo", good.clone())
        .await;
    shop.patch_store(admin, &id, json!({}))
        .await
        .expect_error(400, "invalid_body");
    shop.patch_store(admin, &id, json!({"paused": "yes"}))
        .await
        .expect_error(400, "invalid_body");
    shop.patch_store(admin, &id, json!({"timezone": "GMT+3"}))
        .await
        .expect_error(400, "invalid_timezone");
    shop.patch_store(admin, &id, json!({"hours": {"mon": []}}))
        .await
        .expect_error(400, "invalid_hours");
    let unchanged: Value = shop.get_store(&id).await.expect(200);
    assert_eq!(unchanged["hours"], good, "refused patches changed nothing");
    let listed: Vec<Value> = shop.walk(admin, "/stores?limit=100").await;
    let written = listed.iter().filter(|s| s["name"] == "Sé").count();
    assert_eq!(written, 1, "no refused store was written: {listed:?}");
}

/// Two stores with the same hours, 12 hours apart (São Paulo, UTC-3 and
/// without daylight saving since 2019; Tokyo, UTC+9): at any instant one is
/// open and the other closed. The split of the day is the one whose edges are
/// farthest from now, so the answer cannot change while the test runs.
#[tokio::test]
async fn open_now_is_judged_in_the_stores_own_timezone() {
    let shop = open_shop().await;
    let (half_now, _) = half_days_around_now();

    let sao_paulo = shop
        .open_store(
            &shop.admin,
            "Centro",
            "America/Sao_Paulo",
            week(half_now.clone()),
        )
        .await;
    let tokyo = shop
        .open_store(&shop.admin, "Ginza", "Asia/Tokyo", week(half_now))
        .await;
    let open = |store: Value| store["open_now"].as_bool().unwrap();
    assert!(
        open(shop.get_store(&sao_paulo).await.expect(200)),
        "São Paulo is inside its hours"
    );
    assert!(
        !open(shop.get_store(&tokyo).await.expect(200)),
        "Tokyo is 12 hours away, outside them"
    );

    let closed_all_week = shop
        .open_store(&shop.admin, "Fechada", "America/Sao_Paulo", week(json!([])))
        .await;
    assert!(!open(shop.get_store(&closed_all_week).await.expect(200)));
}

#[tokio::test]
async fn the_list_pages_by_name() {
    // The stack's own store is "Centro".
    let shop = spawn_app().await;
    let admin = shop.admin_token().await;
    for name in ["Pinheiros", "Bela Vista", "moema", "Augusta"] {
        shop.open_store(&admin, name, "America/Sao_Paulo", week(json!([])))
            .await;
    }
    let pages: Vec<Page<Value>> = shop.pages(&admin, "/stores?limit=2").await;
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    let names: Vec<Value> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|s| s["name"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            json!("Augusta"),
            json!("Bela Vista"),
            json!("Centro"),
            json!("moema"),
            json!("Pinheiros")
        ]
    );
    shop.send(shop.request(Method::GET, "/stores?cursor=garbage", None))
        .await
        .expect_error(400, "invalid_cursor");
    shop.send(shop.request(Method::GET, "/stores?limit=0", None))
        .await
        .expect_error(400, "invalid_limit");
}

/// The 12 hours of the day, in São Paulo, that hold now, as intervals (the
/// split of the day whose edges are farthest from now), and the other 12.
fn half_days_around_now() -> (Value, Value) {
    let now = OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(-3, 0, 0).unwrap());
    let minute = i32::from(now.hour()) * 60 + i32::from(now.minute());
    let distance = |edge: i32| {
        (minute - edge)
            .rem_euclid(720)
            .min(720 - (minute - edge).rem_euclid(720))
    };
    let (split, first, second) = if distance(0) >= distance(360) {
        (0, json!([["00:00", "12:00"]]), json!([["12:00", "24:00"]]))
    } else {
        (
            360,
            json!([["06:00", "18:00"]]),
            json!([["00:00", "06:00"], ["18:00", "24:00"]]),
        )
    };
    if (minute - split).rem_euclid(1440) < 720 {
        (first, second)
    } else {
        (second, first)
    }
}

#[tokio::test]
async fn checkout_waits_for_an_open_store_in_its_own_timezone() {
    let shop = open_shop().await;
    let store = shop.home_store().await;
    let order = shop.place(&shop.guest, shop.burgers(1)).await;
    assert_eq!(
        order.store_id.as_ref().map(|s| s.as_str()),
        Some(store.as_str())
    );

    // Paused: refused, whatever the hours; nothing is written.
    shop.patch_store(&shop.admin, &store, json!({"paused": true}))
        .await
        .expect::<Value>(200);
    shop.checkout(&shop.guest, shop.burgers(1))
        .await
        .expect_error(422, "store_closed");
    shop.patch_store(&shop.admin, &store, json!({"paused": false}))
        .await
        .expect::<Value>(200);
    shop.place(&shop.guest, shop.burgers(1)).await;

    // Outside its hours in São Paulo: refused; the same hours in Tokyo (12
    // hours away) hold now.
    let (_, other_half) = half_days_around_now();
    shop.patch_store(&shop.admin, &store, json!({"hours": week(other_half)}))
        .await
        .expect::<Value>(200);
    shop.checkout(&shop.guest, shop.burgers(1))
        .await
        .expect_error(422, "store_closed");
    shop.patch_store(&shop.admin, &store, json!({"timezone": "Asia/Tokyo"}))
        .await
        .expect::<Value>(200);
    // The guest holds two orders awaiting payment (its limit): a new guest.
    let second = shop.guest_token().await;
    shop.place(&second, shop.burgers(1)).await;
    let mine: Page<Value> = shop.get_as("/orders", &shop.guest).await.expect(200);
    assert_eq!(mine.items.len(), 2, "the refused checkouts wrote nothing");
}
