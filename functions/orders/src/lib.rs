//! `orders`: checkout, the payment webhook, the status machine and the kitchen queue.
//!
//! Each handler parses the request, checks the role, calls the domain crate
//! (`service::checkout`, `service::payment`, the order store) and answers.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::config::{ConfigError, Env};
use shared::domain::keys::{KeyRing, KeySource};
use shared::domain::order::{Actor, Checkout, CheckoutBody, OrderStatus, order_not_found};
use shared::domain::{IdempotencyKey, OrderId};
use shared::http::page::{Page, decode_cursor, encode_cursor, parse_limit};
use shared::http::{
    Caller, json_body, json_response, path_param, query_param, route, route_not_found,
};
use shared::service::checkout::{Placed, place_order};
use shared::service::payment::confirm_payment;
use shared::store::orders::{OrderStore, OwnCursor, QueueCursor};
use shared::store::products::ProductStore;
use shared::store::secrets::SecretVersions;
use shared::{Error, Result, Role};

pub struct State {
    pub orders: OrderStore,
    /// The payment webhook's HMAC secret (current and previous version).
    pub webhook_keys: KeyRing,
}

impl shared::lambda::Function for State {
    /// From `ORDERS_TABLE`, `PRODUCTS_TABLE`, `WEBHOOK_SECRET_ID` (and
    /// `WEBHOOK_SECRET_CACHE_SECONDS`, 300); no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let products = ProductStore::new(dynamodb.clone(), env.required("PRODUCTS_TABLE")?);
        let webhook_secret = SecretVersions::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            env.required("WEBHOOK_SECRET_ID")?,
        );
        Ok(Self {
            orders: OrderStore::new(dynamodb, env.required("ORDERS_TABLE")?, products),
            webhook_keys: KeyRing::new(
                KeySource::SecretsManager(webhook_secret),
                env.seconds_or("WEBHOOK_SECRET_CACHE_SECONDS", 300)?,
            ),
        })
    }

    async fn handle(&self, request: Request) -> Response<Body> {
        let result = match route(&request) {
            ("POST", "/orders") => checkout(self, &request).await,
            ("GET", "/orders") => list(self, &request).await,
            ("GET", "/orders/{id}") => get(self, &request).await,
            ("PATCH", "/orders/{id}") => move_status(self, &request).await,
            ("POST", "/webhooks/payment") => payment_notification(self, &request).await,
            ("GET", "/board") => board(self).await,
            _ => Err(route_not_found()),
        };
        result.unwrap_or_else(Error::into_response)
    }
}

/// The `Idempotency-Key` header, if sent.
fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(|| {
            Error::validation(
                "invalid_idempotency_key",
                "Idempotency-Key is 1 to 128 visible ASCII characters",
            )
        })
}

fn is_owner_role(role: Role) -> bool {
    matches!(role, Role::Guest | Role::Customer)
}

/// The `{id}` of the path; one that cannot be an order id is 404.
fn order_id(request: &Request) -> Result<OrderId> {
    path_param(request, "id")
        .and_then(OrderId::parse)
        .ok_or_else(order_not_found)
}

#[tracing::instrument(skip_all)]
async fn checkout(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Guest, Role::Customer])?;
    let checkout = Checkout::try_from(json_body::<CheckoutBody>(request)?)?;
    let key = idempotency_key(request)?;
    Ok(
        match place_order(&state.orders, &caller.sub, &checkout, key.as_ref()).await? {
            Placed::New(order) => json_response(201, &order),
            Placed::Replay(order) => json_response(200, &order),
        },
    )
}

#[tracing::instrument(skip_all)]
async fn get(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    let order = state
        .orders
        .get(&order_id(request)?)
        .await?
        .ok_or_else(order_not_found)?;
    // Another customer's order answers exactly like a missing one.
    if is_owner_role(caller.role) && order.customer_id != caller.sub {
        return Err(order_not_found());
    }
    Ok(json_response(200, &order))
}

const OWN_CURSOR: &str = "orders:own";
const QUEUE_CURSOR: &str = "orders:queue";

#[tracing::instrument(skip_all)]
async fn list(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    let limit = parse_limit(query_param(request, "limit"))?;
    let cursor = query_param(request, "cursor");
    if is_owner_role(caller.role) {
        let after = cursor
            .map(|c| decode_cursor::<OwnCursor>(OWN_CURSOR, c))
            .transpose()?;
        let (items, next) = state.orders.list_own(&caller.sub, limit, after).await?;
        return Ok(json_response(
            200,
            &Page {
                items,
                next_cursor: next.map(|c| encode_cursor(OWN_CURSOR, &c)),
            },
        ));
    }
    let only = query_param(request, "status")
        .map(|s| {
            s.parse::<OrderStatus>()
                .ok()
                .filter(|s| s.in_queue())
                .ok_or_else(|| {
                    Error::validation(
                        "invalid_status",
                        "status is one of received, in_preparation, ready",
                    )
                })
        })
        .transpose()?;
    let after = cursor
        .map(|c| decode_cursor::<QueueCursor>(QUEUE_CURSOR, c))
        .transpose()?;
    let (items, next) = state.orders.kitchen_queue(only, limit, after).await?;
    Ok(json_response(
        200,
        &Page {
            items,
            next_cursor: next.map(|c| encode_cursor(QUEUE_CURSOR, &c)),
        },
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: String,
}

#[tracing::instrument(skip_all)]
async fn move_status(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    let id = order_id(request)?;
    let to: OrderStatus = json_body::<StatusChange>(request)?.status.parse()?;
    let owner = is_owner_role(caller.role).then_some(caller.sub.as_str());
    let order = state
        .orders
        .move_status(&id, Actor::for_role(caller.role), to, owner)
        .await?;
    tracing::info!(order_id = %order.id, status = %order.status, role = %caller.role, "order moved");
    Ok(json_response(200, &order))
}

/// `POST /webhooks/payment`.
#[tracing::instrument(skip_all)]
async fn payment_notification(state: &State, request: &Request) -> Result<Response<Body>> {
    let signature = request
        .headers()
        .get("x-signature")
        .and_then(|v| v.to_str().ok());
    let order = confirm_payment(
        &state.webhook_keys,
        &state.orders,
        request.body().as_ref(),
        signature,
    )
    .await?;
    Ok(json_response(200, &order))
}

/// `GET /board`: public, the pickup monitor's ticket numbers; cacheable for
/// five seconds.
#[tracing::instrument(skip_all)]
async fn board(state: &State) -> Result<Response<Body>> {
    let board = state.orders.board().await?;
    let mut response = json_response(200, &board);
    response.headers_mut().insert(
        lambda_http::http::header::CACHE_CONTROL,
        lambda_http::http::HeaderValue::from_static("public, max-age=5"),
    );
    Ok(response)
}
