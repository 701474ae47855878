//! Orders: lines priced from the menu at checkout, and the status machine.

use crate::domain::ids::{KioskId, OrderId, PosId, ProductId, ProviderOrderId, StoreId};
use crate::domain::menu::{
    ChosenModifier, ChosenSlot, LEAST_UNIT_CENTS, MAX_GROUPS, MAX_OPTIONS, MAX_SLOTS, MenuKey,
    ModifierChoice, ProductKind, SlotChoice, choose, invalid_choice, shown,
};
use crate::domain::money::Money;
use crate::domain::product::Product;
use crate::domain::subject::Subject;
use crate::domain::token::Scope;
use crate::{Code, Error, Result, Role};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;
use time::OffsetDateTime;

/// Aguardando pagamento → Recebido → Em preparação → Pronto → Finalizado, or Cancelado.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Received,
    InPreparation,
    Ready,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Received => "received",
            OrderStatus::InPreparation => "in_preparation",
            OrderStatus::Ready => "ready",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Statuses of the kitchen queue, in the order the kitchen works them.
    pub const QUEUE: [OrderStatus; 3] = [
        OrderStatus::Ready,
        OrderStatus::InPreparation,
        OrderStatus::Received,
    ];

    pub fn in_queue(self) -> bool {
        Self::QUEUE.contains(&self)
    }

    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::Received,
        OrderStatus::InPreparation,
        OrderStatus::Ready,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];
}

/// Not one of the order statuses: 400 `invalid_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownStatus;

impl FromStr for OrderStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

impl From<UnknownStatus> for Error {
    fn from(_: UnknownStatus) -> Self {
        Error::validation(Code::InvalidStatus, "unknown order status")
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Approved,
    Refused,
    Expired,
    /// Staff cancelled the paid order; its refund is under way (the expiry
    /// job retries it every minute until Mercado Pago confirms it).
    RefundPending,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Approved => "approved",
            PaymentStatus::Refused => "refused",
            PaymentStatus::Expired => "expired",
            PaymentStatus::RefundPending => "refund_pending",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Its owner cancelled it before paying.
    Customer,
    /// Mercado Pago reported the payment failed, cancelled or expired.
    PaymentRefused,
    /// Nobody paid before the deadline.
    PaymentExpired,
    /// An admin cancelled it after payment (and it was refunded).
    Staff,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Customer => "customer",
            CancelReason::PaymentRefused => "payment_refused",
            CancelReason::PaymentExpired => "payment_expired",
            CancelReason::Staff => "staff",
        }
    }
}

/// Who asks for a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The guest or customer who placed the order.
    Owner,
    Kitchen,
    Admin,
    /// The payment provider's notification.
    Payment(PaymentStatus),
}

impl Actor {
    /// The actor a caller of `PATCH /orders/{id}` is, by role; a kiosk
    /// itself moves no order (403).
    pub fn for_role(role: Role) -> Result<Self> {
        match role {
            Role::Guest | Role::Customer => Ok(Actor::Owner),
            Role::Kitchen => Ok(Actor::Kitchen),
            // A manager may do in its store all an admin may in any.
            Role::Manager | Role::Admin => Ok(Actor::Admin),
            Role::Kiosk => Err(Error::role_forbidden()),
        }
    }
}

/// Why a move is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionError {
    /// The actor may never set this status: 403.
    NotPermitted,
    /// The actor may set it, but not from the order's current status: 409.
    InvalidFrom,
}

/// The one transition function: the status an order must be in for `actor` to
/// move it to `to`. Each (actor, target) has at most one such status, which
/// makes every move a single conditional write on the current status.
pub fn required_status(actor: Actor, to: OrderStatus) -> Result<OrderStatus, TransitionError> {
    use OrderStatus::*;
    match (actor, to) {
        (Actor::Kitchen | Actor::Admin, InPreparation) => Ok(Received),
        (Actor::Kitchen | Actor::Admin, Ready) => Ok(InPreparation),
        (Actor::Kitchen | Actor::Admin, Completed) => Ok(Ready),
        (Actor::Owner, Cancelled) => Ok(AwaitingPayment),
        (Actor::Admin, Cancelled) => Ok(Received),
        (Actor::Payment(PaymentStatus::Approved), Received) => Ok(AwaitingPayment),
        (Actor::Payment(PaymentStatus::Refused), Cancelled) => Ok(AwaitingPayment),
        _ => Err(TransitionError::NotPermitted),
    }
}

/// Checks a move against the order's current status.
pub fn transition(
    actor: Actor,
    from: OrderStatus,
    to: OrderStatus,
) -> Result<OrderStatus, TransitionError> {
    if required_status(actor, to)? == from {
        Ok(to)
    } else {
        Err(TransitionError::InvalidFrom)
    }
}

impl From<TransitionError> for Error {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotPermitted => Error::role_forbidden(),
            TransitionError::InvalidFrom => Error::invalid_transition(),
        }
    }
}

/// A line of an order, a snapshot of the menu at checkout: the product's
/// name, the options and slot items picked with their names and deltas, the
/// unit price they made (base plus every delta) and the subtotal. Later menu
/// changes never alter it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub name: String,
    #[serde(default)]
    pub kind: ProductKind,
    pub unit_price_cents: Money,
    pub quantity: u8,
    pub note: Option<String>,
    pub subtotal_cents: Money,
    /// An item's options (removals too: "Sem cebola" at 0).
    #[serde(default)]
    pub modifiers: Vec<ChosenModifier>,
    /// A combo's items, with their own options.
    #[serde(default)]
    pub slots: Vec<ChosenSlot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    /// The ticket number, 1..=999: `None` until the payment is approved, then
    /// one no other open paid order holds.
    pub number: Option<u16>,
    pub customer_id: Subject,
    /// The store it was placed at: its kitchen makes it.
    #[serde(default)]
    pub store_id: Option<StoreId>,
    /// The kiosk it was placed at (its open orders are counted per kiosk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_id: Option<KioskId>,
    /// The Mercado Pago point of sale its QR is created on, fixed at
    /// checkout: the kiosk's own, else its store's; absent for the
    /// deployment's (`MERCADOPAGO_EXTERNAL_POS_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mercadopago_pos_id: Option<PosId>,
    /// Eaten here or taken away (`null` on orders older than this field).
    #[serde(default)]
    pub fulfillment: Option<Fulfillment>,
    pub items: Vec<OrderLine>,
    pub total_cents: Money,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    #[serde(default)]
    pub cancel_reason: Option<CancelReason>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub paid_at: Option<OffsetDateTime>,
    /// What the payer paid, once paid: the total, or less when Mercado Pago
    /// gave the payer a discount of its own (the order is ours in full).
    #[serde(default)]
    pub paid_cents: Option<Money>,
    /// When the kitchen started it, had it ready, handed it over; when it
    /// was cancelled (the stage times a manager reads the kitchen by).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub in_preparation_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ready_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The transitions: each returns the order as it is after the move, so the
/// store writes what the domain decided and the in-memory fakes of the
/// service tests apply the very same move.
impl Order {
    /// A new order of `owner` at the store and kiosk of `at`, awaiting its
    /// payment: no ticket number yet.
    pub fn placed(
        owner: Subject,
        at: &Scope,
        items: Vec<OrderLine>,
        total: Money,
        now: OffsetDateTime,
    ) -> Order {
        Order {
            id: OrderId::generate(),
            number: None,
            customer_id: owner,
            store_id: at.store_id.clone(),
            kiosk_id: at.kiosk_id.clone(),
            mercadopago_pos_id: at.pos_id.clone(),
            fulfillment: None,
            items,
            total_cents: total,
            status: OrderStatus::AwaitingPayment,
            payment_status: PaymentStatus::Pending,
            cancel_reason: None,
            paid_at: None,
            paid_cents: None,
            in_preparation_at: None,
            ready_at: None,
            completed_at: None,
            cancelled_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Paid: `received`, `approved`, its ticket number, `paid_at`, and what
    /// the payer paid (`paid`, or the total when the provider does not say).
    pub fn confirmed(&self, number: u16, paid_at: OffsetDateTime, paid: Option<Money>) -> Order {
        Order {
            status: OrderStatus::Received,
            payment_status: PaymentStatus::Approved,
            number: Some(number),
            paid_at: Some(paid_at),
            paid_cents: Some(paid.unwrap_or(self.total_cents)),
            updated_at: paid_at,
            ..self.clone()
        }
    }

    /// Cancelled before it was paid, for `reason`.
    pub fn cancelled_unpaid(
        &self,
        reason: CancelReason,
        payment_status: PaymentStatus,
        now: OffsetDateTime,
    ) -> Order {
        Order {
            status: OrderStatus::Cancelled,
            cancel_reason: Some(reason),
            payment_status,
            cancelled_at: Some(now),
            updated_at: now,
            ..self.clone()
        }
    }

    /// Moved to `to` by `actor` (a move [`transition`] allows). A paid
    /// order cancelled by staff is `refund_pending` (its refund follows the
    /// move, so no kitchen move can come between); one cancelled by its
    /// owner was never paid.
    pub fn moved(&self, actor: Actor, to: OrderStatus, now: OffsetDateTime) -> Order {
        let mut moved = Order {
            status: to,
            updated_at: now,
            ..self.clone()
        };
        match to {
            OrderStatus::InPreparation => moved.in_preparation_at = Some(now),
            OrderStatus::Ready => moved.ready_at = Some(now),
            OrderStatus::Completed => moved.completed_at = Some(now),
            OrderStatus::Cancelled => moved.cancelled_at = Some(now),
            OrderStatus::AwaitingPayment | OrderStatus::Received => {}
        }
        if to == OrderStatus::Cancelled {
            if self.status == OrderStatus::AwaitingPayment {
                moved.cancel_reason = Some(CancelReason::Customer);
            } else {
                moved.cancel_reason = Some(match actor {
                    Actor::Owner => CancelReason::Customer,
                    _ => CancelReason::Staff,
                });
                moved.payment_status = PaymentStatus::RefundPending;
            }
        }
        moved
    }

    /// A payment that came after the order was cancelled, given back.
    pub fn refunded(&self, now: OffsetDateTime) -> Order {
        Order {
            payment_status: PaymentStatus::Refunded,
            updated_at: now,
            ..self.clone()
        }
    }

    /// Whether `subject` owns it.
    pub fn is_owned_by(&self, subject: &Subject) -> bool {
        &self.customer_id == subject
    }

    /// The order as the API shows it at `now`: with `expires_at`, its
    /// payment deadline (`payment_timeout` after checkout) while it awaits
    /// payment, else `null`; and `waiting_seconds`, the time since it was
    /// paid while the kitchen has not made it yet (`received`,
    /// `in_preparation`; the "tempo de espera"), else `null`.
    pub fn view(self, now: OffsetDateTime, payment_timeout: std::time::Duration) -> OrderView {
        let waiting = matches!(
            self.status,
            OrderStatus::Received | OrderStatus::InPreparation
        );
        let waiting_seconds = self
            .paid_at
            .filter(|_| waiting)
            .map(|paid| (now - paid).whole_seconds().max(0));
        let expires_at = (self.status == OrderStatus::AwaitingPayment)
            .then(|| self.created_at + payment_timeout);
        OrderView {
            order: self,
            expires_at,
            waiting_seconds,
        }
    }
}

/// An order with what depends on when it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub waiting_seconds: Option<i64>,
}

impl OrderStatus {
    /// The order's field that records when it reached this status (none
    /// for `awaiting_payment`, and `paid_at` is `received`'s).
    pub fn stage_field(self) -> Option<&'static str> {
        match self {
            OrderStatus::InPreparation => Some("in_preparation_at"),
            OrderStatus::Ready => Some("ready_at"),
            OrderStatus::Completed => Some("completed_at"),
            OrderStatus::Cancelled => Some("cancelled_at"),
            OrderStatus::AwaitingPayment | OrderStatus::Received => None,
        }
    }
}

/// The payment of an order, as `POST /orders/{id}/payment` answers it: the
/// Mercado Pago QR order the kiosk shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub provider: String,
    pub provider_order_id: ProviderOrderId,
    pub qr_data: String,
    pub amount_cents: Money,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What an order should become, given what Mercado Pago says of its payment.
/// The provider's word is the re-read order, never a notification's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Paid, for this order, of exactly its total, while it awaits payment:
    /// `received`, `approved`, a ticket number, `paid_at`, `paid_cents`
    /// (what the payer paid: less than the total when the provider gave a
    /// discount of its own, which never blocks the order).
    Confirm,
    /// Failed, or cancelled by someone else, at the provider while it awaits
    /// payment: `cancelled` (`payment_refused`, `refused`).
    Refuse,
    /// Expired at the provider while it awaits payment: `cancelled`
    /// (`payment_expired`, `expired`).
    Expire,
    /// Paid after we gave up on it (cancelled for a refused or expired
    /// payment): refund it; the order stays cancelled.
    Refund,
    /// Paid, but the provider's order is not of our total: change nothing,
    /// log an error and count it (an alarm watches the count).
    AmountMismatch,
    /// Anything else: pending, a repeat of what already applied, not ours.
    Nothing,
}

/// The decision of [`Settlement`] for `order` and the provider's order
/// (`external_reference`, `status` and `total` read from it).
pub fn settle(
    order: &Order,
    external_reference: Option<&OrderId>,
    status: ProviderStatus,
    total: Money,
) -> Settlement {
    if external_reference != Some(&order.id) {
        return Settlement::Nothing;
    }
    let awaiting = order.status == OrderStatus::AwaitingPayment;
    match status {
        ProviderStatus::Paid => {
            // What the payer paid may be less (the provider's own discount,
            // kept as `paid_cents`); the order's amount there must be ours.
            if total != order.total_cents {
                Settlement::AmountMismatch
            } else if awaiting {
                Settlement::Confirm
            } else if order.status == OrderStatus::Cancelled
                && matches!(
                    order.payment_status,
                    PaymentStatus::Expired | PaymentStatus::Refused | PaymentStatus::Pending
                )
            {
                Settlement::Refund
            } else {
                Settlement::Nothing
            }
        }
        ProviderStatus::Refused if awaiting => Settlement::Refuse,
        ProviderStatus::Expired if awaiting => Settlement::Expire,
        _ => Settlement::Nothing,
    }
}

/// The provider's status of a payment, as far as an order cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderStatus {
    Paid,
    /// Failed, or cancelled by someone else: it will not be paid.
    Refused,
    /// Not paid by its deadline.
    Expired,
    /// Pending, refunded or unknown: nothing to do.
    Other,
}

/// How often the expiry job looks again at a cancelled order it still has
/// work on (its Mercado Pago order not over, or its refund pending).
pub const WATCH_EVERY: time::Duration = time::Duration::seconds(60);

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: u8 = 20;
pub const MAX_NOTE_CHARS: usize = 140;

/// The most distinct products one checkout names, its combos' items
/// included: with the store and the idempotency record, its reads are one
/// BatchGetItem (100 keys at most).
pub const MAX_PRODUCTS: usize = 98;

/// The most bytes an order's lines may take as JSON (about what they take
/// in DynamoDB): the order item, its lines and everything the payment and
/// the kitchen add to it, stays well under DynamoDB's 400 KB item limit. A
/// real order of 50 lines of combos with their options takes under 100 KB.
pub const MAX_LINES_BYTES: usize = 300_000;

/// `POST /orders` as sent. No price field exists: a client that sends one is
/// refused like any unknown field.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub items: Vec<CheckoutLine>,
    /// `dine_in` or `takeout`; required (400 `invalid_body` without it).
    #[serde(default)]
    pub fulfillment: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CheckoutLine {
    pub product_id: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// An item's picks, by group (a group not named takes its defaults).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<ModifierChoice>,
    /// A combo's items, one per slot, each with its picks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<SlotChoice>,
}

/// Eaten at the store or taken away: the kitchen packs accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfillment {
    DineIn,
    Takeout,
}

fn invalid_body(message: impl Into<String>) -> Error {
    Error::invalid_body(message)
}

/// A checkout that passed every rule of its shape: 1 to [`MAX_LINES`] lines,
/// each a product id, a quantity from 1 to [`MAX_QUANTITY`], an optional
/// note of at most [`MAX_NOTE_CHARS`] characters with no control characters,
/// and at most as many picks as a menu may offer; and a fulfillment. Whether
/// the picks fit the menu is [`Checkout::price`]'s. Serialises exactly as
/// its body did: the idempotency hash is over it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Checkout {
    items: Vec<CheckoutItem>,
    fulfillment: Fulfillment,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckoutItem {
    pub product_id: ProductId,
    pub quantity: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<ModifierChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<CheckedSlot>,
}

/// A slot choice whose product id can be one.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckedSlot {
    pub slot_id: String,
    pub product_id: ProductId,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<ModifierChoice>,
}

/// At most a menu's worth of picks: [`MAX_GROUPS`] groups of at most
/// [`MAX_OPTIONS`] options (more can never fit, so they are refused unread).
fn checked_picks(picks: Vec<ModifierChoice>) -> Result<Vec<ModifierChoice>> {
    if picks.len() > MAX_GROUPS || picks.iter().any(|p| p.option_ids.len() > MAX_OPTIONS) {
        return Err(invalid_body(format!(
            "modifiers name at most {MAX_GROUPS} groups of at most {MAX_OPTIONS} options"
        )));
    }
    Ok(picks)
}

impl TryFrom<CheckoutBody> for Checkout {
    type Error = Error;

    fn try_from(body: CheckoutBody) -> Result<Self> {
        if body.items.is_empty() || body.items.len() > MAX_LINES {
            return Err(invalid_body(format!("an order has 1 to {MAX_LINES} lines")));
        }
        let fulfillment = match body.fulfillment.as_deref() {
            Some("dine_in") => Fulfillment::DineIn,
            Some("takeout") => Fulfillment::Takeout,
            _ => return Err(invalid_body("fulfillment is dine_in or takeout")),
        };
        let items = body
            .items
            .into_iter()
            .map(|line| {
                let product_id = ProductId::parse(&line.product_id)
                    .ok_or_else(|| invalid_body("product_id is required"))?;
                let quantity = u8::try_from(line.quantity)
                    .ok()
                    .filter(|q| (1..=MAX_QUANTITY).contains(q))
                    .ok_or_else(|| invalid_body(format!("quantity is from 1 to {MAX_QUANTITY}")))?;
                // Blank is no note; any other is clean text (NFC, no Cc/Cf).
                let note = match line.note.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(note) => Some(crate::domain::text::clean(note, MAX_NOTE_CHARS).map_err(
                        |_| {
                            invalid_body(format!(
                                "a note has at most {MAX_NOTE_CHARS} characters and no control \
                                 or invisible formatting characters"
                            ))
                        },
                    )?),
                };
                if line.slots.len() > MAX_SLOTS {
                    return Err(invalid_body(format!(
                        "slots names at most {MAX_SLOTS} slots"
                    )));
                }
                let slots = line
                    .slots
                    .into_iter()
                    .map(|slot| {
                        Ok(CheckedSlot {
                            product_id: ProductId::parse(&slot.product_id)
                                .ok_or_else(|| invalid_body("a slot's product_id is required"))?,
                            slot_id: slot.slot_id,
                            modifiers: checked_picks(slot.modifiers)?,
                        })
                    })
                    .collect::<Result<_>>()?;
                Ok(CheckoutItem {
                    product_id,
                    quantity,
                    note,
                    modifiers: checked_picks(line.modifiers)?,
                    slots,
                })
            })
            .collect::<Result<_>>()?;
        let checkout = Self { items, fulfillment };
        if checkout.product_ids().len() > MAX_PRODUCTS {
            return Err(invalid_body(format!(
                "an order names at most {MAX_PRODUCTS} different products, its combos' items \
                 included"
            )));
        }
        Ok(checkout)
    }
}

fn unavailable(id: &ProductId) -> Error {
    Error::unprocessable(
        Code::ProductUnavailable,
        format!("product {} is unavailable", shown(id.as_str())),
    )
}

impl Checkout {
    pub fn items(&self) -> &[CheckoutItem] {
        &self.items
    }

    pub fn fulfillment(&self) -> Fulfillment {
        self.fulfillment
    }

    /// The distinct products the checkout names, its combos' chosen items
    /// included: at most [`MAX_PRODUCTS`], read with the store in one
    /// BatchGetItem.
    pub fn product_ids(&self) -> Vec<ProductId> {
        let mut ids: Vec<ProductId> = self
            .items
            .iter()
            .flat_map(|l| {
                std::iter::once(l.product_id.clone())
                    .chain(l.slots.iter().map(|s| s.product_id.clone()))
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The lines priced from `menu` (products by id, `available` as at the
    /// store) and the store's options (`sells`): an unknown, deleted or
    /// sold-out product is 422 `product_unavailable`, a choice the menu does
    /// not allow 422 `invalid_choice`, a sold-out option 422
    /// `option_unavailable`, a unit under one cent (the menu changed since
    /// a combo was checked) 422 `invalid_choice`, lines over
    /// [`MAX_LINES_BYTES`] 400 `invalid_body`. Each line is a snapshot:
    /// names and deltas as they are now, its unit price the base plus every
    /// delta.
    pub fn price(
        &self,
        menu: &HashMap<ProductId, Product>,
        sells: &dyn Fn(&MenuKey) -> bool,
    ) -> Result<(Vec<OrderLine>, Money)> {
        let mut total = Money::cents(0);
        let mut lines = Vec::with_capacity(self.items.len());
        let too_large = || invalid_body("amount too large");
        for line in &self.items {
            let product = menu
                .get(&line.product_id)
                .filter(|p| p.active && p.available)
                .ok_or_else(|| unavailable(&line.product_id))?;
            let (modifiers, slots) = match product.kind {
                ProductKind::Item => {
                    if !line.slots.is_empty() {
                        return Err(invalid_choice(format!(
                            "{} is not a combo: it has no slots",
                            product.name
                        )));
                    }
                    let picked = choose(
                        &product.name,
                        &product.modifier_groups,
                        &line.modifiers,
                        sells,
                    )?;
                    (picked, Vec::new())
                }
                ProductKind::Combo => {
                    if !line.modifiers.is_empty() {
                        return Err(invalid_choice(format!(
                            "{}: a combo's options are picked in its slots",
                            product.name
                        )));
                    }
                    (Vec::new(), fill_slots(product, &line.slots, menu, sells)?)
                }
            };
            let mut unit = product.price_cents;
            for delta in modifiers
                .iter()
                .map(|m| m.price_delta_cents)
                .chain(slots.iter().flat_map(|s| {
                    std::iter::once(s.price_delta_cents)
                        .chain(s.modifiers.iter().map(|m| m.price_delta_cents))
                }))
            {
                unit = unit.checked_add(delta).ok_or_else(too_large)?;
            }
            if unit.as_cents() < LEAST_UNIT_CENTS {
                return Err(invalid_choice(format!(
                    "{}: these choices would make it free or its price negative",
                    product.name
                )));
            }
            let subtotal = unit
                .checked_mul(i64::from(line.quantity))
                .ok_or_else(too_large)?;
            total = total.checked_add(subtotal).ok_or_else(too_large)?;
            lines.push(OrderLine {
                product_id: product.id.clone(),
                name: product.name.clone(),
                kind: product.kind,
                unit_price_cents: unit,
                quantity: line.quantity,
                note: line.note.clone(),
                subtotal_cents: subtotal,
                modifiers,
                slots,
            });
        }
        let bytes = serde_json::to_vec(&lines).map_err(Error::internal)?.len();
        if bytes > MAX_LINES_BYTES {
            return Err(invalid_body(format!(
                "the order's lines take {bytes} bytes, more than {MAX_LINES_BYTES}: pick fewer \
                 options or split the order"
            )));
        }
        Ok((lines, total))
    }
}

/// The items `chosen` puts in `combo`'s slots: each slot filled once with
/// one of the products it offers, that product on the menu here, its own
/// groups picked from; else 422 `invalid_choice` naming the slot (or
/// `product_unavailable`, `option_unavailable`). In the combo's order.
fn fill_slots(
    combo: &Product,
    chosen: &[CheckedSlot],
    menu: &HashMap<ProductId, Product>,
    sells: &dyn Fn(&MenuKey) -> bool,
) -> Result<Vec<ChosenSlot>> {
    let of = &combo.name;
    for (i, choice) in chosen.iter().enumerate() {
        if !combo.slots.iter().any(|s| s.id.as_str() == choice.slot_id) {
            return Err(invalid_choice(format!(
                "{of} has no slot {}",
                shown(&choice.slot_id)
            )));
        }
        if chosen[..i].iter().any(|c| c.slot_id == choice.slot_id) {
            return Err(invalid_choice(format!(
                "{of}: slot {} is filled twice",
                shown(&choice.slot_id)
            )));
        }
    }
    combo
        .slots
        .iter()
        .map(|slot| {
            let choice = chosen
                .iter()
                .find(|c| c.slot_id == slot.id.as_str())
                .ok_or_else(|| invalid_choice(format!("{of}: slot {} needs a product", slot.id)))?;
            let offer = slot
                .options
                .iter()
                .find(|o| o.product_id == choice.product_id)
                .ok_or_else(|| {
                    invalid_choice(format!(
                        "{of}: slot {} does not offer product {}",
                        slot.id,
                        shown(choice.product_id.as_str())
                    ))
                })?;
            let item = menu
                .get(&choice.product_id)
                .filter(|p| p.active && p.available && p.kind == ProductKind::Item)
                .ok_or_else(|| unavailable(&choice.product_id))?;
            Ok(ChosenSlot {
                slot_id: slot.id.to_string(),
                name: slot.name.clone(),
                product_id: item.id.clone(),
                product_name: item.name.clone(),
                price_delta_cents: offer.price_delta_cents,
                modifiers: choose(&item.name, &item.modifier_groups, &choice.modifiers, sells)?,
            })
        })
        .collect()
}

/// Checkouts for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A checkout of `items`, to eat here; it must pass the shape rules.
    pub fn checkout_of(items: Vec<CheckoutLine>) -> Checkout {
        Checkout::try_from(CheckoutBody {
            items,
            fulfillment: Some("dine_in".into()),
        })
        .unwrap_or_else(|e| panic!("a test checkout is refused: {e}"))
    }

    /// A line of `quantity` of product `id` with `modifiers` picked, no note.
    pub fn line(id: &str, quantity: u32, modifiers: Vec<ModifierChoice>) -> CheckoutLine {
        CheckoutLine {
            product_id: id.to_owned(),
            quantity,
            note: None,
            modifiers,
            slots: Vec::new(),
        }
    }
}

/// Ticket numbers run 1..=999 and wrap: unique among open orders as long as a
/// store never has 999 orders open at once.
pub fn ticket_number(sequence: u64) -> u16 {
    u16::try_from((sequence.saturating_sub(1)) % 999 + 1).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::testing::checkout_of;
    use super::*;
    use OrderStatus::*;

    /// Each row: who, from, to, and what the status machine answers.
    fn check(
        rows: &[(
            Actor,
            OrderStatus,
            OrderStatus,
            Result<OrderStatus, TransitionError>,
        )],
    ) {
        for (actor, from, to, expected) in rows {
            assert_eq!(
                transition(*actor, *from, *to),
                *expected,
                "{actor:?} {from:?} -> {to:?}"
            );
        }
    }

    const INVALID: Result<OrderStatus, TransitionError> = Err(TransitionError::InvalidFrom);
    const FORBIDDEN: Result<OrderStatus, TransitionError> = Err(TransitionError::NotPermitted);

    #[test]
    fn the_kitchen_moves_paid_orders_forward_one_step_at_a_time() {
        check(&[
            (Actor::Kitchen, Received, InPreparation, Ok(InPreparation)),
            (Actor::Kitchen, InPreparation, Ready, Ok(Ready)),
            (Actor::Admin, Ready, Completed, Ok(Completed)),
            (Actor::Kitchen, AwaitingPayment, InPreparation, INVALID),
            (Actor::Kitchen, Received, Ready, INVALID),
            (Actor::Kitchen, Ready, Received, FORBIDDEN),
        ]);
    }

    #[test]
    fn cancelling_depends_on_who_and_when() {
        check(&[
            (Actor::Owner, AwaitingPayment, Cancelled, Ok(Cancelled)),
            (Actor::Owner, Received, Cancelled, INVALID),
            (Actor::Admin, Received, Cancelled, Ok(Cancelled)),
            (Actor::Admin, AwaitingPayment, Cancelled, INVALID),
            (Actor::Kitchen, Received, Cancelled, FORBIDDEN),
            (Actor::Owner, AwaitingPayment, Received, FORBIDDEN),
        ]);
    }

    #[test]
    fn payments_only_move_orders_awaiting_payment() {
        let approved = Actor::Payment(PaymentStatus::Approved);
        let refused = Actor::Payment(PaymentStatus::Refused);
        check(&[
            (approved, AwaitingPayment, Received, Ok(Received)),
            (refused, AwaitingPayment, Cancelled, Ok(Cancelled)),
            (approved, Cancelled, Received, INVALID),
        ]);
    }

    #[test]
    fn nothing_leaves_a_final_status() {
        for actor in [
            Actor::Owner,
            Actor::Kitchen,
            Actor::Admin,
            Actor::Payment(PaymentStatus::Approved),
        ] {
            for to in [
                AwaitingPayment,
                Received,
                InPreparation,
                Ready,
                Completed,
                Cancelled,
            ] {
                for from in [Completed, Cancelled] {
                    assert!(
                        transition(actor, from, to).is_err(),
                        "{actor:?} {from:?} -> {to:?}"
                    );
                }
            }
        }
    }

    fn order(status: OrderStatus, payment_status: PaymentStatus) -> Order {
        let now = OffsetDateTime::now_utc();
        Order {
            id: OrderId::generate(),
            number: None,
            customer_id: "guest:1".parse().unwrap(),
            store_id: None,
            kiosk_id: None,
            mercadopago_pos_id: None,
            fulfillment: None,
            items: vec![],
            total_cents: Money::cents(2490),
            status,
            payment_status,
            cancel_reason: None,
            paid_at: None,
            paid_cents: None,
            in_preparation_at: None,
            ready_at: None,
            completed_at: None,
            cancelled_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_payment_settles_only_its_own_order_and_only_for_the_exact_total() {
        let total = Money::cents(2490);
        let other = Money::cents(2489);
        let waiting = order(AwaitingPayment, PaymentStatus::Pending);
        let id = Some(&waiting.id);
        assert_eq!(
            settle(&waiting, id, ProviderStatus::Paid, total),
            Settlement::Confirm
        );
        assert_eq!(
            settle(&waiting, id, ProviderStatus::Paid, other),
            Settlement::AmountMismatch
        );
        let stranger = OrderId::generate();
        assert_eq!(
            settle(&waiting, Some(&stranger), ProviderStatus::Paid, total),
            Settlement::Nothing
        );
        assert_eq!(
            settle(&waiting, None, ProviderStatus::Paid, total),
            Settlement::Nothing
        );
        assert_eq!(
            settle(&waiting, id, ProviderStatus::Refused, total),
            Settlement::Refuse
        );
        assert_eq!(
            settle(&waiting, id, ProviderStatus::Expired, total),
            Settlement::Expire
        );
        assert_eq!(
            settle(&waiting, id, ProviderStatus::Other, total),
            Settlement::Nothing
        );
    }

    #[test]
    fn a_confirmation_keeps_what_the_payer_paid_a_discount_included() {
        let waiting = order(AwaitingPayment, PaymentStatus::Pending);
        let now = OffsetDateTime::now_utc();
        let discounted = waiting.confirmed(7, now, Some(Money::cents(2000)));
        assert_eq!(
            (discounted.status, discounted.number, discounted.paid_cents),
            (Received, Some(7), Some(Money::cents(2000)))
        );
        assert_eq!(discounted.total_cents, Money::cents(2490));
        let untold = waiting.confirmed(8, now, None);
        assert_eq!(untold.paid_cents, Some(Money::cents(2490)));
    }

    #[test]
    fn a_repeat_changes_nothing_and_a_late_payment_is_refunded() {
        let total = Money::cents(2490);
        for status in [Received, InPreparation, Ready, Completed] {
            let paid = order(status, PaymentStatus::Approved);
            let id = Some(&paid.id);
            assert_eq!(
                settle(&paid, id, ProviderStatus::Paid, total),
                Settlement::Nothing
            );
            assert_eq!(
                settle(&paid, id, ProviderStatus::Refused, total),
                Settlement::Nothing
            );
        }
        for payment in [PaymentStatus::Expired, PaymentStatus::Refused] {
            let late = order(Cancelled, payment);
            let id = Some(&late.id);
            assert_eq!(
                settle(&late, id, ProviderStatus::Paid, total),
                Settlement::Refund
            );
        }
        let refunded = order(Cancelled, PaymentStatus::Refunded);
        let id = Some(&refunded.id);
        assert_eq!(
            settle(&refunded, id, ProviderStatus::Paid, total),
            Settlement::Nothing
        );
    }

    #[test]
    fn ticket_numbers_cycle_through_three_digits() {
        assert_eq!(ticket_number(1), 1);
        assert_eq!(ticket_number(999), 999);
        assert_eq!(ticket_number(1000), 1);
    }

    #[test]
    fn checkout_limits_are_checked() {
        let line = |quantity, note: Option<&str>| CheckoutLine {
            product_id: "p".into(),
            quantity,
            note: note.map(str::to_owned),
            modifiers: Vec::new(),
            slots: Vec::new(),
        };
        let valid = |items: Vec<CheckoutLine>| {
            let body = CheckoutBody {
                items,
                fulfillment: Some("takeout".into()),
            };
            Checkout::try_from(body).is_ok()
        };
        assert!(!valid(vec![]));
        assert!(!valid(vec![line(0, None)]));
        assert!(!valid(vec![line(21, None)]));
        assert!(valid(vec![line(20, Some(&"n".repeat(140)))]));
        assert!(!valid(vec![line(1, Some(&"n".repeat(141)))]));
        assert!(!valid(vec![line(1, None); 51]));
        assert!(valid(vec![line(1, None); 50]));
    }

    #[test]
    fn a_checkout_names_at_most_98_products_its_combos_items_included() {
        // Each line a combo with one slot: two products a line.
        let combos = |lines: usize| CheckoutBody {
            items: (0..lines)
                .map(|i| CheckoutLine {
                    slots: vec![SlotChoice {
                        slot_id: "s".into(),
                        product_id: format!("item-{i}"),
                        modifiers: Vec::new(),
                    }],
                    ..super::testing::line(&format!("combo-{i}"), 1, Vec::new())
                })
                .collect(),
            fulfillment: Some("dine_in".into()),
        };
        let checkout = Checkout::try_from(combos(49)).unwrap();
        assert_eq!(checkout.product_ids().len(), MAX_PRODUCTS);
        let refused = Checkout::try_from(combos(50)).unwrap_err();
        assert_eq!(refused.public_parts().0, Code::InvalidBody);
        assert!(
            refused
                .to_string()
                .contains("at most 98 different products")
        );
    }

    /// A product whose ten groups of thirty options have the longest ids
    /// and names (ASCII), and a line picking every option of it.
    fn heaviest_item() -> (Product, CheckoutLine) {
        let mut item = crate::domain::product::sample("heavy", 100, true);
        let groups: Vec<serde_json::Value> = (0..MAX_GROUPS)
            .map(|g| {
                let options: Vec<serde_json::Value> = (0..MAX_OPTIONS)
                    .map(|o| {
                        serde_json::json!({"id": format!("{g:02}-{o:02}-{}", "x".repeat(58)),
                            "name": "c".repeat(crate::domain::menu::MAX_LABEL_CHARS)})
                    })
                    .collect();
                serde_json::json!({"id": format!("{g:02}-{}", "g".repeat(61)),
                    "name": "g".repeat(crate::domain::menu::MAX_LABEL_CHARS),
                    "min": 0, "max": MAX_OPTIONS, "options": options})
            })
            .collect();
        item.modifier_groups =
            crate::domain::menu::parse_groups(Some(&serde_json::Value::Array(groups))).unwrap();
        let picks = item
            .modifier_groups
            .iter()
            .map(|g| ModifierChoice {
                group_id: g.id.to_string(),
                option_ids: g.options.iter().map(|o| o.id.to_string()).collect(),
            })
            .collect();
        (item, super::testing::line("heavy", 1, picks))
    }

    #[test]
    fn lines_too_large_for_a_dynamodb_item_are_refused_before_any_write() {
        let (item, line) = heaviest_item();
        let menu = HashMap::from([(item.id.clone(), item)]);
        let sells = |_: &MenuKey| true;
        // One such line is about 110 KB; two are still an order, three not.
        let (lines, _) = checkout_of(vec![line.clone(); 2])
            .price(&menu, &sells)
            .unwrap();
        assert!(serde_json::to_vec(&lines).unwrap().len() <= MAX_LINES_BYTES);
        let refused = checkout_of(vec![line; 3]).price(&menu, &sells).unwrap_err();
        assert_eq!(refused.public_parts().0, Code::InvalidBody);
        assert!(refused.to_string().contains("split the order"), "{refused}");
    }

    #[test]
    fn a_unit_made_free_by_a_later_menu_change_is_refused() {
        // The validator keeps every unit at one cent or more; a product
        // stored before a change elsewhere (or by hand) is caught here.
        let mut item = crate::domain::product::sample("p", 300, true);
        item.modifier_groups = crate::domain::menu::parse_groups(Some(&serde_json::json!([
            {"id": "size", "name": "Tamanho", "min": 1, "max": 1, "options": [
                {"id": "small", "name": "P", "price_delta_cents": -300},
                {"id": "medium", "name": "M", "price_delta_cents": -299, "default": true}]}])))
        .unwrap();
        let menu = HashMap::from([(item.id.clone(), item)]);
        let sells = |_: &MenuKey| true;
        let (lines, total) = checkout_of(vec![super::testing::line("p", 2, Vec::new())])
            .price(&menu, &sells)
            .unwrap();
        assert_eq!(
            (lines[0].unit_price_cents, total),
            (Money::cents(1), Money::cents(2))
        );
        let small = vec![ModifierChoice {
            group_id: "size".into(),
            option_ids: vec!["small".into()],
        }];
        let refused = checkout_of(vec![super::testing::line("p", 1, small)])
            .price(&menu, &sells)
            .unwrap_err();
        assert_eq!(refused.public_parts().0, Code::InvalidChoice);
    }

    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);

    #[test]
    fn the_payment_deadline_shows_while_the_order_awaits_payment_only() {
        let unpaid = order(OrderStatus::AwaitingPayment, PaymentStatus::Pending);
        let created = unpaid.created_at;
        let view = unpaid.clone().view(created, TIMEOUT);
        assert_eq!(
            view.expires_at,
            Some(created + time::Duration::seconds(900))
        );
        let paid = unpaid.confirmed(3, created, None);
        assert_eq!(paid.view(created, TIMEOUT).expires_at, None);
    }

    #[test]
    fn each_stage_records_its_time_and_the_wait_runs_until_ready() {
        let paid_at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let received =
            order(OrderStatus::AwaitingPayment, PaymentStatus::Pending).confirmed(7, paid_at, None);
        let later = |s: i64| paid_at + time::Duration::seconds(s);
        assert_eq!(
            received.clone().view(later(90), TIMEOUT).waiting_seconds,
            Some(90)
        );
        let preparing = received.moved(Actor::Kitchen, OrderStatus::InPreparation, later(60));
        assert_eq!(preparing.in_preparation_at, Some(later(60)));
        assert_eq!(
            preparing.clone().view(later(300), TIMEOUT).waiting_seconds,
            Some(300)
        );
        let ready = preparing.moved(Actor::Kitchen, OrderStatus::Ready, later(400));
        assert_eq!(
            (ready.ready_at, ready.in_preparation_at),
            (Some(later(400)), Some(later(60)))
        );
        assert_eq!(
            ready.clone().view(later(500), TIMEOUT).waiting_seconds,
            None,
            "ready: no longer waiting"
        );
        let completed = ready.moved(Actor::Kitchen, OrderStatus::Completed, later(600));
        assert_eq!(completed.completed_at, Some(later(600)));
        let unpaid = order(OrderStatus::AwaitingPayment, PaymentStatus::Pending);
        assert_eq!(
            unpaid.clone().view(later(5), TIMEOUT).waiting_seconds,
            None,
            "not paid"
        );
        let expired = unpaid.cancelled_unpaid(
            CancelReason::PaymentExpired,
            PaymentStatus::Expired,
            later(900),
        );
        assert_eq!(expired.cancelled_at, Some(later(900)));
        // A clock behind the payment never shows a negative wait.
        let early = order(OrderStatus::AwaitingPayment, PaymentStatus::Pending).confirmed(
            8,
            later(10),
            None,
        );
        assert_eq!(early.view(paid_at, TIMEOUT).waiting_seconds, Some(0));
    }

    fn combo_menu() -> HashMap<ProductId, Product> {
        use crate::domain::menu;
        use crate::domain::product::sample as product;
        use serde_json::json;
        let mut burger = product("x-burger", 2490, true);
        burger.name = "X-Burger".into();
        burger.modifier_groups = menu::parse_groups(Some(&json!([
            {"id": "extras", "name": "Adicionais", "min": 0, "max": 1, "options": [
                {"id": "bacon", "name": "Bacon", "price_delta_cents": 400}]},
            {"id": "remove", "name": "Retirar", "min": 0, "max": 1, "options": [
                {"id": "no-onion", "name": "Sem cebola"}]}
        ])))
        .unwrap();
        let mut fries = product("fries", 990, true);
        fries.name = "Batata".into();
        fries.modifier_groups = menu::parse_groups(Some(&json!([
            {"id": "size", "name": "Tamanho", "min": 1, "max": 1, "options": [
                {"id": "fries-m", "name": "Média", "default": true},
                {"id": "fries-g", "name": "Grande", "price_delta_cents": 300}]}
        ])))
        .unwrap();
        let mut soda = product("soda", 700, true);
        soda.name = "Refrigerante".into();
        let mut juice = product("juice", 900, true);
        juice.name = "Suco".into();
        let mut combo = product("combo-1", 3490, true);
        combo.name = "Combo X-Burger".into();
        combo.kind = ProductKind::Combo;
        combo.slots = menu::parse_slots(Some(&json!([
            {"id": "sandwich", "name": "Lanche", "options": [{"product_id": "x-burger"}]},
            {"id": "side", "name": "Acompanhamento", "options": [{"product_id": "fries"}]},
            {"id": "drink", "name": "Bebida", "options": [
                {"product_id": "soda"}, {"product_id": "juice", "price_delta_cents": 250}]}
        ])))
        .unwrap();
        [burger, fries, soda, juice, combo]
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect()
    }

    fn combo_line(slots: serde_json::Value) -> Checkout {
        let line: CheckoutLine = serde_json::from_value(serde_json::json!({
            "product_id": "combo-1", "quantity": 2, "slots": slots
        }))
        .unwrap();
        checkout_of(vec![line])
    }

    #[test]
    fn a_combo_is_priced_from_its_base_its_slot_deltas_and_its_items_options() {
        let menu = combo_menu();
        let checkout = combo_line(serde_json::json!([
            {"slot_id": "drink", "product_id": "juice"},
            {"slot_id": "sandwich", "product_id": "x-burger", "modifiers": [
                {"group_id": "extras", "option_ids": ["bacon"]},
                {"group_id": "remove", "option_ids": ["no-onion"]}]},
            {"slot_id": "side", "product_id": "fries", "modifiers": [
                {"group_id": "size", "option_ids": ["fries-g"]}]}
        ]));
        let ids = checkout.product_ids();
        assert_eq!(
            ids.len(),
            4,
            "the combo and its three chosen items, read at once"
        );
        let (lines, total) = checkout.price(&menu, &|_| true).unwrap();
        // 3490 + juice 250 + bacon 400 + no onion 0 + large fries 300.
        assert_eq!(lines[0].unit_price_cents, Money::cents(4440));
        assert_eq!(
            (lines[0].subtotal_cents, total),
            (Money::cents(8880), Money::cents(8880))
        );
        let slots: Vec<(&str, &str)> = lines[0]
            .slots
            .iter()
            .map(|s| (s.slot_id.as_str(), s.product_name.as_str()))
            .collect();
        assert_eq!(
            slots,
            [
                ("sandwich", "X-Burger"),
                ("side", "Batata"),
                ("drink", "Suco")
            ],
            "the combo's order"
        );
        let sandwich: Vec<&str> = lines[0].slots[0]
            .modifiers
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            sandwich,
            ["Bacon", "Sem cebola"],
            "the grill reads the removal as a choice"
        );
        assert_eq!(lines[0].kind, ProductKind::Combo);
    }

    #[test]
    fn a_combo_needs_every_slot_once_with_a_product_it_offers() {
        let menu = combo_menu();
        let full = || {
            vec![
                serde_json::json!({"slot_id": "sandwich", "product_id": "x-burger"}),
                serde_json::json!({"slot_id": "side", "product_id": "fries"}),
                serde_json::json!({"slot_id": "drink", "product_id": "soda"}),
            ]
        };
        let price = |slots: Vec<serde_json::Value>| {
            combo_line(serde_json::Value::Array(slots))
                .price(&menu, &|_| true)
                .map(|(lines, _)| lines)
        };
        assert_eq!(
            price(full()).unwrap()[0].unit_price_cents,
            Money::cents(3490)
        );
        let mut missing = full();
        missing.pop();
        let mut twice = full();
        twice.push(serde_json::json!({"slot_id": "drink", "product_id": "juice"}));
        let mut not_offered = full();
        not_offered[2] = serde_json::json!({"slot_id": "drink", "product_id": "fries"});
        let mut unknown = full();
        unknown.push(serde_json::json!({"slot_id": "dessert", "product_id": "soda"}));
        for (slots, expected) in [
            (missing, "slot drink needs a product"),
            (twice, "slot \"drink\" is filled twice"),
            (not_offered, "slot drink does not offer product \"fries\""),
            (unknown, "has no slot \"dessert\""),
        ] {
            let e = price(slots).unwrap_err();
            let (code, message) = e.public_parts();
            assert_eq!(code, Code::InvalidChoice, "{message}");
            assert!(
                message.contains(expected),
                "{message:?} should say {expected:?}"
            );
        }
        // A sold-out item in a slot: that product is unavailable.
        let mut sold_out = menu.clone();
        if let Some(soda) = sold_out.get_mut(&ProductId::parse("soda").unwrap()) {
            soda.available = false;
        }
        let e = combo_line(serde_json::Value::Array(full()))
            .price(&sold_out, &|_| true)
            .unwrap_err();
        assert_eq!(e.public_parts().0, Code::ProductUnavailable);
    }

    mod pricing {
        //! The price rules, as properties: a total is the sum of its lines, a
        //! unit price the base plus its deltas and never below one cent, and every
        //! pick the checkout accepts respects every group's `min..max`.

        use super::super::testing::{checkout_of, line};
        use super::super::*;
        use crate::domain::menu::{self, ModifierGroup};
        use crate::domain::product::sample as product;
        use proptest::prelude::*;
        use serde_json::{Value, json};

        /// A group as an admin might write it: 1 to 5 options with deltas
        /// from -5.00 to +10.00, some default, `min <= max <= options`, no
        /// defaults or from `min` to `max` of them.
        fn group(index: usize) -> impl Strategy<Value = Value> {
            (1usize..=5)
                .prop_flat_map(move |n| {
                    (
                        proptest::collection::vec((-500i64..=1000, any::<bool>()), n),
                        0..=n,
                        0..=n,
                    )
                })
                .prop_map(move |(options, a, b)| {
                    let (min, max) = (a.min(b), a.max(b));
                    let mut taken = 0;
                    let mut defaults: Vec<bool> = options
                        .iter()
                        .map(|(_, default)| {
                            let default = *default && taken < max;
                            taken += usize::from(default);
                            default
                        })
                        .collect();
                    // Some defaults but fewer than min: the first other
                    // options make up the rest.
                    if taken > 0 {
                        let missing = min.saturating_sub(taken);
                        defaults
                            .iter_mut()
                            .filter(|d| !**d)
                            .take(missing)
                            .for_each(|d| *d = true);
                    }
                    let options: Vec<Value> = options
                        .iter()
                        .zip(&defaults)
                        .enumerate()
                        .map(|(j, ((delta, _), default))| {
                            json!({"id": format!("g{index}-o{j}"), "name": format!("O{j}"),
                                "price_delta_cents": delta, "default": default})
                        })
                        .collect();
                    json!({"id": format!("g{index}"), "name": format!("G{index}"),
                        "min": min, "max": max, "options": options})
                })
        }

        /// 0 to 3 groups, accepted by the validator (the shapes above are
        /// all valid: a refusal here is a validator bug).
        fn groups() -> impl Strategy<Value = Vec<ModifierGroup>> {
            (0usize..=3)
                .prop_flat_map(|n| (0..n).map(group).collect::<Vec<_>>())
                .prop_map(|list| menu::parse_groups(Some(&Value::Array(list))).unwrap())
        }

        /// A line's picks: for each group, none (its defaults) or a subset of
        /// its options by bit mask, sometimes with an id it does not have.
        fn picks(groups: &[ModifierGroup], masks: &[(bool, u8, bool)]) -> Vec<ModifierChoice> {
            groups
                .iter()
                .zip(masks)
                .filter(|(_, (mention, _, _))| *mention)
                .map(|(group, (_, mask, stray))| {
                    let mut ids: Vec<String> = group
                        .options
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| mask & (1 << j) != 0)
                        .map(|(_, o)| o.id.to_string())
                        .collect();
                    if *stray {
                        ids.push("not-an-option".into());
                    }
                    ModifierChoice {
                        group_id: group.id.to_string(),
                        option_ids: ids,
                    }
                })
                .collect()
        }

        fn checkout(lines: Vec<(ProductId, u32, Vec<ModifierChoice>)>) -> Checkout {
            let items = lines
                .into_iter()
                .map(|(id, quantity, modifiers)| line(id.as_str(), quantity, modifiers))
                .collect();
            checkout_of(items)
        }

        fn sells(_: &MenuKey) -> bool {
            true
        }

        /// The deltas the menu gives the line's options (each looked up in
        /// its product's group: an option the product does not have fails).
        fn menu_deltas(product: &Product, line: &OrderLine) -> Result<i64, TestCaseError> {
            let mut sum = 0;
            for chosen in &line.modifiers {
                let option = product
                    .modifier_groups
                    .iter()
                    .filter(|g| g.id.as_str() == chosen.group_id)
                    .flat_map(|g| &g.options)
                    .find(|o| o.id.as_str() == chosen.option_id)
                    .ok_or_else(|| TestCaseError::fail(format!("{chosen:?} is not on the menu")))?;
                sum += option.price_delta_cents.as_cents();
            }
            Ok(sum)
        }

        fn line_deltas(line: &OrderLine) -> i64 {
            line.modifiers
                .iter()
                .map(|m| m.price_delta_cents.as_cents())
                .chain(line.slots.iter().flat_map(|s| {
                    std::iter::once(s.price_delta_cents.as_cents())
                        .chain(s.modifiers.iter().map(|m| m.price_delta_cents.as_cents()))
                }))
                .sum()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_total_is_the_sum_of_its_lines_and_a_unit_the_base_plus_its_deltas(
                products in proptest::collection::vec((groups(), 1i64..=5000), 1..=4),
                lines in proptest::collection::vec(
                    (0usize..4, 1u32..=20, proptest::collection::vec((any::<bool>(), any::<u8>(), proptest::bool::weighted(0.1)), 3)),
                    1..=6,
                ),
            ) {
                let menu: HashMap<ProductId, Product> = products
                    .iter()
                    .enumerate()
                    .map(|(i, (groups, base))| {
                        let mut p = product(&format!("p{i}"), *base, true);
                        p.modifier_groups = groups.clone();
                        (p.id.clone(), p)
                    })
                    .collect();
                let chosen: Vec<_> = lines
                    .iter()
                    .map(|(which, quantity, masks)| {
                        let id = ProductId::parse(&format!("p{}", which % products.len())).unwrap();
                        let picks = picks(&menu[&id].modifier_groups, masks);
                        (id, *quantity, picks)
                    })
                    .collect();
                let (priced, total) = match checkout(chosen).price(&menu, &sells) {
                    Ok(priced) => priced,
                    // Refused: some pick broke a rule, or made a unit free
                    // (the groups here were not checked against the bases).
                    Err(e) => {
                        prop_assert_eq!(e.public_parts().0, Code::InvalidChoice);
                        return Ok(());
                    }
                };
                let sum: i64 = priced.iter().map(|l| l.subtotal_cents.as_cents()).sum();
                prop_assert_eq!(total.as_cents(), sum);
                for line in &priced {
                    let product = &menu[&line.product_id];
                    let unit = line.unit_price_cents.as_cents();
                    prop_assert_eq!(
                        unit,
                        product.price_cents.as_cents() + menu_deltas(product, line)?
                    );
                    prop_assert!(unit >= LEAST_UNIT_CENTS);
                    prop_assert_eq!(line.subtotal_cents.as_cents(), unit * i64::from(line.quantity));
                    for group in &product.modifier_groups {
                        let count = line.modifiers.iter().filter(|m| m.group_id == group.id.as_str()).count();
                        prop_assert!(
                            (usize::from(group.min)..=usize::from(group.max)).contains(&count),
                            "group {} took {} options", group.id, count
                        );
                    }
                }
            }

            #[test]
            fn an_item_the_validator_accepts_is_priced_for_every_pick_the_rules_allow(
                groups in groups(),
                masks in proptest::collection::vec((any::<bool>(), any::<u8>(), Just(false)), 3),
                base in 1i64..=3000,
            ) {
                prop_assume!(menu::check_item_price(Money::cents(base), &groups).is_ok());
                let mut item = product("p0", base, true);
                item.modifier_groups = groups;
                let picks = picks(&item.modifier_groups, &masks);
                // Whether the picks keep every group within min..max (an
                // unmentioned group takes its defaults).
                let allowed = item.modifier_groups.iter().all(|group| {
                    let count = match picks.iter().find(|p| p.group_id == group.id.as_str()) {
                        Some(pick) => pick.option_ids.len(),
                        None => group.options.iter().filter(|o| o.default).count(),
                    };
                    (usize::from(group.min)..=usize::from(group.max)).contains(&count)
                });
                let id = item.id.clone();
                let menu = HashMap::from([(id.clone(), item)]);
                let priced = checkout(vec![(id, 1, picks)]).price(&menu, &sells);
                match priced {
                    Ok((lines, _)) => {
                        prop_assert!(allowed);
                        prop_assert!(lines[0].unit_price_cents.as_cents() >= LEAST_UNIT_CENTS);
                    }
                    Err(e) => {
                        prop_assert!(!allowed, "an allowed pick was refused: {:?}", e);
                        prop_assert_eq!(e.public_parts().0, Code::InvalidChoice);
                    }
                }
            }

            #[test]
            fn the_least_a_choice_can_add_is_what_the_validator_assumes(
                groups in groups(),
                masks in proptest::collection::vec((Just(true), any::<u8>(), Just(false)), 3),
            ) {
                let mut item = product("p0", 1_000_000, true);
                item.modifier_groups = groups;
                let picks = picks(&item.modifier_groups, &masks);
                let id = item.id.clone();
                let lowest = menu::lowest_deltas(&item.modifier_groups);
                let menu = HashMap::from([(id.clone(), item)]);
                if let Ok((priced, _)) = checkout(vec![(id, 1, picks)]).price(&menu, &sells) {
                    prop_assert!(line_deltas(&priced[0]) >= lowest);
                }
            }
        }
    }
}
