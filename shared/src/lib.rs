//! The kiosk's domain crate, shared by every Lambda function and the local API.
//!
//! The folders draw the hexagon:
//! - [`domain`]: pure types and rules (CPF, e-mail, money, products, orders
//!   and their status machine, ids, tokens). No I/O.
//! - [`service`]: the orchestration a request needs (idempotent checkout,
//!   payment confirmation), over the ports the stores implement.
//! - [`store`]: the AWS adapters, one per table or service, each behind its
//!   Cargo feature (`dynamodb`, `cognito`, `secrets`).
//! - [`payments`]: the payment provider's side.
//! - [`http`]: the edge: the one [`Error`] type and its HTTP mapping,
//!   pagination, and (feature `http`) request parsing and responses.
//! - [`clock`] and [`config`]: time and settings, read in one place.
//!
//! Parse at the edge, then hold only validated types: [`Cpf`], [`Email`],
//! [`PersonName`], [`Role`], the ids of [`domain::ids`].

pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
#[cfg(all(feature = "http", feature = "aws"))]
pub mod lambda;
pub mod payments;
pub mod service;
pub mod store;

pub use domain::{Cpf, Email, PersonName, Role};
pub use http::error::{Error, Result};
