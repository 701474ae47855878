//! Issuing the API's access tokens: claims for a subject in a role, signed
//! with the newest private key the verifiers were deployed with. The keys
//! come through the [`SigningKeys`] port (the key cache of `store::keys` over
//! Secrets Manager in `authenticate`).

use crate::Role;
use crate::clock::now_unix;
use crate::domain::Subject;
use crate::domain::jwk::PrivateKey;
use crate::domain::jwk::PublicKeys;
use crate::domain::keys::KeyError;
use crate::domain::token::{
    Amr, Claims, IssuedToken, Scope, TokenError, TokenSettings, Verifier, sign,
};
use crate::service::ports::SigningKeys;
use std::time::Duration;

/// Issues tokens (and verifies them, like any verifier).
pub struct TokenService<K> {
    /// The secret holding the private JWK: `AWSCURRENT` and `AWSPREVIOUS`.
    signing: K,
    verifier: Verifier,
    settings: TokenSettings,
}

impl<K: SigningKeys> TokenService<K> {
    pub fn new(signing: K, public: PublicKeys, settings: TokenSettings) -> Self {
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

    /// Signs a token for `subject` in `role`, valid from now for the role's lifetime.
    pub async fn issue(
        &self,
        subject: &Subject,
        role: Role,
        scope: &Scope,
    ) -> Result<IssuedToken, TokenError> {
        self.issue_proven(subject, role, scope, &[], None).await
    }

    /// [`Self::issue`], carrying how the subject proved who they are (`amr`)
    /// and, when given, a lifetime shorter than the role's.
    pub async fn issue_proven(
        &self,
        subject: &Subject,
        role: Role,
        scope: &Scope,
        amr: &[Amr],
        ttl: Option<Duration>,
    ) -> Result<IssuedToken, TokenError> {
        let key = self.signing_key().await?;
        let role_ttl = self.settings.ttl_for(role);
        let ttl = ttl.map_or(role_ttl, |ttl| ttl.min(role_ttl));
        let now = now_unix();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: subject.to_string(),
            role,
            store_id: scope.store_id.as_ref().map(|s| s.as_str().to_owned()),
            kiosk_id: scope.kiosk_id.as_ref().map(|k| k.as_str().to_owned()),
            pos_id: scope.pos_id.as_ref().map(|p| p.as_str().to_owned()),
            amr: amr.to_vec(),
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
            if self.verifier.public_keys().find(&key.kid) == Some(&key.public()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::jwk::PublicKey;
    use crate::domain::keys::{KeySet, SigningKey};
    use crate::domain::token::{ALGORITHM, TOKEN_TYPE, eddsa};
    use crate::domain::{KioskId, StoreId};
    use crate::service::testing::FixedKeys;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::{Hmac, Mac};
    use jsonwebtoken::{EncodingKey, Header};
    use std::time::Duration;

    fn who(role: Role, sub: &str) -> Subject {
        Subject::of(role, sub).unwrap()
    }

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
    ) -> TokenService<FixedKeys> {
        let ring = FixedKeys(KeySet {
            current: version("v-current", current),
            previous: previous.map(|k| version("v-previous", k)),
        });
        let public = PublicKeys::new(published.iter().map(|k| k.public()).collect()).unwrap();
        TokenService::new(ring, public, settings())
    }

    fn service() -> TokenService<FixedKeys> {
        service_with(&key(1), None, &[&key(1)])
    }

    fn claims() -> Claims {
        let now = now_unix();
        Claims {
            iss: "kiosk-test".into(),
            aud: "kiosk-api".into(),
            sub: "guest:1".into(),
            role: Role::Guest,
            store_id: None,
            kiosk_id: None,
            pos_id: None,
            amr: Vec::new(),
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: "j".into(),
        }
    }

    fn assert_refused(service: &TokenService<FixedKeys>, token: &str, expected: &str) {
        match service.verify(token) {
            Err(e) => assert_eq!(e.code().as_str(), expected, "token {token:.60}"),
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
            .issue(
                &who(Role::Customer, "cognito-sub"),
                Role::Customer,
                &Scope::kiosk(
                    StoreId::parse("7d1e4b2a").unwrap(),
                    KioskId::parse("0c3d2e1f").unwrap(),
                ),
            )
            .await
            .unwrap();
        assert_eq!(issued.expires_in, 3600);
        let claims = service.verify(&issued.access_token).unwrap();
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.role,
                claims.store_id.as_deref(),
                claims.kiosk_id.as_deref()
            ),
            (
                "cognito-sub",
                Role::Customer,
                Some("7d1e4b2a"),
                Some("0c3d2e1f")
            )
        );
        assert_eq!(claims.exp - claims.iat, 3600);
        let payload = B64.decode(&segments(&issued.access_token)[1]).unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let mut names: Vec<_> = payload.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "aud", "exp", "iat", "iss", "jti", "kiosk_id", "nbf", "role", "store_id", "sub"
            ]
        );
    }

    #[tokio::test]
    async fn the_header_is_eddsa_at_jwt_with_the_key_thumbprint() {
        let issued = service()
            .issue(&who(Role::Admin, "a"), Role::Admin, &Scope::chain())
            .await
            .unwrap();
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
        skewed.iat = now_unix() + 5;
        assert!(service().verify(&sign(&key(1), &skewed).unwrap()).is_ok());
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused() {
        // Valid now by `nbf` and `exp`, but issued an hour from now.
        let mut future = claims();
        future.iat = now_unix() + 3600;
        assert_refused(
            &service(),
            &sign(&key(1), &future).unwrap(),
            "token_invalid",
        );
        // Just past the leeway is refused too; within it is not (above).
        future.iat = now_unix() + crate::domain::token::LEEWAY_SECONDS.cast_signed() + 5;
        assert_refused(
            &service(),
            &sign(&key(1), &future).unwrap(),
            "token_invalid",
        );
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
            .issue(&who(Role::Guest, "guest:1"), Role::Guest, &Scope::chain())
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
            .issue(&who(Role::Admin, "a"), Role::Admin, &Scope::chain())
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
        assert_eq!(header.kid, Some(one.kid.clone()));
        let deployed = service_with(&two, Some(&one), &[&two, &one]);
        let issued = deployed
            .issue(&who(Role::Admin, "a"), Role::Admin, &Scope::chain())
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
        assert_eq!(header.kid, Some(two.kid.clone()));
    }

    #[tokio::test]
    async fn signing_with_no_published_key_fails_without_a_token() {
        let lost = service_with(&key(3), Some(&key(2)), &[&key(1)]);
        let error = lost
            .issue(&who(Role::Admin, "a"), Role::Admin, &Scope::chain())
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::Keys(KeyError::Unpublished)));
        let broken = FixedKeys(KeySet {
            current: SigningKey::new("v", "not a JWK but long enough to be a secret").unwrap(),
            previous: None,
        });
        let broken = TokenService::new(
            broken,
            PublicKeys::new(vec![key(1).public()]).unwrap(),
            settings(),
        );
        let error = broken
            .issue(&who(Role::Admin, "a"), Role::Admin, &Scope::chain())
            .await
            .unwrap_err();
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
