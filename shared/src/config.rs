//! Configuration from the environment, read once at cold start.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is not a valid number of seconds")]
    Invalid(&'static str),
}

/// Where a function's settings come from: the process environment in Lambda,
/// or a map of the same variables (the local API runs every function in one
/// process, each with the environment template.yaml gives it).
#[derive(Debug, Clone)]
pub enum Env {
    Process,
    Map(std::collections::HashMap<String, String>),
    /// A map that also notes every name asked for: how the drift tests learn
    /// which variables a function reads.
    Recorded(
        std::collections::HashMap<String, String>,
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    ),
}

impl Env {
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            Env::Process => std::env::var(name).ok(),
            Env::Map(map) => map.get(name).cloned(),
            Env::Recorded(map, asked) => {
                if let Ok(mut asked) = asked.lock() {
                    asked.insert(name.to_owned());
                }
                map.get(name).cloned()
            }
        }
        .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    pub fn seconds_or(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        match self.get(name) {
            Some(v) => v
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::Invalid(name)),
            None => Ok(Duration::from_secs(default)),
        }
    }
}

/// The SDK configuration from the standard chain (region, credentials and
/// `AWS_ENDPOINT_URL`, which is how the functions reach the local emulator).
/// Loading it makes no network call.
#[cfg(feature = "aws")]
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The one HTTPS client of every SDK client: hyper 1 and rustls on ring
/// (plain HTTP too, for the local emulator).
#[cfg(feature = "aws")]
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// What both token services (signing and verifying) read from the environment.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `JWT_SECRET_ID`: name or ARN of the secret holding the signing key.
    pub secret_id: String,
    pub settings: crate::domain::token::TokenSettings,
    /// `JWT_KEY_CACHE_SECONDS` (300): how long fetched keys are trusted.
    pub key_cache_ttl: Duration,
}

impl TokenConfig {
    /// For a service that signs and verifies: also reads the token lifetimes
    /// (`CUSTOMER_TOKEN_TTL_SECONDS`, 3600; `STAFF_TOKEN_TTL_SECONDS`, 28800).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut config = Self::for_verifying(env)?;
        config.settings.customer_ttl = env.seconds_or("CUSTOMER_TOKEN_TTL_SECONDS", 3600)?;
        config.settings.staff_ttl = env.seconds_or("STAFF_TOKEN_TTL_SECONDS", 8 * 3600)?;
        Ok(config)
    }

    /// For a service that only verifies (the authorizer): lifetimes are not
    /// read and stay zero, so a token it signed would be born expired.
    pub fn for_verifying(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            secret_id: env.required("JWT_SECRET_ID")?,
            settings: crate::domain::token::TokenSettings {
                issuer: env.required("JWT_ISSUER")?,
                audience: env.required("JWT_AUDIENCE")?,
                customer_ttl: Duration::ZERO,
                staff_ttl: Duration::ZERO,
            },
            key_cache_ttl: env.seconds_or("JWT_KEY_CACHE_SECONDS", 300)?,
        })
    }

    /// The token service over the secret; no key is fetched until first use.
    #[cfg(feature = "secrets")]
    pub fn service(
        &self,
        client: aws_sdk_secretsmanager::Client,
    ) -> crate::domain::token::TokenService {
        let source = crate::domain::keys::KeySource::SecretsManager(
            crate::store::secrets::SecretVersions::new(client, self.secret_id.clone()),
        );
        crate::domain::token::TokenService::new(
            crate::domain::keys::KeyRing::new(source, self.key_cache_ttl),
            self.settings.clone(),
        )
    }
}
