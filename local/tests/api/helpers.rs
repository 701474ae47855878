//! `spawn_app`: an isolated stack in the emulator and the local API on a free
//! port, driven over HTTP like a client would. `TestApp` has one method per
//! route the tests call, `Shop` builds the usual arrangements (a menu, the
//! staff signed in, orders placed, paid and moved), and `Answer` reads every
//! response into the API's types.

use kiosk_local::bootstrap::{LocalStack, StaffUser};
use kiosk_local::template::Template;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::domain::OrderId;
use shared::domain::order::{Order, OrderStatus, Payment};
use shared::domain::product::Product;

pub const ADMIN_PASSWORD: &str = "AdminTest1234";
pub const KITCHEN_PASSWORD: &str = "KitchenTest1234";
/// A user with a password but in no staff group.
pub const OUTSIDER_PASSWORD: &str = "OutsiderTest1234";

pub struct TestApp {
    pub base_url: String,
    pub http: reqwest::Client,
    pub stack: LocalStack,
    pub sdk: aws_config::SdkConfig,
    pub template: Template,
    /// This stack's Mercado Pago stand-in (stopped when the app is dropped).
    pub mercadopago: tokio::sync::Mutex<kiosk_local::mercadopago::StandIn>,
    pub mercadopago_url: String,
    pub mercadopago_config: kiosk_local::mercadopago::StandInConfig,
    /// Who placed each order `place` placed (order id → token), so that the
    /// owner is who pays it.
    pub owners: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// This stack's kiosk (id, token), enrolled on first use.
    pub kiosk: tokio::sync::OnceCell<(String, String)>,
}

pub fn emulator_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: these tests need the emulator (run them with `make test`)",
    )
}

pub fn template() -> Template {
    Template::load(&Template::default_path()).unwrap()
}

pub fn unique_prefix() -> String {
    format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A file of the workspace (template.yaml, openapi.yaml, events/...).
pub fn workspace_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

pub fn staff_users() -> Vec<StaffUser> {
    vec![
        StaffUser {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
            group: Some("admin".into()),
        },
        StaffUser {
            username: "kitchen".into(),
            password: KITCHEN_PASSWORD.into(),
            group: Some("kitchen".into()),
        },
        StaffUser {
            username: "outsider".into(),
            password: OUTSIDER_PASSWORD.into(),
            group: None,
        },
    ]
}

pub async fn spawn_app() -> TestApp {
    spawn_app_through(&emulator_endpoint()).await
}

/// A stack of its own (no staff users) whose AWS calls go to `endpoint`, for
/// the tests that call the functions' code or the emulator without the local API.
pub async fn bare_stack(endpoint: &str) -> (aws_config::SdkConfig, Template, LocalStack) {
    let sdk = kiosk_local::emulator_sdk(endpoint).await;
    let template = template();
    let started = kiosk_local::start(&sdk, &template, &unique_prefix(), &[]).await;
    (sdk, template, started.unwrap().0)
}

/// A moto server of a test's own, so that pausing or stopping it hurts no
/// other test (they share the emulator of `with-emulator.sh`).
pub struct OwnEmulator {
    child: tokio::process::Child,
    pub endpoint: String,
}

impl OwnEmulator {
    pub async fn start() -> OwnEmulator {
        let moto = workspace_path(".venv/bin/moto_server");
        assert!(
            moto.exists(),
            "{} is missing: run `make venv`",
            moto.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return OwnEmulator { child, endpoint };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto did not start on port {port}");
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Freezes the emulator (SIGSTOP): connections still open, nothing answers.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Thaws it (SIGCONT): what it had received is answered now.
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }

    /// Kills it: connections are refused from now on.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// A stack on this emulator and the local API in front of it.
    pub async fn spawn_app(&self) -> TestApp {
        spawn_app_through(&self.endpoint).await
    }

    /// [`Self::spawn_app`], its AWS calls through a tripwire: once armed, the
    /// first call of `operation` (`TransactWriteItems`, ...) pauses the
    /// emulator just before it is forwarded, so that it stalls in flight.
    pub async fn spawn_app_with_tripwire(&self, operation: &'static str) -> (TestApp, Tripwire) {
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (pid, trip) = (self.pid(), armed.clone());
        let on_call = move |target: &str| {
            if target.ends_with(operation) && trip.swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                signal(pid, "-STOP");
            }
            Relay::Forward
        };
        let endpoint = start_proxy(self.endpoint.clone(), on_call).await;
        (spawn_app_through(&endpoint).await, Tripwire(armed))
    }
}

/// See [`OwnEmulator::spawn_app_with_tripwire`].
pub struct Tripwire(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Tripwire {
    pub fn arm(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// Runs `request`; its answer and how long it took.
pub async fn timed(request: impl Future<Output = Answer>) -> (Answer, std::time::Duration) {
    let started = std::time::Instant::now();
    let answer = request.await;
    (answer, started.elapsed())
}

/// A stack and the local API whose AWS calls go to `endpoint`.
async fn spawn_app_through(endpoint: &str) -> TestApp {
    spawn_app_configured(endpoint, &[]).await
}

/// `spawn_app`, with template parameters set (`KioskSigninsPerMinute`, ...).
pub async fn spawn_app_with_parameters(parameters: &[(&str, &str)]) -> TestApp {
    spawn_app_configured(&emulator_endpoint(), parameters).await
}

async fn spawn_app_configured(endpoint: &str, parameters: &[(&str, &str)]) -> TestApp {
    let sdk = kiosk_local::emulator_sdk(endpoint).await;
    let template = template();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let config = kiosk_local::mercadopago::StandInConfig::local(Some(format!(
        "{base_url}/webhooks/mercadopago"
    )));
    let (addr, stand_in) = kiosk_local::mercadopago::spawn(config.clone())
        .await
        .unwrap();
    let mut overrides = kiosk_local::Overrides::mercadopago(&config, &format!("http://{addr}"));
    for (name, value) in parameters {
        overrides
            .parameters
            .insert((*name).to_owned(), (*value).to_owned());
    }
    let (stack, router) = kiosk_local::start_with(
        &sdk,
        &template,
        &unique_prefix(),
        &staff_users(),
        &overrides,
    )
    .await
    .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    TestApp {
        base_url,
        http: reqwest::Client::new(),
        stack,
        sdk,
        template,
        mercadopago: tokio::sync::Mutex::new(stand_in),
        mercadopago_url: format!("http://{addr}"),
        mercadopago_config: config,
        owners: Default::default(),
        kiosk: Default::default(),
    }
}

/// A response's status and JSON body (Null when empty), and the request it
/// answers (for the failure messages).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    request: String,
}

impl Answer {
    /// Sends the request and reads its answer.
    async fn of(request: reqwest::RequestBuilder) -> Answer {
        let (client, request) = request.build_split();
        let request = request.unwrap();
        let sent: String = request
            .body()
            .and_then(|body| body.as_bytes())
            .map(|bytes| String::from_utf8_lossy(bytes).chars().take(300).collect())
            .unwrap_or_default();
        let query = request.url().query().map(|q| format!("?{q}"));
        let request_line = format!(
            "{} {}{} {sent}",
            request.method(),
            request.url().path(),
            query.unwrap_or_default()
        );
        let response = client.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            request: request_line,
        }
    }

    /// The contract's error code, if the body is an error.
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// Asserts the answer is the contract's error `code` with `status`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "{} -> {}",
            self.request,
            self.body
        );
    }

    /// Asserts the status and reads the body as a `T`.
    #[track_caller]
    pub fn expect<T: DeserializeOwned>(&self, status: u16) -> T {
        assert_eq!(self.status, status, "{} -> {}", self.request, self.body);
        self.json()
    }

    /// The body as a `T`.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        match serde_json::from_value(self.body.clone()) {
            Ok(value) => value,
            Err(e) => panic!("{} -> {}: {e}", self.request, self.body),
        }
    }
}

/// Each answer's status and body, for the failure messages.
pub fn summary(answers: &[Answer]) -> Vec<String> {
    answers
        .iter()
        .map(|a| format!("{} {}", a.status, a.body))
        .collect()
}

/// One page of a list.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A customer as the API shows it (the CPF masked).
#[derive(Debug, Deserialize)]
pub struct Customer {
    pub id: String,
    pub cpf: String,
    pub name: String,
    pub email: String,
}

/// The answer of a sign-in.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// The answer of `POST /validate`.
#[derive(Debug, Deserialize)]
pub struct Validation {
    pub valid: bool,
    pub claims: Option<shared::domain::token::Claims>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request to `path`, bearing `token` when there is one.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends the request; the answer must be one openapi.yaml documents for
    /// the route (status and body schema), or the test fails.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let answer = self.send_unchecked(request).await;
        let (method, path) = answer.request.split_once(' ').unwrap();
        let path = path.split(['?', ' ']).next().unwrap();
        super::contract::check(method, path, answer.status, &answer.body);
        answer
    }

    /// Sends the request without the contract check (for requests the
    /// contract does not describe, such as unknown routes).
    pub async fn send_unchecked(&self, request: reqwest::RequestBuilder) -> Answer {
        Answer::of(request).await
    }

    /// Sends `n` copies of the request at once, unchecked; their answers.
    pub async fn send_concurrently(
        &self,
        n: usize,
        request: reqwest::RequestBuilder,
    ) -> Vec<Answer> {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            tasks.spawn(Answer::of(request.try_clone().unwrap()));
        }
        tasks.join_all().await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.request(Method::POST, path, None).json(&body))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> Answer {
        self.send(self.request(Method::POST, path, None).body(body.to_owned()))
            .await
    }

    pub async fn post_raw_as(&self, path: &str, token: &str, body: &str) -> Answer {
        let request = self.request(Method::POST, path, Some(token));
        self.send(request.body(body.to_owned())).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Answer {
        self.send(self.request(Method::GET, path, Some(token)))
            .await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(self.request(Method::POST, path, Some(token)).json(&body))
            .await
    }

    pub async fn put_as(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(self.request(Method::PUT, path, Some(token)).json(&body))
            .await
    }

    pub async fn delete_as(&self, path: &str, token: &str) -> Answer {
        self.send(self.request(Method::DELETE, path, Some(token)))
            .await
    }

    /// Every page of the list at `path` (with its query), cursor after cursor.
    pub async fn pages<T: DeserializeOwned>(&self, token: &str, path: &str) -> Vec<Page<T>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut pages: Vec<Page<T>> = Vec::new();
        for _ in 0..100 {
            let url = match pages.last() {
                Some(Page {
                    next_cursor: Some(cursor),
                    ..
                }) => format!("{path}{separator}cursor={cursor}"),
                Some(_) => return pages,
                None => path.to_owned(),
            };
            pages.push(self.get_as(&url, token).await.expect(200));
        }
        panic!("the listing of {path} never ended");
    }

    /// Every item of the list at `path`, all pages walked.
    pub async fn walk<T: DeserializeOwned>(&self, token: &str, path: &str) -> Vec<T> {
        let pages = self.pages(token, path).await;
        pages.into_iter().flat_map(|page| page.items).collect()
    }

    // Identity.

    /// The token of this stack's kiosk, enrolled on first use by the admin.
    pub async fn kiosk_token(&self) -> String {
        self.kiosk
            .get_or_init(|| async {
                let admin = self.admin_token().await;
                let enrolled: Value = self
                    .post_as("/kiosks", &admin, json!({"name": "Totem 1"}))
                    .await
                    .expect(201);
                let credentials = json!({"kiosk_id": enrolled["id"], "secret": enrolled["secret"]});
                let token = token_of(self.post("/auth/kiosk", credentials).await);
                (enrolled["id"].as_str().unwrap().to_owned(), token)
            })
            .await
            .1
            .clone()
    }

    /// `POST /customers`, as this stack's kiosk.
    pub async fn sign_up(&self, cpf: &str, name: &str) -> Answer {
        let kiosk = self.kiosk_token().await;
        self.post_as(
            "/customers",
            &kiosk,
            json!({"cpf": cpf, "name": name, "email": "cliente@example.com"}),
        )
        .await
    }

    /// Signs a customer up, which must succeed.
    pub async fn signed_up(&self, cpf: &str, name: &str) -> Customer {
        self.sign_up(cpf, name).await.expect(201)
    }

    /// `POST /auth`, as this stack's kiosk.
    pub async fn auth(&self, cpf: &str) -> Answer {
        let kiosk = self.kiosk_token().await;
        self.post_as("/auth", &kiosk, json!({ "cpf": cpf })).await
    }

    /// `POST /auth/staff`.
    pub async fn staff_sign_in(&self, username: &str, password: &str) -> Answer {
        self.post(
            "/auth/staff",
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// `POST /validate` with the token in the body.
    pub async fn validate(&self, token: &str) -> Answer {
        self.post("/validate", json!({ "token": token })).await
    }

    /// The claims `/validate` reads from a valid token.
    pub async fn claims_of(&self, token: &str) -> shared::domain::token::Claims {
        let validated: Validation = self.validate(token).await.expect(200);
        assert!(validated.valid);
        validated.claims.unwrap()
    }

    /// `GET /customers?{query}`.
    pub async fn list_customers(&self, token: &str, query: &str) -> Answer {
        self.get_as(&with_query("/customers", query), token).await
    }

    pub async fn admin_token(&self) -> String {
        token_of(self.staff_sign_in("admin", ADMIN_PASSWORD).await)
    }

    pub async fn kitchen_token(&self) -> String {
        token_of(self.staff_sign_in("kitchen", KITCHEN_PASSWORD).await)
    }

    pub async fn guest_token(&self) -> String {
        let kiosk = self.kiosk_token().await;
        token_of(self.post_as("/auth/guest", &kiosk, Value::Null).await)
    }

    pub async fn customer_token(&self, cpf: &str) -> String {
        token_of(self.auth(cpf).await)
    }

    /// The environment template.yaml gives `function`, resolved for this stack.
    pub fn function_env(&self, function: &str) -> std::collections::HashMap<String, String> {
        self.template
            .function_env(function, &self.stack.refs)
            .unwrap()
    }

    /// Where this stack's token keys are (`kiosk-local keys` names).
    pub fn key_names(&self) -> kiosk_local::keys::KeyNames {
        kiosk_local::keys::KeyNames::under(&self.stack.prefix)
    }

    /// The private key the signing secret holds now (`AWSCURRENT`).
    pub async fn signing_key(&self) -> shared::domain::jwk::PrivateKey {
        let value = aws_sdk_secretsmanager::Client::new(&self.sdk)
            .get_secret_value()
            .secret_id(self.key_names().secret)
            .send()
            .await
            .unwrap();
        shared::domain::jwk::PrivateKey::from_jwk(value.secret_string().unwrap().as_bytes())
            .unwrap()
    }

    /// `function`'s environment as a deploy made now would resolve it: the
    /// SSM-typed parameters (the public keys) read again.
    pub async fn redeployed_env(&self, function: &str) -> shared::config::Env {
        let mut refs = self.stack.refs.clone();
        refs.insert(
            kiosk_local::bootstrap::PUBLIC_KEYS_PARAMETER,
            self.key_names().parameter,
        );
        kiosk_local::bootstrap::resolve_ssm_parameters(&self.sdk, &self.template, &mut refs)
            .await
            .unwrap();
        shared::config::Env::Map(self.template.function_env(function, &refs).unwrap())
    }

    // The menu.

    /// `POST /products`.
    pub async fn post_product(&self, token: &str, body: Value) -> Answer {
        self.post_as("/products", token, body).await
    }

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

    /// `GET /products/{id}`.
    pub async fn get_product(&self, token: &str, id: impl std::fmt::Display) -> Answer {
        self.get_as(&format!("/products/{id}"), token).await
    }

    /// `PUT /products/{id}`.
    pub async fn put_product(
        &self,
        token: &str,
        id: impl std::fmt::Display,
        body: Value,
    ) -> Answer {
        self.put_as(&format!("/products/{id}"), token, body).await
    }

    /// `PATCH /products/{id}` with `body`.
    pub async fn patch_product(
        &self,
        token: &str,
        id: impl std::fmt::Display,
        body: Value,
    ) -> Answer {
        let request = self.request(Method::PATCH, &format!("/products/{id}"), Some(token));
        self.send(request.json(&body)).await
    }

    /// Marks the product sold out (`false`) or back in stock (`true`), which
    /// must succeed; the product as answered.
    pub async fn set_available(
        &self,
        token: &str,
        id: impl std::fmt::Display,
        available: bool,
    ) -> Product {
        let answer = self.patch_product(token, id, json!({ "available": available }));
        let product: Product = answer.await.expect(200);
        assert_eq!(product.available, available, "{product:?}");
        product
    }

    /// `DELETE /products/{id}`.
    pub async fn delete_product(&self, token: &str, id: impl std::fmt::Display) -> Answer {
        self.delete_as(&format!("/products/{id}"), token).await
    }

    /// `GET /products?{query}`.
    pub async fn list_products(&self, token: &str, query: &str) -> Answer {
        self.get_as(&with_query("/products", query), token).await
    }

    /// Every product of `GET /products?{query}`, all pages walked.
    pub async fn walk_products(&self, token: &str, query: &str) -> Vec<Product> {
        self.walk(token, &with_query("/products", query)).await
    }

    // Orders.

    /// `POST /orders` with `{"items": items}`.
    pub async fn checkout(&self, token: &str, items: Value) -> Answer {
        self.post_as("/orders", token, json!({ "items": items }))
            .await
    }

    /// `POST /orders` with an `Idempotency-Key` header.
    pub async fn checkout_with_key(&self, token: &str, key: &str, items: Value) -> Answer {
        let request = self.request(Method::POST, "/orders", Some(token));
        self.send(
            request
                .header("Idempotency-Key", key)
                .json(&json!({ "items": items })),
        )
        .await
    }

    /// Checks out, which must succeed, and returns the new order.
    pub async fn place(&self, token: &str, items: Value) -> Order {
        let order: Order = self.checkout(token, items).await.expect(201);
        let mut owners = self.owners.lock().unwrap();
        owners.insert(order.id.to_string(), token.to_owned());
        order
    }

    /// `GET /orders/{id}`.
    pub async fn get_order(&self, token: &str, id: impl std::fmt::Display) -> Answer {
        self.get_as(&format!("/orders/{id}"), token).await
    }

    /// `PATCH /orders/{id}` to `status`.
    pub async fn move_order(
        &self,
        token: &str,
        id: impl std::fmt::Display,
        status: &str,
    ) -> Answer {
        let request = self.request(Method::PATCH, &format!("/orders/{id}"), Some(token));
        self.send(request.json(&json!({ "status": status }))).await
    }

    /// `GET /orders?{query}`.
    pub async fn list_orders(&self, token: &str, query: &str) -> Answer {
        self.get_as(&with_query("/orders", query), token).await
    }

    /// The ids of every page of `GET /orders?{query}`, cursor after cursor.
    pub async fn walk_orders(&self, token: &str, query: &str) -> Vec<OrderId> {
        let orders: Vec<Order> = self.walk(token, &with_query("/orders", query)).await;
        orders.into_iter().map(|order| order.id).collect()
    }

    /// Every order `token` lists, walked 100 at a time.
    pub async fn my_orders(&self, token: &str) -> Vec<OrderId> {
        self.walk_orders(token, "limit=100").await
    }

    /// `POST /orders/{id}/payment`.
    pub async fn request_payment(&self, token: &str, id: impl std::fmt::Display) -> Answer {
        let request = self.request(Method::POST, &format!("/orders/{id}/payment"), Some(token));
        self.send(request).await
    }

    /// The stand-in's `POST /simulate/orders/{id}/{pay|reject}`: the customer
    /// pays (or is refused); with `notify`, after Mercado Pago's webhook was
    /// delivered and answered.
    pub async fn simulate(&self, provider_order_id: &str, outcome: &str, notify: bool) -> Value {
        let url = format!(
            "{}/simulate/orders/{provider_order_id}/{outcome}{}",
            self.mercadopago_url,
            if notify { "" } else { "?notify=false" }
        );
        let answer = self.http.post(url).send().await.unwrap();
        assert!(
            answer.status().is_success(),
            "simulate {outcome}: {}",
            answer.status()
        );
        answer.json().await.unwrap()
    }

    /// `POST /webhooks/mercadopago?data.id=&type=order`, signed as Mercado
    /// Pago signs it when `secret` is given.
    pub async fn notify(&self, data_id: &str, secret: Option<&[u8]>) -> Answer {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .request(
                Method::POST,
                &format!("/webhooks/mercadopago?data.id={data_id}&type=order"),
                None,
            )
            .header("Content-Type", "application/json")
            .header("x-request-id", &request_id)
            .body(
                json!({"action": "order.processed", "type": "order", "data": {"id": data_id}})
                    .to_string(),
            );
        if let Some(secret) = secret {
            let ts = u64::try_from(shared::clock::now_unix()).unwrap();
            let signature =
                shared::payments::signature::sign(secret, Some(data_id), Some(&request_id), ts);
            request = request.header("x-signature", signature);
        }
        self.send(request).await
    }

    /// The webhook secret the stand-in signs with (and the stack trusts).
    pub fn webhook_secret(&self) -> Vec<u8> {
        self.mercadopago_config.webhook_secret.as_bytes().to_vec()
    }

    /// `GET /board`, with no token: the route is public.
    pub async fn board(&self) -> Answer {
        self.send(self.request(Method::GET, "/board", None)).await
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

    /// The Mercado Pago order's `status` as the stand-in has it.
    pub async fn provider_status(&self, provider_order_id: &str) -> String {
        let answer = self
            .http
            .get(format!(
                "{}/v1/orders/{provider_order_id}",
                self.mercadopago_url
            ))
            .bearer_auth(&self.mercadopago_config.access_token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        let order: Value = answer.json().await.unwrap();
        order["status"].as_str().unwrap().to_owned()
    }

    /// The ticket slots (`ticket#<n>` items) `order_id` holds, read straight
    /// from the table (a Scan: test code only).
    pub async fn ticket_slots_of(&self, order_id: impl std::fmt::Display) -> Vec<String> {
        let output = aws_sdk_dynamodb::Client::new(&self.sdk)
            .scan()
            .table_name(self.stack.get("OrdersTable").unwrap())
            .filter_expression("order_id = :id AND begins_with(id, :ticket)")
            .expression_attribute_values(
                ":id",
                aws_sdk_dynamodb::types::AttributeValue::S(order_id.to_string()),
            )
            .expression_attribute_values(
                ":ticket",
                aws_sdk_dynamodb::types::AttributeValue::S("ticket#".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output
            .items()
            .iter()
            .filter_map(|item| item.get("id")?.as_s().ok().cloned())
            .collect()
    }
}

/// How long after checkout the expiry job finds an order due, with the
/// template's default timeout (900 s) and a margin.
pub const PAST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(900 + 60);

/// `path?query`, or `path` when the query is empty.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The access token of a sign-in, which must have succeeded.
#[track_caller]
pub fn token_of(answer: Answer) -> String {
    answer.expect::<Tokens>(200).access_token
}

/// The claims of a token as JSON (read, not verified).
pub fn claims_json(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The `sub` claim of a token (read, not verified).
pub fn sub_of(token: &str) -> String {
    claims_json(token)["sub"].as_str().unwrap().to_owned()
}

/// An order's status and payment status.
pub fn statuses(order: &Order) -> (OrderStatus, shared::domain::order::PaymentStatus) {
    (order.status, order.payment_status)
}

/// Valid CPFs, generated: tests that need many distinct customers.
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

    /// The customer pays the order's QR (or is refused), Mercado Pago
    /// notifies, and the order is as the webhook left it.
    pub async fn pay(&self, order_id: impl std::fmt::Display, outcome: &str) -> Order {
        let order_id = order_id.to_string();
        let payment = self.payment_of(&order_id).await;
        let simulated = self
            .simulate(payment.provider_order_id.as_str(), outcome, true)
            .await;
        assert_eq!(simulated["notification"]["status"], 200, "{simulated}");
        self.order(&order_id).await
    }

    /// Pays the order, which is then received.
    pub async fn pay_approved(&self, order_id: impl std::fmt::Display) -> Order {
        let paid = self.pay(order_id, "pay").await;
        assert_eq!(paid.status, OrderStatus::Received, "{paid:?}");
        paid
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

/// The AWS operations the app sends, as seen on the wire (the `X-Amz-Target`
/// header of the JSON protocols: `DynamoDB_20120810.Query`, ...): all of them,
/// and how many were taken already.
#[derive(Clone, Default)]
pub struct Recorder(std::sync::Arc<std::sync::Mutex<(Vec<String>, usize)>>);

impl Recorder {
    fn push(&self, operation: String) {
        self.0.lock().unwrap().0.push(operation);
    }

    /// The operations sent since the last take.
    pub fn take(&self) -> Vec<String> {
        let mut recorded = self.0.lock().unwrap();
        let (all, taken) = &mut *recorded;
        let new = all[*taken..].to_vec();
        *taken = all.len();
        new
    }

    /// The DynamoDB operations sent since the last take, and all of those.
    pub fn take_dynamodb(&self) -> (Vec<String>, Vec<String>) {
        let all = self.take();
        let dynamodb = all
            .iter()
            .filter(|o| o.starts_with("DynamoDB"))
            .cloned()
            .collect();
        (dynamodb, all)
    }

    /// Every operation sent since the app was spawned.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().0.clone()
    }
}

/// A pass-through proxy in front of the emulator that records every call.
async fn start_recording_proxy(upstream: String) -> (String, Recorder) {
    let recorder = Recorder::default();
    let seen = recorder.clone();
    let endpoint = start_proxy(upstream, move |target: &str| {
        seen.push(target.to_owned());
        Relay::Forward
    })
    .await;
    (endpoint, recorder)
}

/// What the proxy does with a call.
enum Relay {
    Forward,
    /// Answers 500 with an HTML page, as a broken emulator or load balancer
    /// does, instead of forwarding.
    ServerErrorPage,
    /// Forwards it while no other `Serialized` call is in flight.
    Serialized,
}

/// A proxy in front of the emulator that shows `on_call` each call's
/// operation (its `X-Amz-Target`) and relays the call as it says; its endpoint.
async fn start_proxy(
    upstream: String,
    on_call: impl Fn(&str) -> Relay + Clone + Send + Sync + 'static,
) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};
    let client = reqwest::Client::new();
    let one_at_a_time = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream, on_call) = (client.clone(), upstream.clone(), on_call.clone());
        let one_at_a_time = one_at_a_time.clone();
        async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no target)");
            let how = on_call(target);
            let _turn = match how {
                Relay::Serialized => Some(one_at_a_time.lock().await),
                _ => None,
            };
            if let Relay::ServerErrorPage = how {
                let page = "<html><body><h1>500 Internal Server Error</h1></body></html>";
                let mut answer = axum::response::Response::new(axum::body::Body::from(page));
                *answer.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                let html = axum::http::HeaderValue::from_static("text/html");
                answer.headers_mut().insert("content-type", html);
                return answer;
            }
            relay(&client, &upstream, method, &uri, &headers, body).await
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(forward)).await });
    endpoint
}

/// Sends the request to `upstream` as it came (its headers but `host` and
/// `content-length`) and answers what `upstream` answered: what the test
/// proxies do with every call they let through.
pub async fn relay(
    client: &reqwest::Client,
    upstream: &str,
    method: axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let url = format!(
        "{upstream}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut request = client.request(method, url).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let mut answer = axum::response::Response::new(axum::body::Body::from(body));
    *answer.status_mut() = status;
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// `spawn_app`, with every AWS call of the functions (and of the bootstrap)
/// going through a recording proxy.
pub async fn spawn_recorded_app() -> (TestApp, Recorder) {
    let (endpoint, recorder) = start_recording_proxy(emulator_endpoint()).await;
    (spawn_app_through(&endpoint).await, recorder)
}

/// `spawn_app`, its DynamoDB writes made one at a time. moto's transactions
/// are not isolated (one snapshots its tables and, when a condition fails,
/// restores the snapshot, undoing the writes of whatever ran meanwhile);
/// DynamoDB's are. Tests of concurrent writes on one order need the latter.
pub async fn spawn_app_with_isolated_writes() -> TestApp {
    let on_call = |target: &str| {
        let write = ["TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"]
            .iter()
            .any(|op| target.ends_with(&format!(".{op}")));
        if write {
            Relay::Serialized
        } else {
            Relay::Forward
        }
    };
    spawn_app_through(&start_proxy(emulator_endpoint(), on_call).await).await
}

/// `spawn_app`, with every call of `operation` (`Query`, ...) answered 500
/// with an HTML page instead of reaching the emulator.
pub async fn spawn_app_failing(operation: &'static str) -> TestApp {
    let on_call = move |target: &str| match target.ends_with(operation) {
        true => Relay::ServerErrorPage,
        false => Relay::Forward,
    };
    spawn_app_through(&start_proxy(emulator_endpoint(), on_call).await).await
}

/// A TOKEN authorizer request carrying this `Authorization` header.
pub fn authorizer_request(
    header: &str,
) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest {
    let mut request = aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = Some(header.to_owned());
    request.method_arn =
        Some("arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/orders/42".into());
    request
}

/// The authorizer function's answer to `Bearer {token}`.
pub fn authorize(
    state: &validate_jwt::State,
    token: &str,
) -> Result<
    aws_lambda_events::apigw::ApiGatewayCustomAuthorizerResponse,
    validate_jwt::runtime::FunctionError,
> {
    validate_jwt::authorize(state, authorizer_request(&format!("Bearer {token}")))
}

/// A guest token issued by the authenticate function's own state, for `sub`.
pub async fn issue_guest_token(signer: &authenticate::State, sub: &str) -> String {
    let subject = sub
        .parse::<shared::domain::Subject>()
        .expect("a guest subject");
    let issued = signer
        .tokens
        .issue(&subject, shared::Role::Guest, None)
        .await;
    issued.unwrap().access_token
}
