//! The HTTP edge: the mapping of [`crate::Error`] to API answers, pagination
//! and cursors, and (feature `http`) request parsing and responses for the
//! Lambda functions. It names nothing of `store`, `service` or `payments`.

pub mod error;
pub mod page;
pub mod parse;
#[cfg(feature = "http")]
pub mod request;
#[cfg(feature = "http")]
pub mod response;

pub use parse::{bearer, parse_json};
#[cfg(feature = "http")]
pub use request::{Caller, json_body, page_params, path_param, query_param, route};
#[cfg(feature = "http")]
pub use response::{empty_response, json_response};
