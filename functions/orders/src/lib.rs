//! `orders`: checkout, the payment webhook, the status machine and the kitchen queue.

use kiosk::catalog::{ProductStore, now_rfc3339};
use kiosk::config::{ConfigError, Env};
use kiosk::http::{
    Caller, json_body, json_response, path_param, query_param, route, route_not_found,
};
use kiosk::keys::{KeyRing, KeySource};
use kiosk::order::{
    Actor, CheckoutBody, Order, OrderStatus, PaymentStatus, order_not_found, ticket_number,
};
use kiosk::orders::{
    Created, IDEMPOTENCY_TTL_SECONDS, IdempotencyRecord, OrderStore, OwnCursor, QueueCursor,
};
use kiosk::page::{Page, decode_cursor, encode_cursor, parse_limit};
use kiosk::webhook::{NotifiedStatus, PaymentNotification, signature_is_valid};
use kiosk::{Error, Result, Role};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub struct State {
    pub orders: OrderStore,
    pub products: ProductStore,
    /// The payment webhook's HMAC secret (current and previous version).
    pub webhook_keys: KeyRing,
}

impl State {
    /// From `ORDERS_TABLE`, `PRODUCTS_TABLE`, `WEBHOOK_SECRET_ID` (and
    /// `WEBHOOK_SECRET_CACHE_SECONDS`, 300); no network call.
    pub fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let source = KeySource::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            secret_id: env.required("WEBHOOK_SECRET_ID")?,
        };
        Ok(Self {
            orders: OrderStore::new(dynamodb.clone(), env.required("ORDERS_TABLE")?),
            products: ProductStore::new(dynamodb, env.required("PRODUCTS_TABLE")?),
            webhook_keys: KeyRing::new(
                source,
                env.seconds_or("WEBHOOK_SECRET_CACHE_SECONDS", 300)?,
            ),
        })
    }
}

pub async fn handle(
    state: &State,
    request: Request,
) -> Result<Response<Body>, std::convert::Infallible> {
    let result = match route(&request) {
        ("POST", "/orders") => checkout(state, &request).await,
        ("GET", "/orders") => list(state, &request).await,
        ("GET", "/orders/{id}") => get(state, &request).await,
        ("PATCH", "/orders/{id}") => move_status(state, &request).await,
        ("POST", "/webhooks/payment") => payment_notification(state, &request).await,
        _ => Err(route_not_found()),
    };
    Ok(result.unwrap_or_else(Error::into_response))
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// `Idempotency-Key`: 1..=128 visible ASCII characters.
fn idempotency_key(request: &Request) -> Result<Option<&str>> {
    let Some(value) = request.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|k| (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
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

#[tracing::instrument(skip_all)]
async fn checkout(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Guest, Role::Customer])?;
    let body: CheckoutBody = json_body(request)?;
    body.validate()?;
    let key = idempotency_key(request)?;
    let request_hash = hex(&Sha256::digest(
        serde_json::to_vec(&body).map_err(Error::internal)?,
    ));
    let record_id = key.map(|k| IdempotencyRecord::key(&caller.sub, k));

    let product_ids: Vec<String> = body.items.iter().map(|l| l.product_id.clone()).collect();
    let (menu, record) = state
        .orders
        .checkout_reads(&state.products, &product_ids, record_id.as_deref())
        .await?;
    // An expired record (not yet removed by the table's TTL) no longer binds the key.
    if let Some(record) = record.filter(|r| r.expires_at > kiosk::token::now_unix()) {
        return replay(state, &record, &request_hash).await;
    }
    let (items, total_cents) = body.price(&menu)?;
    let number = ticket_number(state.orders.next_ticket().await?);
    let now = now_rfc3339();
    let order = Order {
        id: uuid::Uuid::new_v4().to_string(),
        number,
        customer_id: caller.sub.clone(),
        items,
        total_cents,
        status: OrderStatus::AwaitingPayment,
        payment_status: PaymentStatus::Pending,
        created_at: now.clone(),
        updated_at: now,
    };
    let record = record_id.map(|id| IdempotencyRecord {
        id,
        order_id: order.id.clone(),
        request_hash: request_hash.clone(),
        expires_at: kiosk::token::now_unix() + IDEMPOTENCY_TTL_SECONDS,
    });
    match state.orders.create(&order, record.as_ref()).await? {
        Created::Order(order) => {
            tracing::info!(order_id = %order.id, number = order.number, total_cents = order.total_cents.as_cents(), "order placed");
            Ok(json_response(201, &order))
        }
        Created::KeyTaken(existing) => {
            let record = match (existing, &record) {
                (Some(existing), _) => existing,
                (None, Some(ours)) => wait_for_record(state, &ours.id).await?,
                (None, None) => return Err(Error::internal("a key was taken without a key")),
            };
            replay(state, &record, &request_hash).await
        }
    }
}

/// The record of a concurrent request holding the same key, once its
/// transaction is visible.
async fn wait_for_record(state: &State, id: &str) -> Result<IdempotencyRecord> {
    for attempt in 0..6u64 {
        if let Some(record) = state.orders.idempotency_record(id).await? {
            return Ok(record);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20 * (attempt + 1))).await;
    }
    Err(key_in_use())
}

/// The answer to a repeat of a keyed checkout: the same order for the same
/// body, 422 for another body.
async fn replay(
    state: &State,
    record: &IdempotencyRecord,
    request_hash: &str,
) -> Result<Response<Body>> {
    if record.request_hash != request_hash {
        return Err(Error::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with another body",
        ));
    }
    // The first request's order may have been written a moment ago: read it
    // strongly consistent; if it is still not there, that request is in flight.
    let order = state
        .orders
        .get_consistent(&record.order_id)
        .await?
        .ok_or_else(key_in_use)?;
    tracing::info!(order_id = %order.id, "idempotent replay of a checkout");
    Ok(json_response(200, &order))
}

fn key_in_use() -> Error {
    Error::conflict(
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still in progress",
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn order_id(request: &Request) -> Result<&str> {
    path_param(request, "id").ok_or_else(order_not_found)
}

#[tracing::instrument(skip_all)]
async fn get(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    let order = state
        .orders
        .get(order_id(request)?)
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
            OrderStatus::parse(s)
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
    let change: StatusChange = json_body(request)?;
    let to = OrderStatus::parse(&change.status)
        .ok_or_else(|| Error::validation("invalid_status", "unknown order status"))?;
    let owner = is_owner_role(caller.role).then_some(caller.sub.as_str());
    let order = state
        .orders
        .move_status(id, Actor::for_role(caller.role), to, owner)
        .await?;
    tracing::info!(order_id = %order.id, status = order.status.as_str(), role = %caller.role, "order moved");
    Ok(json_response(200, &order))
}

/// `POST /webhooks/payment`: the signature is checked on the raw body before
/// anything is parsed.
#[tracing::instrument(skip_all)]
async fn payment_notification(state: &State, request: &Request) -> Result<Response<Body>> {
    let keys = state
        .webhook_keys
        .current_and_previous()
        .await
        .map_err(Error::internal)?;
    let signature = request
        .headers()
        .get("x-signature")
        .and_then(|v| v.to_str().ok());
    let mut valid = signature_is_valid(request.body().as_ref(), signature, &keys);
    if !valid && signature.is_some() {
        // The secret may have been rotated since it was cached.
        let keys = state
            .webhook_keys
            .refreshed()
            .await
            .map_err(Error::internal)?;
        valid = signature_is_valid(request.body().as_ref(), signature, &keys);
    }
    if !valid {
        tracing::warn!("payment notification with an invalid signature");
        return Err(Error::unauthorized(
            "invalid_signature",
            "the X-Signature header does not match the body",
        ));
    }
    let notification: PaymentNotification = json_body(request)?;
    if [&notification.order_id, &notification.payment_id]
        .iter()
        .any(|v| v.is_empty() || v.len() > 128)
    {
        return Err(Error::validation(
            "invalid_body",
            "order_id and payment_id have 1 to 128 characters",
        ));
    }
    let outcome = match notification.status {
        NotifiedStatus::Approved => PaymentStatus::Approved,
        NotifiedStatus::Refused => PaymentStatus::Refused,
    };
    let order = state
        .orders
        .apply_payment(&notification.order_id, &notification.payment_id, outcome)
        .await?;
    tracing::info!(order_id = %order.id, status = order.status.as_str(), "payment notification applied");
    Ok(json_response(200, &order))
}
