//! The API's access tokens: EdDSA (Ed25519) JWTs with `typ: at+jwt` and the
//! signing key's `kid`, all three checked.
//!
//! Signing ([`TokenService`], in `authenticate`) needs the private key, read
//! from Secrets Manager through a [`KeyRing`]. Verifying ([`Verifier`], in the
//! authorizer and `/validate`) needs only the public keys the function was
//! deployed with: no network call, no failure mode but a refused token.

use crate::Role;
use crate::clock::now_unix;
use crate::domain::jwk::{PrivateKey, PublicKeys};
use crate::domain::keys::{KeyError, KeyRing};
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
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The token's claims: who (`sub`, an opaque id), in which role, for how long.
/// No name, CPF, e-mail or other personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    /// The kiosk a kiosk, guest or customer session runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_id: Option<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
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
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Missing => "token_missing",
            TokenError::Expired => "token_expired",
            TokenError::Invalid => "token_invalid",
            TokenError::Keys(KeyError::Unavailable(_)) => "service_unavailable",
            TokenError::Keys(_) => "internal_error",
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

    /// The keys it accepts, for `GET /.well-known/jwks.json`.
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
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_ed_der(&key.x), &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// Issues tokens (and verifies them, like any verifier).
pub struct TokenService {
    /// The secret holding the private JWK: `AWSCURRENT` and `AWSPREVIOUS`.
    signing: KeyRing,
    verifier: Verifier,
    settings: TokenSettings,
}

impl TokenService {
    pub fn new(signing: KeyRing, public: PublicKeys, settings: TokenSettings) -> Self {
        Self {
            signing,
            verifier: Verifier::new(public, &settings.issuer, &settings.audience),
            settings,
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verifier.verify(token)
    }

    /// Signs a token for `sub` in `role`, valid from now for the role's lifetime.
    pub async fn issue(
        &self,
        sub: &str,
        role: Role,
        kiosk_id: Option<&str>,
    ) -> Result<IssuedToken, TokenError> {
        let key = self.signing_key().await?;
        let ttl = self.settings.ttl_for(role);
        let now = now_unix();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: sub.to_owned(),
            role,
            kiosk_id: kiosk_id.map(str::to_owned),
            iat: now,
            nbf: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok(IssuedToken {
            access_token: sign(&key, &claims)?,
            token_type: "Bearer",
            expires_in: ttl.as_secs(),
        })
    }

    /// The newest private key whose public half the verifiers were deployed
    /// with: the secret's current version, or, right after a rotation and
    /// before the deploy that publishes the new public key, the previous one.
    /// So a rotation and its deploy may come in either order.
    async fn signing_key(&self) -> Result<PrivateKey, KeyError> {
        let versions = self.signing.current_and_previous().await?;
        let mut unpublished = None;
        for version in std::iter::once(&versions.current).chain(&versions.previous) {
            let key = PrivateKey::from_jwk(version.secret()).map_err(KeyError::from)?;
            if self.verifier.keys.find(&key.kid) == Some(&key.public()) {
                return Ok(key);
            }
            unpublished.get_or_insert(key.kid);
        }
        tracing::error!(
            kid = unpublished.as_deref().unwrap_or_default(),
            "no signing key is among JWT_PUBLIC_KEYS: deploy after rotating the keys"
        );
        Err(KeyError::Unpublished)
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
mod eddsa {
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
    pub(super) fn install() {
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
    use crate::domain::jwk::PublicKey;
    use crate::domain::keys::{KeySet, KeySource, SigningKey};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::{Hmac, Mac};

    fn key(n: u8) -> PrivateKey {
        PrivateKey::from_seed([n; 32])
    }

    fn version(id: &str, key: &PrivateKey) -> SigningKey {
        SigningKey::new(id, key.to_jwk()).unwrap()
    }

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "kiosk-test".into(),
            audience: "kiosk-api".into(),
            customer_ttl: Duration::from_secs(3600),
            staff_ttl: Duration::from_secs(8 * 3600),
        }
    }

    /// A service whose secret holds `current` (and `previous`) and whose
    /// verifiers were deployed with `published`.
    fn service_with(
        current: &PrivateKey,
        previous: Option<&PrivateKey>,
        published: &[&PrivateKey],
    ) -> TokenService {
        let ring = KeyRing::new(
            KeySource::Fixed(KeySet {
                current: version("v-current", current),
                previous: previous.map(|k| version("v-previous", k)),
            }),
            Duration::from_secs(300),
        );
        let public = PublicKeys::new(published.iter().map(|k| k.public()).collect()).unwrap();
        TokenService::new(ring, public, settings())
    }

    fn service() -> TokenService {
        service_with(&key(1), None, &[&key(1)])
    }

    fn claims() -> Claims {
        let now = now_unix();
        Claims {
            iss: "kiosk-test".into(),
            aud: "kiosk-api".into(),
            sub: "guest:1".into(),
            role: Role::Guest,
            kiosk_id: None,
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: "j".into(),
        }
    }

    fn assert_refused(service: &TokenService, token: &str, expected: &str) {
        match service.verify(token) {
            Err(e) => assert_eq!(e.code(), expected, "token {token:.60}"),
            Ok(c) => panic!("token {token:.60} was accepted: {c:?}"),
        }
    }

    fn segments(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    fn header(json: serde_json::Value) -> String {
        B64.encode(json.to_string())
    }

    #[tokio::test]
    async fn an_issued_token_verifies_with_its_claims_and_carries_no_name() {
        let service = service();
        let issued = service
            .issue("cognito-sub", Role::Customer, Some("kiosk-7"))
            .await
            .unwrap();
        assert_eq!(issued.expires_in, 3600);
        let claims = service.verify(&issued.access_token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role, claims.kiosk_id.as_deref()),
            ("cognito-sub", Role::Customer, Some("kiosk-7"))
        );
        assert_eq!(claims.exp - claims.iat, 3600);
        let payload = B64.decode(&segments(&issued.access_token)[1]).unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let mut names: Vec<_> = payload.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "aud", "exp", "iat", "iss", "jti", "kiosk_id", "nbf", "role", "sub"
            ]
        );
    }

    #[tokio::test]
    async fn the_header_is_eddsa_at_jwt_with_the_key_thumbprint() {
        let issued = service().issue("a", Role::Admin, None).await.unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(&segments(&issued.access_token)[0]).unwrap())
                .unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key(1).kid})
        );
        assert_eq!(issued.expires_in, 8 * 3600, "staff tokens live eight hours");
    }

    #[test]
    fn alg_none_is_refused() {
        let service = service();
        let parts = segments(&sign(&key(1), &claims()).unwrap());
        let none = header(serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": key(1).kid}));
        assert_refused(&service, &format!("{none}.{}.", parts[1]), "token_invalid");
    }

    #[test]
    fn hs256_keyed_with_the_public_key_is_refused() {
        // The classic confusion: a verifier that lets the header pick the
        // algorithm checks an HMAC keyed with the (public) verification key.
        let service = service();
        let forged_header =
            header(serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": key(1).kid}));
        let payload = B64.encode(serde_json::to_vec(&claims()).unwrap());
        let input = format!("{forged_header}.{payload}");
        let public = key(1).public();
        for secret in [public.x.to_vec(), B64.encode(public.x).into_bytes()] {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
            mac.update(input.as_bytes());
            let signature = B64.encode(mac.finalize().into_bytes());
            assert_refused(&service, &format!("{input}.{signature}"), "token_invalid");
        }
    }

    #[test]
    fn a_wrong_or_missing_typ_is_refused() {
        let service = service();
        let parts = segments(&sign(&key(1), &claims()).unwrap());
        for typ in [
            serde_json::json!("JWT"),
            serde_json::json!(null),
            serde_json::json!("AT+JWT "),
        ] {
            let other = header(serde_json::json!({"alg": "EdDSA", "typ": typ, "kid": key(1).kid}));
            // Re-signed with the real key, so only the typ is wrong.
            let input = format!("{other}.{}", parts[1]);
            let signature = ed25519_dalek::Signer::sign(
                &ed25519_dalek::SigningKey::from_bytes(key(1).seed()),
                input.as_bytes(),
            );
            let token = format!("{input}.{}", B64.encode(signature.to_bytes()));
            assert_refused(&service, &token, "token_invalid");
        }
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let service = service();
        let parts = segments(&sign(&key(1), &claims()).unwrap());
        let mut forged = claims();
        forged.role = Role::Admin;
        let payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_refused(
            &service,
            &format!("{}.{payload}.{}", parts[0], parts[2]),
            "token_invalid",
        );
    }

    #[test]
    fn a_stripped_or_foreign_signature_is_refused() {
        let service = service();
        let parts = segments(&sign(&key(1), &claims()).unwrap());
        assert_refused(
            &service,
            &format!("{}.{}.", parts[0], parts[1]),
            "token_invalid",
        );
        assert_refused(
            &service,
            &format!("{}.{}", parts[0], parts[1]),
            "token_invalid",
        );
        // Signed by another key that claims our kid.
        let mut impostor = key(2);
        impostor.kid = key(1).kid;
        assert_refused(
            &service,
            &sign(&impostor, &claims()).unwrap(),
            "token_invalid",
        );
    }

    #[test]
    fn an_unknown_kid_is_refused() {
        assert_refused(
            &service(),
            &sign(&key(9), &claims()).unwrap(),
            "token_invalid",
        );
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_refused() {
        let service = service();
        let mut expired = claims();
        expired.exp = now_unix() - 3600;
        assert_refused(&service, &sign(&key(1), &expired).unwrap(), "token_expired");
        let mut early = claims();
        early.nbf = now_unix() + 3600;
        early.exp = now_unix() + 7200;
        assert_refused(&service, &sign(&key(1), &early).unwrap(), "token_invalid");
    }

    #[test]
    fn the_leeway_tolerates_a_little_clock_skew() {
        let mut skewed = claims();
        skewed.nbf = now_unix() + 5;
        assert!(service().verify(&sign(&key(1), &skewed).unwrap()).is_ok());
    }

    #[test]
    fn a_wrong_issuer_or_audience_is_refused() {
        let service = service();
        let mut wrong_iss = claims();
        wrong_iss.iss = "someone-else".into();
        assert_refused(
            &service,
            &sign(&key(1), &wrong_iss).unwrap(),
            "token_invalid",
        );
        let mut wrong_aud = claims();
        wrong_aud.aud = "another-api".into();
        assert_refused(
            &service,
            &sign(&key(1), &wrong_aud).unwrap(),
            "token_invalid",
        );
    }

    #[test]
    fn an_unknown_role_is_refused() {
        let mut value = serde_json::to_value(claims()).unwrap();
        value["role"] = "root".into();
        let mut header = Header::new(ALGORITHM);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = Some(key(1).kid);
        eddsa::install();
        let token = jsonwebtoken::encode(&header, &value, &EncodingKey::from_ed_der(key(1).seed()))
            .unwrap();
        assert_refused(&service(), &token, "token_invalid");
    }

    #[tokio::test]
    async fn garbage_empty_and_oversized_tokens_are_refused() {
        let service = service();
        for garbage in ["garbage", "a.b.c", "...", "eyJ.eyJ.sig", "\u{0}\u{1}"] {
            assert_refused(&service, garbage, "token_invalid");
        }
        assert_refused(&service, "", "token_missing");
        let valid = service
            .issue("guest:1", Role::Guest, None)
            .await
            .unwrap()
            .access_token;
        let padded = format!("{valid}{}", "A".repeat(12 * 1024));
        assert_refused(&service, &padded, "token_invalid");
    }

    #[tokio::test]
    async fn after_a_rotation_the_previous_key_verifies_and_the_one_before_does_not() {
        let (one, two, three) = (key(1), key(2), key(3));
        let token_one = sign(&one, &claims()).unwrap();
        let token_two = sign(&two, &claims()).unwrap();
        let rotated = service_with(&two, Some(&one), &[&two, &one]);
        assert!(rotated.verify(&token_one).is_ok());
        assert!(rotated.verify(&token_two).is_ok());
        let again = service_with(&three, Some(&two), &[&three, &two]);
        assert_refused(&again, &token_one, "token_invalid");
        assert!(again.verify(&token_two).is_ok());
    }

    #[tokio::test]
    async fn until_the_new_public_key_is_deployed_the_previous_key_signs() {
        let (one, two) = (key(1), key(2));
        let rotated_not_deployed = service_with(&two, Some(&one), &[&one]);
        let issued = rotated_not_deployed
            .issue("a", Role::Admin, None)
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
        assert_eq!(header.kid, Some(one.kid.clone()));
        let deployed = service_with(&two, Some(&one), &[&two, &one]);
        let issued = deployed.issue("a", Role::Admin, None).await.unwrap();
        let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
        assert_eq!(header.kid, Some(two.kid.clone()));
    }

    #[tokio::test]
    async fn signing_with_no_published_key_fails_without_a_token() {
        let lost = service_with(&key(3), Some(&key(2)), &[&key(1)]);
        let error = lost.issue("a", Role::Admin, None).await.unwrap_err();
        assert!(matches!(error, TokenError::Keys(KeyError::Unpublished)));
        let broken = KeyRing::new(
            KeySource::Fixed(KeySet {
                current: SigningKey::new("v", "not a JWK but long enough to be a secret").unwrap(),
                previous: None,
            }),
            Duration::from_secs(300),
        );
        let broken = TokenService::new(
            broken,
            PublicKeys::new(vec![key(1).public()]).unwrap(),
            settings(),
        );
        let error = broken.issue("a", Role::Admin, None).await.unwrap_err();
        assert!(matches!(error, TokenError::Keys(KeyError::Malformed(_))));
    }

    #[test]
    fn a_public_key_alone_can_only_verify() {
        let _: PublicKey = key(1).public();
        let verifier = Verifier::new(
            PublicKeys::new(vec![key(1).public()]).unwrap(),
            "kiosk-test",
            "kiosk-api",
        );
        assert!(verifier.verify(&sign(&key(1), &claims()).unwrap()).is_ok());
    }
}
