//! The token keys as JSON Web Keys (RFC 8037, Ed25519 "OKP" keys).
//!
//! - The **private key** of an environment is one JWK with `d` (the 32-byte
//!   seed), kept in Secrets Manager: `AWSCURRENT` signs, `AWSPREVIOUS` is the
//!   key before it. Only `authenticate` can read it.
//! - The **public keys** (current and previous) are a JWKS, given to every
//!   verifier in `JWT_PUBLIC_KEYS` (filled at deploy time from an SSM
//!   parameter), so verifying makes no network call.
//!
//! A key's `kid` is its RFC 7638 thumbprint: it names the key itself, whatever
//! secret version or parameter carries it. `kiosk-tools keys` generates and
//! rotates them (deploy/README.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Ed25519 seeds and public keys are 32 bytes.
const KEY_BYTES: usize = 32;
/// At most this many public keys are accepted (current, previous and some slack).
pub const MAX_PUBLIC_KEYS: usize = 4;

/// Why a key could not be read. The message names the field, never a key byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed token key: {0}")]
pub struct MalformedKey(pub &'static str);

/// The JSON shape of both kinds of key.
#[derive(Serialize, Deserialize)]
struct Jwk {
    kty: String,
    crv: String,
    kid: String,
    x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    use_: Option<String>,
}

fn bytes32(field: &'static str, value: &str) -> Result<[u8; KEY_BYTES], MalformedKey> {
    B64.decode(value)
        .ok()
        .and_then(|bytes| <[u8; KEY_BYTES]>::try_from(bytes.as_slice()).ok())
        .ok_or(MalformedKey(field))
}

/// RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over the required
/// members in lexicographic order, base64url.
pub fn thumbprint(x: &[u8; KEY_BYTES]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(x));
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// A public key that verifies tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub(crate) x: [u8; KEY_BYTES],
}

impl PublicKey {
    fn from_jwk(jwk: Jwk) -> Result<Self, MalformedKey> {
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(MalformedKey("kty/crv (only OKP Ed25519 keys)"));
        }
        if jwk.alg.as_deref().is_some_and(|alg| alg != "EdDSA") {
            return Err(MalformedKey("alg (only EdDSA)"));
        }
        let x = bytes32("x", &jwk.x)?;
        ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| MalformedKey("x"))?;
        if jwk.kid.is_empty() || jwk.kid.len() > 128 {
            return Err(MalformedKey("kid"));
        }
        Ok(Self { kid: jwk.kid, x })
    }

    fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: self.kid.clone(),
            x: B64.encode(self.x),
            d: None,
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.kid)
    }
}

/// The verification keys: a JWKS, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeys(Vec<PublicKey>);

#[derive(Serialize, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

impl PublicKeys {
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, MalformedKey> {
        if keys.is_empty() {
            return Err(MalformedKey("keys (none)"));
        }
        if keys.len() > MAX_PUBLIC_KEYS {
            return Err(MalformedKey("keys (too many)"));
        }
        let mut kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        kids.sort_unstable();
        kids.dedup();
        if kids.len() != keys.len() {
            return Err(MalformedKey("kid (duplicate)"));
        }
        Ok(Self(keys))
    }

    /// Reads a JWKS document (`{"keys": [...]}`) of Ed25519 public keys.
    pub fn from_jwks(json: &str) -> Result<Self, MalformedKey> {
        let jwks: Jwks = serde_json::from_str(json).map_err(|_| MalformedKey("JWKS JSON"))?;
        if jwks.keys.iter().any(|k| k.d.is_some()) {
            return Err(MalformedKey("d (a private key in the public set)"));
        }
        Self::new(
            jwks.keys
                .into_iter()
                .map(PublicKey::from_jwk)
                .collect::<Result<_, _>>()?,
        )
    }

    /// The JWKS document, as `GET /.well-known/jwks.json` serves it.
    pub fn to_jwks(&self) -> String {
        let jwks = Jwks {
            keys: self.0.iter().map(PublicKey::to_jwk).collect(),
        };
        serde_json::to_string(&jwks).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }

    pub fn find(&self, kid: &str) -> Option<&PublicKey> {
        self.0.iter().find(|k| k.kid == kid)
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.0
    }
}

/// The private key that signs tokens. Its seed never reaches `Debug` or logs.
#[derive(Clone)]
pub struct PrivateKey {
    pub kid: String,
    seed: [u8; KEY_BYTES],
}

impl PrivateKey {
    /// The key of a 32-byte random seed (from the OS: `kiosk-tools keys`, and the local bootstrap).
    pub fn from_seed(seed: [u8; KEY_BYTES]) -> Self {
        let x = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        Self {
            kid: thumbprint(&x),
            seed,
        }
    }

    /// Reads the private JWK kept in Secrets Manager. `x` and `kid` must be
    /// the seed's own, so a secret pasted together from two keys is refused.
    pub fn from_jwk(json: &[u8]) -> Result<Self, MalformedKey> {
        let jwk: Jwk =
            serde_json::from_slice(json).map_err(|_| MalformedKey("private JWK JSON"))?;
        let d = jwk.d.as_deref().ok_or(MalformedKey("d (missing)"))?;
        let key = Self::from_seed(bytes32("d", d)?);
        let public = PublicKey::from_jwk(Jwk { d: None, ..jwk })?;
        if public.x != key.public().x {
            return Err(MalformedKey("x (not the public half of d)"));
        }
        if public.kid != key.kid {
            return Err(MalformedKey("kid (not the key's thumbprint)"));
        }
        Ok(key)
    }

    /// The private JWK, as the key commands store it.
    pub fn to_jwk(&self) -> String {
        let mut jwk = self.public().to_jwk();
        jwk.d = Some(B64.encode(self.seed));
        serde_json::to_string(&jwk).unwrap_or_default()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            x: ed25519_dalek::SigningKey::from_bytes(&self.seed)
                .verifying_key()
                .to_bytes(),
        }
    }

    pub(crate) fn seed(&self) -> &[u8; KEY_BYTES] {
        &self.seed
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, section 7.1, TEST 1: the seed and its public key.
    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn hex32(s: &str) -> [u8; 32] {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    #[test]
    fn the_public_half_is_the_rfc_8032_one() {
        let key = PrivateKey::from_seed(hex32(RFC8032_SEED));
        assert_eq!(key.public().x, hex32(RFC8032_PUBLIC));
    }

    #[test]
    fn the_kid_is_the_rfc_8037_thumbprint() {
        // RFC 8037, appendix A.3: the thumbprint of the RFC 8032 test key.
        let key = PrivateKey::from_seed(hex32(RFC8032_SEED));
        assert_eq!(key.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_private_jwk_round_trips_and_its_public_half_is_a_jwks() {
        let key = PrivateKey::from_seed([7; 32]);
        let read = PrivateKey::from_jwk(key.to_jwk().as_bytes()).unwrap();
        assert_eq!((read.kid.as_str(), read.seed), (key.kid.as_str(), key.seed));
        let jwks = PublicKeys::new(vec![key.public()]).unwrap().to_jwks();
        assert!(!jwks.contains("\"d\""), "{jwks}");
        let public = PublicKeys::from_jwks(&jwks).unwrap();
        assert_eq!(public.find(&key.kid), Some(&key.public()));
    }

    #[test]
    fn mismatched_or_foreign_keys_are_refused() {
        let key = PrivateKey::from_seed([7; 32]);
        let other = PrivateKey::from_seed([8; 32]);
        let mut jwk: serde_json::Value = serde_json::from_str(&key.to_jwk()).unwrap();
        let swapped_x = {
            let mut j = jwk.clone();
            j["x"] = B64.encode(other.public().x).into();
            j
        };
        assert!(PrivateKey::from_jwk(swapped_x.to_string().as_bytes()).is_err());
        jwk["kid"] = "chosen".into();
        assert!(PrivateKey::from_jwk(jwk.to_string().as_bytes()).is_err());
        for bad in [
            "",
            "{}",
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"RSA","crv":"Ed25519","kid":"a","x":"AA"}]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AA"}]}"#,
        ] {
            assert!(PublicKeys::from_jwks(bad).is_err(), "{bad}");
        }
        // A private key pasted into the public set is refused, not published.
        let private_set = format!(r#"{{"keys":[{}]}}"#, key.to_jwk());
        assert!(PublicKeys::from_jwks(&private_set).is_err());
        let twice = PublicKeys::new(vec![key.public(), key.public()]);
        assert!(twice.is_err());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let key = PrivateKey::from_seed([7; 32]);
        let shown = format!("{key:?} {:?}", key.public());
        assert!(!shown.contains(&B64.encode(key.seed)));
        assert!(!shown.contains(&B64.encode(key.public().x)));
    }
}
