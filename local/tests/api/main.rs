//! The end-to-end tests: one binary, so that the AWS SDKs are linked once.
//! Each test spawns a stack of its own (a unique prefix in the emulator) and
//! the local API on a free port, so that the tests run in parallel threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorizer_warm;
mod board;
mod chain;
mod checkout;
mod confirmation;
mod contract;
mod drift;
mod env_file;
mod events;
mod expiry;
mod faults;
mod hardening;
mod helpers;
mod idempotency;
mod identity;
mod kiosks;
mod kitchen_queue;
mod lgpd;
mod logs;
mod managers;
mod menu;
mod mercadopago;
mod money;
mod open_orders;
mod ownership;
mod payment;
mod products;
mod resilience;
mod round_trips;
mod staff_sessions;
mod status;
mod stores;
mod tokens;
mod totp;
mod verification;
