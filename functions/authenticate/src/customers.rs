//! Customers: signup and CPF / guest sign-in at a kiosk, their own record
//! (masked for a CPF-only session; whole, correctable and erasable for a
//! session verified by an e-mailed code, `verification.rs`), erasure, and
//! the admin's list.

use crate::State;
use crate::kiosks::{count_signin, kiosk_of};
use crate::tokens::{issue, issue_proven};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::customer::{CustomerChanges, NewCustomer};
use shared::domain::token::Amr;
use shared::domain::{CustomerId, Subject};
use shared::http::page::{Page, encode_cursor};
use shared::http::{Caller, json_body, json_response, page_params, path_param, query_param};
use shared::service::customers::erase;
use shared::store::directory::{Customer, CustomerRecord, CustomerSummary, CustomerView};
use shared::{Code, Cpf, Email, Error, PersonName, Result, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUp {
    cpf: String,
    name: String,
    email: String,
    #[serde(default)]
    marketing_opt_in: bool,
}

/// `PATCH /customers/me`: the fields to correct, validated as at signup.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Correction {
    name: Option<String>,
    email: Option<String>,
    marketing_opt_in: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CpfSignIn {
    cpf: String,
}

fn parse_cpf(raw: &str) -> Result<Cpf> {
    Cpf::parse(raw).map_err(|e| Error::validation(Code::InvalidCpf, e.to_string()))
}

fn parse_name(raw: &str) -> Result<PersonName> {
    PersonName::parse(raw).map_err(|e| Error::validation(Code::InvalidName, e.to_string()))
}

fn parse_email(raw: &str) -> Result<Email> {
    Email::parse(raw).map_err(|e| Error::validation(Code::InvalidEmail, e.to_string()))
}

/// A signup body becomes a [`NewCustomer`] only with every field valid.
impl TryFrom<SignUp> for NewCustomer {
    type Error = Error;

    fn try_from(body: SignUp) -> Result<Self> {
        Ok(NewCustomer {
            cpf: parse_cpf(&body.cpf)?,
            name: parse_name(&body.name)?,
            email: parse_email(&body.email)?,
            marketing_opt_in: body.marketing_opt_in,
        })
    }
}

impl TryFrom<Correction> for CustomerChanges {
    type Error = Error;

    fn try_from(body: Correction) -> Result<Self> {
        Ok(CustomerChanges {
            name: body.name.as_deref().map(parse_name).transpose()?,
            email: body.email.as_deref().map(parse_email).transpose()?,
            marketing_opt_in: body.marketing_opt_in,
        })
    }
}

#[tracing::instrument(skip_all)]
pub(crate) async fn sign_up(state: &State, request: &Request) -> Result<Response<Body>> {
    let (kiosk, _) = kiosk_of(request)?;
    let body: SignUp = json_body(request)?;
    count_signin(state, &kiosk).await?;
    let customer = state
        .directory
        .create_customer(&NewCustomer::try_from(body)?)
        .await?;
    tracing::info!(customer_id = %customer.id, "customer signed up");
    // The kiosk typed the data; what it gets back is masked all the same.
    Ok(json_response(201, &CustomerSummary::from(&customer)))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn authenticate_customer(
    state: &State,
    request: &Request,
) -> Result<Response<Body>> {
    let (kiosk, scope) = kiosk_of(request)?;
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
    // A CPF typed at a kiosk: enough to order, not to see the person's data.
    let token = issue_proven(state, &subject, Role::Customer, &scope, &[Amr::Cpf], None).await?;
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
pub(crate) async fn authenticate_guest(state: &State, request: &Request) -> Result<Response<Body>> {
    let (kiosk, scope) = kiosk_of(request)?;
    // Guest sessions count toward the kiosk's sign-ins too: each may place
    // orders and QR codes, so a stolen kiosk secret must not mint them freely.
    count_signin(state, &kiosk).await?;
    // Every guest session is its own subject: guests never share orders.
    let subject = Subject::new_guest();
    let token = issue(state, &subject, Role::Guest, &scope).await?;
    tracing::info!(sub = %subject, "guest authenticated");
    Ok(json_response(200, &token))
}

/// The calling customer: only a customer token gets past here.
pub(crate) fn customer_caller(request: &Request) -> Result<(Caller, CustomerId)> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Customer])?;
    let id = caller
        .subject
        .customer_id()
        .cloned()
        .ok_or_else(Error::unauthorized_caller)?;
    Ok((caller, id))
}

/// The calling customer, whose session must be verified by an e-mailed code
/// (403 `verification_required` for a CPF-only one).
fn verified_customer(request: &Request) -> Result<CustomerId> {
    let (caller, id) = customer_caller(request)?;
    if caller.is_verified_customer() {
        Ok(id)
    } else {
        Err(verification_required())
    }
}

fn verification_required() -> Error {
    Error::forbidden(
        Code::VerificationRequired,
        "confirm the code e-mailed to you first (POST /customers/me/verification)",
    )
}

pub(crate) async fn customer_record(state: &State, id: &CustomerId) -> Result<Customer> {
    state
        .directory
        .customer_by_id(id)
        .await?
        .ok_or_else(Error::customer_not_found)
}

/// `GET /customers/me` (customer): the whole record for a verified session;
/// first name, e-mail and CPF masked for a CPF-only one, which gets 403
/// `verification_required` if it asks for `?view=full`. 404 once erased.
#[tracing::instrument(skip_all)]
pub(crate) async fn own_record(state: &State, request: &Request) -> Result<Response<Body>> {
    let (caller, id) = customer_caller(request)?;
    let verified = caller.is_verified_customer();
    let full = match query_param(request, "view") {
        None => verified,
        Some("summary") => false,
        Some("full") if verified => true,
        Some("full") => return Err(verification_required()),
        Some(_) => return Err(Error::invalid_body("view is `full` or `summary`")),
    };
    let customer = customer_record(state, &id).await?;
    Ok(if full {
        json_response(200, &CustomerRecord::from(&customer))
    } else {
        json_response(200, &CustomerSummary::from(&customer))
    })
}

/// `PATCH /customers/me` (verified customer): corrects the name, the e-mail
/// (a new one is unverified) or the marketing choice; the record after.
#[tracing::instrument(skip_all)]
pub(crate) async fn correct_self(state: &State, request: &Request) -> Result<Response<Body>> {
    let id = verified_customer(request)?;
    let body: Correction = json_body(request)?;
    let mut changes = CustomerChanges::try_from(body)?;
    let mut customer = customer_record(state, &id).await?;
    // The same address again is no change: it stays verified.
    if changes
        .email
        .as_ref()
        .is_some_and(|e| e.as_str() == customer.email)
    {
        changes.email = None;
    }
    state.directory.update_customer(&customer, &changes).await?;
    if let Some(name) = changes.name {
        customer.name = name.as_str().to_owned();
    }
    if let Some(email) = changes.email {
        customer.email = email.as_str().to_owned();
        customer.email_verified = false;
    }
    if let Some(opt_in) = changes.marketing_opt_in {
        customer.marketing_opt_in = opt_in;
    }
    tracing::info!(customer_id = %customer.id, "customer corrected their record");
    Ok(json_response(200, &CustomerRecord::from(&customer)))
}

/// `DELETE /customers/me` (verified customer): erasure of one's own data.
#[tracing::instrument(skip_all)]
pub(crate) async fn erase_self(state: &State, request: &Request) -> Result<Response<Body>> {
    let id = verified_customer(request)?;
    erase(&state.directory, &state.orders, &id).await?;
    state.codes.forget(&id).await?;
    Ok(shared::http::empty_response(204))
}

/// `DELETE /customers/{id}` (admin): erasure at a customer's request made
/// elsewhere (at the counter, by e-mail).
#[tracing::instrument(skip_all)]
pub(crate) async fn erase_customer(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let id = path_param(request, "id")
        .and_then(CustomerId::parse)
        .ok_or_else(Error::customer_not_found)?;
    erase(&state.directory, &state.orders, &id).await?;
    // A code asked for and not confirmed holds the hash of their address.
    state.codes.forget(&id).await?;
    Ok(shared::http::empty_response(204))
}

const CUSTOMERS_CURSOR: &str = "customers";

/// `GET /customers` (admin): the customers for campaigns, CPF masked. Pages
/// hold at most 60 customers (Cognito's page size) whatever `limit` asks.
#[tracing::instrument(skip_all)]
pub(crate) async fn list_customers(state: &State, request: &Request) -> Result<Response<Body>> {
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
