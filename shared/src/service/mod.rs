//! Orchestration: what a request does, over small ports that the adapters of
//! `store` implement. Kept here, not in the handlers, so that it is
//! unit-tested with in-memory ports; what depends on DynamoDB semantics
//! (conditions, transactions) is tested against the emulator end to end.

pub mod checkout;
pub mod expiry;
pub mod payment;
