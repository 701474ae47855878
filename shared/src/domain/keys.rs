//! Keys kept as secret versions: the token signing key (a private JWK,
//! `domain::jwk`) and the Mercado Pago credentials. They are read from
//! Secrets Manager (`store::secrets`) and cached (`store::keys`); this is
//! only what a key is and how reading one fails.
//!
//! A secret's `AWSCURRENT` and `AWSPREVIOUS` versions are both kept, so a
//! rotation never breaks what the previous version signed; a version older
//! than that is gone.

use crate::error::{BoxError, Error};
use std::fmt;
use std::sync::Arc;

/// Secret values shorter than this are refused (an HMAC key wants at least
/// 256 bits; a private JWK is about 150 bytes).
pub const MIN_KEY_BYTES: usize = 32;

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
impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unavailable(_) => Error::Unavailable(Box::new(e)),
            _ => Error::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, KeyError};

    #[test]
    fn an_unreadable_secret_is_503_and_a_broken_one_500() {
        let status = |e: KeyError| match Error::from(e) {
            Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
            _ => 0,
        };
        assert_eq!(status(KeyError::Unavailable("timed out".into())), 503);
        assert_eq!(status(KeyError::Failed("access denied".into())), 500);
        assert_eq!(status(KeyError::NoCurrentVersion), 500);
        assert_eq!(status(KeyError::TooShort), 500);
    }
}
