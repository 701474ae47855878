//! `orders`: checkout, the Mercado Pago payment and its webhook, the status
//! machine and the kitchen queue.
//!
//! Each handler parses the request, checks the role, calls the domain crate
//! (`service::checkout`, `service::payment`, the order store) and answers.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::config::{ConfigError, Env};
use shared::domain::order::{Actor, Checkout, CheckoutBody, OrderStatus, order_not_found};
use shared::domain::{IdempotencyKey, OrderId};
use shared::http::page::{Page, decode_cursor, encode_cursor, parse_limit};
use shared::http::{
    Caller, json_body, json_response, path_param, query_param, route, route_not_found,
};
use shared::payments::ProviderOrderId;
use shared::payments::account::MercadoPagoAccount;
use shared::payments::signature;
use shared::service::checkout::{Placed, place_order};
use shared::service::payment::{
    PaymentStore, provider_error, refund_key, request_payment, settle_provider_order,
};
use shared::store::orders::{OrderStore, OwnCursor, QueueCursor};
use shared::store::products::ProductStore;
use shared::{Error, Result, Role};

pub struct State {
    pub orders: OrderStore,
    pub mercadopago: MercadoPagoAccount,
    /// `ORDER_PAYMENT_TIMEOUT_SECONDS` (900): how long an order may await
    /// its payment (the QR expires with it).
    pub payment_timeout: std::time::Duration,
}

impl shared::lambda::Function for State {
    /// From `ORDERS_TABLE`, `PRODUCTS_TABLE`, `MERCADOPAGO_SECRET_ID`,
    /// `MERCADOPAGO_API_URL`, `MERCADOPAGO_EXTERNAL_POS_ID`,
    /// `MERCADOPAGO_SECRET_CACHE_SECONDS` (300) and
    /// `ORDER_PAYMENT_TIMEOUT_SECONDS` (900); no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let products = ProductStore::new(dynamodb.clone(), env.required("PRODUCTS_TABLE")?);
        let payment_timeout = env.seconds_or("ORDER_PAYMENT_TIMEOUT_SECONDS", 900)?;
        Ok(Self {
            orders: OrderStore::new(dynamodb, env.required("ORDERS_TABLE")?, products)
                .with_payment_timeout(payment_timeout),
            mercadopago: MercadoPagoAccount::from_env(sdk, env)?,
            payment_timeout,
        })
    }

    async fn handle(&self, request: Request) -> Response<Body> {
        let result = match route(&request) {
            ("POST", "/orders") => checkout(self, &request).await,
            ("GET", "/orders") => list(self, &request).await,
            ("GET", "/orders/{id}") => get(self, &request).await,
            ("PATCH", "/orders/{id}") => move_status(self, &request).await,
            ("POST", "/orders/{id}/payment") => pay(self, &request).await,
            ("POST", "/webhooks/mercadopago") => mercadopago_notification(self, &request).await,
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

/// Who reads orders: owners their own, staff all. A kiosk device reads none
/// (its customers sign in and read theirs).
const ORDER_READERS: &[Role] = &[Role::Guest, Role::Customer, Role::Kitchen, Role::Admin];

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
    caller.require(ORDER_READERS)?;
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
    caller.require(ORDER_READERS)?;
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
    if caller.role == Role::Admin && to == OrderStatus::Cancelled {
        refund_before_cancel(state, &id).await?;
    }
    let order = state
        .orders
        .move_status(&id, Actor::for_role(caller.role)?, to, owner)
        .await?;
    tracing::info!(order_id = %order.id, status = %order.status, role = %caller.role, "order moved");
    Ok(json_response(200, &order))
}

/// An admin's cancel of a paid order gives the money back first: the refund
/// (idempotent: one key per order) must succeed, or the answer is 503 and
/// the order stays as it is.
async fn refund_before_cancel(state: &State, id: &OrderId) -> Result<()> {
    let Some(stored) = state.orders.order_with_payment(id).await? else {
        return Err(order_not_found());
    };
    if stored.order.status != OrderStatus::Received {
        return Ok(()); // the move itself answers 409
    }
    let provider_order = stored
        .provider_order_id()
        .ok_or_else(|| Error::internal("a paid order without its Mercado Pago order"))?;
    let gateway = state.mercadopago.gateway().await?;
    shared::payments::PaymentGateway::refund_order(&gateway, &provider_order, &refund_key(id)?)
        .await
        .map_err(provider_error)?;
    tracing::info!(order_id = %id, "payment refunded");
    Ok(())
}

/// `POST /orders/{id}/payment`: the order's Mercado Pago QR (201 the first
/// time, 200 with the same one after).
#[tracing::instrument(skip_all)]
async fn pay(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Guest, Role::Customer])?;
    let id = order_id(request)?;
    let gateway = state.mercadopago.gateway().await?;
    let (payment, created) = request_payment(
        &state.orders,
        &gateway,
        &id,
        &caller.sub,
        state.payment_timeout,
    )
    .await?;
    Ok(json_response(if created { 201 } else { 200 }, &payment))
}

/// `POST /webhooks/mercadopago?data.id=&type=`: believed only with a valid
/// `x-signature`; then the Mercado Pago order is re-read and acted on alone.
/// Answers a minimal body: the sender learns nothing about our orders.
#[tracing::instrument(skip_all)]
async fn mercadopago_notification(state: &State, request: &Request) -> Result<Response<Body>> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let data_id = query_param(request, "data.id");
    let (signature, request_id) = (header("x-signature"), header("x-request-id"));
    let mut verified = signature::verify(
        signature,
        request_id,
        data_id,
        &state.mercadopago.credentials(false).await?.webhook_secrets,
    );
    if matches!(verified, Err(signature::SignatureError::Mismatch)) {
        // The secret may have been rotated since it was cached.
        let secrets = state.mercadopago.credentials(true).await?.webhook_secrets;
        verified = signature::verify(signature, request_id, data_id, &secrets);
    }
    if let Err(e) = verified {
        tracing::warn!(reason = %e, "Mercado Pago notification refused");
        return Err(Error::unauthorized(
            "invalid_signature",
            "the x-signature header does not sign this notification",
        ));
    }
    let received = || json_response(200, &serde_json::json!({"received": true}));
    if query_param(request, "type") != Some("order") {
        return Ok(received());
    }
    let Some(provider_order) = data_id.and_then(ProviderOrderId::parse) else {
        return Ok(received());
    };
    let gateway = state.mercadopago.gateway().await?;
    let settled = settle_provider_order(&state.orders, &gateway, &provider_order).await?;
    tracing::info!(provider_order_id = %provider_order, outcome = ?settled_name(&settled), "Mercado Pago notification");
    Ok(received())
}

fn settled_name(settled: &shared::service::payment::Settled) -> &'static str {
    use shared::service::payment::Settled;
    match settled {
        Settled::Confirmed(_) => "confirmed",
        Settled::Refused => "refused",
        Settled::Refunded => "refunded",
        Settled::AmountMismatch => "amount_mismatch",
        Settled::Unchanged => "unchanged",
    }
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
