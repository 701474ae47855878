//! `products`: the menu. Every role browses; only admins write, except that
//! the kitchen (and admins) mark products sold out and back.

use lambda_http::{Body, Request, Response};
use shared::config::{ConfigError, Env};
use shared::domain::ProductId;
use shared::domain::product::{AvailabilityChange, Category, ProductBody, ProductDraft};
use shared::http::page::{Page, encode_cursor};
use shared::http::{
    Caller, empty_response, json_body, json_response, page_params, path_param, query_param, route,
};
use shared::store::products::{MenuCursor, ProductStore};
use shared::{Error, Result, Role};

pub struct State {
    pub products: ProductStore,
}

impl shared::lambda::Function for State {
    /// The table from `PRODUCTS_TABLE`; no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            products: ProductStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                env.required("PRODUCTS_TABLE")?,
            ),
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
    Caller::from_request(request)?.require(&[Role::Kitchen, Role::Admin])?;
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
