//! The kiosk's domain crate, shared by every Lambda function and the local API.
//!
//! Parse at the edge, then hold only validated types: [`Cpf`], [`Email`],
//! [`PersonName`], [`Role`]. Errors are one [`Error`] type with one HTTP mapping.

pub mod catalog;
pub mod config;
pub mod cpf;
pub mod directory;
pub mod dynamo;
pub mod email;
pub mod error;
pub mod http;
pub mod keys;
pub mod money;
pub mod order;
pub mod orders;
pub mod page;
pub mod person;
pub mod product;
pub mod role;
pub mod telemetry;
pub mod token;
pub mod webhook;

pub use cpf::Cpf;
pub use email::Email;
pub use error::{Error, Result};
pub use person::PersonName;
pub use role::Role;
