//! The key cache: a secret's current and previous versions (the token
//! signing key, the Mercado Pago credentials), read lazily from their source
//! and kept for a while. The signing port of `service::tokens` is
//! implemented here.

use crate::domain::keys::{KeyError, KeySet, SigningKey};
use crate::service::ports::SigningKeys;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a request waits for a refresh that the cached keys could answer
/// without (they are only due by age). Past it the cached keys serve, as after
/// a failed refresh, so a slow Secrets Manager costs a request at most this
/// before its own calls (see `shared::config::sdk_bounds`).
pub const DUE_REFRESH_PATIENCE: Duration = Duration::from_millis(500);

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The secret's `AWSCURRENT` and `AWSPREVIOUS` versions.
    #[cfg(feature = "secrets")]
    SecretsManager(super::secrets::SecretVersions),
    /// A key set held in memory (unit tests and tools that mint tokens offline).
    Fixed(KeySet),
}

impl KeySource {
    async fn fetch(&self) -> Result<KeySet, KeyError> {
        match self {
            KeySource::Fixed(keys) => Ok(keys.clone()),
            #[cfg(feature = "secrets")]
            KeySource::SecretsManager(versions) => versions.fetch().await,
        }
    }
}

struct Cached {
    keys: KeySet,
    fetched_at: Instant,
}

/// The keys, fetched lazily (never at init) and cached for `ttl`. A token whose
/// `kid` is not cached triggers a refresh at most once per `min_refresh`, so a
/// rotation is picked up at once while forged key ids cannot hammer the secret.
/// If a refresh fails, the cached keys keep serving; if cached keys that could
/// answer are only due by age, the refresh gets [`DUE_REFRESH_PATIENCE`].
pub struct KeyRing {
    source: KeySource,
    ttl: Duration,
    min_refresh: Duration,
    cache: Mutex<Option<Cached>>,
}

impl KeyRing {
    pub fn new(source: KeySource, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            min_refresh: Duration::from_secs(10).min(ttl),
            cache: Mutex::new(None),
        }
    }

    /// The key to sign with.
    pub async fn signing_key(&self) -> Result<SigningKey, KeyError> {
        let mut cache = self.cache.lock().await;
        self.refresh_if(&mut cache, |c| c.fetched_at.elapsed() >= self.ttl, |_| true)
            .await?;
        match cache.as_ref() {
            Some(cached) => Ok(cached.keys.current.clone()),
            None => Err(KeyError::NoCurrentVersion),
        }
    }

    /// The current key and the previous one, if any (for secrets that carry
    /// no key id, like the payment webhook's).
    pub async fn current_and_previous(&self) -> Result<KeySet, KeyError> {
        let mut cache = self.cache.lock().await;
        self.refresh_if(&mut cache, |c| c.fetched_at.elapsed() >= self.ttl, |_| true)
            .await?;
        cache
            .as_ref()
            .map(|c| c.keys.clone())
            .ok_or(KeyError::NoCurrentVersion)
    }

    /// Re-reads the keys unless they were read less than `min_refresh` ago:
    /// for a signature that matched none of the cached keys (the secret may
    /// have just been rotated). Rate-limited, so forged requests cannot hammer
    /// the secret.
    pub async fn refreshed(&self) -> Result<KeySet, KeyError> {
        let mut cache = self.cache.lock().await;
        self.refresh_if(
            &mut cache,
            |c| c.fetched_at.elapsed() >= self.min_refresh,
            |_| false,
        )
        .await?;
        cache
            .as_ref()
            .map(|c| c.keys.clone())
            .ok_or(KeyError::NoCurrentVersion)
    }

    /// Re-reads the keys if there are none or the cached ones are `stale`;
    /// when the cached ones `serve` this request anyway, waits for the read at
    /// most [`DUE_REFRESH_PATIENCE`].
    async fn refresh_if(
        &self,
        cache: &mut Option<Cached>,
        stale: impl Fn(&Cached) -> bool,
        serve: impl Fn(&Cached) -> bool,
    ) -> Result<(), KeyError> {
        if cache.as_ref().is_some_and(|c| !stale(c)) {
            return Ok(());
        }
        let fetched = if cache.as_ref().is_some_and(serve) {
            tokio::time::timeout(DUE_REFRESH_PATIENCE, self.source.fetch())
                .await
                .unwrap_or_else(|elapsed| Err(KeyError::Unavailable(Box::new(elapsed))))
        } else {
            self.source.fetch().await
        };
        match (fetched, cache.as_mut()) {
            (Ok(keys), _) => {
                *cache = Some(Cached {
                    keys,
                    fetched_at: Instant::now(),
                })
            }
            (Err(e), Some(cached)) => {
                tracing::warn!(error = %e, "could not refresh the signing keys; using the cached ones");
                // Try again after `min_refresh`, not after a whole `ttl`.
                let retry_in = self.ttl.saturating_sub(self.min_refresh);
                cached.fetched_at = Instant::now()
                    .checked_sub(retry_in)
                    .unwrap_or_else(Instant::now);
            }
            (Err(e), None) => return Err(e),
        }
        Ok(())
    }
}

impl SigningKeys for KeyRing {
    async fn current_and_previous(&self) -> Result<KeySet, KeyError> {
        KeyRing::current_and_previous(self).await
    }
}
