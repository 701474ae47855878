//! The arrangements: staff, kiosks, guests and customers signed in, the menu
//! stocked, orders placed, paid (the customer at Mercado Pago's stand-in) and
//! moved, the expiry job run "later"; `Shop` holds the usual stack.

use super::{ADMIN_PASSWORD, Customer, KITCHEN_PASSWORD, TestApp, Validation, spawn_app, token_of};
use serde_json::{Value, json};
use shared::domain::OrderId;
use shared::domain::order::{Order, OrderStatus, Payment};
use shared::domain::product::Product;
use std::collections::HashMap;

impl TestApp {
    // Sign-ins.

    /// The token of this stack's kiosk, enrolled on first use by the admin.
    pub async fn kiosk_token(&self) -> String {
        let (_, token) = self.kiosk.get_or_init(|| self.new_kiosk("Totem 1")).await;
        token.clone()
    }

    /// A new kiosk named `name`, enrolled by the admin and signed in: its id
    /// and token.
    pub async fn new_kiosk(&self, name: &str) -> (String, String) {
        let (id, secret) = self.enrol_kiosk(name).await;
        let token = token_of(self.kiosk_sign_in(&id, &secret).await);
        (id, token)
    }

    /// This stack's store, opened by the admin on first use: open every
    /// day, all day, in São Paulo.
    pub async fn home_store(&self) -> String {
        self.store
            .get_or_init(|| async {
                let admin = self.admin_token().await;
                let day = json!([["00:00", "24:00"]]);
                let hours = json!({"mon": day, "tue": day, "wed": day, "thu": day,
                    "fri": day, "sat": day, "sun": day});
                let body =
                    json!({"name": "Centro", "timezone": "America/Sao_Paulo", "hours": hours});
                let store: Value = self.post_as("/stores", &admin, body).await.expect(201);
                store["id"].as_str().unwrap().to_owned()
            })
            .await
            .clone()
    }

    /// Enrols a kiosk at [`Self::home_store`] as the admin, which must
    /// succeed: its id and secret.
    pub async fn enrol_kiosk(&self, name: &str) -> (String, String) {
        let store = self.home_store().await;
        self.enrol_kiosk_at(name, &store).await
    }

    /// Enrols a kiosk at `store` as the admin, which must succeed: its id
    /// and secret.
    pub async fn enrol_kiosk_at(&self, name: &str, store: &str) -> (String, String) {
        let admin = self.admin_token().await;
        let enrolled: Value = self
            .post_as(
                "/kiosks",
                &admin,
                json!({ "name": name, "store_id": store }),
            )
            .await
            .expect(201);
        let field = |name: &str| enrolled[name].as_str().unwrap().to_owned();
        (field("id"), field("secret"))
    }

    /// A guest session at a new kiosk of `store` (enrolled by the admin,
    /// signed in): its token.
    pub async fn guest_at(&self, store: &str) -> String {
        let (kiosk, secret) = self.enrol_kiosk_at("Totem", store).await;
        let kiosk = token_of(self.kiosk_sign_in(&kiosk, &secret).await);
        token_of(self.post_as("/auth/guest", &kiosk, Value::Null).await)
    }

    /// Signs a customer up, which must succeed.
    pub async fn signed_up(&self, cpf: &str, name: &str) -> Customer {
        self.sign_up(cpf, name).await.expect(201)
    }

    /// The claims `/validate` reads from a valid token.
    pub async fn claims_of(&self, token: &str) -> shared::domain::token::Claims {
        let validated: Validation = self.validate(token).await.expect(200);
        assert!(validated.valid);
        validated.claims.unwrap()
    }

    pub async fn admin_token(&self) -> String {
        token_of(self.staff_sign_in("admin", ADMIN_PASSWORD).await)
    }

    pub async fn kitchen_token(&self) -> String {
        token_of(self.staff_sign_in("kitchen", KITCHEN_PASSWORD).await)
    }

    pub async fn manager_token(&self) -> String {
        token_of(self.staff_sign_in("manager", super::MANAGER_PASSWORD).await)
    }

    pub async fn guest_token(&self) -> String {
        let kiosk = self.kiosk_token().await;
        token_of(self.post_as("/auth/guest", &kiosk, Value::Null).await)
    }

    pub async fn customer_token(&self, cpf: &str) -> String {
        token_of(self.auth(cpf).await)
    }

    /// A customer signed up with an address of their own (`<local>.<random>@example.com`,
    /// so that no other test's mail is read as theirs): the signup and the address.
    pub async fn signed_up_at(&self, cpf: &str, name: &str, local: &str) -> (Customer, String) {
        let address = unique_address(local);
        let customer = self
            .sign_up_with(cpf, name, &address, false)
            .await
            .expect(201);
        (customer, address)
    }

    /// A verified session of the customer signed in as `cpf_token`: a code
    /// asked for, read from the emulator's SES at `address`, and confirmed.
    pub async fn verified(&self, cpf_token: &str, address: &str) -> String {
        assert_eq!(self.request_code(cpf_token).await.status, 202);
        let code = super::latest_code_sent_to(address).await;
        token_of(self.confirm_code(cpf_token, &code).await)
    }

    // The menu.

    /// Creates a product as admin and returns its id.
    pub async fn create_product(
        &self,
        admin: &str,
        name: &str,
        category: &str,
        price_cents: i64,
    ) -> String {
        let body = json!({"name": name, "category": category, "price_cents": price_cents});
        self.post_product(admin, body)
            .await
            .expect::<Product>(201)
            .id
            .to_string()
    }

    /// Marks the product sold out (`false`) or back in stock (`true`) at
    /// [`Self::home_store`], which must succeed.
    pub async fn set_available(&self, token: &str, id: impl std::fmt::Display, available: bool) {
        let store = self.home_store().await;
        self.set_available_at(token, &store, id, available).await;
    }

    /// Marks the product sold out (`false`) or back in stock (`true`) at
    /// `store`, which must succeed, and checks the answer.
    pub async fn set_available_at(
        &self,
        token: &str,
        store: &str,
        id: impl std::fmt::Display,
        available: bool,
    ) {
        let body = json!({ "product_id": id.to_string(), "available": available });
        let answer: Value = self
            .patch_availability(token, store, body)
            .await
            .expect(200);
        let expected =
            json!({"store_id": store, "product_id": id.to_string(), "available": available});
        assert_eq!(answer, expected);
    }

    // Orders and their payment.

    /// Checks out, which must succeed, and returns the new order.
    pub async fn place(&self, token: &str, items: Value) -> Order {
        let order: Order = self.checkout(token, items).await.expect(201);
        let mut owners = self.owners.lock().unwrap();
        owners.insert(order.id.to_string(), token.to_owned());
        order
    }

    /// The stand-in's `POST /simulate/orders/{id}/{action}` (`pay`,
    /// `start`, `abandon`, `expire`), which must succeed: the customer pays
    /// (or starts paying, or gives up), or Mercado Pago expires the order;
    /// with `notify`, after Mercado Pago's webhook was delivered and
    /// answered.
    pub async fn simulate(&self, provider_order_id: &str, action: &str, notify: bool) -> Value {
        let url = format!(
            "{}/simulate/orders/{provider_order_id}/{action}{}",
            self.mercadopago_url,
            if notify { "" } else { "?notify=false" }
        );
        let answer = self.http.post(url).send().await.unwrap();
        assert!(
            answer.status().is_success(),
            "simulate {action}: {}",
            answer.status()
        );
        answer.json().await.unwrap()
    }

    /// Waits (10 s at most) until the stand-in's notification `action`
    /// about `provider_order_id` was answered 2xx (`GET
    /// /simulate/notifications`).
    pub async fn notified(&self, provider_order_id: &str, action: &str) {
        for _ in 0..400 {
            let sent: Vec<Value> = self
                .to_mercadopago(reqwest::Method::GET, "/simulate/notifications")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let answered = sent.iter().any(|sent| {
                sent["body"]["action"] == action
                    && sent["body"]["data"]["id"] == provider_order_id
                    && sent["status"]
                        .as_u64()
                        .is_some_and(|s| (200..300).contains(&s))
            });
            if answered {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("{action} about {provider_order_id} was not answered 2xx within 10 s");
    }

    /// Arms the stand-in (`POST /simulate/faults`): the next `times` calls to
    /// `route` fail with `status` (a number, or `"timeout"`).
    pub async fn arm(&self, route: &str, status: serde_json::Value, times: u32) {
        let faults = serde_json::json!({"route": route, "status": status, "times": times});
        let armed = self.to_mercadopago(reqwest::Method::POST, "/simulate/faults");
        let answer = armed.json(&faults).send().await.unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    /// The webhook secret the stand-in signs with (and the stack trusts).
    pub fn webhook_secret(&self) -> Vec<u8> {
        self.mercadopago_config.webhook_secret.as_bytes().to_vec()
    }

    /// A request to the stand-in's `path`, with its access token.
    pub fn to_mercadopago(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.mercadopago_url);
        let request = self.http.request(method, url);
        request.bearer_auth(&self.mercadopago_config.access_token)
    }

    /// The Mercado Pago order's `status` as the stand-in has it.
    pub async fn provider_status(&self, provider_order_id: &str) -> String {
        let path = format!("/v1/orders/{provider_order_id}");
        let answer = self.to_mercadopago(reqwest::Method::GET, &path);
        let answer = answer.send().await.unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        let order: Value = answer.json().await.unwrap();
        order["status"].as_str().unwrap().to_owned()
    }

    // The expiry job.

    /// The `order-expiry` function of this stack, built as its `main`
    /// builds it from the environment template.yaml gives it; with
    /// `mercadopago_url`, talking to that Mercado Pago instead.
    pub fn expiry_job(&self, mercadopago_url: Option<&str>) -> order_expiry::State {
        let mut env = self.function_env("OrderExpiryFunction");
        if let Some(url) = mercadopago_url {
            env.insert("MERCADOPAGO_API_URL".into(), url.to_owned());
        }
        order_expiry::State::from_env(&self.sdk, &shared::config::Env::Map(env)).unwrap()
    }

    /// One run of the expiry job as if it were `after` from now (rather than
    /// wait for a deadline).
    pub async fn run_expiry_after(&self, after: std::time::Duration) -> order_expiry::Report {
        self.run_expiry_with(&self.expiry_job(None), after).await
    }

    /// One run of `job` as if it were `after` from now.
    pub async fn run_expiry_with(
        &self,
        job: &order_expiry::State,
        after: std::time::Duration,
    ) -> order_expiry::Report {
        job.run(shared::clock::now() + after).await.unwrap()
    }
}

/// How long after checkout the expiry job finds an order due, with the
/// template's default timeout (900 s) and a margin.
pub const PAST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(900 + 60);

/// An order's status and payment status.
pub fn statuses(order: &Order) -> (OrderStatus, shared::domain::order::PaymentStatus) {
    (order.status, order.payment_status)
}

/// Valid CPFs, generated: tests that need many distinct customers.
/// An address no other test uses: `<local>.<random>@example.com`.
pub fn unique_address(local: &str) -> String {
    format!(
        "{local}.{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

pub fn cpf_from(seed: u32) -> String {
    shared::domain::cpf::complete(&format!("{:09}", 100_000_000 + seed % 800_000_000)).unwrap()
}

/// A stack with X-Burger on the menu, the staff and a guest signed in.
pub struct Shop {
    pub app: TestApp,
    pub admin: String,
    pub kitchen: String,
    pub guest: String,
    pub burger: String,
}

impl std::ops::Deref for Shop {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

pub async fn open_shop() -> Shop {
    stock(spawn_app().await).await
}

/// The template parameters that turn the open-order limits off, for the tests
/// that arrange more orders awaiting payment at once than a kiosk may hold
/// (the limits have tests of their own: `open_orders.rs`).
pub const NO_OPEN_ORDER_LIMITS: &[(&str, &str)] =
    &[("OpenOrdersPerCustomer", "0"), ("OpenOrdersPerKiosk", "0")];

/// [`open_shop`] without the open-order limits.
pub async fn open_shop_without_limits() -> Shop {
    stock(super::spawn_app_configured(&super::emulator_endpoint(), NO_OPEN_ORDER_LIMITS).await)
        .await
}

/// Puts X-Burger on `app`'s menu and signs the staff and a guest in.
pub async fn stock(app: TestApp) -> Shop {
    let admin = app.admin_token().await;
    let kitchen = app.kitchen_token().await;
    let guest = app.guest_token().await;
    let burger = app
        .create_product(&admin, "X-Burger", "sandwich", 2490)
        .await;
    Shop {
        app,
        admin,
        kitchen,
        guest,
        burger,
    }
}

impl Shop {
    /// One line: `quantity` X-Burgers.
    pub fn burgers(&self, quantity: u32) -> Value {
        json!([{"product_id": self.burger, "quantity": quantity}])
    }

    /// The order as the admin reads it (whoever owns it).
    pub async fn order(&self, id: impl std::fmt::Display) -> Order {
        self.get_order(&self.admin, id).await.expect(200)
    }

    /// An order of one X-Burger, awaiting payment.
    pub async fn placed_order(&self, token: &str) -> Order {
        self.place(token, self.burgers(1)).await
    }

    /// The owner's QR payment of the order (made, or the one already made).
    pub async fn payment_of(&self, order_id: impl std::fmt::Display) -> Payment {
        let order_id = order_id.to_string();
        let owner = self.owners.lock().unwrap().get(&order_id).cloned();
        let owner = owner.unwrap_or_else(|| self.guest.clone());
        let answer = self.request_payment(&owner, &order_id).await;
        assert!(matches!(answer.status, 200 | 201), "{}", answer.body);
        answer.json()
    }

    /// The customer pays the order's QR, Mercado Pago notifies, and the
    /// order is as the webhook left it.
    pub async fn pay(&self, order_id: impl std::fmt::Display) -> Order {
        let order_id = order_id.to_string();
        let payment = self.payment_of(&order_id).await;
        let simulated = self
            .simulate(payment.provider_order_id.as_str(), "pay", true)
            .await;
        assert_eq!(simulated["notification"]["status"], 200, "{simulated}");
        self.order(&order_id).await
    }

    /// The order's status and payment status, as the store has them.
    pub async fn statuses_of(
        &self,
        id: impl std::fmt::Display,
    ) -> (OrderStatus, shared::domain::order::PaymentStatus) {
        statuses(&self.order(id).await)
    }

    /// A guest's order, paid (its QR made and paid, the payment confirmed).
    pub async fn paid_order(&self) -> (Order, Payment) {
        let order = self.placed_order(&self.guest).await;
        let payment = self.payment_of(&order.id).await;
        (self.pay_approved(&order.id).await, payment)
    }

    /// Pays the order, which is then received.
    pub async fn pay_approved(&self, order_id: impl std::fmt::Display) -> Order {
        let paid = self.pay(order_id).await;
        assert_eq!(paid.status, OrderStatus::Received, "{paid:?}");
        paid
    }

    /// Someone other than us cancels the order's QR at Mercado Pago (a QR
    /// order is never `failed`: a refused payment ends this way, if at
    /// all); once Mercado Pago's `order.canceled` was answered 2xx, the
    /// order as the webhook left it.
    pub async fn cancel_at_mercadopago(&self, order_id: impl std::fmt::Display) -> Order {
        let order_id = order_id.to_string();
        let provider_order_id = self.payment_of(&order_id).await.provider_order_id;
        let path = format!("/v1/orders/{provider_order_id}/cancel");
        let answer = self
            .to_mercadopago(reqwest::Method::POST, &path)
            .header("X-Idempotency-Key", format!("not-ours-{provider_order_id}"))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        self.notified(provider_order_id.as_str(), "order.canceled")
            .await;
        self.order(&order_id).await
    }

    /// Moves the order, which must succeed.
    pub async fn moved(&self, token: &str, id: impl std::fmt::Display, status: &str) -> Order {
        let moved: Order = self.move_order(token, id, status).await.expect(200);
        assert_eq!(moved.status.as_str(), status, "{moved:?}");
        moved
    }

    /// An order of `token`'s for one X-Burger, brought to `status` the way
    /// the kitchen does (the owner cancels).
    pub async fn order_in(&self, token: &str, status: OrderStatus) -> Order {
        let order = self.placed_order(token).await;
        let steps: &[OrderStatus] = match status {
            OrderStatus::AwaitingPayment => return order,
            OrderStatus::Cancelled => return self.moved(token, &order.id, "cancelled").await,
            OrderStatus::Received => &[],
            OrderStatus::InPreparation => &[OrderStatus::InPreparation],
            OrderStatus::Ready => &[OrderStatus::InPreparation, OrderStatus::Ready],
            OrderStatus::Completed => &[
                OrderStatus::InPreparation,
                OrderStatus::Ready,
                OrderStatus::Completed,
            ],
        };
        let mut order = self.pay_approved(&order.id).await;
        for step in steps {
            order = self.moved(&self.kitchen, &order.id, step.as_str()).await;
        }
        order
    }
}

/// Eleven orders of two guests in every status (`ready_1`, `unpaid`,
/// `cancelled_by_owner`, ...), created, paid and moved in three different
/// orders: the kitchen queue and the board go by payment alone.
pub struct BusyKitchen {
    pub guests: [String; 2],
    /// Each order's id by name.
    pub ids: HashMap<&'static str, OrderId>,
    /// Each guest's orders, oldest first.
    pub own: [Vec<OrderId>; 2],
    /// The ticket number of each order paid (approved).
    pub numbers: HashMap<&'static str, u16>,
}

impl BusyKitchen {
    /// The ids of the orders named, in that order.
    pub fn ids_of(&self, names: &[&str]) -> Vec<OrderId> {
        names.iter().map(|name| self.ids[name].clone()).collect()
    }

    /// The name of one of these orders (`?` for another order).
    pub fn name_of(&self, id: &OrderId) -> &'static str {
        let named = self.ids.iter().find(|(_, v)| *v == id);
        named.map_or("?", |(name, _)| *name)
    }
}

impl Shop {
    /// A [`BusyKitchen`] of two new guests.
    pub async fn busy_kitchen(&self) -> BusyKitchen {
        let guests = [self.guest_token().await, self.guest_token().await];
        let created = [
            "ready_2",
            "preparing_1",
            "unpaid",
            "received_2",
            "completed",
            "ready_1",
            "received_1",
            "preparing_2",
            "cancelled_by_admin",
            "refused",
            "cancelled_by_owner",
        ];
        let (mut ids, mut owner) = (HashMap::new(), HashMap::new());
        let mut own: [Vec<OrderId>; 2] = Default::default();
        for (i, name) in created.into_iter().enumerate() {
            let id = self.placed_order(&guests[i % 2]).await.id;
            own[i % 2].push(id.clone());
            ids.insert(name, id);
            owner.insert(name, &guests[i % 2]);
        }
        let mut numbers = HashMap::new();
        for name in [
            "preparing_1",
            "received_1",
            "ready_1",
            "completed",
            "preparing_2",
            "ready_2",
            "cancelled_by_admin",
            "received_2",
        ] {
            let paid = self.pay_approved(&ids[name]).await;
            numbers.insert(name, paid.number.unwrap());
        }
        let refused = self.cancel_at_mercadopago(&ids["refused"]).await;
        assert_eq!(refused.status, OrderStatus::Cancelled, "{refused:?}");
        let by_owner = "cancelled_by_owner";
        self.moved(owner[by_owner], &ids[by_owner], "cancelled")
            .await;
        // Moved in the reverse of their payment order.
        for (name, target) in [
            ("preparing_2", "in_preparation"),
            ("preparing_1", "in_preparation"),
            ("ready_2", "in_preparation"),
            ("ready_2", "ready"),
            ("ready_1", "in_preparation"),
            ("ready_1", "ready"),
            ("completed", "in_preparation"),
            ("completed", "ready"),
            ("completed", "completed"),
        ] {
            self.moved(&self.kitchen, &ids[name], target).await;
        }
        self.moved(&self.admin, &ids["cancelled_by_admin"], "cancelled")
            .await;
        BusyKitchen {
            guests,
            ids,
            own,
            numbers,
        }
    }
}
