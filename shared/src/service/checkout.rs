//! Idempotent checkout: price the lines from the menu, write the order
//! (awaiting payment; its ticket number comes with the payment), and with an `Idempotency-Key` answer a repeat with the
//! first order (or 422 for another body) instead of charging twice.

use crate::clock;
use crate::domain::ids::{IdempotencyKey, OrderId, ProductId};
use crate::domain::order::{Checkout, Order, OrderStatus, PaymentStatus};
use crate::domain::product::Product;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;

/// What an `Idempotency-Key` is bound to: the order it created and a hash of
/// the body that created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub id: String,
    pub order_id: OrderId,
    pub request_hash: String,
    pub expires_at: i64,
}

impl IdempotencyRecord {
    /// The record's id: keys are per caller, so two callers never collide.
    pub fn id_for(owner: &str, key: &IdempotencyKey) -> String {
        format!("idem#{owner}#{}", key.as_str())
    }

    fn is_live(&self) -> bool {
        self.expires_at > clock::now_unix()
    }
}

/// The outcome of writing a new order.
#[derive(Debug)]
pub enum Created {
    Order(Order),
    /// The idempotency key was taken first (by an earlier or concurrent
    /// request); its record, when the store could read it back.
    KeyTaken(Option<IdempotencyRecord>),
}

/// What checkout needs of the order store.
pub trait CheckoutStore: Sync {
    /// The products named and, for a keyed request, its record: one read.
    fn checkout_reads(
        &self,
        product_ids: &[ProductId],
        record_id: Option<&str>,
    ) -> impl Future<Output = Result<(HashMap<ProductId, Product>, Option<IdempotencyRecord>)>> + Send;

    /// Writes a new order and, with a record, binds the key in the same
    /// transaction; a key already bound answers [`Created::KeyTaken`].
    fn create(
        &self,
        order: &Order,
        record: Option<&IdempotencyRecord>,
    ) -> impl Future<Output = Result<Created>> + Send;

    /// The record, read strongly consistent.
    fn idempotency_record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send;

    /// The order, read strongly consistent (it may have been written a
    /// moment ago by the request a replay races).
    fn order_consistent(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>>> + Send;
}

/// A checkout's answer: a new order (201) or the replay of a keyed one (200).
#[derive(Debug)]
pub enum Placed {
    New(Order),
    Replay(Order),
}

/// Places `checkout` for `owner`; with `key`, at most once per key and body.
#[tracing::instrument(skip_all)]
pub async fn place_order(
    store: &impl CheckoutStore,
    owner: &str,
    checkout: &Checkout,
    key: Option<&IdempotencyKey>,
) -> Result<Placed> {
    let request_hash = hash(checkout)?;
    let record_id = key.map(|k| IdempotencyRecord::id_for(owner, k));
    let (menu, record) = store
        .checkout_reads(&checkout.product_ids(), record_id.as_deref())
        .await?;
    // An expired record (not yet removed by the table's TTL) no longer binds the key.
    if let Some(record) = record.filter(IdempotencyRecord::is_live) {
        return replay(store, &record, &request_hash).await;
    }
    let (items, total_cents) = checkout.price(&menu)?;
    let now = clock::now();
    let order = Order {
        id: OrderId::generate(),
        number: None,
        customer_id: owner.to_owned(),
        items,
        total_cents,
        status: OrderStatus::AwaitingPayment,
        payment_status: PaymentStatus::Pending,
        cancel_reason: None,
        paid_at: None,
        created_at: now,
        updated_at: now,
    };
    let record = record_id.map(|id| IdempotencyRecord {
        id,
        order_id: order.id.clone(),
        request_hash: request_hash.clone(),
        expires_at: clock::now_unix() + IDEMPOTENCY_TTL_SECONDS,
    });
    match store.create(&order, record.as_ref()).await? {
        Created::Order(order) => {
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
            "idempotency_key_reused",
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
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still in progress",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Money;
    use crate::domain::order::{CheckoutBody, CheckoutLine};
    use crate::domain::product::Category;
    use std::sync::Mutex;

    /// The port in memory: what DynamoDB's conditions would decide, decided
    /// with a lock (the real conditions are tested against the emulator).
    #[derive(Default)]
    struct Memory {
        menu: HashMap<ProductId, Product>,
        orders: Mutex<HashMap<OrderId, Order>>,
        records: Mutex<HashMap<String, IdempotencyRecord>>,
        /// Records whose order is "still being written" (never stored).
        in_flight: bool,
    }

    impl CheckoutStore for Memory {
        async fn checkout_reads(
            &self,
            product_ids: &[ProductId],
            record_id: Option<&str>,
        ) -> Result<(HashMap<ProductId, Product>, Option<IdempotencyRecord>)> {
            let menu = product_ids
                .iter()
                .filter_map(|id| self.menu.get(id).map(|p| (id.clone(), p.clone())))
                .collect();
            let record = record_id.and_then(|id| self.records.lock().unwrap().get(id).cloned());
            Ok((menu, record))
        }

        async fn create(
            &self,
            order: &Order,
            record: Option<&IdempotencyRecord>,
        ) -> Result<Created> {
            if let Some(record) = record {
                let mut records = self.records.lock().unwrap();
                if let Some(taken) = records.get(&record.id).filter(|r| r.is_live()) {
                    return Ok(Created::KeyTaken(Some(taken.clone())));
                }
                records.insert(record.id.clone(), record.clone());
            }
            if !self.in_flight {
                self.orders
                    .lock()
                    .unwrap()
                    .insert(order.id.clone(), order.clone());
            }
            Ok(Created::Order(order.clone()))
        }

        async fn idempotency_record(&self, id: &str) -> Result<Option<IdempotencyRecord>> {
            Ok(self.records.lock().unwrap().get(id).cloned())
        }

        async fn order_consistent(&self, id: &OrderId) -> Result<Option<Order>> {
            Ok(self.orders.lock().unwrap().get(id).cloned())
        }
    }

    fn product(id: &str, price: i64, active: bool) -> Product {
        Product {
            id: ProductId::parse(id).unwrap(),
            name: format!("Produto {id}"),
            description: String::new(),
            category: Category::Sandwich,
            price_cents: Money::cents(price),
            image_url: None,
            available: true,
            active,
            created_at: clock::now(),
            updated_at: clock::now(),
        }
    }

    fn store() -> Memory {
        Memory {
            menu: [
                product("x-burger", 2590, true),
                product("old", 990, false),
                Product {
                    available: false,
                    ..product("sold-out", 790, true)
                },
            ]
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect(),
            ..Memory::default()
        }
    }

    fn checkout(lines: &[(&str, u32)]) -> Checkout {
        let items = lines
            .iter()
            .map(|(id, quantity)| CheckoutLine {
                product_id: (*id).to_owned(),
                quantity: *quantity,
                note: None,
            })
            .collect();
        Checkout::try_from(CheckoutBody { items }).unwrap()
    }

    fn key(k: &str) -> IdempotencyKey {
        IdempotencyKey::parse(k).unwrap()
    }

    fn code(result: Result<Placed>) -> (u16, String) {
        let e = result.unwrap_err();
        (e.status_code(), e.public_parts().0.to_owned())
    }

    #[tokio::test]
    async fn a_checkout_is_priced_from_the_menu_and_awaits_payment() {
        let store = store();
        let Placed::New(order) =
            place_order(&store, "guest-1", &checkout(&[("x-burger", 2)]), None)
                .await
                .unwrap()
        else {
            panic!("a first checkout places a new order")
        };
        assert_eq!(order.total_cents, Money::cents(5180));
        assert_eq!(
            (order.status, order.number),
            (OrderStatus::AwaitingPayment, None),
            "the ticket number comes with the payment"
        );
        assert_eq!(order.customer_id, "guest-1");
        assert_eq!(store.orders.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_repeat_with_the_same_key_and_body_answers_the_first_order() {
        let store = store();
        let body = checkout(&[("x-burger", 1)]);
        let Placed::New(first) = place_order(&store, "c-1", &body, Some(&key("k1")))
            .await
            .unwrap()
        else {
            panic!("the first request places the order")
        };
        let Placed::Replay(again) = place_order(&store, "c-1", &body, Some(&key("k1")))
            .await
            .unwrap()
        else {
            panic!("the repeat is a replay")
        };
        assert_eq!(again, first);
        assert_eq!(store.orders.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn keys_belong_to_their_caller() {
        let store = store();
        let body = checkout(&[("x-burger", 1)]);
        place_order(&store, "c-1", &body, Some(&key("k1")))
            .await
            .unwrap();
        let other = place_order(&store, "c-2", &body, Some(&key("k1")))
            .await
            .unwrap();
        assert!(matches!(other, Placed::New(_)));
    }

    #[tokio::test]
    async fn the_same_key_with_another_body_is_refused() {
        let store = store();
        place_order(
            &store,
            "c-1",
            &checkout(&[("x-burger", 1)]),
            Some(&key("k1")),
        )
        .await
        .unwrap();
        let reused = place_order(
            &store,
            "c-1",
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
        let id = IdempotencyRecord::id_for("c-1", &key("k1"));
        store.records.lock().unwrap().insert(
            id.clone(),
            IdempotencyRecord {
                id,
                order_id: OrderId::generate(),
                request_hash: "stale".into(),
                expires_at: clock::now_unix() - 1,
            },
        );
        let placed = place_order(&store, "c-1", &body, Some(&key("k1")))
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
        place_order(&store, "c-1", &body, Some(&key("k1")))
            .await
            .unwrap();
        let racing = place_order(&store, "c-1", &body, Some(&key("k1"))).await;
        assert_eq!(code(racing), (409, "idempotency_key_in_use".to_owned()));
    }

    #[tokio::test]
    async fn unknown_deleted_or_sold_out_products_are_refused_before_anything_is_written() {
        let store = store();
        for missing in ["nope", "old", "sold-out"] {
            let refused = place_order(
                &store,
                "c-1",
                &checkout(&[("x-burger", 1), (missing, 1)]),
                Some(&key("k1")),
            )
            .await;
            assert_eq!(code(refused), (422, "product_unavailable".to_owned()));
        }
        assert!(store.orders.lock().unwrap().is_empty());
        assert!(store.records.lock().unwrap().is_empty());
    }
}
