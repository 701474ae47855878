//! Configuration from the environment, read once at cold start.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// Set, but not what the setting takes (the second part says what).
    #[error("environment variable {0} is not {1}")]
    Invalid(&'static str, &'static str),
    #[error("environment variable {0}: {1}")]
    Malformed(&'static str, crate::domain::jwk::MalformedKey),
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
                .map_err(|_| ConfigError::Invalid(name, "a whole number of seconds")),
            None => Ok(Duration::from_secs(default)),
        }
    }

    /// A whole-number setting (a count or a limit), `default` when unset.
    pub fn count_or(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        match self.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::Invalid(name, "a whole number")),
            None => Ok(default),
        }
    }
}

/// How long the SDK waits to open a connection. An endpoint in the region (or
/// the local emulator) connects in milliseconds; one that does not within a
/// second is black-holed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one attempt of an AWS call may take, sending to last byte read.
/// DynamoDB, Cognito and Secrets Manager answer in tens of milliseconds; the
/// slowest call we make, a 1 MB Query page, takes up to about 2.4 s on the
/// emulator during a full test run on two cores.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one AWS call may take, retries and backoff included: what a hung
/// or dead dependency costs a request before it answers 503.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(3500);
/// Attempts of one call (standard retry mode): a refused connection, a 5xx or
/// throttling is tried again while the operation timeout allows.
pub const MAX_ATTEMPTS: u32 = 3;
/// Backoff between attempts: jittered, doubling, at most this much.
pub const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The bounds of every AWS call, so that a hung or failing dependency is a
/// fast 503 instead of a request that waits for the Lambda timeout.
///
/// The budget: a client should have an answer within 5 s, and template.yaml
/// gives the HTTP functions 10 s and the authorizer 5 s. A call that fails
/// ends its request (checkout's menu read, ticket and transaction stop at the
/// first that fails), so a dead dependency costs a request one
/// [`OPERATION_TIMEOUT`], 3.5 s, plus the calls that succeeded before it. The
/// one path that goes on after a failed call is a key ring whose cached keys
/// are due by age: it waits for the refresh at most
/// `store::keys::DUE_REFRESH_PATIENCE` (0.5 s) and then serves the
/// cached keys, so the authorizer (or the payment webhook) then the function's
/// own call cost 4 s at worst. Within one call a hung attempt is cut at
/// [`ATTEMPT_TIMEOUT`] (3 s, above the emulator's slowest legitimate answer)
/// and its retry at the operation timeout; quick failures (refused, 5xx,
/// throttled) get up to [`MAX_ATTEMPTS`] attempts with short backoffs.
#[cfg(feature = "aws")]
pub fn sdk_bounds() -> (
    aws_config::timeout::TimeoutConfig,
    aws_config::retry::RetryConfig,
) {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let retries = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(MAX_BACKOFF);
    (timeouts, retries)
}

/// The loader of every SDK configuration the functions run with (in Lambda,
/// and in the local API): latest behaviour, the one HTTPS client and the
/// bounds of [`sdk_bounds`]. Callers add what differs (region, endpoint,
/// credentials) and load.
#[cfg(feature = "aws")]
pub fn sdk_loader() -> aws_config::ConfigLoader {
    let (timeouts, retries) = sdk_bounds();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts)
        .retry_config(retries)
}

/// The SDK configuration from the standard chain (region, credentials and
/// `AWS_ENDPOINT_URL`, which is how the functions reach the local emulator),
/// with the bounds of [`sdk_bounds`]. Loading it makes no network call.
#[cfg(feature = "aws")]
pub async fn aws() -> aws_config::SdkConfig {
    sdk_loader().load().await
}

/// The one HTTPS client of every SDK client: hyper 1 and rustls on ring
/// (plain HTTP too, for the local emulator). Built at the first AWS call,
/// not when the function starts: building it loads the system's root
/// certificates (a few milliseconds of CPU), which a cold start's init then
/// does not pay for clients a request never uses.
#[cfg(feature = "aws")]
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_runtime_api::client::http::SharedHttpClient::new(LazyHttpsClient::default())
}

/// [`https_client`]'s client, made on first use.
#[cfg(feature = "aws")]
#[derive(Debug, Default)]
struct LazyHttpsClient(std::sync::OnceLock<aws_smithy_runtime_api::client::http::SharedHttpClient>);

#[cfg(feature = "aws")]
impl aws_smithy_runtime_api::client::http::HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        self.0
            .get_or_init(|| {
                use aws_smithy_http_client::tls;
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https()
            })
            .http_connector(settings, components)
    }
}

/// The verifying half of the token settings, all a verifier reads:
/// `JWT_ISSUER`, `JWT_AUDIENCE` and `JWT_PUBLIC_KEYS` (a JWKS of the current
/// and previous public keys). Reading it makes no network call.
pub fn token_verifier(env: &Env) -> Result<crate::domain::token::Verifier, ConfigError> {
    let keys = crate::domain::jwk::PublicKeys::from_jwks(&env.required("JWT_PUBLIC_KEYS")?)
        .map_err(|e| ConfigError::Malformed("JWT_PUBLIC_KEYS", e))?;
    Ok(crate::domain::token::Verifier::new(
        keys,
        &env.required("JWT_ISSUER")?,
        &env.required("JWT_AUDIENCE")?,
    ))
}

/// What the signing service reads from the environment.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `JWT_SECRET_ID`: name or ARN of the secret holding the private key.
    pub secret_id: String,
    /// `JWT_PUBLIC_KEYS`: what the verifiers accept, so also what may sign.
    pub public_keys: crate::domain::jwk::PublicKeys,
    pub settings: crate::domain::token::TokenSettings,
    /// `JWT_KEY_CACHE_SECONDS` (300): how long a fetched private key is
    /// trusted. The function that signs wires the key cache from this and
    /// `secret_id` (`authenticate`'s state).
    pub key_cache_ttl: Duration,
}

impl TokenConfig {
    /// Also reads the token lifetimes (`CUSTOMER_TOKEN_TTL_SECONDS`, 900,
    /// for kiosk, guest and customer tokens; `STAFF_TOKEN_TTL_SECONDS`, 900).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            secret_id: env.required("JWT_SECRET_ID")?,
            public_keys: crate::domain::jwk::PublicKeys::from_jwks(
                &env.required("JWT_PUBLIC_KEYS")?,
            )
            .map_err(|e| ConfigError::Malformed("JWT_PUBLIC_KEYS", e))?,
            settings: crate::domain::token::TokenSettings {
                issuer: env.required("JWT_ISSUER")?,
                audience: env.required("JWT_AUDIENCE")?,
                customer_ttl: env.seconds_or("CUSTOMER_TOKEN_TTL_SECONDS", 900)?,
                staff_ttl: env.seconds_or("STAFF_TOKEN_TTL_SECONDS", 900)?,
            },
            key_cache_ttl: env.seconds_or("JWT_KEY_CACHE_SECONDS", 300)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_setting_says_what_it_should_be() {
        let env = Env::Map(
            [
                ("KIOSK_SIGNINS_PER_MINUTE".to_owned(), "lots".to_owned()),
                ("ORDER_PAYMENT_TIMEOUT_SECONDS".to_owned(), "15m".to_owned()),
            ]
            .into(),
        );
        assert_eq!(
            env.count_or("KIOSK_SIGNINS_PER_MINUTE", 30)
                .unwrap_err()
                .to_string(),
            "environment variable KIOSK_SIGNINS_PER_MINUTE is not a whole number"
        );
        assert_eq!(
            env.seconds_or("ORDER_PAYMENT_TIMEOUT_SECONDS", 900)
                .unwrap_err()
                .to_string(),
            "environment variable ORDER_PAYMENT_TIMEOUT_SECONDS is not a whole number of seconds"
        );
        assert_eq!(env.count_or("UNSET", 7).unwrap(), 7);
    }
}
