//! The payment provider's side: how its notifications are authenticated.

pub mod webhook;
