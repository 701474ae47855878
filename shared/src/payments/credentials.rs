//! What talking to Mercado Pago takes: the application's access token and
//! the webhook's secret signature, both from one Secrets Manager secret.
//!
//! The secret string is JSON (what an operator stores, Mercado Pago's two
//! values pasted in; see [`MercadoPagoSecret`]):
//!
//! ```json
//! {"access_token": "APP_USR-...", "webhook_secret": "..."}
//! ```
//!
//! Rotation goes the way of the JWT key: a new version becomes `AWSCURRENT`,
//! the old one `AWSPREVIOUS`. The access token is taken from the current
//! version only; the webhook secret of both is accepted, since Mercado Pago
//! may sign with the old one until its panel is switched.
//!
//! Neither value is ever logged: `Debug` prints neither.

use crate::domain::signature::EmptySecret;
pub use crate::domain::signature::WebhookSecret;
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;

/// One version of the secret, as stored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MercadoPagoSecret {
    pub access_token: String,
    pub webhook_secret: String,
}

impl fmt::Debug for MercadoPagoSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MercadoPagoSecret").finish_non_exhaustive()
    }
}

/// The access token of the Mercado Pago application (`Authorization:
/// Bearer ...`): visible ASCII, so it always makes a valid header.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn parse(raw: &str) -> Result<Self, CredentialsError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 512 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CredentialsError::InvalidAccessToken);
        }
        Ok(Self(raw.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// The credentials the orders function holds: the current access token and
/// the webhook secrets to accept.
#[derive(Debug, Clone)]
pub struct MercadoPagoCredentials {
    pub access_token: AccessToken,
    /// The current secret first, then the previous one (when it differs).
    pub webhook_secrets: Vec<WebhookSecret>,
}

impl MercadoPagoCredentials {
    /// From the secret strings of the `AWSCURRENT` version and, if there is
    /// one, the `AWSPREVIOUS` version. A previous version that does not
    /// parse is skipped (it only widens what verifies), a current one that
    /// does not is an error.
    pub fn from_secret_strings(
        current: &str,
        previous: Option<&str>,
    ) -> Result<Self, CredentialsError> {
        let current: MercadoPagoSecret =
            serde_json::from_str(current).map_err(|_| CredentialsError::NotJson)?;
        let access_token = AccessToken::parse(&current.access_token)?;
        let current = WebhookSecret::parse(&current.webhook_secret)?;
        let previous = previous
            .and_then(|text| serde_json::from_str::<MercadoPagoSecret>(text).ok())
            .and_then(|secret| WebhookSecret::parse(&secret.webhook_secret).ok())
            .filter(|previous| *previous != current);
        Ok(Self {
            access_token,
            webhook_secrets: std::iter::once(current).chain(previous).collect(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "the Mercado Pago secret is not JSON of the shape {{\"access_token\": \"...\", \"webhook_secret\": \"...\"}}"
    )]
    NotJson,
    #[error("the Mercado Pago access token is empty, too long or not visible ASCII")]
    InvalidAccessToken,
    #[error("the Mercado Pago webhook secret is empty")]
    EmptyWebhookSecret,
}

impl From<EmptySecret> for CredentialsError {
    fn from(_: EmptySecret) -> Self {
        CredentialsError::EmptyWebhookSecret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: &str = r#"{"access_token": "APP_USR-123-abc", "webhook_secret": "new-secret"}"#;
    const PREVIOUS: &str = r#"{"access_token": "APP_USR-old", "webhook_secret": "old-secret"}"#;

    #[test]
    fn the_current_version_gives_the_token_and_both_give_webhook_secrets() {
        let credentials =
            MercadoPagoCredentials::from_secret_strings(CURRENT, Some(PREVIOUS)).unwrap();
        assert_eq!(credentials.access_token.expose(), "APP_USR-123-abc");
        let secrets: Vec<&[u8]> = credentials
            .webhook_secrets
            .iter()
            .map(|s| s.expose())
            .collect();
        assert_eq!(secrets, [b"new-secret".as_slice(), b"old-secret"]);
    }

    #[test]
    fn a_previous_version_adds_nothing_when_it_is_the_same_or_unreadable() {
        for previous in [Some(CURRENT), Some("not json"), None] {
            let credentials =
                MercadoPagoCredentials::from_secret_strings(CURRENT, previous).unwrap();
            assert_eq!(credentials.webhook_secrets.len(), 1, "{previous:?}");
        }
    }

    #[test]
    fn a_bad_current_version_is_an_error() {
        let cases = [
            ("APP_USR-1", CredentialsError::NotJson),
            (r#"{"access_token": "a"}"#, CredentialsError::NotJson),
            (
                r#"{"access_token": "a", "webhook_secret": "s", "x": 1}"#,
                CredentialsError::NotJson,
            ),
            (
                r#"{"access_token": "a b", "webhook_secret": "s"}"#,
                CredentialsError::InvalidAccessToken,
            ),
            (
                r#"{"access_token": " ", "webhook_secret": "s"}"#,
                CredentialsError::InvalidAccessToken,
            ),
            (
                r#"{"access_token": "a", "webhook_secret": " "}"#,
                CredentialsError::EmptyWebhookSecret,
            ),
        ];
        for (text, error) in cases {
            assert_eq!(
                MercadoPagoCredentials::from_secret_strings(text, None).unwrap_err(),
                error,
                "{text}"
            );
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let credentials =
            MercadoPagoCredentials::from_secret_strings(CURRENT, Some(PREVIOUS)).unwrap();
        let shown = format!("{credentials:?}");
        for secret in ["APP_USR", "new-secret", "old-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let raw: MercadoPagoSecret = serde_json::from_str(CURRENT).unwrap();
        assert!(!format!("{raw:?}").contains("APP_USR"));
    }
}
