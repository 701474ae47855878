//! `authenticate`: enrolled kiosks and their tokens; signup, CPF and guest
//! sign-in (a kiosk's alone, counted per kiosk); staff sign-in; token
//! validation and the JWKS; the admin's list of customers.

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::config::{ConfigError, Env, TokenConfig};
use shared::domain::customer::NewCustomer;
use shared::domain::kiosk::MAX_KIOSK_NAME_CHARS;
use shared::domain::token::{IssuedToken, TokenError};
use shared::domain::{CustomerId, KioskId, Subject};
use shared::http::error::ErrorBody;
use shared::http::page::{Page, encode_cursor};
use shared::http::{Caller, bearer, json_body, json_response, page_params, path_param, route};
use shared::service::customers::erase;
use shared::service::tokens::TokenService;
use shared::store::directory::{CustomerView, Directory, StaffSignIn};
use shared::store::keys::{KeyRing, KeySource};
use shared::store::kiosks::KioskStore;
use shared::store::orders::OrderStore;
use shared::store::secrets::SecretVersions;
use shared::{Code, Cpf, Email, Error, PersonName, Result, Role};

pub struct State {
    pub directory: Directory,
    pub tokens: TokenService<KeyRing>,
    pub kiosks: KioskStore,
    /// The orders, for erasure: their owner is replaced (LGPD).
    pub orders: OrderStore,
    /// `KIOSK_SIGNINS_PER_MINUTE` (30): CPF sign-ins plus signups a kiosk may
    /// make in a minute.
    pub signins_per_minute: u32,
}

impl shared::lambda::Function for State {
    /// Builds the clients once, from `USER_POOL_ID`, `USER_POOL_CLIENT_ID`,
    /// `KIOSKS_TABLE`, `KIOSK_SIGNINS_PER_MINUTE` and the token settings
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
        let orders = OrderStore::new(dynamodb, env.required("ORDERS_TABLE")?);
        let signins_per_minute = env.count_or("KIOSK_SIGNINS_PER_MINUTE", 30)?;
        Ok(Self {
            directory,
            tokens,
            kiosks,
            orders,
            signins_per_minute,
        })
    }

    /// Routes on API Gateway's resource path.
    async fn handle(&self, request: Request) -> Response<Body> {
        let result = match route(&request) {
            ("POST", "/customers") => sign_up(self, &request).await,
            ("GET", "/customers") => list_customers(self, &request).await,
            ("GET", "/customers/me") => own_record(self, &request).await,
            ("DELETE", "/customers/me") => erase_self(self, &request).await,
            ("DELETE", "/customers/{id}") => erase_customer(self, &request).await,
            ("POST", "/auth") => authenticate_customer(self, &request).await,
            ("POST", "/auth/guest") => authenticate_guest(self, &request).await,
            ("POST", "/auth/kiosk") => authenticate_kiosk(self, &request).await,
            ("POST", "/kiosks") => enrol_kiosk(self, &request).await,
            ("GET", "/kiosks") => list_kiosks(self, &request).await,
            ("DELETE", "/kiosks/{id}") => revoke_kiosk(self, &request).await,
            ("POST", "/auth/staff") => authenticate_staff(self, &request).await,
            ("POST", "/validate") => return validate(self, &request),
            ("GET", "/.well-known/jwks.json") => return jwks(self),
            _ => Err(Error::route_not_found()),
        };
        result.unwrap_or_else(Error::into_response)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUp {
    cpf: String,
    name: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CpfSignIn {
    cpf: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffCredentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KioskCredentials {
    kiosk_id: String,
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKiosk {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    /// Absent (`{}`) is a missing token: 401 `token_missing`, like no body.
    #[serde(default)]
    token: Option<String>,
}

fn parse_cpf(raw: &str) -> Result<Cpf> {
    Cpf::parse(raw).map_err(|e| Error::validation(Code::InvalidCpf, e.to_string()))
}

/// A signup body becomes a [`NewCustomer`] only with every field valid.
impl TryFrom<SignUp> for NewCustomer {
    type Error = Error;

    fn try_from(body: SignUp) -> Result<Self> {
        Ok(NewCustomer {
            cpf: parse_cpf(&body.cpf)?,
            name: PersonName::parse(&body.name)
                .map_err(|e| Error::validation(Code::InvalidName, e.to_string()))?,
            email: Email::parse(&body.email)
                .map_err(|e| Error::validation(Code::InvalidEmail, e.to_string()))?,
        })
    }
}

#[tracing::instrument(skip_all)]
async fn sign_up(state: &State, request: &Request) -> Result<Response<Body>> {
    let kiosk = kiosk_of(request)?;
    let body: SignUp = json_body(request)?;
    count_signin(state, &kiosk).await?;
    let customer = state
        .directory
        .create_customer(&NewCustomer::try_from(body)?)
        .await?;
    tracing::info!(customer_id = %customer.id, "customer signed up");
    Ok(json_response(201, &CustomerView::from(&customer)))
}

#[tracing::instrument(skip_all)]
async fn authenticate_customer(state: &State, request: &Request) -> Result<Response<Body>> {
    let kiosk = kiosk_of(request)?;
    let body: CpfSignIn = json_body(request)?;
    count_signin(state, &kiosk).await?;
    let cpf = parse_cpf(&body.cpf)?;
    let customer = state
        .directory
        .find_customer(&cpf)
        .await?
        .ok_or_else(|| Error::not_found(Code::CustomerNotFound, "no customer has this CPF"))?;
    if !customer.enabled {
        return Err(Error::forbidden(
            Code::CustomerDisabled,
            "this customer is disabled",
        ));
    }
    let subject = Subject::Customer(customer.id.clone());
    let token = issue(state, &subject, Role::Customer, Some(&kiosk)).await?;
    tracing::info!(customer_id = %customer.id, kiosk_id = %kiosk, "customer authenticated");
    // The greeting's first name comes in the answer, never in the token.
    let first_name = customer.first_name();
    Ok(json_response(
        200,
        &serde_json::json!({
            "access_token": token.access_token,
            "token_type": token.token_type,
            "expires_in": token.expires_in,
            "customer": {"first_name": first_name},
        }),
    ))
}

#[tracing::instrument(skip_all)]
async fn authenticate_guest(state: &State, request: &Request) -> Result<Response<Body>> {
    let kiosk = kiosk_of(request)?;
    // Every guest session is its own subject: guests never share orders.
    let subject = Subject::new_guest();
    let token = issue(state, &subject, Role::Guest, Some(&kiosk)).await?;
    tracing::info!(sub = %subject, "guest authenticated");
    Ok(json_response(200, &token))
}

#[tracing::instrument(skip_all)]
async fn authenticate_staff(state: &State, request: &Request) -> Result<Response<Body>> {
    let body: StaffCredentials = json_body(request)?;
    let invalid = || Error::unauthorized(Code::InvalidCredentials, "wrong username or password");
    if body.username.is_empty()
        || body.username.len() > 128
        || body.password.is_empty()
        || body.password.len() > 256
    {
        return Err(invalid());
    }
    match state
        .directory
        .sign_in_staff(&body.username, &body.password)
        .await?
    {
        StaffSignIn::SignedIn(staff) => {
            let token = issue(state, &Subject::Staff(staff.id.clone()), staff.role, None).await?;
            tracing::info!(staff_id = %staff.id, role = %staff.role, "staff authenticated");
            Ok(json_response(200, &token))
        }
        StaffSignIn::InvalidCredentials => Err(invalid()),
        StaffSignIn::PasswordChangeRequired => Err(Error::forbidden(
            Code::PasswordChangeRequired,
            "this password must be changed before use",
        )),
        StaffSignIn::NotStaff => Err(Error::forbidden(
            Code::NotStaff,
            "this user is not kitchen or admin staff",
        )),
    }
}

/// The kiosk calling a kiosk route: only a kiosk token gets here (401
/// without a token is the authorizer's; another role is 403).
fn kiosk_of(request: &Request) -> Result<KioskId> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Kiosk])?;
    caller.kiosk_id.ok_or_else(Error::unauthorized_caller)
}

/// One CPF sign-in or signup of `kiosk`, or 429 past its limit this minute.
async fn count_signin(state: &State, kiosk: &KioskId) -> Result<()> {
    match state
        .kiosks
        .count_signin(
            kiosk.as_str(),
            state.signins_per_minute,
            shared::clock::now(),
        )
        .await?
    {
        Ok(()) => Ok(()),
        Err(retry_after) => {
            tracing::warn!(kiosk_id = %kiosk, "kiosk over its sign-ins per minute");
            Err(Error::TooManyRequests { retry_after })
        }
    }
}

/// `POST /auth/kiosk`: an enrolled kiosk's token. An unknown kiosk, a wrong
/// secret and a revoked kiosk answer alike.
#[tracing::instrument(skip_all)]
async fn authenticate_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    let body: KioskCredentials = json_body(request)?;
    let Some(kiosk) = state
        .kiosks
        .authenticate(&body.kiosk_id, &body.secret)
        .await?
    else {
        return Err(Error::unauthorized(
            Code::InvalidCredentials,
            "unknown kiosk or wrong secret",
        ));
    };
    let token = issue(
        state,
        &Subject::Kiosk(kiosk.id.clone()),
        Role::Kiosk,
        Some(&kiosk.id),
    )
    .await?;
    tracing::info!(kiosk_id = %kiosk.id, "kiosk authenticated");
    Ok(json_response(200, &token))
}

/// `POST /kiosks` (admin): enrols a kiosk; its secret is in this answer only.
#[tracing::instrument(skip_all)]
async fn enrol_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let body: NewKiosk = json_body(request)?;
    let name = shared::domain::text::clean(&body.name, MAX_KIOSK_NAME_CHARS).map_err(|_| {
        Error::validation(
            Code::InvalidName,
            "a kiosk name has 1 to 100 characters and no control or invisible formatting characters",
        )
    })?;
    let enrolled = state.kiosks.enrol(&name).await?;
    tracing::info!(kiosk_id = %enrolled.kiosk.id, "kiosk enrolled");
    Ok(json_response(201, &enrolled))
}

/// The calling customer's id: only a customer token gets past here.
fn own_customer_id(request: &Request) -> Result<CustomerId> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Customer])?;
    caller
        .subject
        .customer_id()
        .cloned()
        .ok_or_else(Error::unauthorized_caller)
}

/// `GET /customers/me` (customer): the record the directory holds, CPF
/// masked; 404 once erased.
#[tracing::instrument(skip_all)]
async fn own_record(state: &State, request: &Request) -> Result<Response<Body>> {
    let id = own_customer_id(request)?;
    let customer = state
        .directory
        .customer_by_id(&id)
        .await?
        .ok_or_else(Error::customer_not_found)?;
    Ok(json_response(200, &CustomerView::from(&customer)))
}

/// `DELETE /customers/me` (customer): erasure of one's own data.
#[tracing::instrument(skip_all)]
async fn erase_self(state: &State, request: &Request) -> Result<Response<Body>> {
    let id = own_customer_id(request)?;
    erase(&state.directory, &state.orders, &id).await?;
    Ok(shared::http::empty_response(204))
}

/// `DELETE /customers/{id}` (admin): erasure at a customer's request made
/// elsewhere (at the counter, by e-mail).
#[tracing::instrument(skip_all)]
async fn erase_customer(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let id = path_param(request, "id")
        .and_then(CustomerId::parse)
        .ok_or_else(Error::customer_not_found)?;
    erase(&state.directory, &state.orders, &id).await?;
    Ok(shared::http::empty_response(204))
}

const KIOSKS_CURSOR: &str = "kiosks";

/// `GET /kiosks` (admin): the kiosks, never a secret.
#[tracing::instrument(skip_all)]
async fn list_kiosks(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let (limit, after) = page_params::<String>(request, KIOSKS_CURSOR)?;
    let (items, next) = state.kiosks.list(limit, after).await?;
    Ok(json_response(
        200,
        &Page {
            items,
            next_cursor: next.map(|n| encode_cursor(KIOSKS_CURSOR, &n)),
        },
    ))
}

/// `DELETE /kiosks/{id}` (admin): revoked for good; its tokens die with
/// their 15 minutes, and it gets no new one.
#[tracing::instrument(skip_all)]
async fn revoke_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let not_found = || Error::not_found(Code::KioskNotFound, "no such kiosk");
    let id = path_param(request, "id")
        .and_then(KioskId::parse)
        .ok_or_else(not_found)?;
    if !state.kiosks.revoke(&id).await? {
        return Err(not_found());
    }
    tracing::info!(kiosk_id = %id, "kiosk revoked");
    Ok(shared::http::empty_response(204))
}

async fn issue(
    state: &State,
    subject: &Subject,
    role: Role,
    kiosk_id: Option<&KioskId>,
) -> Result<IssuedToken> {
    state
        .tokens
        .issue(subject, role, kiosk_id)
        .await
        .map_err(|e| match e {
            TokenError::Keys(e) => Error::from(e),
            e => Error::internal(e),
        })
}

#[derive(Serialize)]
struct Validation<'a, C: Serialize> {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<C>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody<'a>>,
}

/// `GET /.well-known/jwks.json`: the public keys tokens verify with (current
/// and previous), from the function's own configuration: no network call.
fn jwks(state: &State) -> Response<Body> {
    let mut response = Response::new(Body::from(state.tokens.verifier().public_keys().to_jwks()));
    *response.status_mut() = http::StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    // Keys change only with a deploy; verifiers elsewhere may cache them a while.
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `POST /validate`: the token from the body, else from `Authorization`.
#[tracing::instrument(skip_all)]
fn validate(state: &State, request: &Request) -> Response<Body> {
    let from_body = if request.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match json_body::<ValidateBody>(request) {
            Ok(body) => body.token,
            Err(e) => return e.into_response(),
        }
    };
    let token = from_body.or_else(|| {
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .map(str::to_owned)
    });
    let verified = match token {
        Some(token) => state.tokens.verify(&token),
        None => Err(TokenError::Missing),
    };
    match verified {
        Ok(claims) => json_response(
            200,
            &Validation::<_> {
                valid: true,
                claims: Some(claims),
                error: None,
            },
        ),
        Err(TokenError::Keys(e)) => Error::from(e).into_response(),
        Err(e) => {
            tracing::info!(reason = e.code().as_str(), "token refused");
            let message = e.to_string();
            let error = ErrorBody::new(e.code(), &message);
            json_response(
                401,
                &Validation::<()> {
                    valid: false,
                    claims: None,
                    error: Some(error),
                },
            )
        }
    }
}

const CUSTOMERS_CURSOR: &str = "customers";

/// `GET /customers` (admin): the customers for campaigns, CPF masked. Pages
/// hold at most 60 customers (Cognito's page size) whatever `limit` asks.
#[tracing::instrument(skip_all)]
async fn list_customers(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let (limit, next_token) = page_params::<String>(request, CUSTOMERS_CURSOR)?;
    let page = state.directory.list_customers(limit, next_token).await?;
    Ok(json_response(
        200,
        &Page {
            items: page
                .customers
                .iter()
                .map(CustomerView::from)
                .collect::<Vec<_>>(),
            next_cursor: page.next_token.map(|t| encode_cursor(CUSTOMERS_CURSOR, &t)),
        },
    ))
}
