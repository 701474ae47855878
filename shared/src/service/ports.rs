//! Every port the services depend on: what they need of a store, the
//! payment provider, the directory and the key cache. The adapters of
//! `store` and `payments` implement them; the in-memory fakes of
//! `service::testing` implement them for the unit tests.
//!
//! Conventions of every method: a failed condition (a concurrent write won)
//! is [`Error::Conflict`](crate::Error::Conflict) with the contract's code; a
//! dependency that is down, slow or throttling is
//! [`Error::Unavailable`](crate::Error::Unavailable); anything else
//! unexpected is [`Error::Internal`](crate::Error::Internal).

use crate::Result;
use crate::domain::customer::Customer;
use crate::domain::ids::{
    CustomerId, IdempotencyKey, OrderId, ProductId, ProviderOrderId, StoreId,
};
use crate::domain::keys::{KeyError, KeySet};
use crate::domain::money::Money;
use crate::domain::order::{Actor, CancelReason, Order, OrderStatus, Payment, PaymentStatus};
use crate::domain::payment::{MpOrder, PaymentError, QrOrderRequest};
use crate::domain::product::Product;
use crate::domain::signature::WebhookSecret;
use crate::domain::store::Store;
use crate::domain::subject::Subject;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;

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
    /// What every record's id starts with (the orders table holds them).
    pub const ID_PREFIX: &str = "idem#";

    /// The record's id: keys are per caller, so two callers never collide.
    pub fn id_for(owner: &Subject, key: &IdempotencyKey) -> String {
        format!("{}{owner}#{}", Self::ID_PREFIX, key.as_str())
    }

    /// Whether it still binds its key at `now` (unix seconds): an expired
    /// record may linger until DynamoDB's TTL removes it.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// The outcome of writing a new order.
#[derive(Debug)]
pub enum Created {
    /// The order was written as given.
    Written,
    /// The idempotency key was taken first (by an earlier or concurrent
    /// request); its record, when the store could read it back.
    KeyTaken(Option<IdempotencyRecord>),
}

/// What a checkout reads before it writes.
#[derive(Debug, Default)]
pub struct CheckoutReads {
    /// The products named, by id (a missing one is not on the menu).
    pub menu: HashMap<ProductId, Product>,
    /// The idempotency record of a keyed request, if the key was used.
    pub record: Option<IdempotencyRecord>,
    /// The store of the session, if there is one with its id.
    pub store: Option<Store>,
}

/// What checkout needs of the order store.
pub trait CheckoutStore: Sync {
    /// The products named, the session's store and, for a keyed request,
    /// its record: one read.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be read.
    fn checkout_reads(
        &self,
        product_ids: &[ProductId],
        record_id: Option<&str>,
        store: &StoreId,
    ) -> impl Future<Output = Result<CheckoutReads>> + Send;

    /// Writes a new order and, with a record, binds the key in the same
    /// transaction; a key already bound answers [`Created::KeyTaken`].
    ///
    /// # Errors
    /// `Unavailable` when the write cannot be made; nothing is half-written.
    fn create(
        &self,
        order: &Order,
        record: Option<&IdempotencyRecord>,
    ) -> impl Future<Output = Result<Created>> + Send;

    /// The record, read strongly consistent.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be read.
    fn idempotency_record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send;

    /// The order, read strongly consistent (it may have been written a
    /// moment ago by the request a replay races).
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be read.
    fn order_consistent(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>>> + Send;
}

/// An order as stored, with what it knows of its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub order: Order,
    /// The QR payment made for it, if any.
    pub payment: Option<Payment>,
    /// The provider order that paid it, once paid.
    pub paid_by: Option<ProviderOrderId>,
}

impl StoredOrder {
    /// The provider order to refund or cancel: the one that paid, else the
    /// one made for it.
    pub fn provider_order_id(&self) -> Option<ProviderOrderId> {
        self.paid_by
            .clone()
            .or_else(|| self.payment.as_ref().map(|p| p.provider_order_id.clone()))
    }
}

/// What [`PaymentStore::attach_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    Attached,
    /// The order already had this payment (a concurrent request's).
    Existing(Payment),
    /// The order no longer awaits payment.
    NotAwaiting,
}

/// What paying, settling and expiring need of the order store.
pub trait PaymentStore: Sync {
    /// The order and its payment, read consistently.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be read.
    fn order_with_payment(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<StoredOrder>>> + Send;

    /// Keeps `payment` on `owner`'s order awaiting payment, unless it has one,
    /// and notes which of our orders its Mercado Pago order is (see
    /// [`PaymentStore::order_of`]).
    ///
    /// # Errors
    /// `order_not_found` when the order is not `owner`'s.
    fn attach_payment(
        &self,
        id: &OrderId,
        owner: &Subject,
        payment: &Payment,
    ) -> impl Future<Output = Result<Attached>> + Send;

    /// Writes [`Order::confirmed`] with a ticket number no open paid order
    /// holds, what the payer `paid` (if the provider says) and the provider
    /// order that paid, if the order still awaits payment.
    ///
    /// # Errors
    /// `invalid_transition` (a `Conflict`) when it no longer awaits payment.
    fn confirm_paid(
        &self,
        order: &Order,
        paid_by: &ProviderOrderId,
        paid: Option<Money>,
    ) -> impl Future<Output = Result<Order>> + Send;

    /// Writes [`Order::cancelled_unpaid`], if the order still awaits payment.
    /// `watch`: its Mercado Pago order is not known to be over, so the order
    /// stays among the expiry job's due work, which re-reads it there until
    /// it is (and refunds a payment found).
    ///
    /// # Errors
    /// `invalid_transition` (a `Conflict`) when it no longer awaits payment.
    fn cancel_unpaid(
        &self,
        id: &OrderId,
        reason: CancelReason,
        payment_status: PaymentStatus,
        watch: bool,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Takes a cancelled order out of the expiry job's due work (its Mercado
    /// Pago order is over), or puts it back due at `due`.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be written.
    fn watch(
        &self,
        id: &OrderId,
        due: Option<time::OffsetDateTime>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Our order whose QR is Mercado Pago's order `provider_order`, if we
    /// made it: a notification of an id we do not hold is never sent on to
    /// Mercado Pago.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be read.
    fn order_of(
        &self,
        provider_order: &ProviderOrderId,
    ) -> impl Future<Output = Result<Option<OrderId>>> + Send;

    /// Claims the re-read of the order's Mercado Pago order at `now`: `true`
    /// when the order still awaits payment and was last re-read before
    /// `now - every` (or never), in one conditional write, so that of
    /// concurrent polls only one asks Mercado Pago.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be written.
    fn claim_read(
        &self,
        id: &OrderId,
        now: time::OffsetDateTime,
        every: std::time::Duration,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// `payment_status: refunded` on a cancelled order, out of the expiry
    /// job's due work.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be written.
    fn mark_refunded(&self, id: &OrderId) -> impl Future<Output = Result<()>> + Send;
}

/// Mercado Pago's Orders API as the services need it.
pub trait PaymentGateway: Sync {
    /// Creates a dynamic QR order for one of ours. A repeat with the same
    /// idempotency key answers the order the first call created.
    ///
    /// # Errors
    /// [`PaymentError`]: unavailable (worth a retry), rejected, not found.
    fn create_qr_order(
        &self,
        request: &QrOrderRequest,
    ) -> impl Future<Output = Result<MpOrder, PaymentError>> + Send;

    /// The order as Mercado Pago has it now.
    ///
    /// # Errors
    /// [`PaymentError::NotFound`] for an order it does not have.
    fn get_order(
        &self,
        id: &ProviderOrderId,
    ) -> impl Future<Output = Result<MpOrder, PaymentError>> + Send;

    /// Cancels an order not yet paid.
    ///
    /// # Errors
    /// [`PaymentError::Rejected`] when its state forbids it (paid, say).
    fn cancel_order(
        &self,
        id: &ProviderOrderId,
    ) -> impl Future<Output = Result<MpOrder, PaymentError>> + Send;

    /// Refunds a paid order in full.
    ///
    /// # Errors
    /// [`PaymentError`], as for the other calls.
    fn refund_order(
        &self,
        id: &ProviderOrderId,
        idempotency_key: &IdempotencyKey,
    ) -> impl Future<Output = Result<MpOrder, PaymentError>> + Send;
}

/// The Mercado Pago account: its webhook secrets and a gateway holding its
/// current access token (both from one cached secret).
pub trait PaymentAccount: Sync {
    type Gateway: PaymentGateway;

    /// The webhook secrets to accept (current and previous). `refreshed`
    /// re-reads the secret (rate-limited): for a signature that matched none
    /// of the cached ones, the secret may have just been rotated.
    ///
    /// # Errors
    /// `Unavailable` when the secret cannot be read; `Internal` when it is
    /// malformed.
    fn webhook_secrets(
        &self,
        refreshed: bool,
    ) -> impl Future<Output = Result<Vec<WebhookSecret>>> + Send;

    /// The gateway, with the current access token.
    ///
    /// # Errors
    /// As [`PaymentAccount::webhook_secrets`].
    fn gateway(&self) -> impl Future<Output = Result<Self::Gateway>> + Send;
}

/// The signing keys: a secret's current and previous versions.
pub trait SigningKeys: Sync {
    /// # Errors
    /// [`KeyError::Unavailable`] when the secret cannot be read now.
    fn current_and_previous(&self) -> impl Future<Output = Result<KeySet, KeyError>> + Send;
}

/// What erasure needs of the directory.
pub trait CustomerDirectory: Sync {
    /// The customer with this id, if any.
    ///
    /// # Errors
    /// `Unavailable` when the directory cannot be read.
    fn customer_by_id(
        &self,
        id: &CustomerId,
    ) -> impl Future<Output = Result<Option<Customer>>> + Send;

    /// Deletes the customer's record; one already gone is not an error.
    ///
    /// # Errors
    /// `Unavailable` when the directory cannot be written.
    fn delete_customer(&self, customer: &Customer) -> impl Future<Output = Result<()>> + Send;
}

/// What erasure needs of the order store.
pub trait OrderOwners: Sync {
    /// Gives every order of `owner` the owner `replacement`; how many moved.
    /// Each move is conditional on the old owner, so a retry picks up where
    /// a failure stopped.
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be read or written.
    fn reassign_owner(
        &self,
        owner: &Subject,
        replacement: &Subject,
    ) -> impl Future<Output = Result<usize>> + Send;
}

/// The status machine's moves, as the store makes them.
pub trait OrderMoves: Sync {
    /// Moves the order by `actor` to `to`, in one write conditioned on the
    /// status the move requires; with `owner`, only that owner's order.
    ///
    /// # Errors
    /// `forbidden` (403) for a move the actor may never make,
    /// `invalid_transition` (409) from another status, `order_not_found`
    /// (404) for a missing order or another owner's.
    fn move_status(
        &self,
        id: &OrderId,
        actor: Actor,
        to: OrderStatus,
        reach: Reach<'_>,
    ) -> impl Future<Output = Result<Order>> + Send;
}

/// Whose orders a caller may touch; any other order answers 404 like a
/// missing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// A guest or customer: its own orders.
    Owner(&'a Subject),
    /// A store's kitchen or manager: that store's orders.
    Store(&'a StoreId),
    /// An admin: every store's.
    Chain,
}

impl Reach<'_> {
    /// Whether `order` is within reach.
    pub fn holds(&self, order: &Order) -> bool {
        match self {
            Reach::Owner(owner) => order.is_owned_by(owner),
            Reach::Store(store) => order.store_id.as_ref() == Some(*store),
            Reach::Chain => true,
        }
    }
}
