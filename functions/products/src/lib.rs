//! `products`: the menu and the chain's stores. Every role browses the menu;
//! only admins write it, except that the kitchen (and admins) mark products
//! sold out and back. Anyone may read the stores; admins open and change
//! them.

use lambda_http::{Body, Request, Response};
use shared::config::{ConfigError, Env};
use shared::domain::ProductId;
use shared::domain::StoreId;
use shared::domain::product::{AvailabilityChange, Category, ProductBody, ProductDraft};
use shared::domain::store::{StoreBody, StoreDraft, StorePatch, StorePatchBody};
use shared::http::page::{Page, encode_cursor};
use shared::http::{
    Caller, empty_response, json_body, json_response, page_params, path_param, query_param, route,
};
use shared::store::products::{MenuCursor, ProductStore};
use shared::store::stores::{StoreCursor, StoreStore};
use shared::{Code, Error, Result, Role};

pub struct State {
    pub products: ProductStore,
    pub stores: StoreStore,
}

impl shared::lambda::Function for State {
    /// The tables from `PRODUCTS_TABLE` and `STORES_TABLE`; no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let client = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Self {
            products: ProductStore::new(client.clone(), env.required("PRODUCTS_TABLE")?),
            stores: StoreStore::new(client, env.required("STORES_TABLE")?),
        })
    }

    async fn handle(&self, request: Request) -> Response<Body> {
        let result = match route(&request) {
            ("GET", "/products") => list(self, &request).await,
            ("POST", "/products") => create(self, &request).await,
            ("GET", "/products/{id}") => get(self, &request).await,
            ("PUT", "/products/{id}") => update(self, &request).await,
            ("PATCH", "/products/{id}") => set_available(self, &request).await,
            ("DELETE", "/products/{id}") => delete(self, &request).await,
            ("GET", "/stores") => list_stores(self, &request).await,
            ("POST", "/stores") => create_store(self, &request).await,
            ("GET", "/stores/{id}") => get_store(self, &request).await,
            ("PATCH", "/stores/{id}") => update_store(self, &request).await,
            _ => Err(Error::route_not_found()),
        };
        result.unwrap_or_else(Error::into_response)
    }
}

const CURSOR_KIND: &str = "products";

/// The `{id}` of the path; one that cannot be a product id is 404 without
/// asking DynamoDB.
fn product_id(request: &Request) -> Result<ProductId> {
    path_param(request, "id")
        .and_then(ProductId::parse)
        .ok_or_else(Error::product_not_found)
}

fn draft(request: &Request) -> Result<ProductDraft> {
    ProductDraft::try_from(json_body::<ProductBody>(request)?)
}

#[tracing::instrument(skip_all)]
async fn list(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?;
    let category = query_param(request, "category")
        .map(str::parse::<Category>)
        .transpose()?;
    let (limit, after) = page_params::<MenuCursor>(request, CURSOR_KIND)?;
    let (items, next) = state.products.list(category, limit, after).await?;
    Ok(json_response(
        200,
        &Page {
            items,
            next_cursor: next.map(|c| encode_cursor(CURSOR_KIND, &c)),
        },
    ))
}

#[tracing::instrument(skip_all)]
async fn get(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?;
    match state.products.get(&product_id(request)?).await? {
        Some(product) if product.active => Ok(json_response(200, &product)),
        _ => Err(Error::product_not_found()),
    }
}

#[tracing::instrument(skip_all)]
async fn create(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let product = state.products.create(draft(request)?).await?;
    tracing::info!(product_id = %product.id, "product created");
    Ok(json_response(201, &product))
}

#[tracing::instrument(skip_all)]
async fn update(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let id = product_id(request)?;
    let product = state.products.update(&id, draft(request)?).await?;
    tracing::info!(product_id = %id, "product updated");
    Ok(json_response(200, &product))
}

/// `{"available": false}` sells the product out, `true` brings it back.
#[tracing::instrument(skip_all)]
async fn set_available(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Kitchen, Role::Manager, Role::Admin])?;
    let id = product_id(request)?;
    let AvailabilityChange { available } = json_body(request)?;
    let product = state.products.set_available(&id, available).await?;
    tracing::info!(product_id = %id, available, "product availability set");
    Ok(json_response(200, &product))
}

#[tracing::instrument(skip_all)]
async fn delete(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let id = product_id(request)?;
    state.products.delete(&id).await?;
    tracing::info!(product_id = %id, "product deleted");
    Ok(empty_response(204))
}

const STORES_CURSOR_KIND: &str = "stores";

/// The `{id}` of a store path; one that cannot be a store id is 404 without
/// asking DynamoDB.
fn store_id(request: &Request) -> Result<StoreId> {
    path_param(request, "id")
        .and_then(StoreId::parse)
        .ok_or_else(Error::store_not_found)
}

/// `GET /stores` (public): the chain's stores by name, with `open_now`.
#[tracing::instrument(skip_all)]
async fn list_stores(state: &State, request: &Request) -> Result<Response<Body>> {
    let (limit, after) = page_params::<StoreCursor>(request, STORES_CURSOR_KIND)?;
    let (stores, next) = state.stores.list(limit, after).await?;
    let now = shared::clock::now();
    Ok(json_response(
        200,
        &Page {
            items: stores.into_iter().map(|s| s.view(now)).collect::<Vec<_>>(),
            next_cursor: next.map(|c| encode_cursor(STORES_CURSOR_KIND, &c)),
        },
    ))
}

/// `GET /stores/{id}` (public).
#[tracing::instrument(skip_all)]
async fn get_store(state: &State, request: &Request) -> Result<Response<Body>> {
    let store = state
        .stores
        .get(&store_id(request)?)
        .await?
        .ok_or_else(Error::store_not_found)?;
    Ok(json_response(200, &store.view(shared::clock::now())))
}

#[tracing::instrument(skip_all)]
async fn create_store(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let draft = StoreDraft::try_from(json_body::<StoreBody>(request)?)?;
    let store = state.stores.create(draft).await?;
    tracing::info!(store_id = %store.id, "store opened");
    Ok(json_response(201, &store.view(shared::clock::now())))
}

/// `PATCH /stores/{id}`: an admin changes any store; a manager its own
/// store's hours and pause (another store is 404, its name or timezone 403).
#[tracing::instrument(skip_all)]
async fn update_store(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Manager, Role::Admin])?;
    let id = store_id(request)?;
    if caller.role == Role::Manager && caller.store_id.as_ref() != Some(&id) {
        return Err(Error::store_not_found());
    }
    let patch = StorePatch::try_from(json_body::<StorePatchBody>(request)?)?;
    if caller.role == Role::Manager && !patch.is_operational() {
        return Err(Error::forbidden(
            Code::Forbidden,
            "a store's name and timezone are the chain's: a manager changes its hours and pause",
        ));
    }
    let store = state.stores.update(&id, patch).await?;
    tracing::info!(store_id = %id, paused = store.paused, "store updated");
    Ok(json_response(200, &store.view(shared::clock::now())))
}
