//! `TestApp`'s client: requests with or without a token, sent and read into
//! an [`Answer`] that must be one openapi.yaml documents, and one method per
//! route the tests call.

use super::{Answer, TestApp};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::domain::OrderId;
use shared::domain::order::Order;
use shared::domain::product::Product;

/// One page of a list.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A customer as a kiosk sees them after signup (CPF and e-mail masked).
#[derive(Debug, Deserialize)]
pub struct Customer {
    pub id: String,
    pub cpf: String,
    pub first_name: String,
    pub email: String,
    pub email_verified: bool,
}

/// A customer as the admin's list shows them (the CPF masked; the e-mail
/// whole only of who opted in and verified it).
#[derive(Debug, Deserialize)]
pub struct ListedCustomer {
    pub id: String,
    pub cpf: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub marketing_opt_in: bool,
}

/// The answer of a sign-in.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// The answer of a staff sign-in, a TOTP code or a refresh.
#[derive(Debug, Deserialize)]
pub struct StaffTokens {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// A staff sign-in that needs a TOTP step next.
#[derive(Debug, Deserialize)]
pub struct StaffChallenge {
    pub challenge: String,
    pub session: String,
}

/// The answer of `POST /auth/staff/totp/setup`.
#[derive(Debug, Deserialize)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_uri: String,
    pub session: String,
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
        crate::contract::check(method, path, answer.status, &answer.body);
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
        let copies = (0..n).map(|_| request.try_clone().unwrap()).collect();
        self.send_all_at_once(copies).await
    }

    /// Sends the requests at once, unchecked; their answers (in no order).
    pub async fn send_all_at_once(&self, requests: Vec<reqwest::RequestBuilder>) -> Vec<Answer> {
        let mut tasks = tokio::task::JoinSet::new();
        for request in requests {
            tasks.spawn(Answer::of(request));
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

    /// `POST /customers` with an e-mail and marketing choice, as this
    /// stack's kiosk.
    pub async fn sign_up_with(&self, cpf: &str, name: &str, email: &str, opt_in: bool) -> Answer {
        let kiosk = self.kiosk_token().await;
        let body = json!({"cpf": cpf, "name": name, "email": email, "marketing_opt_in": opt_in});
        self.post_as("/customers", &kiosk, body).await
    }

    /// `POST /customers/me/verification`.
    pub async fn request_code(&self, token: &str) -> Answer {
        let request = self.request(Method::POST, "/customers/me/verification", Some(token));
        self.send(request).await
    }

    /// `POST /customers/me/verification/confirm` with `code`.
    pub async fn confirm_code(&self, token: &str, code: &str) -> Answer {
        self.post_as(
            "/customers/me/verification/confirm",
            token,
            json!({ "code": code }),
        )
        .await
    }

    /// `PATCH /customers/me` with `body`.
    pub async fn correct_me(&self, token: &str, body: Value) -> Answer {
        let request = self.request(Method::PATCH, "/customers/me", Some(token));
        self.send(request.json(&body)).await
    }

    /// `POST /auth`, as this stack's kiosk.
    pub async fn auth(&self, cpf: &str) -> Answer {
        let kiosk = self.kiosk_token().await;
        self.post_as("/auth", &kiosk, json!({ "cpf": cpf })).await
    }

    /// `POST /auth/kiosk` with the kiosk's id and secret.
    pub async fn kiosk_sign_in(&self, id: &str, secret: &str) -> Answer {
        self.post("/auth/kiosk", json!({"kiosk_id": id, "secret": secret}))
            .await
    }

    /// `POST /auth/staff`.
    pub async fn staff_sign_in(&self, username: &str, password: &str) -> Answer {
        self.post(
            "/auth/staff",
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// `POST /auth/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post("/auth/refresh", json!({ "refresh_token": refresh_token }))
            .await
    }

    /// `POST /auth/logout` as `token`.
    pub async fn logout(&self, token: &str, refresh_token: &str) -> Answer {
        let body = json!({ "refresh_token": refresh_token });
        self.post_as("/auth/logout", token, body).await
    }

    /// `DELETE /staff/{username}/sessions` as `token`.
    pub async fn end_sessions(&self, token: &str, username: &str) -> Answer {
        self.delete_as(&format!("/staff/{username}/sessions"), token)
            .await
    }

    /// `POST /auth/staff/totp/setup` with a `totp_setup` session.
    pub async fn totp_setup(&self, session: &str) -> Answer {
        self.post("/auth/staff/totp/setup", json!({ "session": session }))
            .await
    }

    /// `POST /auth/staff/totp/setup` with a bearer token and no body.
    pub async fn totp_setup_as(&self, token: &str) -> Answer {
        self.send(self.request(Method::POST, "/auth/staff/totp/setup", Some(token)))
            .await
    }

    /// `POST /auth/staff/totp`.
    pub async fn totp(&self, session: &str, code: &str) -> Answer {
        self.post(
            "/auth/staff/totp",
            json!({ "session": session, "code": code }),
        )
        .await
    }

    /// `POST /validate` with the token in the body.
    pub async fn validate(&self, token: &str) -> Answer {
        self.post("/validate", json!({ "token": token })).await
    }

    /// `GET /customers?{query}`.
    pub async fn list_customers(&self, token: &str, query: &str) -> Answer {
        self.get_as(&with_query("/customers", query), token).await
    }

    // The menu.

    /// `POST /products`.
    pub async fn post_product(&self, token: &str, body: Value) -> Answer {
        self.post_as("/products", token, body).await
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

    /// `PATCH /stores/{store}/availability` with `body`.
    pub async fn patch_availability(
        &self,
        token: &str,
        store: impl std::fmt::Display,
        body: Value,
    ) -> Answer {
        let path = format!("/stores/{store}/availability");
        let request = self.request(Method::PATCH, &path, Some(token));
        self.send(request.json(&body)).await
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

    /// `POST /orders` with `{"items": items, "fulfillment": "takeout"}`.
    pub async fn checkout(&self, token: &str, items: Value) -> Answer {
        self.post_as("/orders", token, order_body(items)).await
    }

    /// `POST /orders` with an `Idempotency-Key` header.
    pub async fn checkout_with_key(&self, token: &str, key: &str, items: Value) -> Answer {
        let request = self.request(Method::POST, "/orders", Some(token));
        self.send(
            request
                .header("Idempotency-Key", key)
                .json(&order_body(items)),
        )
        .await
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

    /// `GET /stores/{id}/board` of this stack's store, with no token: the
    /// route is public.
    pub async fn board(&self) -> Answer {
        let path = format!("/stores/{}/board", self.home_store().await);
        self.send(self.request(Method::GET, &path, None)).await
    }
}

/// `path?query`, or `path` when the query is empty.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// A checkout body of `items`, to take away.
pub fn order_body(items: Value) -> Value {
    json!({ "items": items, "fulfillment": "takeout" })
}
