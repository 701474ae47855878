//! Customers: signup and CPF / guest sign-in at a kiosk, their own record,
//! erasure, and the admin's list.

use crate::State;
use crate::kiosks::{count_signin, kiosk_of};
use crate::tokens::issue;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::customer::NewCustomer;
use shared::domain::{CustomerId, Subject};
use shared::http::page::{Page, encode_cursor};
use shared::http::{Caller, json_body, json_response, page_params, path_param};
use shared::service::customers::erase;
use shared::store::directory::CustomerView;
use shared::{Code, Cpf, Email, Error, PersonName, Result, Role};

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
pub(crate) async fn sign_up(state: &State, request: &Request) -> Result<Response<Body>> {
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
pub(crate) async fn authenticate_customer(
    state: &State,
    request: &Request,
) -> Result<Response<Body>> {
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
pub(crate) async fn authenticate_guest(state: &State, request: &Request) -> Result<Response<Body>> {
    let kiosk = kiosk_of(request)?;
    // Guest sessions count toward the kiosk's sign-ins too: each may place
    // orders and QR codes, so a stolen kiosk secret must not mint them freely.
    count_signin(state, &kiosk).await?;
    // Every guest session is its own subject: guests never share orders.
    let subject = Subject::new_guest();
    let token = issue(state, &subject, Role::Guest, Some(&kiosk)).await?;
    tracing::info!(sub = %subject, "guest authenticated");
    Ok(json_response(200, &token))
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
pub(crate) async fn own_record(state: &State, request: &Request) -> Result<Response<Body>> {
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
pub(crate) async fn erase_self(state: &State, request: &Request) -> Result<Response<Body>> {
    let id = own_customer_id(request)?;
    erase(&state.directory, &state.orders, &id).await?;
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
