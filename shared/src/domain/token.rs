//! The API's access tokens: EdDSA (Ed25519) JWTs with `typ: at+jwt` and the
//! signing key's `kid`, all three checked.
//!
//! Signing (`service::tokens::TokenService`, in `authenticate`) needs the
//! private key, read from Secrets Manager through the key cache. Verifying
//! ([`Verifier`], in the authorizer and `/validate`) needs only the public
//! keys the function was deployed with: no network call, no failure mode but
//! a refused token.

use crate::Role;
use crate::domain::jwk::{PrivateKey, PublicKeys};
use crate::domain::keys::KeyError;
use crate::domain::{KioskId, PosId, StoreId};
use crate::error::Code;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The one algorithm tokens are signed and verified with; the token's own
/// header never chooses it, and the crypto provider knows no other.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// The header's `typ` (RFC 9068): an access token, not any JWT.
pub const TOKEN_TYPE: &str = "at+jwt";
/// Longer tokens are refused unread (ours are about 400 bytes).
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The token's claims: who (`sub`, an opaque id), in which role, for how long.
/// No name, CPF, e-mail or other personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    /// The store the session belongs to: every role but `admin` (the
    /// chain's) has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// The kiosk a kiosk, guest or customer session runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_id: Option<String>,
    /// The kiosk's own Mercado Pago point of sale, when it has one (no
    /// secret: it names where the QR is shown, and Mercado Pago takes
    /// nothing on it without our access token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_id: Option<String>,
    /// How a customer proved who they are (RFC 8176 style): `["cpf"]` for a
    /// CPF typed at a kiosk, `["cpf","otp"]` once a code e-mailed to them was
    /// confirmed. Absent on kiosk, guest and staff tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<Amr>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Where a session belongs: its store (every role but `admin`) and the kiosk
/// it runs on (kiosk, guest and customer sessions), with that kiosk's own
/// Mercado Pago point of sale if it has one. Tokens carry them, and every
/// store-bound check reads them from here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub store_id: Option<StoreId>,
    pub kiosk_id: Option<KioskId>,
    pub pos_id: Option<PosId>,
}

impl Scope {
    /// The chain's: no store, no kiosk (admins).
    pub fn chain() -> Scope {
        Scope::default()
    }

    /// A session at `kiosk` of `store`.
    pub fn kiosk(store: StoreId, kiosk: KioskId) -> Scope {
        Scope {
            store_id: Some(store),
            kiosk_id: Some(kiosk),
            pos_id: None,
        }
    }

    /// The same scope on the kiosk's own point of sale `pos`, if any.
    pub fn on_pos(self, pos: Option<PosId>) -> Scope {
        Scope {
            pos_id: pos,
            ..self
        }
    }

    /// A staff session of `store` (kitchen, manager): no kiosk.
    pub fn store(store: StoreId) -> Scope {
        Scope {
            store_id: Some(store),
            ..Scope::default()
        }
    }
}

/// An authentication method a customer token was issued on (`amr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A CPF typed at a kiosk: proves nothing about who typed it.
    Cpf,
    /// A one-time code e-mailed to the customer's address, confirmed.
    Otp,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Cpf => "cpf",
            Amr::Otp => "otp",
        }
    }

    /// The methods of a space-separated list (`"cpf otp"`, as the
    /// authorizer passes them on: its context holds strings only); `None` if
    /// any is unknown.
    pub fn parse_list(list: &str) -> Option<Vec<Amr>> {
        list.split_whitespace()
            .map(|method| match method {
                "cpf" => Some(Amr::Cpf),
                "otp" => Some(Amr::Otp),
                _ => None,
            })
            .collect()
    }

    /// `methods` as the authorizer's context carries them: `"cpf otp"`.
    pub fn join(methods: &[Amr]) -> String {
        methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// Lifetime of kiosk, guest and customer tokens (15 min by default).
    pub customer_ttl: Duration,
    /// Lifetime of kitchen and admin tokens (8 h by default).
    pub staff_ttl: Duration,
}

impl TokenSettings {
    pub fn ttl_for(&self, role: Role) -> Duration {
        if role.is_staff() {
            self.staff_ttl
        } else {
            self.customer_ttl
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// Why a token was refused (or could not be signed). The codes are the API's.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no token was given")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    /// Signing only: the private key could not be had.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl TokenError {
    pub fn code(&self) -> Code {
        match self {
            TokenError::Missing => Code::TokenMissing,
            TokenError::Expired => Code::TokenExpired,
            TokenError::Invalid => Code::TokenInvalid,
            TokenError::Keys(KeyError::Unavailable(_)) => Code::ServiceUnavailable,
            TokenError::Keys(_) => Code::InternalError,
        }
    }
}

/// Checks tokens against the public keys it was built with.
#[derive(Debug)]
pub struct Verifier {
    keys: PublicKeys,
    validation: Validation,
}

impl Verifier {
    pub fn new(keys: PublicKeys, issuer: &str, audience: &str) -> Self {
        eddsa::install();
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self { keys, validation }
    }

    /// The keys it accepts, for `GET /.well-known/jwks.json` (and, to a
    /// signer, which private keys are published).
    pub fn public_keys(&self) -> &PublicKeys {
        &self.keys
    }

    /// The claims of a token signed by one of the keys, unexpired, of this
    /// issuer and audience; anything else is refused.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != ALGORITHM || header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.find(kid))
            .ok_or(TokenError::Invalid)?;
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_ed_der(&key.x),
            &self.validation,
        )
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        // jsonwebtoken checks `exp` and `nbf` only: a token issued in the
        // future (a skewed or forged signer) is refused too.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if claims.iat > now.saturating_add(LEEWAY_SECONDS.cast_signed()) {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

/// Signs `claims` with `key`: EdDSA, `typ: at+jwt`, `kid` = the key's thumbprint.
pub fn sign(key: &PrivateKey, claims: &Claims) -> Result<String, TokenError> {
    eddsa::install();
    let mut header = Header::new(ALGORITHM);
    header.typ = Some(TOKEN_TYPE.to_owned());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(key.seed()))
        .map_err(|e| TokenError::Keys(KeyError::Failed(Box::new(e))))
}

/// jsonwebtoken's crypto, reduced to Ed25519 over ed25519-dalek. Its keys
/// are raw: the 32-byte seed to sign, the 32-byte public key to verify.
pub(crate) mod eddsa {
    use ed25519_dalek::ed25519::signature::{Error, Signer, Verifier};
    use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

    struct Signing(ed25519_dalek::SigningKey);
    struct Verifying(ed25519_dalek::VerifyingKey);

    impl Signer<Vec<u8>> for Signing {
        fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
            Ok(self.0.sign(message).to_bytes().to_vec())
        }
    }

    impl JwtSigner for Signing {
        fn algorithm(&self) -> Algorithm {
            Algorithm::EdDSA
        }
    }

    impl Verifier<Vec<u8>> for Verifying {
        fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), Error> {
            let signature = ed25519_dalek::Signature::from_slice(signature)?;
            // Strict: no small-order keys, no malleable signatures.
            self.0.verify_strict(message, &signature)
        }
    }

    impl JwtVerifier for Verifying {
        fn algorithm(&self) -> Algorithm {
            Algorithm::EdDSA
        }
    }

    fn raw(bytes: &[u8]) -> jsonwebtoken::errors::Result<&[u8; 32]> {
        bytes
            .try_into()
            .map_err(|_| ErrorKind::InvalidEddsaKey.into())
    }

    static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: |algorithm, key: &EncodingKey| {
            if *algorithm != Algorithm::EdDSA {
                return Err(ErrorKind::InvalidAlgorithm.into());
            }
            Ok(Box::new(Signing(ed25519_dalek::SigningKey::from_bytes(
                raw(key.as_bytes())?,
            ))))
        },
        verifier_factory: |algorithm, key: &DecodingKey| {
            if *algorithm != Algorithm::EdDSA {
                return Err(ErrorKind::InvalidAlgorithm.into());
            }
            let key = ed25519_dalek::VerifyingKey::from_bytes(raw(key.try_get_as_bytes()?)?)
                .map_err(|_| ErrorKind::InvalidEddsaKey)?;
            Ok(Box::new(Verifying(key)))
        },
        key_utils: KeyUtils::new_unimplemented(),
    };

    /// Makes this the process's provider (once; later calls change nothing).
    pub(crate) fn install() {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            if PROVIDER.install_default().is_err() {
                tracing::error!("another JWT crypto provider was installed first");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_methods_travel_as_a_space_separated_list() {
        assert_eq!(Amr::join(&[Amr::Cpf, Amr::Otp]), "cpf otp");
        assert_eq!(Amr::parse_list("cpf otp"), Some(vec![Amr::Cpf, Amr::Otp]));
        assert_eq!(Amr::parse_list(""), Some(vec![]));
        assert_eq!(Amr::parse_list("cpf pwd"), None);
        assert_eq!(
            serde_json::to_value([Amr::Cpf, Amr::Otp]).unwrap(),
            serde_json::json!(["cpf", "otp"])
        );
    }
}
