//! Operator tools beside the local stack, built on kiosk-local's lib (its
//! bootstrap, env.json and Runtime API harness): `make bench` (each function
//! against its do-nothing floor) and the production token key commands
//! (`make keys`, `make rotate-keys`). Nothing here is deployed, and neither
//! `make dev` nor the end-to-end tests need it.

pub mod bench;
pub mod events;
pub mod keys;
