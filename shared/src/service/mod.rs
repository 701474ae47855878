//! Orchestration: what a request does, over the ports of [`ports`] that the
//! adapters of `store` and `payments` implement. Kept here, not in the
//! handlers, so that it is unit-tested with the in-memory fakes of
//! `testing`; what depends on DynamoDB semantics (conditions, transactions)
//! is tested against the emulator end to end. It names nothing of `store`
//! or `http` (`scripts/check-deps.sh` holds that).

pub mod checkout;
pub mod customers;
pub mod expiry;
pub mod orders;
pub mod payment;
pub mod ports;
#[cfg(test)]
pub(crate) mod testing;
pub mod tokens;
