//! Request parsing: the route, the caller, the body, parameters.

use super::parse::parse_json;
use crate::domain::token::{Amr, Scope};
use crate::domain::{KioskId, PosId, StoreId, Subject};
use crate::{Error, Result, Role};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

/// The request body as JSON of type `T`: see [`parse_json`].
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T> {
    parse_json(request.body().as_ref())
}

/// The API Gateway route of the request, as declared in the template:
/// (`GET`, `/products/{id}`). Routing on the resource, not the raw path, keeps the
/// stage prefix and path parameters out of the match.
pub fn route(request: &Request) -> (&str, &str) {
    let resource = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.resource_path.as_deref().unwrap_or(""),
        _ => "",
    };
    (request.method().as_str(), resource)
}

/// The caller as established by the API Gateway authorizer (never by the client:
/// API Gateway fills `requestContext.authorizer` from the authorizer's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: Subject,
    pub role: Role,
    /// The store the session belongs to (every role but `admin`).
    pub store_id: Option<StoreId>,
    /// The kiosk a kiosk, guest or customer session runs on.
    pub kiosk_id: Option<KioskId>,
    /// That kiosk's own Mercado Pago point of sale, if it has one.
    pub pos_id: Option<PosId>,
    /// How a customer proved who they are (the token's `amr`); empty for
    /// other roles.
    pub amr: Vec<Amr>,
}

impl Caller {
    pub fn from_request(request: &Request) -> Result<Self> {
        let unauthorized = Error::unauthorized_caller;
        let Some(RequestContext::ApiGatewayV1(ctx)) = request.request_context_ref() else {
            return Err(unauthorized());
        };
        let field = |name: &str| ctx.authorizer.fields.get(name).and_then(|v| v.as_str());
        let role: Role = field("role")
            .and_then(|r| r.parse().ok())
            .ok_or_else(unauthorized)?;
        let subject = field("sub")
            .and_then(|sub| Subject::of(role, sub))
            .ok_or_else(unauthorized)?;
        let store_id = match field("store_id") {
            Some(id) => Some(StoreId::parse(id).ok_or_else(unauthorized)?),
            None => None,
        };
        let kiosk_id = match field("kiosk_id") {
            Some(id) => Some(KioskId::parse(id).ok_or_else(unauthorized)?),
            None => None,
        };
        let pos_id = match field("pos_id") {
            Some(id) => Some(PosId::parse(id).ok_or_else(unauthorized)?),
            None => None,
        };
        let amr = match field("amr") {
            Some(list) => Amr::parse_list(list).ok_or_else(unauthorized)?,
            None => Vec::new(),
        };
        Ok(Self {
            subject,
            role,
            store_id,
            kiosk_id,
            pos_id,
            amr,
        })
    }

    /// The kiosk of a kiosk, guest or customer session and its store: the
    /// scope the tokens it gets are issued in. A session without both is not
    /// one our tokens make (401).
    pub fn kiosk_scope(&self) -> Result<(KioskId, Scope)> {
        match (&self.store_id, &self.kiosk_id) {
            (Some(store), Some(kiosk)) => {
                let scope = Scope::kiosk(store.clone(), kiosk.clone()).on_pos(self.pos_id.clone());
                Ok((kiosk.clone(), scope))
            }
            _ => Err(Error::unauthorized_caller()),
        }
    }

    /// A customer whose token was issued on a confirmed e-mailed code: the
    /// only session that may read, correct or erase the person's data.
    pub fn is_verified_customer(&self) -> bool {
        self.role == Role::Customer && self.amr.contains(&Amr::Otp)
    }

    pub fn require(&self, allowed: &[Role]) -> Result<()> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::role_forbidden())
        }
    }
}

/// `?limit=` and the position of `?cursor=` in the list named `kind`: the
/// page a list route is asked for (400 `invalid_limit`, `invalid_cursor`).
pub fn page_params<T: DeserializeOwned>(request: &Request, kind: &str) -> Result<(u16, Option<T>)> {
    let limit = super::page::parse_limit(query_param(request, "limit"))?;
    let after = query_param(request, "cursor")
        .map(|c| super::page::decode_cursor::<T>(kind, c))
        .transpose()?;
    Ok((limit, after))
}

pub fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

pub fn path_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.path_parameters_ref().and_then(|p| p.first(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A REST API proxy event carrying this authorizer context.
    fn request_with(authorizer: serde_json::Value) -> Request {
        let event = serde_json::json!({
            "resource": "/customers/me", "path": "/customers/me", "httpMethod": "GET",
            "headers": {}, "multiValueHeaders": {},
            "queryStringParameters": null, "multiValueQueryStringParameters": null,
            "pathParameters": null, "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123", "resourcePath": "/customers/me",
                "httpMethod": "GET", "stage": "dev", "requestId": "r1", "identity": {},
                "authorizer": authorizer,
            },
            "body": null, "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn customer(amr: Option<&str>) -> serde_json::Value {
        let mut context = serde_json::json!({"sub": "0a1b2c3d", "role": "customer", "kiosk_id": "3c9d1e2f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"});
        if let Some(amr) = amr {
            context["amr"] = amr.into();
        }
        context
    }

    #[test]
    fn only_a_customer_whose_token_carries_otp_is_a_verified_customer() {
        let verified = Caller::from_request(&request_with(customer(Some("cpf otp")))).unwrap();
        assert_eq!(verified.amr, [Amr::Cpf, Amr::Otp]);
        assert!(verified.is_verified_customer());
        for amr in [Some("cpf"), None] {
            let caller = Caller::from_request(&request_with(customer(amr))).unwrap();
            assert!(!caller.is_verified_customer(), "{amr:?}");
        }
        let staff = serde_json::json!({"sub": "admin", "role": "admin", "amr": "otp"});
        let staff = Caller::from_request(&request_with(staff)).unwrap();
        assert!(!staff.is_verified_customer());
    }

    #[test]
    fn an_unknown_authentication_method_is_no_caller() {
        let answer = Caller::from_request(&request_with(customer(Some("cpf sms"))));
        assert!(answer.is_err());
    }

    #[test]
    fn a_kiosk_sessions_point_of_sale_passes_on_to_the_sessions_it_opens() {
        let mut context = serde_json::json!({"sub": "guest:1", "role": "guest",
            "store_id": "7d1e4b2a", "kiosk_id": "3c9d1e2f", "pos_id": "SUC1POS2"});
        let caller = Caller::from_request(&request_with(context.clone())).unwrap();
        let (_, scope) = caller.kiosk_scope().unwrap();
        assert_eq!(scope.pos_id.as_ref().map(PosId::as_str), Some("SUC1POS2"));
        context["pos_id"] = "SUC-1".into();
        assert!(Caller::from_request(&request_with(context)).is_err());
    }
}
