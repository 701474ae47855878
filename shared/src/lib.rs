//! The kiosk's domain crate, shared by every Lambda function and the local API.
//!
//! The folders draw the hexagon:
//! - [`domain`]: pure types and rules (CPF, e-mail, money, products, orders
//!   and their status machine, ids, subjects, kiosks, customers, tokens). No
//!   I/O, no async runtime; it names nothing of the other folders but
//!   [`error`] and [`clock`].
//! - [`service`]: the orchestration a request needs (idempotent checkout,
//!   payments and their notifications, expiry, erasure, token issuing), over
//!   the ports of `service::ports` that the adapters implement.
//! - [`store`]: the AWS adapters, one per table or service, each behind its
//!   Cargo feature (`dynamodb`, `cognito`, `secrets`, `ses`).
//! - [`payments`]: the payment provider's side.
//! - [`error`]: the one [`Error`] type and every API error [`Code`], once.
//! - [`http`]: the edge: the HTTP mapping of [`Error`], pagination, and
//!   (feature `http`) request parsing and responses.
//! - [`clock`], [`config`] and [`logging`]: time, settings and the logging
//!   policy, each in one place.
//!
//! Parse at the edge, then hold only validated types: [`Cpf`], [`Email`],
//! [`PersonName`], [`Role`], the ids of [`domain::ids`].

pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
#[cfg(all(feature = "http", feature = "aws"))]
pub mod lambda;
pub mod logging;
pub mod payments;
pub mod service;
pub mod store;

pub use domain::{Cpf, Email, PersonName, Role};
pub use error::{Code, Error, Result};
