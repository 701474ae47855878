//! Idempotent checkout: price the lines from the menu, write the order
//! (awaiting payment; its ticket number comes with the payment), and with an `Idempotency-Key` answer a repeat with the
//! first order (or 422 for another body) instead of charging twice.

use crate::clock;
use crate::domain::Subject;
use crate::domain::ids::IdempotencyKey;
use crate::domain::menu::MenuKey;
use crate::domain::order::{Checkout, Order};
use crate::domain::store::Stock;
use crate::domain::token::Scope;
use crate::service::ports::{CheckoutReads, CheckoutStore, Created, IdempotencyRecord};
use crate::{Code, Error, Result};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;

/// A checkout's answer: a new order (201) or the replay of a keyed one (200).
#[derive(Debug)]
pub enum Placed {
    New(Order),
    Replay(Order),
}

/// Places `checkout` for `owner` at the kiosk and store of `at`; with `key`,
/// at most once per key and body. A store that is paused or outside its hours
/// refuses it (422 `store_closed`; a replay of an order placed while it was
/// open still answers that order). The store refuses it (429
/// `too_many_open_orders`) when the owner or the kiosk already holds as many
/// orders awaiting payment as allowed.
#[tracing::instrument(skip_all)]
pub async fn place_order(
    store: &impl CheckoutStore,
    owner: &Subject,
    at: &Scope,
    checkout: &Checkout,
    key: Option<&IdempotencyKey>,
) -> Result<Placed> {
    let shop = at
        .store_id
        .as_ref()
        .ok_or_else(Error::unauthorized_caller)?;
    let request_hash = hash(checkout)?;
    let record_id = key.map(|k| IdempotencyRecord::id_for(owner, k));
    let CheckoutReads {
        mut menu,
        record,
        store: shop,
    } = store
        .checkout_reads(&checkout.product_ids(), record_id.as_deref(), shop)
        .await?;
    // An expired record (not yet removed by the table's TTL) no longer binds the key.
    if let Some(record) = record.filter(|r| r.is_live(clock::now_unix())) {
        return replay(store, &record, &request_hash).await;
    }
    let now = clock::now();
    let shop = shop.ok_or_else(|| {
        Error::unprocessable(Code::StoreClosed, "this kiosk's store takes no orders")
    })?;
    shop.require_open(now)?;
    // Sold out is the store's: the same record said so.
    shop.mark_availability(menu.values_mut());
    let sells = |option: &MenuKey| shop.sells(&Stock::Option(option.to_string()));
    let (items, total_cents) = checkout.price(&menu, &sells)?;
    // The kiosk's own point of sale, else the store's (else, at payment,
    // the deployment's).
    let at = at.clone().on_pos(
        at.pos_id
            .clone()
            .or_else(|| shop.mercadopago_pos_id.clone()),
    );
    let mut order = Order::placed(owner.clone(), &at, items, total_cents, now);
    order.fulfillment = Some(checkout.fulfillment());
    let record = record_id.map(|id| IdempotencyRecord {
        id,
        order_id: order.id.clone(),
        request_hash: request_hash.clone(),
        expires_at: clock::now_unix() + IDEMPOTENCY_TTL_SECONDS,
    });
    match store.create(&order, record.as_ref()).await? {
        Created::Written => {
            tracing::info!(order_id = %order.id, total_cents = order.total_cents.as_cents(), "order placed");
            Ok(Placed::New(order))
        }
        Created::KeyTaken(existing) => {
            let record = match (existing, &record) {
                (Some(existing), _) => existing,
                (None, Some(ours)) => wait_for_record(store, &ours.id).await?,
                (None, None) => return Err(Error::internal("a key was taken without a key")),
            };
            replay(store, &record, &request_hash).await
        }
    }
}

/// The hash that binds a key to its body: SHA-256 of the canonical checkout.
fn hash(checkout: &Checkout) -> Result<String> {
    let bytes = serde_json::to_vec(checkout).map_err(Error::internal)?;
    Ok(Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The record of a concurrent request holding the same key, once its
/// transaction is visible.
async fn wait_for_record(store: &impl CheckoutStore, id: &str) -> Result<IdempotencyRecord> {
    for attempt in 0..6u64 {
        if let Some(record) = store.idempotency_record(id).await? {
            return Ok(record);
        }
        tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
    }
    Err(key_in_use())
}

/// The answer to a repeat of a keyed checkout: the same order for the same
/// body, 422 for another body.
async fn replay(
    store: &impl CheckoutStore,
    record: &IdempotencyRecord,
    request_hash: &str,
) -> Result<Placed> {
    if record.request_hash != request_hash {
        return Err(Error::unprocessable(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was used with another body",
        ));
    }
    // If the first request's order is not there yet, that request is in flight.
    let order = store
        .order_consistent(&record.order_id)
        .await?
        .ok_or_else(key_in_use)?;
    tracing::info!(order_id = %order.id, "idempotent replay of a checkout");
    Ok(Placed::Replay(order))
}

fn key_in_use() -> Error {
    Error::conflict(
        Code::IdempotencyKeyInUse,
        "a request with this Idempotency-Key is still in progress",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ProductId;
    use crate::domain::ids::{OrderId, PosId, StoreId};
    use crate::domain::money::Money;
    use crate::domain::order::OrderStatus;
    use crate::domain::store::{Stock, Store};
    use crate::service::testing::{Memory, at, product, store as shop};

    fn store() -> Memory {
        Memory {
            menu: [
                product("x-burger", 2590, true),
                product("old", 990, false),
                product("sold-out", 790, true),
            ]
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect(),
            stores: [
                sold_out_at("a1", "sold-out"),
                shop("b2", true),
                shop("d4", false),
            ]
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect(),
            ..Memory::default()
        }
    }

    /// Open store `id`, with product `sold_out` sold out there.
    fn sold_out_at(id: &str, sold_out: &str) -> Store {
        let mut store = shop(id, false);
        let product = ProductId::parse(sold_out).unwrap();
        store.sold_out.insert(Stock::Product(product).key());
        store
    }

    fn who(sub: &str) -> Subject {
        sub.parse().unwrap()
    }

    fn checkout(lines: &[(&str, u32)]) -> Checkout {
        let items = lines
            .iter()
            .map(|(id, quantity)| crate::service::testing::line(id, *quantity, Vec::new()))
            .collect();
        crate::service::testing::checkout_of(items)
    }

    fn key(k: &str) -> IdempotencyKey {
        IdempotencyKey::parse(k).unwrap()
    }

    /// The new order a checkout of `lines` by `owner` at `scope` places.
    async fn placed(store: &Memory, owner: &str, scope: &Scope, lines: &[(&str, u32)]) -> Order {
        match place_order(store, &who(owner), scope, &checkout(lines), None).await {
            Ok(Placed::New(order)) => order,
            other => panic!("a checkout without a key places a new order: {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_order_is_paid_on_the_kiosks_point_of_sale_else_its_stores() {
        let mut store = store();
        let pos = |id: &str| PosId::parse(id).unwrap();
        if let Some(shop) = store.stores.get_mut(&StoreId::parse("d4").unwrap()) {
            shop.mercadopago_pos_id = Some(pos("STORED4"));
        }
        let own = at("d4").on_pos(Some(pos("KIOSK7")));
        let cases = [
            (own, Some("KIOSK7")),
            (at("d4"), Some("STORED4")),
            (at("a1"), None),
        ];
        for (scope, expected) in cases {
            let order = placed(&store, "guest:1", &scope, &[("x-burger", 1)]).await;
            assert_eq!(
                order.mercadopago_pos_id.as_ref().map(PosId::as_str),
                expected,
                "{scope:?}"
            );
        }
    }

    fn code(result: Result<Placed>) -> (u16, String) {
        let e = result.unwrap_err();
        (e.status_code(), e.public_parts().0.as_str().to_owned())
    }

    #[tokio::test]
    async fn a_checkout_is_priced_from_the_menu_and_awaits_payment() {
        let store = store();
        let order = placed(&store, "guest:1", &at("a1"), &[("x-burger", 2)]).await;
        assert_eq!(order.total_cents, Money::cents(5180));
        assert_eq!(
            (order.status, order.number),
            (OrderStatus::AwaitingPayment, None),
            "the ticket number comes with the payment"
        );
        assert_eq!(order.customer_id, who("guest:1"));
        assert_eq!(
            (
                order.store_id.as_ref().map(|s| s.as_str()),
                order.kiosk_id.as_ref().map(|k| k.as_str())
            ),
            (Some("a1"), Some("0c3d2e1f"))
        );
        assert_eq!(store.count(), 1);
    }

    #[tokio::test]
    async fn a_repeat_with_the_same_key_and_body_answers_the_first_order() {
        let store = store();
        let body = checkout(&[("x-burger", 1)]);
        let Placed::New(first) =
            place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
                .await
                .unwrap()
        else {
            panic!("the first request places the order")
        };
        let Placed::Replay(again) =
            place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
                .await
                .unwrap()
        else {
            panic!("the repeat is a replay")
        };
        assert_eq!(again, first);
        assert_eq!(store.count(), 1);
    }

    #[tokio::test]
    async fn keys_belong_to_their_caller() {
        let store = store();
        let body = checkout(&[("x-burger", 1)]);
        place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
            .await
            .unwrap();
        let other = place_order(&store, &who("c-2"), &at("a1"), &body, Some(&key("k1")))
            .await
            .unwrap();
        assert!(matches!(other, Placed::New(_)));
    }

    #[tokio::test]
    async fn the_same_key_with_another_body_is_refused() {
        let store = store();
        place_order(
            &store,
            &who("c-1"),
            &at("a1"),
            &checkout(&[("x-burger", 1)]),
            Some(&key("k1")),
        )
        .await
        .unwrap();
        let reused = place_order(
            &store,
            &who("c-1"),
            &at("a1"),
            &checkout(&[("x-burger", 2)]),
            Some(&key("k1")),
        )
        .await;
        assert_eq!(code(reused), (422, "idempotency_key_reused".to_owned()));
    }

    #[tokio::test]
    async fn an_expired_key_binds_nothing() {
        let store = store();
        let body = checkout(&[("x-burger", 1)]);
        let id = IdempotencyRecord::id_for(&who("c-1"), &key("k1"));
        store.records.lock().unwrap().insert(
            id.clone(),
            IdempotencyRecord {
                id,
                order_id: OrderId::generate(),
                request_hash: "stale".into(),
                expires_at: clock::now_unix() - 1,
            },
        );
        let placed = place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
            .await
            .unwrap();
        assert!(matches!(placed, Placed::New(_)));
    }

    #[tokio::test]
    async fn a_key_whose_order_is_still_being_written_answers_409() {
        let store = Memory {
            in_flight: true,
            ..store()
        };
        let body = checkout(&[("x-burger", 1)]);
        place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
            .await
            .unwrap();
        let racing = place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1"))).await;
        assert_eq!(code(racing), (409, "idempotency_key_in_use".to_owned()));
    }

    #[tokio::test]
    async fn unknown_deleted_or_sold_out_products_are_refused_before_anything_is_written() {
        let store = store();
        for missing in ["nope", "old", "sold-out"] {
            let refused = place_order(
                &store,
                &who("c-1"),
                &at("a1"),
                &checkout(&[("x-burger", 1), (missing, 1)]),
                Some(&key("k1")),
            )
            .await;
            assert_eq!(code(refused), (422, "product_unavailable".to_owned()));
        }
        assert_eq!(store.count(), 0);
        assert!(store.records.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn sold_out_is_one_stores_and_another_store_still_sells_it() {
        let store = store();
        let body = checkout(&[("sold-out", 2)]);
        let refused = place_order(&store, &who("c-1"), &at("a1"), &body, None).await;
        assert_eq!(code(refused), (422, "product_unavailable".to_owned()));
        let order = placed(&store, "c-1", &at("d4"), &[("sold-out", 2)]).await;
        assert_eq!(order.total_cents, Money::cents(1580));
        assert_eq!(store.count(), 1);
    }

    #[tokio::test]
    async fn a_paused_or_unknown_store_takes_no_order_and_nothing_is_written() {
        let store = store();
        for shop in ["b2", "c3"] {
            let refused = place_order(
                &store,
                &who("c-1"),
                &at(shop),
                &checkout(&[("x-burger", 1)]),
                Some(&key("k1")),
            )
            .await;
            assert_eq!(code(refused), (422, "store_closed".to_owned()), "{shop}");
        }
        let sessionless = place_order(
            &store,
            &who("c-1"),
            &Scope::chain(),
            &checkout(&[("x-burger", 1)]),
            None,
        )
        .await;
        assert_eq!(code(sessionless).0, 401);
        assert_eq!(store.count(), 0);
        assert!(store.records.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_replay_answers_its_order_even_once_the_store_closed() {
        let mut store = store();
        let body = checkout(&[("x-burger", 1)]);
        let Placed::New(first) =
            place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
                .await
                .unwrap()
        else {
            panic!("placed while open")
        };
        store
            .stores
            .get_mut(&StoreId::parse("a1").unwrap())
            .unwrap()
            .paused = true;
        let Placed::Replay(again) =
            place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k1")))
                .await
                .unwrap()
        else {
            panic!("the retry of a placed order is its replay")
        };
        assert_eq!(again.id, first.id);
        let fresh = place_order(&store, &who("c-1"), &at("a1"), &body, Some(&key("k2"))).await;
        assert_eq!(code(fresh), (422, "store_closed".to_owned()));
    }
}
