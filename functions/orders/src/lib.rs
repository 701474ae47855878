//! `orders`: checkout, the Mercado Pago payment and its webhook, the status
//! machine and the kitchen queue.
//!
//! Each handler parses the request, checks the role, calls the domain crate
//! (`service::checkout`, `service::payment`, the order store) and answers.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::clock;
use shared::config::{ConfigError, Env};
use shared::domain::order::{Actor, Checkout, CheckoutBody, OrderStatus};
use shared::domain::{IdempotencyKey, OrderId, StoreId};
use shared::http::page::{Page, decode_cursor, encode_cursor, parse_limit};
use shared::http::{Caller, json_body, json_response, path_param, query_param, route};
use shared::payments::account::MercadoPagoAccount;
use shared::service::checkout::{Placed, place_order};
use shared::service::orders::move_order;
use shared::service::payment::{Notification, poll_order, receive_notification, request_payment};
use shared::service::ports::Reach;
use shared::store::orders::{Checkouts, OpenOrderLimits, OrderStore, OwnCursor, QueueCursor};
use shared::store::products::ProductStore;
use shared::store::stores::StoreStore;
use shared::{Code, Error, Result, Role};

pub struct State {
    pub orders: OrderStore,
    /// The stores, whose existence the board checks.
    pub stores: StoreStore,
    /// The orders with the menu they are priced from.
    pub checkouts: Checkouts,
    pub mercadopago: MercadoPagoAccount,
    /// `ORDER_PAYMENT_TIMEOUT_SECONDS` (900): how long an order may await
    /// its payment (the QR expires with it).
    pub payment_timeout: std::time::Duration,
}

impl shared::lambda::Function for State {
    /// From `ORDERS_TABLE`, `PRODUCTS_TABLE`, `STORES_TABLE`, `MERCADOPAGO_SECRET_ID`,
    /// `MERCADOPAGO_API_URL`, `MERCADOPAGO_EXTERNAL_POS_ID`,
    /// `MERCADOPAGO_SECRET_CACHE_SECONDS` (300),
    /// `ORDER_PAYMENT_TIMEOUT_SECONDS` (900), `OPEN_ORDERS_PER_CUSTOMER` (2)
    /// and `OPEN_ORDERS_PER_KIOSK` (10); no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let products = ProductStore::new(dynamodb.clone(), env.required("PRODUCTS_TABLE")?);
        let stores = StoreStore::new(dynamodb.clone(), env.required("STORES_TABLE")?);
        let store_names = stores.clone();
        let payment_timeout = env.seconds_or("ORDER_PAYMENT_TIMEOUT_SECONDS", 900)?;
        let limits = OpenOrderLimits {
            per_owner: env.count_or("OPEN_ORDERS_PER_CUSTOMER", 2)?,
            per_kiosk: env.count_or("OPEN_ORDERS_PER_KIOSK", 10)?,
        };
        let orders = OrderStore::new(dynamodb, env.required("ORDERS_TABLE")?);
        Ok(Self {
            stores: store_names,
            checkouts: Checkouts::new(orders.clone(), products, stores)
                .with_payment_timeout(payment_timeout)
                .with_open_order_limits(limits),
            orders,
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
            ("GET", "/stores/{id}/board") => board(self, &request).await,
            _ => Err(Error::route_not_found()),
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
                Code::InvalidIdempotencyKey,
                "Idempotency-Key is 1 to 128 visible ASCII characters",
            )
        })
}

/// Who reads orders: owners their own, staff all. A kiosk device reads none
/// (its customers sign in and read theirs).
const ORDER_READERS: &[Role] = &[
    Role::Guest,
    Role::Customer,
    Role::Kitchen,
    Role::Manager,
    Role::Admin,
];

fn is_owner_role(role: Role) -> bool {
    matches!(role, Role::Guest | Role::Customer)
}

/// Whose orders `caller` may touch: an owner its own, a store's kitchen or
/// manager that store's, an admin every store's.
fn reach(caller: &Caller) -> Result<Reach<'_>> {
    match caller.role {
        Role::Guest | Role::Customer => Ok(Reach::Owner(&caller.subject)),
        Role::Admin => Ok(Reach::Chain),
        _ => caller
            .store_id
            .as_ref()
            .map(Reach::Store)
            .ok_or_else(Error::unauthorized_caller),
    }
}

/// The `{id}` of the path; one that cannot be an order id is 404.
fn order_id(request: &Request) -> Result<OrderId> {
    path_param(request, "id")
        .and_then(OrderId::parse)
        .ok_or_else(Error::order_not_found)
}

#[tracing::instrument(skip_all)]
async fn checkout(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Guest, Role::Customer])?;
    let (_, at) = caller.kiosk_scope()?;
    let checkout = Checkout::try_from(json_body::<CheckoutBody>(request)?)?;
    let key = idempotency_key(request)?;
    Ok(
        match place_order(
            &state.checkouts,
            &caller.subject,
            &at,
            &checkout,
            key.as_ref(),
        )
        .await?
        {
            Placed::New(order) => {
                json_response(201, &order.view(clock::now(), state.payment_timeout))
            }
            Placed::Replay(order) => {
                json_response(200, &order.view(clock::now(), state.payment_timeout))
            }
        },
    )
}

#[tracing::instrument(skip_all)]
async fn get(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(ORDER_READERS)?;
    let id = order_id(request)?;
    // The owner's poll may settle the payment (another's order answers
    // exactly like a missing one); staff read the order as it is.
    let order = if is_owner_role(caller.role) {
        poll_order(
            &state.orders,
            &state.mercadopago,
            &id,
            &caller.subject,
            clock::now(),
        )
        .await?
    } else {
        let reach = reach(&caller)?;
        state
            .orders
            .get(&id)
            .await?
            .filter(|order| reach.holds(order))
            .ok_or_else(Error::order_not_found)?
    };
    Ok(json_response(
        200,
        &order.view(clock::now(), state.payment_timeout),
    ))
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
        let (items, next) = state.orders.list_own(&caller.subject, limit, after).await?;
        return Ok(json_response(
            200,
            &Page {
                items: items
                    .into_iter()
                    .map(|o| o.view(clock::now(), state.payment_timeout))
                    .collect::<Vec<_>>(),
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
                        Code::InvalidStatus,
                        "status is one of received, in_preparation, ready",
                    )
                })
        })
        .transpose()?;
    // A store's queue: the caller's store, or for an admin the one asked.
    let store = match reach(&caller)? {
        Reach::Store(store) => store.clone(),
        _ => query_param(request, "store_id")
            .map(|id| StoreId::parse(id).ok_or_else(Error::store_not_found))
            .transpose()?
            .ok_or_else(|| {
                Error::validation(
                    Code::StoreRequired,
                    "an admin reads one store's kitchen queue: ?store_id=",
                )
            })?,
    };
    // The cursor names its store: a page of one store never continues another's.
    let kind = format!("{QUEUE_CURSOR}#{store}");
    let after = cursor
        .map(|c| decode_cursor::<QueueCursor>(&kind, c))
        .transpose()?;
    let (items, next) = state
        .orders
        .kitchen_queue(&store, only, limit, after)
        .await?;
    Ok(json_response(
        200,
        &Page {
            items: items
                .into_iter()
                .map(|o| o.view(clock::now(), state.payment_timeout))
                .collect::<Vec<_>>(),
            next_cursor: next.map(|c| encode_cursor(&kind, &c)),
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
    let actor = Actor::for_role(caller.role)?;
    let order = move_order(
        &state.orders,
        &state.mercadopago,
        &id,
        actor,
        to,
        reach(&caller)?,
    )
    .await?;
    Ok(json_response(
        200,
        &order.view(clock::now(), state.payment_timeout),
    ))
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
        &caller.subject,
        state.payment_timeout,
    )
    .await?;
    Ok(json_response(if created { 201 } else { 200 }, &payment))
}

/// `POST /webhooks/mercadopago?data.id=&type=`: believed only with a valid
/// `x-signature` (`service::payment::receive_notification`). Answers a
/// minimal body: the sender learns nothing about our orders.
#[tracing::instrument(skip_all)]
async fn mercadopago_notification(state: &State, request: &Request) -> Result<Response<Body>> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let notification = Notification {
        data_id: query_param(request, "data.id"),
        kind: query_param(request, "type"),
        signature: header("x-signature"),
        request_id: header("x-request-id"),
    };
    receive_notification(&state.orders, &state.mercadopago, notification).await?;
    Ok(json_response(200, &serde_json::json!({"received": true})))
}

/// `GET /stores/{id}/board`: public, the pickup monitor's ticket numbers of
/// one store; cacheable for five seconds. The store's record and its board
/// are read at once.
#[tracing::instrument(skip_all)]
async fn board(state: &State, request: &Request) -> Result<Response<Body>> {
    let store = path_param(request, "id")
        .and_then(StoreId::parse)
        .ok_or_else(Error::store_not_found)?;
    let (exists, board) =
        tokio::try_join!(state.stores.exists(&store), state.orders.board(&store))?;
    if !exists {
        return Err(Error::store_not_found());
    }
    let mut response = json_response(200, &board);
    response.headers_mut().insert(
        lambda_http::http::header::CACHE_CONTROL,
        lambda_http::http::HeaderValue::from_static("public, max-age=5"),
    );
    Ok(response)
}
