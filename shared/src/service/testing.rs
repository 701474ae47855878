//! The one set of in-memory fakes every service test uses: the order store
//! ([`Memory`]: checkout, payments, owners), Mercado Pago ([`Gateway`] and
//! its [`Account`]), the directory ([`Directory`]) and fixed signing keys
//! ([`FixedKeys`]). Their writes are the domain's transitions
//! (`Order::confirmed`, `Order::cancelled_unpaid`, ...) under a lock that
//! plays DynamoDB's conditions, so they cannot drift from the store; what
//! depends on DynamoDB itself is tested against the emulator end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::domain::customer::Customer;
use crate::domain::ids::{
    CustomerId, IdempotencyKey, KioskId, OrderId, ProductId, ProviderOrderId, StoreId,
};
use crate::domain::keys::{KeyError, KeySet};
use crate::domain::money::Money;
use crate::domain::order::{
    Actor, CancelReason, Order, OrderStatus, Payment, PaymentStatus, required_status,
};
use crate::domain::payment::{MpOrder, MpOrderStatus, PaymentError, QrOrderRequest};
use crate::domain::product::Product;
use crate::domain::signature::WebhookSecret;
use crate::domain::store::{Hours, Store, Timezone};
use crate::domain::subject::Subject;
use crate::domain::token::Scope;
use crate::service::ports::{
    Attached, CheckoutReads, CheckoutStore, Created, CustomerDirectory, IdempotencyRecord,
    OrderMoves, OrderOwners, PaymentAccount, PaymentGateway, PaymentStore, Reach, SigningKeys,
    StoredOrder,
};
use crate::{Error, Result, clock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Signing keys held in memory.
pub struct FixedKeys(pub KeySet);

impl SigningKeys for FixedKeys {
    async fn current_and_previous(&self) -> Result<KeySet, KeyError> {
        Ok(self.0.clone())
    }
}

/// The orders table in memory.
#[derive(Default)]
pub struct Memory {
    pub menu: HashMap<ProductId, Product>,
    pub stores: HashMap<StoreId, Store>,
    pub orders: Mutex<HashMap<OrderId, StoredOrder>>,
    pub records: Mutex<HashMap<String, IdempotencyRecord>>,
    /// Orders whose write is "still in flight": records are kept, orders not.
    pub in_flight: bool,
    /// The cancelled orders among the expiry job's due work, and when due.
    pub watched: Mutex<HashMap<OrderId, time::OffsetDateTime>>,
    /// When each order's Mercado Pago order was last re-read.
    pub reads: Mutex<HashMap<OrderId, time::OffsetDateTime>>,
    /// The last ticket number given.
    pub tickets: Mutex<u16>,
}

impl Memory {
    pub fn with(stored: StoredOrder) -> Self {
        let memory = Memory::default();
        memory.insert(stored);
        memory
    }

    pub fn insert(&self, stored: StoredOrder) {
        self.orders
            .lock()
            .unwrap()
            .insert(stored.order.id.clone(), stored);
    }

    pub fn order(&self, id: &OrderId) -> Order {
        self.orders.lock().unwrap()[id].order.clone()
    }

    pub fn is_watched(&self, id: &OrderId) -> bool {
        self.watched.lock().unwrap().contains_key(id)
    }

    /// Cancels a paid order as staff would, without its refund.
    pub fn cancel_for_test(&self, id: &OrderId) {
        let mut orders = self.orders.lock().unwrap();
        let stored = orders.get_mut(id).unwrap();
        stored.order = stored
            .order
            .moved(Actor::Admin, OrderStatus::Cancelled, clock::now());
    }

    /// Cancels an unpaid order at its deadline as the job would, its
    /// Mercado Pago order not cancelled: watched.
    pub fn cancel_for_expiry_test(&self, id: &OrderId) {
        let mut orders = self.orders.lock().unwrap();
        let stored = orders.get_mut(id).unwrap();
        stored.order = stored.order.cancelled_unpaid(
            CancelReason::PaymentExpired,
            PaymentStatus::Expired,
            clock::now(),
        );
        self.watched
            .lock()
            .unwrap()
            .insert(id.clone(), clock::now());
    }

    pub fn count(&self) -> usize {
        self.orders.lock().unwrap().len()
    }

    /// Applies `change` to the order if it is in `from`; else a conflict.
    fn apply(
        &self,
        id: &OrderId,
        from: OrderStatus,
        change: impl FnOnce(&mut StoredOrder),
    ) -> Result<Order> {
        let mut orders = self.orders.lock().unwrap();
        let stored = orders.get_mut(id).ok_or_else(Error::order_not_found)?;
        if stored.order.status != from {
            return Err(Error::invalid_transition());
        }
        change(stored);
        Ok(stored.order.clone())
    }
}

impl CheckoutStore for Memory {
    async fn checkout_reads(
        &self,
        product_ids: &[ProductId],
        record_id: Option<&str>,
        store: &StoreId,
    ) -> Result<CheckoutReads> {
        let menu = product_ids
            .iter()
            .filter_map(|id| self.menu.get(id).map(|p| (id.clone(), p.clone())))
            .collect();
        let record = record_id.and_then(|id| self.records.lock().unwrap().get(id).cloned());
        Ok(CheckoutReads {
            menu,
            record,
            store: self.stores.get(store).cloned(),
        })
    }

    async fn create(&self, order: &Order, record: Option<&IdempotencyRecord>) -> Result<Created> {
        if let Some(record) = record {
            let mut records = self.records.lock().unwrap();
            let live = |r: &&IdempotencyRecord| r.is_live(clock::now_unix());
            if let Some(taken) = records.get(&record.id).filter(live) {
                return Ok(Created::KeyTaken(Some(taken.clone())));
            }
            records.insert(record.id.clone(), record.clone());
        }
        if !self.in_flight {
            self.insert(StoredOrder {
                order: order.clone(),
                payment: None,
                paid_by: None,
            });
        }
        Ok(Created::Written)
    }

    async fn idempotency_record(&self, id: &str) -> Result<Option<IdempotencyRecord>> {
        Ok(self.records.lock().unwrap().get(id).cloned())
    }

    async fn order_consistent(&self, id: &OrderId) -> Result<Option<Order>> {
        Ok(self.orders.lock().unwrap().get(id).map(|s| s.order.clone()))
    }
}

impl PaymentStore for Memory {
    async fn order_with_payment(&self, id: &OrderId) -> Result<Option<StoredOrder>> {
        Ok(self.orders.lock().unwrap().get(id).cloned())
    }

    async fn attach_payment(
        &self,
        id: &OrderId,
        owner: &Subject,
        payment: &Payment,
    ) -> Result<Attached> {
        let mut orders = self.orders.lock().unwrap();
        let stored = orders
            .get_mut(id)
            .filter(|s| s.order.is_owned_by(owner))
            .ok_or_else(Error::order_not_found)?;
        if stored.order.status != OrderStatus::AwaitingPayment {
            return Ok(Attached::NotAwaiting);
        }
        if let Some(existing) = &stored.payment {
            return Ok(Attached::Existing(existing.clone()));
        }
        stored.payment = Some(payment.clone());
        Ok(Attached::Attached)
    }

    async fn confirm_paid(
        &self,
        order: &Order,
        paid_by: &ProviderOrderId,
        paid: Option<Money>,
    ) -> Result<Order> {
        let number = {
            let mut last = self.tickets.lock().unwrap();
            *last = *last % 999 + 1;
            *last
        };
        self.apply(&order.id, OrderStatus::AwaitingPayment, |stored| {
            stored.order = stored.order.confirmed(number, clock::now(), paid);
            stored.paid_by = Some(paid_by.clone());
        })
    }

    async fn cancel_unpaid(
        &self,
        id: &OrderId,
        reason: CancelReason,
        payment_status: PaymentStatus,
        watch: bool,
    ) -> Result<()> {
        self.apply(id, OrderStatus::AwaitingPayment, |stored| {
            stored.order = stored
                .order
                .cancelled_unpaid(reason, payment_status, clock::now());
        })?;
        if watch {
            self.watched
                .lock()
                .unwrap()
                .insert(id.clone(), clock::now());
        }
        Ok(())
    }

    async fn watch(&self, id: &OrderId, due: Option<time::OffsetDateTime>) -> Result<()> {
        let mut watched = self.watched.lock().unwrap();
        match due {
            Some(due) => watched.insert(id.clone(), due),
            None => watched.remove(id),
        };
        Ok(())
    }

    async fn order_of(&self, provider_order: &ProviderOrderId) -> Result<Option<OrderId>> {
        let orders = self.orders.lock().unwrap();
        Ok(orders
            .values()
            .find(|s| {
                s.payment
                    .as_ref()
                    .is_some_and(|p| &p.provider_order_id == provider_order)
            })
            .map(|s| s.order.id.clone()))
    }

    async fn claim_read(
        &self,
        id: &OrderId,
        now: time::OffsetDateTime,
        every: std::time::Duration,
    ) -> Result<bool> {
        let awaiting = self.order(id).status == OrderStatus::AwaitingPayment;
        let mut reads = self.reads.lock().unwrap();
        let due = reads.get(id).is_none_or(|last| *last + every <= now);
        if awaiting && due {
            reads.insert(id.clone(), now);
        }
        Ok(awaiting && due)
    }

    async fn mark_refunded(&self, id: &OrderId) -> Result<()> {
        self.apply(id, OrderStatus::Cancelled, |stored| {
            stored.order = stored.order.refunded(clock::now());
        })?;
        self.watched.lock().unwrap().remove(id);
        Ok(())
    }
}

impl OrderMoves for Memory {
    async fn move_status(
        &self,
        id: &OrderId,
        actor: Actor,
        to: OrderStatus,
        reach: Reach<'_>,
    ) -> Result<Order> {
        let from = required_status(actor, to)?;
        let mut orders = self.orders.lock().unwrap();
        let stored = orders
            .get_mut(id)
            .filter(|s| reach.holds(&s.order))
            .ok_or_else(Error::order_not_found)?;
        if stored.order.status != from {
            return Err(Error::invalid_transition());
        }
        stored.order = stored.order.moved(actor, to, clock::now());
        if stored.order.payment_status == PaymentStatus::RefundPending {
            self.watched
                .lock()
                .unwrap()
                .insert(id.clone(), clock::now());
        }
        Ok(stored.order.clone())
    }
}

impl OrderOwners for Memory {
    async fn reassign_owner(&self, owner: &Subject, replacement: &Subject) -> Result<usize> {
        let mut orders = self.orders.lock().unwrap();
        let mut moved = 0;
        for stored in orders.values_mut().filter(|s| s.order.is_owned_by(owner)) {
            stored.order.customer_id = replacement.clone();
            moved += 1;
        }
        Ok(moved)
    }
}

/// Mercado Pago in memory: its orders, the faults to play, and the calls
/// made. Clones share everything (as the account's gateways share one
/// connection pool).
#[derive(Clone, Default)]
pub struct Gateway {
    pub orders: Arc<Mutex<HashMap<ProviderOrderId, MpOrder>>>,
    /// Every call fails as unavailable.
    pub down: Arc<Mutex<bool>>,
    /// The customer pays just as the cancel arrives.
    pub paid_at_cancel: Arc<Mutex<bool>>,
    /// The payer is paying the QR: a cancel answers Mercado Pago's lock.
    pub locked: Arc<Mutex<bool>>,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Gateway {
    /// A gateway holding one provider order `ORD01` for `order`, in `status`.
    pub fn holding(order: &Order, status: MpOrderStatus) -> Self {
        let gateway = Gateway::default();
        gateway.put(mp_order(order, status));
        gateway
    }

    pub fn put(&self, order: MpOrder) {
        self.orders.lock().unwrap().insert(order.id.clone(), order);
    }

    pub fn set_status(&self, id: &ProviderOrderId, status: MpOrderStatus) {
        if let Some(order) = self.orders.lock().unwrap().get_mut(id) {
            order.status = status;
        }
    }

    pub fn go_down(&self) {
        *self.down.lock().unwrap() = true;
    }

    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }

    fn answer(&self, call: &'static str, id: &ProviderOrderId) -> Result<MpOrder, PaymentError> {
        self.calls.lock().unwrap().push(call);
        if *self.down.lock().unwrap() {
            return Err(PaymentError::Unavailable("down".into()));
        }
        self.orders
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(PaymentError::NotFound)
    }
}

impl PaymentGateway for Gateway {
    async fn create_qr_order(&self, request: &QrOrderRequest) -> Result<MpOrder, PaymentError> {
        // One provider order per idempotency key, as Mercado Pago keeps it.
        let id = provider_id();
        let existing = self.orders.lock().unwrap().get(&id).cloned();
        let created = existing.unwrap_or_else(|| MpOrder {
            id: id.clone(),
            status: MpOrderStatus::Pending,
            raw_status: "created".into(),
            status_detail: "created".into(),
            external_reference: Some(request.order_id.clone()),
            total: request.total,
            paid: None,
            qr_data: Some("00020101021243650016COM.MERCADOLIBRE".into()),
            payments: Vec::new(),
        });
        self.put(created);
        self.answer("create", &id)
    }

    async fn get_order(&self, id: &ProviderOrderId) -> Result<MpOrder, PaymentError> {
        self.answer("get", id)
    }

    async fn cancel_order(&self, id: &ProviderOrderId) -> Result<MpOrder, PaymentError> {
        if *self.paid_at_cancel.lock().unwrap() {
            self.set_status(id, MpOrderStatus::Paid);
        }
        let order = self.answer("cancel", id)?;
        if *self.locked.lock().unwrap() {
            return Err(PaymentError::Rejected {
                status: Some(409),
                code: "instore_order_locked_error".into(),
                message: String::new(),
            });
        }
        if order.status != MpOrderStatus::Pending {
            return Err(PaymentError::Rejected {
                status: Some(409),
                code: "order_cannot_be_canceled".into(),
                message: String::new(),
            });
        }
        self.set_status(id, MpOrderStatus::Cancelled);
        Ok(order)
    }

    async fn refund_order(
        &self,
        id: &ProviderOrderId,
        _: &IdempotencyKey,
    ) -> Result<MpOrder, PaymentError> {
        let order = self.answer("refund", id)?;
        self.set_status(id, MpOrderStatus::Refunded);
        Ok(order)
    }
}

/// The Mercado Pago account in memory: the webhook secrets it holds now,
/// the ones a refresh finds, and how often it was refreshed.
#[derive(Default)]
pub struct Account {
    pub gateway: Gateway,
    pub cached: Vec<WebhookSecret>,
    pub after_refresh: Vec<WebhookSecret>,
    pub refreshes: Mutex<usize>,
}

impl PaymentAccount for Account {
    type Gateway = Gateway;

    async fn webhook_secrets(&self, refreshed: bool) -> Result<Vec<WebhookSecret>> {
        if refreshed {
            *self.refreshes.lock().unwrap() += 1;
            return Ok(self.after_refresh.clone());
        }
        Ok(self.cached.clone())
    }

    async fn gateway(&self) -> Result<Gateway> {
        Ok(self.gateway.clone())
    }
}

/// The directory in memory.
#[derive(Default)]
pub struct Directory(pub Mutex<HashMap<CustomerId, Customer>>);

impl Directory {
    pub fn with(customer: Customer) -> Self {
        let directory = Directory::default();
        directory
            .0
            .lock()
            .unwrap()
            .insert(customer.id.clone(), customer);
        directory
    }
}

impl CustomerDirectory for Directory {
    async fn customer_by_id(&self, id: &CustomerId) -> Result<Option<Customer>> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }

    async fn delete_customer(&self, customer: &Customer) -> Result<()> {
        self.0.lock().unwrap().remove(&customer.id);
        Ok(())
    }
}

/// `stored` in memory, and Mercado Pago holding `ORD01` for it in `status`.
pub fn arranged(stored: StoredOrder, status: MpOrderStatus) -> (Memory, Gateway, OrderId) {
    let gateway = Gateway::holding(&stored.order, status);
    let id = stored.order.id.clone();
    (Memory::with(stored), gateway, id)
}

/// A paid order in memory (settled through the payment service, as a
/// notification would), with the gateway that holds its payment.
pub async fn paid() -> (Memory, Gateway, OrderId) {
    let (store, gateway, id) = arranged(unpaid(true), MpOrderStatus::Paid);
    crate::service::payment::settle_provider_order(&store, &gateway, &provider_id())
        .await
        .unwrap();
    (store, gateway, id)
}

/// The provider order `ORD01` of `order`, in `status`.
pub fn mp_order(order: &Order, status: MpOrderStatus) -> MpOrder {
    MpOrder {
        id: provider_id(),
        status,
        raw_status: String::new(),
        status_detail: String::new(),
        external_reference: Some(order.id.clone()),
        total: order.total_cents,
        paid: None,
        qr_data: None,
        payments: Vec::new(),
    }
}

pub fn provider_id() -> ProviderOrderId {
    ProviderOrderId::parse("ORD01").unwrap()
}

/// A guest's order of 24.90 awaiting payment, with the provider order
/// `ORD01` attached when `with_payment`.
pub fn unpaid(with_payment: bool) -> StoredOrder {
    let now = clock::now();
    StoredOrder {
        order: Order::placed(
            Subject::new_guest(),
            &Scope::chain(),
            Vec::new(),
            Money::cents(2490),
            now,
        ),
        payment: with_payment.then(|| Payment {
            provider: "mercadopago".into(),
            provider_order_id: provider_id(),
            qr_data: "qr".into(),
            amount_cents: Money::cents(2490),
            expires_at: now,
        }),
        paid_by: None,
    }
}

/// Store `id`, open every day all day (or paused).
pub fn store(id: &str, paused: bool) -> Store {
    let now = clock::now();
    Store {
        id: StoreId::parse(id).unwrap(),
        name: "Centro".into(),
        timezone: Timezone::parse("America/Sao_Paulo").unwrap(),
        hours: Hours::always(),
        paused,
        mercadopago_pos_id: None,
        created_at: now,
        updated_at: now,
        sold_out: Default::default(),
    }
}

/// A session at kiosk `0c3d2e1f` of store `store`.
pub fn at(store: &str) -> Scope {
    Scope::kiosk(
        StoreId::parse(store).unwrap(),
        KioskId::parse("0c3d2e1f").unwrap(),
    )
}

pub use crate::domain::order::testing::{checkout_of, line};

/// A product of the menu.
pub fn product(id: &str, price: i64, active: bool) -> Product {
    crate::domain::product::sample(id, price, active)
}

/// A customer of the directory.
pub fn customer(id: &str) -> Customer {
    Customer::new(
        CustomerId::parse(id).unwrap(),
        "52998224725",
        "Ana Maria",
        "ana@example.com",
        true,
    )
}
