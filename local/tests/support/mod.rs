//! `spawn_app`: an isolated stack in the emulator and the local API on a free
//! port, driven over HTTP like a client would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use kiosk_local::bootstrap::{LocalStack, StaffUser};
use kiosk_local::template::Template;
use serde_json::Value;

pub mod contract;

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

/// A stack and the local API whose AWS calls go to `endpoint`.
async fn spawn_app_through(endpoint: &str) -> TestApp {
    let sdk = kiosk_local::emulator_sdk(endpoint).await;
    let template = template();
    let (stack, router) = kiosk_local::start(&sdk, &template, &unique_prefix(), &staff_users())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    TestApp {
        base_url,
        http: reqwest::Client::new(),
        stack,
        sdk,
        template,
    }
}

/// A response's status and JSON body (Null when empty).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts the answer is the contract's error `code` with `status`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
    }
}

impl TestApp {
    /// Sends the request; the answer must be one openapi.yaml documents for
    /// the route (status and body schema), or the test fails.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let (client, request) = request.build_split();
        let request = request.unwrap();
        let (method, path) = (
            request.method().as_str().to_owned(),
            request.url().path().to_owned(),
        );
        let answer = Self::answer(client.execute(request).await.unwrap()).await;
        contract::check(&method, &path, answer.status, &answer.body);
        answer
    }

    /// Sends the request without the contract check (for requests the
    /// contract does not describe, such as unknown routes).
    pub async fn send_unchecked(&self, request: reqwest::RequestBuilder) -> Answer {
        Self::answer(request.send().await.unwrap()).await
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, body }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(
            self.http
                .post(format!("{}{path}", self.base_url))
                .json(&body),
        )
        .await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(format!("{}{path}", self.base_url))
                .body(body.to_owned()),
        )
        .await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Answer {
        self.send(
            self.http
                .get(format!("{}{path}", self.base_url))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn sign_up(&self, cpf: &str, name: &str) -> Answer {
        self.post(
            "/customers",
            serde_json::json!({"cpf": cpf, "name": name, "email": "cliente@example.com"}),
        )
        .await
    }

    pub async fn token_for(&self, path: &str, body: Value) -> String {
        let answer = self.post(path, body).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token_for(
            "/auth/staff",
            serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
    }

    pub async fn kitchen_token(&self) -> String {
        self.token_for(
            "/auth/staff",
            serde_json::json!({"username": "kitchen", "password": KITCHEN_PASSWORD}),
        )
        .await
    }

    pub async fn guest_token(&self) -> String {
        self.token_for("/auth/guest", Value::Null).await
    }

    pub async fn customer_token(&self, cpf: &str) -> String {
        self.token_for("/auth", serde_json::json!({"cpf": cpf}))
            .await
    }

    /// The environment template.yaml gives `function`, resolved for this stack.
    pub fn function_env(&self, function: &str) -> std::collections::HashMap<String, String> {
        self.template
            .function_env(function, &self.stack.refs)
            .unwrap()
    }

    pub fn jwt_secret_arn(&self) -> String {
        self.stack.get("JwtSigningKey").unwrap().to_owned()
    }
}

/// Valid CPFs, generated: tests that need many distinct customers.
pub fn cpf_from(seed: u32) -> String {
    shared::domain::cpf::complete(&format!("{:09}", 100_000_000 + seed % 800_000_000)).unwrap()
}

/// The AWS operations the app sends, as seen on the wire (the `X-Amz-Target`
/// header of the JSON protocols: `DynamoDB_20120810.Query`, ...).
#[derive(Clone, Default)]
pub struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Recorder {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A pass-through proxy in front of the emulator that records every call.
async fn start_recording_proxy(upstream: String) -> (String, Recorder) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};
    let recorder = Recorder::default();
    let seen = recorder.clone();
    let client = reqwest::Client::new();
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream, seen) = (client.clone(), upstream.clone(), seen.clone());
        async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no target)")
                .to_owned();
            seen.0.lock().unwrap().push(target);
            let url = format!(
                "{upstream}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            let mut request = client.request(method, url).body(body);
            for (name, value) in &headers {
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
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(forward)).await });
    (endpoint, recorder)
}

/// `spawn_app`, with every AWS call of the functions (and of the bootstrap)
/// going through a recording proxy.
pub async fn spawn_recorded_app() -> (TestApp, Recorder) {
    let (endpoint, recorder) = start_recording_proxy(emulator_endpoint()).await;
    (spawn_app_through(&endpoint).await, recorder)
}

impl TestApp {
    pub async fn put_as(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            self.http
                .put(format!("{}{path}", self.base_url))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            self.http
                .post(format!("{}{path}", self.base_url))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn delete_as(&self, path: &str, token: &str) -> Answer {
        self.send(
            self.http
                .delete(format!("{}{path}", self.base_url))
                .bearer_auth(token),
        )
        .await
    }

    /// Creates a product as admin and returns its id.
    pub async fn create_product(
        &self,
        admin: &str,
        name: &str,
        category: &str,
        price_cents: i64,
    ) -> String {
        let created = self
            .post_as(
                "/products",
                admin,
                serde_json::json!({"name": name, "category": category, "price_cents": price_cents}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    }
}
