//! `order-expiry`: run by an EventBridge schedule every minute (and by
//! `kiosk-local serve` on a timer), it settles the orders still
//! `awaiting_payment` past their deadline (`ORDER_PAYMENT_TIMEOUT_SECONDS`
//! after checkout), one by one through `shared::service::expiry`.
//!
//! - Found through the sparse `awaiting` index (one Query per partition,
//!   16 at once whatever the number of stores, oldest deadline first), never
//!   a Scan; at most [`BATCH`] orders a run, and no new one
//!   started after [`RUN_BUDGET`]: the rest are the next run's.
//! - An order's failure is logged and the others go on. Mercado Pago
//!   unreachable (or its secret unreadable) leaves every order that has a
//!   Mercado Pago order as it is, for the next run: after the first failure
//!   of a run it is not asked again in that run, so an outage costs one
//!   bounded call a minute, not one per order.
//! - The run fails (a Lambda error, which the Errors alarm counts) when an
//!   order failed for another reason than Mercado Pago being unreachable.
//!   EventBridge does not retry it (`MaximumRetryAttempts: 0`): the next
//!   minute's run is the retry, and every write is conditional, so two runs
//!   that overlap settle each order once.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use shared::config::{ConfigError, Env};
use shared::payments::account::MercadoPagoAccount;
use shared::payments::mercadopago::MercadoPago;
use shared::service::expiry::{Expiry, expire_order};
use shared::store::orders::OrderStore;
use std::time::Duration;
use time::OffsetDateTime;

/// At most this many orders a run. A restaurant has a few dozen unpaid
/// orders at a time; at tens of milliseconds an order a full batch takes
/// seconds, and a backlog (after an outage) drains 200 a minute.
pub const BATCH: u16 = 200;

/// No order is started after this much of a run: with one order's worst
/// case (about eight bounded calls of at most 3.5 s each) and the Query and
/// secret read, a run stays near a minute, under the function's 90 s
/// timeout (template.yaml).
pub const RUN_BUDGET: Duration = Duration::from_secs(30);

pub struct State {
    pub orders: OrderStore,
    pub mercadopago: MercadoPagoAccount,
}

/// What a run did: the function's answer, and one log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Orders the index named as due.
    pub due: usize,
    pub expired: usize,
    pub confirmed: usize,
    pub refused: usize,
    pub refunded: usize,
    pub amount_mismatch: usize,
    pub already_settled: usize,
    /// Left as they were: Mercado Pago unreachable.
    pub deferred: usize,
    /// Cancelled orders whose Mercado Pago order was found over.
    pub swept: usize,
    /// Cancelled orders whose Mercado Pago order is still open.
    pub watching: usize,
    /// Refunds that did not complete this run.
    pub refund_pending: usize,
    /// Payments in progress at the deadline, waited for.
    pub payment_in_progress: usize,
    /// Failed (logged): left for the next run.
    pub failed: usize,
    /// Not started: the run's budget was spent.
    pub postponed: usize,
}

impl Report {
    fn count(&mut self, expiry: &Expiry) {
        let counter = match expiry {
            Expiry::Expired { .. } => &mut self.expired,
            Expiry::Confirmed(_) => &mut self.confirmed,
            Expiry::Refused => &mut self.refused,
            Expiry::Refunded => &mut self.refunded,
            Expiry::AmountMismatch => &mut self.amount_mismatch,
            Expiry::AlreadySettled => &mut self.already_settled,
            Expiry::Deferred => &mut self.deferred,
            Expiry::Swept => &mut self.swept,
            Expiry::Watching => &mut self.watching,
            Expiry::RefundPending => &mut self.refund_pending,
            Expiry::PaymentInProgress => &mut self.payment_in_progress,
        };
        *counter += 1;
    }
}

impl State {
    /// From `ORDERS_TABLE`, the Mercado Pago settings and secret
    /// (`MERCADOPAGO_SECRET_ID`, `MERCADOPAGO_API_URL`,
    /// `MERCADOPAGO_EXTERNAL_POS_ID`, `MERCADOPAGO_SECRET_CACHE_SECONDS`); no
    /// network call. (Deadlines are written on each order at checkout: the
    /// job reads them from the `awaiting` index.)
    pub fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let orders = OrderStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            env.required("ORDERS_TABLE")?,
        );
        Ok(Self {
            orders,
            mercadopago: MercadoPagoAccount::from_env(sdk, env)?,
        })
    }

    /// One scheduled run: the orders due now.
    pub async fn handle(&self, event: CloudWatchEvent) -> Result<Report, shared::Error> {
        tracing::debug!(scheduled_at = %event.time, "expiry run");
        let report = self.run(shared::clock::now()).await?;
        if report.failed > 0 {
            return Err(shared::Error::Unavailable(
                format!("{} of {} due orders failed", report.failed, report.due).into(),
            ));
        }
        Ok(report)
    }

    /// Settles the orders due at `now` (the tests pass a later `now` rather
    /// than wait for a deadline).
    #[tracing::instrument(skip_all)]
    pub async fn run(&self, now: OffsetDateTime) -> Result<Report, shared::Error> {
        let started = tokio::time::Instant::now();
        let due = self.orders.due_orders(now, BATCH).await?;
        let mut report = Report {
            due: due.len(),
            ..Report::default()
        };
        if due.is_empty() {
            return Ok(report);
        }
        let mut gateway: Option<MercadoPago> = match self.mercadopago.gateway().await {
            Ok(gateway) => Some(gateway),
            Err(e) => {
                tracing::warn!(error = %e, "the Mercado Pago credentials cannot be read: orders with a Mercado Pago order wait for the next run");
                None
            }
        };
        for (done, id) in due.iter().enumerate() {
            if started.elapsed() >= RUN_BUDGET {
                report.postponed = due.len() - done;
                tracing::warn!(
                    postponed = report.postponed,
                    "the run's budget is spent; the rest wait for the next run"
                );
                break;
            }
            match expire_order(&self.orders, gateway.as_ref(), id, now).await {
                Ok(expiry) => {
                    tracing::info!(order_id = %id, outcome = expiry.name(), "due order settled");
                    report.count(&expiry);
                }
                Err(
                    shared::Error::ProviderUnavailable { .. }
                    | shared::Error::ProviderRefused { .. },
                ) => {
                    tracing::warn!(order_id = %id, "Mercado Pago unreachable: it is not asked again in this run");
                    gateway = None;
                    report.deferred += 1;
                }
                Err(e) => {
                    tracing::error!(order_id = %id, error = %e, cause = ?std::error::Error::source(&e), "a due order could not be settled; the next run tries again");
                    report.failed += 1;
                }
            }
        }
        tracing::info!(
            due = report.due,
            expired = report.expired,
            confirmed = report.confirmed,
            refused = report.refused,
            refunded = report.refunded,
            amount_mismatch = report.amount_mismatch,
            already_settled = report.already_settled,
            deferred = report.deferred,
            swept = report.swept,
            watching = report.watching,
            refund_pending = report.refund_pending,
            payment_in_progress = report.payment_in_progress,
            failed = report.failed,
            postponed = report.postponed,
            "expiry run"
        );
        Ok(report)
    }
}

/// The Lambda entry point: the state built once, each scheduled event run.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let sdk = shared::config::aws().await;
    let state = State::from_env(&sdk, &Env::Process)?;
    let state = &state;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<CloudWatchEvent>| async move {
            state
                .handle(event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_counts_each_outcome_once() {
        let mut report = Report::default();
        for expiry in [
            Expiry::Expired {
                provider_cancelled: true,
            },
            Expiry::Expired {
                provider_cancelled: false,
            },
            Expiry::Refunded,
            Expiry::Deferred,
            Expiry::AlreadySettled,
        ] {
            report.count(&expiry);
        }
        assert_eq!(
            report,
            Report {
                expired: 2,
                refunded: 1,
                deferred: 1,
                already_settled: 1,
                ..Report::default()
            }
        );
    }

    #[test]
    fn the_scheduled_event_of_events_is_what_the_handler_takes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/order-expiry/scheduled.json"
        );
        let event: CloudWatchEvent =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(event.detail_type.as_deref(), Some("Scheduled Event"));
        assert_eq!(event.source.as_deref(), Some("aws.events"));
    }
}
