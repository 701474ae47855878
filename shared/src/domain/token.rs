//! The API's access tokens: HS256 JWTs signed with the key ring's current key.

use crate::Role;
use crate::clock::now_unix;
use crate::domain::keys::{KeyError, KeyRing, SigningKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The one algorithm tokens are signed and verified with; the token's own
/// header never chooses it.
pub const ALGORITHM: Algorithm = Algorithm::HS256;
/// Longer tokens are refused unread (ours are about 400 bytes).
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The token's claims. No CPF, e-mail or other personal data beyond the
/// optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// Lifetime of guest and customer tokens (1 h by default).
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

/// Why a token was refused. The codes are the API's.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no token was given")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
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

pub struct TokenService {
    keys: KeyRing,
    settings: TokenSettings,
    validation: Validation,
}

impl TokenService {
    pub fn new(keys: KeyRing, settings: TokenSettings) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            keys,
            settings,
            validation,
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Signs a token for `sub` in `role`, valid from now for the role's lifetime.
    pub async fn issue(
        &self,
        sub: &str,
        role: Role,
        name: Option<&str>,
    ) -> Result<IssuedToken, TokenError> {
        let key = self.keys.signing_key().await?;
        let ttl = self.settings.ttl_for(role);
        let now = now_unix();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: sub.to_owned(),
            role,
            name: name.map(str::to_owned),
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

    /// The claims of a token this service (or its previous key) signed.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != ALGORITHM {
            return Err(TokenError::Invalid);
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty() && k.len() <= 128)
            .ok_or(TokenError::Invalid)?;
        let key = self
            .keys
            .verification_key(&kid)
            .await?
            .ok_or(TokenError::Invalid)?;
        jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(key.secret()),
            &self.validation,
        )
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })
    }
}

/// Signs `claims` with `key` (HS256, `kid` = the key's version id).
pub fn sign(key: &SigningKey, claims: &Claims) -> Result<String, TokenError> {
    let mut header = Header::new(ALGORITHM);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.secret()))
        .map_err(|e| TokenError::Keys(KeyError::Failed(Box::new(e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::{KeySet, KeySource};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    const SECRET: &str = "a-test-signing-key-of-at-least-32-bytes!";

    fn key(kid: &str, secret: &str) -> SigningKey {
        SigningKey::new(kid, secret).unwrap()
    }

    fn service_with(current: SigningKey, previous: Option<SigningKey>) -> TokenService {
        let settings = TokenSettings {
            issuer: "kiosk-test".into(),
            audience: "kiosk-api".into(),
            customer_ttl: Duration::from_secs(3600),
            staff_ttl: Duration::from_secs(8 * 3600),
        };
        let ring = KeyRing::new(
            KeySource::Fixed(KeySet { current, previous }),
            Duration::from_secs(300),
        );
        TokenService::new(ring, settings)
    }

    fn service() -> TokenService {
        service_with(key("v1", SECRET), None)
    }

    fn claims(service: &TokenService) -> Claims {
        let now = now_unix();
        Claims {
            iss: service.settings.issuer.clone(),
            aud: service.settings.audience.clone(),
            sub: "guest:1".into(),
            role: Role::Guest,
            name: None,
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: "j".into(),
        }
    }

    async fn assert_refused(service: &TokenService, token: &str, expected: &str) {
        match service.verify(token).await {
            Err(e) => assert_eq!(e.code(), expected, "token {token:.60}"),
            Ok(c) => panic!("token {token:.60} was accepted: {c:?}"),
        }
    }

    fn segments(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn an_issued_token_verifies_with_its_claims() {
        let service = service();
        let issued = service
            .issue("cognito-sub", Role::Customer, Some("Ana"))
            .await
            .unwrap();
        assert_eq!(issued.expires_in, 3600);
        let claims = service.verify(&issued.access_token).await.unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role, claims.name.as_deref()),
            ("cognito-sub", Role::Customer, Some("Ana"))
        );
        assert_eq!(claims.exp - claims.iat, 3600);
        assert!(!claims.jti.is_empty());
    }

    #[tokio::test]
    async fn staff_tokens_live_eight_hours() {
        let issued = service().issue("admin", Role::Admin, None).await.unwrap();
        assert_eq!(issued.expires_in, 8 * 3600);
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let service = service();
        let token = sign(&key("v1", SECRET), &claims(&service)).unwrap();
        let parts = segments(&token);
        let header = B64.encode(r#"{"alg":"none","typ":"JWT","kid":"v1"}"#);
        assert_refused(
            &service,
            &format!("{header}.{}.", parts[1]),
            "token_invalid",
        )
        .await;
    }

    #[tokio::test]
    async fn an_rs256_header_on_an_hs256_token_is_refused() {
        let service = service();
        let token = sign(&key("v1", SECRET), &claims(&service)).unwrap();
        let parts = segments(&token);
        let header = B64.encode(r#"{"alg":"RS256","typ":"JWT","kid":"v1"}"#);
        assert_refused(
            &service,
            &format!("{header}.{}.{}", parts[1], parts[2]),
            "token_invalid",
        )
        .await;
    }

    #[tokio::test]
    async fn a_tampered_payload_is_refused() {
        let service = service();
        let token = sign(&key("v1", SECRET), &claims(&service)).unwrap();
        let parts = segments(&token);
        let mut forged = claims(&service);
        forged.role = Role::Admin;
        let payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_refused(
            &service,
            &format!("{}.{payload}.{}", parts[0], parts[2]),
            "token_invalid",
        )
        .await;
    }

    #[tokio::test]
    async fn a_stripped_or_foreign_signature_is_refused() {
        let service = service();
        let token = sign(&key("v1", SECRET), &claims(&service)).unwrap();
        let parts = segments(&token);
        assert_refused(
            &service,
            &format!("{}.{}.", parts[0], parts[1]),
            "token_invalid",
        )
        .await;
        assert_refused(
            &service,
            &format!("{}.{}", parts[0], parts[1]),
            "token_invalid",
        )
        .await;
        let foreign = sign(
            &key("v1", "another-key-that-is-also-32-bytes-long"),
            &claims(&service),
        )
        .unwrap();
        assert_refused(&service, &foreign, "token_invalid").await;
    }

    #[tokio::test]
    async fn an_unknown_kid_is_refused() {
        let service = service();
        let token = sign(&key("v9", SECRET), &claims(&service)).unwrap();
        assert_refused(&service, &token, "token_invalid").await;
    }

    #[tokio::test]
    async fn expired_and_not_yet_valid_tokens_are_refused() {
        let service = service();
        let mut expired = claims(&service);
        expired.exp = now_unix() - 3600;
        assert_refused(
            &service,
            &sign(&key("v1", SECRET), &expired).unwrap(),
            "token_expired",
        )
        .await;
        let mut early = claims(&service);
        early.nbf = now_unix() + 3600;
        early.exp = now_unix() + 7200;
        assert_refused(
            &service,
            &sign(&key("v1", SECRET), &early).unwrap(),
            "token_invalid",
        )
        .await;
    }

    #[tokio::test]
    async fn the_leeway_tolerates_a_little_clock_skew() {
        let service = service();
        let mut skewed = claims(&service);
        skewed.nbf = now_unix() + 5;
        assert!(
            service
                .verify(&sign(&key("v1", SECRET), &skewed).unwrap())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_wrong_issuer_or_audience_is_refused() {
        let service = service();
        let mut wrong_iss = claims(&service);
        wrong_iss.iss = "someone-else".into();
        assert_refused(
            &service,
            &sign(&key("v1", SECRET), &wrong_iss).unwrap(),
            "token_invalid",
        )
        .await;
        let mut wrong_aud = claims(&service);
        wrong_aud.aud = "another-api".into();
        assert_refused(
            &service,
            &sign(&key("v1", SECRET), &wrong_aud).unwrap(),
            "token_invalid",
        )
        .await;
    }

    #[tokio::test]
    async fn an_unknown_role_is_refused() {
        let service = service();
        let mut value = serde_json::to_value(claims(&service)).unwrap();
        value["role"] = "root".into();
        let mut header = Header::new(ALGORITHM);
        header.kid = Some("v1".into());
        let token = jsonwebtoken::encode(
            &header,
            &value,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_refused(&service, &token, "token_invalid").await;
    }

    #[tokio::test]
    async fn garbage_empty_and_oversized_tokens_are_refused() {
        let service = service();
        for garbage in ["garbage", "a.b.c", "...", "eyJ.eyJ.sig", "\u{0}\u{1}"] {
            assert_refused(&service, garbage, "token_invalid").await;
        }
        assert_refused(&service, "", "token_missing").await;
        let valid = service
            .issue("guest:1", Role::Guest, None)
            .await
            .unwrap()
            .access_token;
        let padded = format!("{valid}{}", "A".repeat(12 * 1024));
        assert_refused(&service, &padded, "token_invalid").await;
    }

    #[tokio::test]
    async fn a_token_of_the_previous_key_still_verifies() {
        let old = key("v1", SECRET);
        let token = sign(&old, &claims(&service())).unwrap();
        let rotated = service_with(key("v2", "the-new-key-after-rotation-32-bytes+"), Some(old));
        assert!(rotated.verify(&token).await.is_ok());
    }

    #[test]
    fn keys_shorter_than_256_bits_are_refused() {
        assert!(SigningKey::new("v1", "short").is_err());
    }
}
