//! The Mercado Pago account a function talks to: where the Orders API is
//! (`MERCADOPAGO_API_URL`, `MERCADOPAGO_EXTERNAL_POS_ID`) and its
//! credentials secret (`{"access_token", "webhook_secret"}`, current and
//! previous versions, cached). One implementation for the orders function
//! (payments, the webhook, refunds) and the expiry job (re-reads and
//! cancellations). Features `secrets` and `mercadopago`.

use super::credentials::MercadoPagoCredentials;
use super::mercadopago::{MercadoPago, MercadoPagoSettings};
use crate::config::{ConfigError, Env};
use crate::domain::signature::WebhookSecret;
use crate::service::ports::PaymentAccount;
use crate::store::keys::{KeyRing, KeySource};
use crate::store::secrets::SecretVersions;
use crate::{Error, Result};

/// How long the secret is trusted before it is read again, when
/// `MERCADOPAGO_SECRET_CACHE_SECONDS` is not set.
pub const DEFAULT_SECRET_CACHE_SECONDS: u64 = 300;

pub struct MercadoPagoAccount {
    settings: MercadoPagoSettings,
    credentials: KeyRing,
    /// One HTTPS client (and connection pool) per execution environment,
    /// built on first use; the token is swapped in per request.
    client: std::sync::Mutex<Option<MercadoPago>>,
}

impl MercadoPagoAccount {
    /// From `MERCADOPAGO_SECRET_ID`, `MERCADOPAGO_API_URL`,
    /// `MERCADOPAGO_EXTERNAL_POS_ID` and `MERCADOPAGO_SECRET_CACHE_SECONDS`
    /// (300); no network call.
    pub fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let secret = SecretVersions::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            env.required("MERCADOPAGO_SECRET_ID")?,
        );
        let settings = MercadoPagoSettings::from_env(env).map_err(|_| {
            ConfigError::Invalid(
                "MERCADOPAGO_API_URL or MERCADOPAGO_EXTERNAL_POS_ID",
                "a base URL and a point-of-sale id",
            )
        })?;
        Ok(Self {
            settings,
            credentials: KeyRing::new(
                KeySource::SecretsManager(secret),
                env.seconds_or(
                    "MERCADOPAGO_SECRET_CACHE_SECONDS",
                    DEFAULT_SECRET_CACHE_SECONDS,
                )?,
            ),
            client: std::sync::Mutex::new(None),
        })
    }

    /// The credentials; `refreshed` re-reads the secret (rate-limited), for a
    /// signature that matched none of the cached webhook secrets.
    pub async fn credentials(&self, refreshed: bool) -> Result<MercadoPagoCredentials> {
        let keys = if refreshed {
            self.credentials.refreshed().await?
        } else {
            self.credentials.current_and_previous().await?
        };
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        MercadoPagoCredentials::from_secret_strings(
            &text(keys.current.secret()),
            keys.previous.as_ref().map(|k| text(k.secret())).as_deref(),
        )
        .map_err(Error::internal)
    }

    /// The client with the current access token.
    pub async fn gateway(&self) -> Result<MercadoPago> {
        let token = self.credentials(false).await?.access_token;
        let mut client = self
            .client
            .lock()
            .map_err(|_| Error::internal("the Mercado Pago client lock is poisoned"))?;
        if let Some(client) = client.as_ref() {
            return Ok(client.with_access_token(token));
        }
        let built = MercadoPago::new(self.settings.clone(), token).map_err(Error::internal)?;
        *client = Some(built.clone());
        Ok(built)
    }
}

impl PaymentAccount for MercadoPagoAccount {
    type Gateway = MercadoPago;

    async fn webhook_secrets(&self, refreshed: bool) -> Result<Vec<WebhookSecret>> {
        Ok(self.credentials(refreshed).await?.webhook_secrets)
    }

    async fn gateway(&self) -> Result<MercadoPago> {
        MercadoPagoAccount::gateway(self).await
    }
}
