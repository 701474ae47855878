//! `authenticate`: enrolled kiosks and their tokens; signup, CPF and guest
//! sign-in (a kiosk's alone, counted per kiosk); staff sign-in; token
//! validation and the JWKS; the admin's list of customers.

mod customers;
mod kiosks;
mod staff;
mod tokens;
mod totp;
mod verification;

pub use staff::StaffMfa;

use lambda_http::{Body, Request, Response};
use shared::config::{ConfigError, Env, TokenConfig};
use shared::http::route;
use shared::service::tokens::TokenService;
use shared::store::codes::VerificationCodes;
use shared::store::directory::Directory;
use shared::store::keys::{KeyRing, KeySource};
use shared::store::kiosks::KioskStore;
use shared::store::mailer::Mailer;
use shared::store::orders::OrderStore;
use shared::store::secrets::SecretVersions;
use shared::store::sessions::SessionsTable;
use shared::store::stores::StoreStore;
use shared::{Error, Result};

pub struct State {
    pub directory: Directory,
    pub tokens: TokenService<KeyRing>,
    pub kiosks: KioskStore,
    /// The stores, read to enrol a kiosk at one.
    pub stores: StoreStore,
    /// The orders, for erasure: their owner is replaced (LGPD).
    pub orders: OrderStore,
    /// E-mailed codes and staff refresh tokens, as hashes.
    pub sessions: SessionsTable,
    /// Customers' e-mailed codes (in the sessions table).
    pub codes: VerificationCodes,
    /// SES, from the template's sender identity (`SES_SENDER`).
    pub mailer: Mailer,
    /// `KIOSK_SIGNINS_PER_MINUTE` (30): CPF sign-ins, signups and guest sessions a kiosk may
    /// make in a minute.
    pub signins_per_minute: u32,
    /// `STAFF_REFRESH_TTL_SECONDS` (43200): how long a staff refresh token lives.
    pub refresh_ttl: std::time::Duration,
    /// `STAFF_MFA` (`required`): whether staff must enrol TOTP.
    pub mfa: StaffMfa,
}

impl shared::lambda::Function for State {
    /// Builds the clients once, from `USER_POOL_ID`, `USER_POOL_CLIENT_ID`,
    /// `KIOSKS_TABLE`, `STORES_TABLE`, `ORDERS_TABLE`, `SESSIONS_TABLE`, `SES_SENDER`,
    /// `KIOSK_SIGNINS_PER_MINUTE`, `STAFF_REFRESH_TTL_SECONDS`, `STAFF_MFA`
    /// and the token settings
    /// ([`TokenConfig`]). No network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        let directory = Directory::new(
            aws_sdk_cognitoidentityprovider::Client::new(sdk),
            env.required("USER_POOL_ID")?,
            env.required("USER_POOL_CLIENT_ID")?,
        );
        let config = TokenConfig::from_env(env)?;
        // The private key is read lazily from the secret and cached.
        let keys = KeyRing::new(
            KeySource::SecretsManager(SecretVersions::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.secret_id,
            )),
            config.key_cache_ttl,
        );
        let tokens = TokenService::new(keys, config.public_keys, config.settings);
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let kiosks = KioskStore::new(dynamodb.clone(), env.required("KIOSKS_TABLE")?);
        let stores = StoreStore::new(dynamodb.clone(), env.required("STORES_TABLE")?);
        let orders = OrderStore::new(dynamodb.clone(), env.required("ORDERS_TABLE")?);
        let sessions = SessionsTable::new(dynamodb, env.required("SESSIONS_TABLE")?);
        let codes = VerificationCodes::new(sessions.clone());
        let mailer = Mailer::new(aws_sdk_sesv2::Client::new(sdk), env.required("SES_SENDER")?);
        let signins_per_minute = env.count_or("KIOSK_SIGNINS_PER_MINUTE", 30)?;
        let refresh_ttl = env.seconds_or("STAFF_REFRESH_TTL_SECONDS", 12 * 3600)?;
        let mfa = StaffMfa::parse(env.get("STAFF_MFA").as_deref()).ok_or(ConfigError::Invalid(
            "STAFF_MFA",
            "`required` or `optional`",
        ))?;
        Ok(Self {
            directory,
            tokens,
            kiosks,
            stores,
            orders,
            sessions,
            codes,
            mailer,
            signins_per_minute,
            refresh_ttl,
            mfa,
        })
    }

    /// Routes on API Gateway's resource path.
    async fn handle(&self, request: Request) -> Response<Body> {
        let result = match route(&request) {
            ("POST", "/customers") => customers::sign_up(self, &request).await,
            ("GET", "/customers") => customers::list_customers(self, &request).await,
            ("GET", "/customers/me") => customers::own_record(self, &request).await,
            ("PATCH", "/customers/me") => customers::correct_self(self, &request).await,
            ("DELETE", "/customers/me") => customers::erase_self(self, &request).await,
            ("POST", "/customers/me/verification") => {
                verification::request_code(self, &request).await
            }
            ("POST", "/customers/me/verification/confirm") => {
                verification::confirm_code(self, &request).await
            }
            ("DELETE", "/customers/{id}") => customers::erase_customer(self, &request).await,
            ("POST", "/auth") => customers::authenticate_customer(self, &request).await,
            ("POST", "/auth/guest") => customers::authenticate_guest(self, &request).await,
            ("POST", "/auth/kiosk") => kiosks::authenticate_kiosk(self, &request).await,
            ("POST", "/kiosks") => kiosks::enrol_kiosk(self, &request).await,
            ("GET", "/kiosks") => kiosks::list_kiosks(self, &request).await,
            ("DELETE", "/kiosks/{id}") => kiosks::revoke_kiosk(self, &request).await,
            ("POST", "/auth/staff") => staff::authenticate_staff(self, &request).await,
            ("POST", "/auth/staff/totp") => totp::verify(self, &request).await,
            ("POST", "/auth/staff/totp/setup") => totp::setup(self, &request).await,
            ("POST", "/auth/refresh") => staff::refresh(self, &request).await,
            ("POST", "/auth/logout") => staff::logout(self, &request).await,
            ("DELETE", "/staff/{username}/sessions") => staff::end_sessions(self, &request).await,
            ("POST", "/validate") => return tokens::validate(self, &request),
            ("GET", "/.well-known/jwks.json") => return tokens::jwks(self),
            _ => Err(Error::route_not_found()),
        };
        result.unwrap_or_else(Error::into_response)
    }
}
