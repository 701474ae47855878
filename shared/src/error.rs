//! The one error type of the crate and every error code the API answers.
//!
//! Each [`Code`] is written once, here; `http::error` maps an [`Error`] to
//! its status and envelope, and a test holds the list against
//! `openapi.yaml`. Domain and adapter errors become an [`Error`] through the
//! `From` impls of their own modules, or the named constructors below for
//! the answers several places give (`order_not_found`, ...).

use std::fmt;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable error code of the API contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, for the test that holds them against `openapi.yaml`.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    BodyTooLarge = "body_too_large",
    CustomerDisabled = "customer_disabled",
    CustomerExists = "customer_exists",
    CustomerNotFound = "customer_not_found",
    Forbidden = "forbidden",
    IdempotencyKeyInUse = "idempotency_key_in_use",
    IdempotencyKeyReused = "idempotency_key_reused",
    InternalError = "internal_error",
    InvalidBody = "invalid_body",
    InvalidCategory = "invalid_category",
    InvalidChoice = "invalid_choice",
    InvalidCombo = "invalid_combo",
    InvalidCode = "invalid_code",
    InvalidCpf = "invalid_cpf",
    InvalidCredentials = "invalid_credentials",
    InvalidCursor = "invalid_cursor",
    InvalidDescription = "invalid_description",
    InvalidEmail = "invalid_email",
    InvalidHours = "invalid_hours",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    InvalidImageUrl = "invalid_image_url",
    InvalidLimit = "invalid_limit",
    InvalidModifiers = "invalid_modifiers",
    InvalidName = "invalid_name",
    InvalidPosId = "invalid_pos_id",
    InvalidPrice = "invalid_price",
    InvalidRefreshToken = "invalid_refresh_token",
    InvalidSession = "invalid_session",
    InvalidSignature = "invalid_signature",
    InvalidStatus = "invalid_status",
    InvalidTimezone = "invalid_timezone",
    InvalidTransition = "invalid_transition",
    KioskNotFound = "kiosk_not_found",
    NotStaff = "not_staff",
    OptionNotFound = "option_not_found",
    OptionUnavailable = "option_unavailable",
    OrderNotFound = "order_not_found",
    PasswordChangeRequired = "password_change_required",
    PaymentInProgress = "payment_in_progress",
    PaymentProviderError = "payment_provider_error",
    PaymentProviderUnavailable = "payment_provider_unavailable",
    ProductExists = "product_exists",
    ProductNotFound = "product_not_found",
    ProductUnavailable = "product_unavailable",
    RouteNotFound = "route_not_found",
    ServiceUnavailable = "service_unavailable",
    StaffNotFound = "staff_not_found",
    StoreClosed = "store_closed",
    StoreNotFound = "store_not_found",
    StoreRequired = "store_required",
    TokenExpired = "token_expired",
    TokenInvalid = "token_invalid",
    TokenMissing = "token_missing",
    TooManyAttempts = "too_many_attempts",
    TooManyOpenOrders = "too_many_open_orders",
    TooManyRequests = "too_many_requests",
    Unauthorized = "unauthorized",
    VerificationRequired = "verification_required",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller can branch on. Each client variant carries the stable `code` of
/// the API contract and a human message; `Internal` carries the cause for the log
/// and answers a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation { code: Code, message: String },
    #[error("{message}")]
    Unauthorized { code: Code, message: String },
    #[error("{message}")]
    Forbidden { code: Code, message: String },
    #[error("{message}")]
    NotFound { code: Code, message: String },
    #[error("{message}")]
    Conflict { code: Code, message: String },
    #[error("{message}")]
    Unprocessable { code: Code, message: String },
    /// Too many requests of one client (a kiosk's sign-ins): 429
    /// `too_many_requests`, `Retry-After` seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    /// 429 for a reason of its own (not the kiosk's sign-in limit), with
    /// `Retry-After` when waiting helps.
    #[error("{message}")]
    Throttled {
        code: Code,
        message: String,
        retry_after: Option<u64>,
    },
    /// A body over the largest one any route reads: 413, unread.
    #[error("{message}")]
    TooLarge { code: Code, message: String },
    /// A dependency is throttling or down: worth a retry.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// The payment provider is down, slow or throttling: 503
    /// `payment_provider_unavailable`, nothing changed; worth a retry.
    #[error("{message}")]
    ProviderUnavailable { code: Code, message: String },
    /// The payment provider refused the request for good (a 4xx that no
    /// retry changes: a revoked token, an order it no longer allows this
    /// on): 502 `payment_provider_error`, nothing changed.
    #[error("{message}")]
    ProviderRefused { code: Code, message: String },
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    pub fn validation(code: Code, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized(code: Code, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: Code, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: Code, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: Code, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn unprocessable(code: Code, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }

    /// The caller's role may not do this.
    pub fn role_forbidden() -> Self {
        Self::forbidden(Code::Forbidden, "your role may not do this")
    }
    /// No valid caller in the request context (the authorizer's 401 came
    /// first in API Gateway; this guards a misrouted request).
    pub fn unauthorized_caller() -> Self {
        Self::unauthorized(Code::Unauthorized, "a valid bearer token is required")
    }
    pub fn route_not_found() -> Self {
        Self::not_found(Code::RouteNotFound, "no such route")
    }
    pub fn order_not_found() -> Self {
        Self::not_found(Code::OrderNotFound, "no such order")
    }
    pub fn product_not_found() -> Self {
        Self::not_found(Code::ProductNotFound, "no such product")
    }
    pub fn store_not_found() -> Self {
        Self::not_found(Code::StoreNotFound, "no such store")
    }
    pub fn customer_not_found() -> Self {
        Self::not_found(Code::CustomerNotFound, "no such customer")
    }
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::validation(Code::InvalidBody, message)
    }
    /// 400 `invalid_cursor`: the cursor is not one this list gave out.
    pub fn invalid_cursor() -> Self {
        Self::validation(
            Code::InvalidCursor,
            "the cursor is not one this list gave out",
        )
    }
    /// 429 `too_many_open_orders`: the caller, or its kiosk, already holds
    /// as many orders awaiting payment as it may.
    pub fn too_many_open_orders(whose: &str) -> Self {
        Self::Throttled {
            code: Code::TooManyOpenOrders,
            message: format!(
                "{whose} already has as many orders awaiting payment as allowed: pay or cancel one first"
            ),
            retry_after: None,
        }
    }
    /// 409 `invalid_transition`: the order's status does not allow the move.
    pub fn invalid_transition() -> Self {
        Self::conflict(
            Code::InvalidTransition,
            "the order's status does not allow this move",
        )
    }
    /// 503 `payment_provider_unavailable`: nothing changed on our side.
    pub fn provider_unavailable() -> Self {
        Self::ProviderUnavailable {
            code: Code::PaymentProviderUnavailable,
            message: "the payment provider cannot be reached; try again".into(),
        }
    }

    /// 502 `payment_provider_error`: nothing changed on our side.
    pub fn provider_refused() -> Self {
        Self::ProviderRefused {
            code: Code::PaymentProviderError,
            message: "the payment provider refused the request".into(),
        }
    }

    /// Whether this is a failed condition of a conditional write (a
    /// concurrent move won): what retry-or-decide-again code branches on.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// The stable code and the message a client may see. Server-side failures
    /// answer generic text: no SDK message, table name or stack reaches a client.
    pub fn public_parts(&self) -> (Code, &str) {
        match self {
            Error::Validation { code, message }
            | Error::Unauthorized { code, message }
            | Error::Forbidden { code, message }
            | Error::NotFound { code, message }
            | Error::Conflict { code, message }
            | Error::Unprocessable { code, message }
            | Error::TooLarge { code, message }
            | Error::ProviderUnavailable { code, message }
            | Error::ProviderRefused { code, message }
            | Error::Throttled { code, message, .. } => (*code, message),
            Error::Unavailable(_) => (Code::ServiceUnavailable, "the service is busy, try again"),
            Error::TooManyRequests { .. } => (
                Code::TooManyRequests,
                "too many sign-ins from this kiosk; try again in a minute",
            ),
            Error::Internal(_) => (Code::InternalError, "something went wrong on our side"),
        }
    }
}

/// Displays an error with its sources: `outer: inner: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every code `openapi.yaml` names in an error schema (`enum:` or
    /// `const:` lists under a `code:` property).
    fn documented_codes() -> BTreeSet<String> {
        let spec = include_str!("../../openapi.yaml");
        let mut codes = BTreeSet::new();
        let mut in_code = false;
        for line in spec.lines() {
            let trimmed = line.trim();
            if trimmed == "code:" {
                in_code = true;
                continue;
            }
            if !in_code {
                continue;
            }
            if let Some(list) = trimmed.strip_prefix("enum:") {
                codes.extend(
                    list.trim()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .split(',')
                        .map(|c| c.trim().trim_matches('"').to_owned())
                        .filter(|c| !c.is_empty()),
                );
                in_code = false;
            } else if let Some(one) = trimmed.strip_prefix("const:") {
                codes.insert(one.trim().trim_matches('"').to_owned());
                in_code = false;
            } else if !trimmed.starts_with("type:") && !trimmed.starts_with("description:") {
                in_code = false;
            }
        }
        codes
    }

    #[test]
    fn every_code_is_written_once_and_documented_in_openapi() {
        // Answered only to a request API Gateway never routes to a function
        // (the local API serves the template's routes alone): no operation
        // of openapi.yaml can get it.
        let unroutable = [Code::RouteNotFound.as_str()];
        let ours: BTreeSet<String> = Code::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .filter(|c| !unroutable.contains(&c.as_str()))
            .collect();
        assert_eq!(
            ours.len() + unroutable.len(),
            Code::ALL.len(),
            "a code is listed twice"
        );
        let documented = documented_codes();
        let undocumented: Vec<_> = ours.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "codes the API answers that openapi.yaml does not name: {undocumented:?}"
        );
        // API Gateway answers this one itself (template.yaml's gateway
        // responses), in the same envelope: no function ever does.
        let gateway_only = ["throttled"];
        let unknown: Vec<_> = documented
            .difference(&ours)
            .filter(|c| !gateway_only.contains(&c.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "codes openapi.yaml names that the code never answers: {unknown:?}"
        );
    }

    #[test]
    fn server_side_failures_answer_generic_codes() {
        assert_eq!(
            Error::internal("table kiosk-prod-orders").public_parts(),
            (Code::InternalError, "something went wrong on our side")
        );
        assert_eq!(
            Error::Unavailable("timed out".into()).public_parts().0,
            Code::ServiceUnavailable
        );
    }
}
