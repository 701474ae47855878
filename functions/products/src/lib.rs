//! `products`: the menu and the chain's stores. Every role browses the menu,
//! with `available` as at the caller's store; only admins write it. A store's
//! kitchen and manager (and admins) sell products out there and bring them
//! back. Anyone may read the stores; admins open and change them.

use lambda_http::{Body, Request, Response};
use shared::config::{ConfigError, Env};
use shared::domain::ProductId;
use shared::domain::StoreId;
use shared::domain::menu::Allergen;
use shared::domain::product::{Category, Product, ProductBody, ProductDraft};
use shared::domain::store::{
    AvailabilityBody, AvailabilityChange, Stock, Store, StoreBody, StoreDraft, StorePatch,
    StorePatchBody,
};
use shared::http::page::{Page, encode_cursor};
use shared::http::{
    Caller, empty_response, json_body, json_response, page_params, path_param, query_param, route,
};
use shared::store::menu_cache::{MenuCache, WholeMenu};
use shared::store::products::{MenuCursor, ProductStore};
use shared::store::stores::{StoreCursor, StoreStore};
use shared::{Code, Error, Result, Role};
use std::collections::HashMap;

pub struct State {
    pub products: ProductStore,
    pub stores: StoreStore,
    /// The menu pages this instance read in the last `MENU_CACHE_SECONDS`.
    pub menu: MenuCache,
}

/// How long a warm instance answers a menu page from memory by default.
pub const MENU_CACHE_SECONDS: u64 = 5;

impl shared::lambda::Function for State {
    /// The tables from `PRODUCTS_TABLE` and `STORES_TABLE`, and the menu
    /// pages' lifetime from `MENU_CACHE_SECONDS` (5; 0 turns the cache off);
    /// no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let client = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Self {
            products: ProductStore::new(client.clone(), env.required("PRODUCTS_TABLE")?),
            stores: StoreStore::new(client, env.required("STORES_TABLE")?),
            menu: MenuCache::new(env.seconds_or("MENU_CACHE_SECONDS", MENU_CACHE_SECONDS)?),
        })
    }

    async fn handle(&self, request: Request) -> Response<Body> {
        let result = match route(&request) {
            ("GET", "/products") => list(self, &request).await,
            ("POST", "/products") => create(self, &request).await,
            ("GET", "/products/{id}") => get(self, &request).await,
            ("PUT", "/products/{id}") => update(self, &request).await,
            ("DELETE", "/products/{id}") => delete(self, &request).await,
            ("GET", "/stores") => list_stores(self, &request).await,
            ("POST", "/stores") => create_store(self, &request).await,
            ("GET", "/stores/{id}") => get_store(self, &request).await,
            ("PATCH", "/stores/{id}") => update_store(self, &request).await,
            ("PATCH", "/stores/{id}/availability") => set_availability(self, &request).await,
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

/// The product body of `request`, checked on its own and, when it has
/// options or slots, against the active menu (one read of it: option ids
/// unique across the menu, a combo's slots naming active items other than
/// product `id`). A product without either needs no read.
async fn draft(state: &State, request: &Request, id: Option<&ProductId>) -> Result<ProductDraft> {
    let draft = ProductDraft::try_from(json_body::<ProductBody>(request)?)?;
    if !draft.modifier_groups.is_empty() || !draft.slots.is_empty() {
        draft.check_on(id, &state.products.active_menu().await?)?;
    }
    Ok(draft)
}

/// `?exclude_allergens=milk,peanuts`: the kiosk's allergen filter (400
/// `invalid_body` for a name not on ANVISA's list), each named once.
fn excluded_allergens(request: &Request) -> Result<Vec<Allergen>> {
    let Some(list) = query_param(request, "exclude_allergens") else {
        return Ok(Vec::new());
    };
    let mut excluded = list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name: &str| {
            Allergen::parse(name).ok_or_else(|| {
                Error::invalid_body(
                    "exclude_allergens is a comma-separated list of ANVISA's allergens \
                     (milk,peanuts)",
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    excluded.sort_unstable();
    excluded.dedup();
    Ok(excluded)
}

/// The store whose sold-out set a menu read follows.
enum MenuAt {
    /// An admin's read without `?store_id=`: every active product available.
    Chain,
    /// The caller's own store (from its token).
    Own(StoreId),
    /// The store an admin names with `?store_id=`.
    Asked(StoreId),
}

fn menu_at(caller: &Caller, request: &Request) -> Result<MenuAt> {
    if caller.role == Role::Admin {
        match query_param(request, "store_id") {
            None => Ok(MenuAt::Chain),
            Some(raw) => StoreId::parse(raw)
                .map(MenuAt::Asked)
                .ok_or_else(Error::store_not_found),
        }
    } else {
        Ok(caller.store_id.clone().map_or(MenuAt::Chain, MenuAt::Own))
    }
}

/// The store's record (one GetItem, made beside the menu read), if the
/// read follows one. A store an admin names must exist (else 404); a
/// caller's own store that is gone has nothing sold out.
async fn store_of(state: &State, at: &MenuAt) -> Result<Option<Store>> {
    match at {
        MenuAt::Chain => Ok(None),
        MenuAt::Own(id) => state.stores.get(id).await,
        MenuAt::Asked(id) => Ok(Some(
            state
                .stores
                .get(id)
                .await?
                .ok_or_else(Error::store_not_found)?,
        )),
    }
}

/// What the combos among `products` name, when they are `judged` by their
/// slots' items (for being available at a store, for allergens): the whole
/// menu, cached; else nothing, and no read.
async fn slot_items(state: &State, products: &[Product], judged: bool) -> Result<WholeMenu> {
    if judged && products.iter().any(|p| !p.slots.is_empty()) {
        state.menu.whole(&state.products).await
    } else {
        Ok(WholeMenu::default())
    }
}

/// Sets `available` as at `store`, where a combo is available only while
/// each of its slots offers an item of the menu (`whole`) sold there; with
/// no store (the chain's menu), every product is available.
fn as_at(store: Option<&Store>, whole: &HashMap<ProductId, Product>, products: &mut [Product]) {
    let Some(store) = store else {
        products.iter_mut().for_each(Product::all_available);
        return;
    };
    store.mark_availability(products.iter_mut());
    let sold = |id: &ProductId| store.sells(&Stock::Product(id.clone()));
    for combo in products.iter_mut().filter(|p| !p.slots.is_empty()) {
        combo.available = combo.available && combo.slots_fillable(whole, &sold);
    }
}

#[tracing::instrument(skip_all)]
async fn list(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    let category = query_param(request, "category")
        .map(str::parse::<Category>)
        .transpose()?;
    let (limit, after) = page_params::<MenuCursor>(request, CURSOR_KIND)?;
    let excluded = excluded_allergens(request)?;
    let at = menu_at(&caller, request)?;
    let ((mut items, next), store) = tokio::try_join!(
        state.menu.page(&state.products, category, limit, after),
        store_of(state, &at)
    )?;
    let whole = slot_items(state, &items, store.is_some() || !excluded.is_empty()).await?;
    if !excluded.is_empty() {
        items.retain(|p| p.free_of(&excluded, &whole));
    }
    as_at(store.as_ref(), &whole, &mut items);
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
    let caller = Caller::from_request(request)?;
    let id = product_id(request)?;
    let at = menu_at(&caller, request)?;
    let (product, store) = tokio::try_join!(state.products.get(&id), store_of(state, &at))?;
    match product {
        Some(mut product) if product.active => {
            let one = std::slice::from_mut(&mut product);
            let whole = slot_items(state, one, store.is_some()).await?;
            as_at(store.as_ref(), &whole, one);
            Ok(json_response(200, &product))
        }
        _ => Err(Error::product_not_found()),
    }
}

#[tracing::instrument(skip_all)]
async fn create(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let product = state
        .products
        .create(draft(state, request, None).await?)
        .await?;
    state.menu.clear();
    tracing::info!(product_id = %product.id, "product created");
    Ok(json_response(201, &product))
}

#[tracing::instrument(skip_all)]
async fn update(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let id = product_id(request)?;
    let mut product = state
        .products
        .update(&id, draft(state, request, Some(&id)).await?)
        .await?;
    state.menu.clear();
    tracing::info!(product_id = %id, "product updated");
    // An admin's answer is the chain's: available (a store sells it out).
    product.all_available();
    Ok(json_response(200, &product))
}

#[tracing::instrument(skip_all)]
async fn delete(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let id = product_id(request)?;
    state.products.delete(&id).await?;
    state.menu.clear();
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
            "a store's name, timezone and point of sale are the chain's: a manager changes its hours and pause",
        ));
    }
    let store = state.stores.update(&id, patch).await?;
    tracing::info!(store_id = %id, paused = store.paused, "store updated");
    Ok(json_response(200, &store.view(shared::clock::now())))
}

/// `PATCH /stores/{id}/availability`: the store's kitchen or manager, or an
/// admin, sells a product (or option) out at that store, or brings it back.
/// Another store is 404 for a store-bound role; an unknown or deleted
/// product is 404 and nothing is written.
#[tracing::instrument(skip_all)]
async fn set_availability(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Kitchen, Role::Manager, Role::Admin])?;
    let id = store_id(request)?;
    if caller.role != Role::Admin && caller.store_id.as_ref() != Some(&id) {
        return Err(Error::store_not_found());
    }
    let change = AvailabilityChange::try_from(json_body::<AvailabilityBody>(request)?)?;
    match &change.item {
        Stock::Product(product) => match state.products.get(product).await? {
            Some(product) if product.active => {}
            _ => return Err(change.item.not_found()),
        },
        // Option ids are unique across the menu: one read of it finds it.
        Stock::Option(option) => {
            let menu = state.products.active_menu().await?;
            if !menu
                .values()
                .any(|p| p.option_ids().any(|o| o.as_str() == option))
            {
                return Err(change.item.not_found());
            }
        }
    }
    state
        .stores
        .set_stock(&id, &change.item, change.available)
        .await?;
    tracing::info!(store_id = %id, item = %change.item.key(), available = change.available, "availability set");
    Ok(json_response(200, &change.view(id)))
}
