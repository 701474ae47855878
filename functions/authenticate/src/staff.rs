//! Staff sign-in (Cognito user pool: the `kitchen` and `admin` groups).

use crate::State;
use crate::tokens::issue;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::Subject;
use shared::http::{json_body, json_response};
use shared::store::directory::StaffSignIn;
use shared::{Code, Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffCredentials {
    username: String,
    password: String,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn authenticate_staff(state: &State, request: &Request) -> Result<Response<Body>> {
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
