//! Adapters to AWS: one module per table or service, each behind its Cargo
//! feature so that a function links only the SDK clients it calls. Each
//! adapter owns its item mapping and turns SDK errors into domain errors
//! (a failed condition becomes `Conflict` here, never in a handler).

#[cfg(feature = "aws")]
pub mod sdk;

#[cfg(feature = "dynamodb")]
pub mod codes;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "dynamodb")]
pub mod kiosks;
#[cfg(feature = "dynamodb")]
pub mod menu_cache;
#[cfg(feature = "dynamodb")]
pub mod orders;
#[cfg(feature = "dynamodb")]
pub mod products;
#[cfg(feature = "dynamodb")]
pub mod sessions;
#[cfg(feature = "dynamodb")]
pub mod stores;

#[cfg(feature = "cognito")]
pub mod directory;

pub mod keys;

#[cfg(feature = "secrets")]
pub mod secrets;

#[cfg(feature = "ses")]
pub mod mailer;
