//! Configuration from the environment, read once at cold start.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is not a valid number of seconds")]
    Invalid(&'static str),
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
}

pub fn seconds_or(name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().map(Duration::from_secs).map_err(|_| ConfigError::Invalid(name)),
        _ => Ok(Duration::from_secs(default)),
    }
}

/// The SDK configuration from the standard chain (region, credentials and
/// `AWS_ENDPOINT_URL`, which is how the functions reach the local emulator).
/// Loading it makes no network call.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// What both token services (signing and verifying) read from the environment.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `JWT_SECRET_ID`: name or ARN of the secret holding the signing key.
    pub secret_id: String,
    pub settings: crate::token::TokenSettings,
    /// `JWT_KEY_CACHE_SECONDS` (300): how long fetched keys are trusted.
    pub key_cache_ttl: Duration,
}

impl TokenConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            secret_id: required("JWT_SECRET_ID")?,
            settings: crate::token::TokenSettings {
                issuer: required("JWT_ISSUER")?,
                audience: required("JWT_AUDIENCE")?,
                customer_ttl: seconds_or("CUSTOMER_TOKEN_TTL_SECONDS", 3600)?,
                staff_ttl: seconds_or("STAFF_TOKEN_TTL_SECONDS", 8 * 3600)?,
            },
            key_cache_ttl: seconds_or("JWT_KEY_CACHE_SECONDS", 300)?,
        })
    }

    /// The token service over the secret; no key is fetched until first use.
    pub fn service(&self, client: aws_sdk_secretsmanager::Client) -> crate::token::TokenService {
        let source = crate::keys::KeySource::SecretsManager { client, secret_id: self.secret_id.clone() };
        crate::token::TokenService::new(crate::keys::KeyRing::new(source, self.key_cache_ttl), self.settings.clone())
    }
}
