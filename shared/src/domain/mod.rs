//! The domain: pure types and rules, no I/O and no async runtime. Values are
//! parsed at the edge into these types, so everything past the edge holds
//! only valid data. It names nothing of `store`, `http`, `payments`,
//! `service` or `config` (`scripts/check-deps.sh` holds that).

pub mod cpf;
pub mod customer;
pub mod email;
pub mod ids;
pub mod jwk;
pub mod keys;
pub mod kiosk;
pub mod menu;
pub mod money;
pub mod order;
pub mod payment;
pub mod person;
pub mod product;
pub mod role;
pub mod signature;
pub mod store;
pub mod subject;
pub mod text;
pub mod token;
pub mod verification;

pub use cpf::Cpf;
pub use email::Email;
pub use ids::{
    CustomerId, IdempotencyKey, KioskId, OrderId, PosId, ProductId, ProviderOrderId, StoreId,
};
pub use money::Money;
pub use person::PersonName;
pub use role::Role;
pub use subject::Subject;
