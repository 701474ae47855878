//! Keys kept in Secrets Manager (see `store::secrets`) and cached in the
//! function: the token signing key (a private JWK, `domain::jwk`) and the
//! payment webhook's HMAC key.
//!
//! A secret's `AWSCURRENT` and `AWSPREVIOUS` versions are both kept, so a
//! rotation never breaks what the previous version signed; a version older
//! than that is gone.

use crate::http::error::BoxError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Secret values shorter than this are refused (an HMAC key wants at least
/// 256 bits; a private JWK is about 150 bytes).
pub const MIN_KEY_BYTES: usize = 32;

/// How long a request waits for a refresh that the cached keys could answer
/// without (they are only due by age). Past it the cached keys serve, as after
/// a failed refresh, so a slow Secrets Manager costs a request at most this
/// before its own calls (see `shared::config::sdk_bounds`).
pub const DUE_REFRESH_PATIENCE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Arc<[u8]>,
}

impl SigningKey {
    pub fn new(kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self {
            kid: kid.into(),
            secret: secret.into(),
        })
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct KeySet {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

impl KeySet {
    pub(crate) fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing key is shorter than {MIN_KEY_BYTES} bytes")]
    TooShort,
    #[error("the signing key secret has no current version")]
    NoCurrentVersion,
    #[error(transparent)]
    Malformed(#[from] crate::domain::jwk::MalformedKey),
    /// Neither the current nor the previous private key is among the public
    /// keys the verifiers were deployed with (a rotation without its deploy).
    #[error("no signing key is published to the verifiers")]
    Unpublished,
    /// Secrets Manager is down, slow or throttling: worth a retry (503).
    #[error("could not read the signing key secret")]
    Unavailable(#[source] BoxError),
    /// Any other failure to read or use the key (access denied, say): ours (500).
    #[error("could not read or use the signing key")]
    Failed(#[source] BoxError),
}

/// A key that cannot be had answers like any dependency: 503 when Secrets
/// Manager is unavailable, 500 otherwise.
impl From<KeyError> for crate::Error {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unavailable(_) => crate::Error::Unavailable(Box::new(e)),
            _ => crate::Error::internal(e),
        }
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The secret's `AWSCURRENT` and `AWSPREVIOUS` versions.
    #[cfg(feature = "secrets")]
    SecretsManager(crate::store::secrets::SecretVersions),
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

    /// The key named `kid`, if it is the current or the previous one.
    pub async fn verification_key(&self, kid: &str) -> Result<Option<SigningKey>, KeyError> {
        let mut cache = self.cache.lock().await;
        self.refresh_if(
            &mut cache,
            |c| {
                let age = c.fetched_at.elapsed();
                age >= self.ttl || (c.keys.find(kid).is_none() && age >= self.min_refresh)
            },
            |c| c.keys.find(kid).is_some(),
        )
        .await?;
        Ok(cache.as_ref().and_then(|c| c.keys.find(kid).cloned()))
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

#[cfg(test)]
mod tests {
    use super::KeyError;

    #[test]
    fn an_unreadable_secret_is_503_and_a_broken_one_500() {
        let status = |e: KeyError| crate::Error::from(e).status_code();
        assert_eq!(status(KeyError::Unavailable("timed out".into())), 503);
        assert_eq!(status(KeyError::Failed("access denied".into())), 500);
        assert_eq!(status(KeyError::NoCurrentVersion), 500);
        assert_eq!(status(KeyError::TooShort), 500);
    }
}
