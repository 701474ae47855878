//! The domain: pure types and rules, no I/O. Values are parsed at the edge
//! into these types, so everything past the edge holds only valid data.

pub mod cpf;
pub mod email;
pub mod ids;
pub mod jwk;
pub mod keys;
pub mod money;
pub mod order;
pub mod person;
pub mod product;
pub mod role;
pub mod text;
pub mod token;

pub use cpf::Cpf;
pub use email::Email;
pub use ids::{IdempotencyKey, OrderId, PaymentId, ProductId};
pub use money::Money;
pub use person::PersonName;
pub use role::Role;
