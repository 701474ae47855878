//! The HTTP edge: the one error type and its mapping to API answers,
//! pagination and cursors, and (feature `http`) request parsing and responses
//! for the Lambda functions.

pub mod error;
pub mod page;
pub mod parse;
#[cfg(feature = "http")]
pub mod request;
#[cfg(feature = "http")]
pub mod response;

pub use parse::{bearer, parse_json};
#[cfg(feature = "http")]
pub use request::{Caller, json_body, path_param, query_param, route, route_not_found};
#[cfg(feature = "http")]
pub use response::{empty_response, json_response};
