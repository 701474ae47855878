//! Proof before personal data: a customer signed in by CPF asks for a code
//! e-mailed to the address on record, and confirming it opens a verified
//! session (`amr: ["cpf","otp"]`, 10 minutes) that may read, correct and
//! erase their data. The rules are `domain::verification`'s; each is held
//! by a conditional write in `store::codes`.

use crate::State;
use crate::customers::{customer_caller, customer_record};
use crate::kiosks::count_signin;
use crate::tokens::issue_proven;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::token::{Amr, Scope};
use shared::domain::verification::{
    CODE_TTL_SECONDS, OneTimeCode, VERIFIED_SESSION_SECONDS, address_digest,
};
use shared::domain::{CustomerId, KioskId, Subject};
use shared::http::{json_body, json_response};
use shared::store::codes::CodeCheck;
use shared::{Code, Error, Result, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirmation {
    code: String,
}

/// The calling customer, the kiosk their session runs on and its scope.
fn customer_on_kiosk(request: &Request) -> Result<(CustomerId, KioskId, Scope)> {
    let (caller, id) = customer_caller(request)?;
    let (kiosk, scope) = caller.kiosk_scope()?;
    Ok((id, kiosk, scope))
}

fn invalid_code() -> Error {
    Error::unauthorized(
        Code::InvalidCode,
        "wrong or expired code; check the e-mail or ask for a new one",
    )
}

/// `POST /customers/me/verification` (customer): a new code mailed to the
/// address on record, replacing any earlier one; 429 with `Retry-After`
/// within a minute of the last. Counted toward the kiosk's sign-ins.
#[tracing::instrument(skip_all)]
pub(crate) async fn request_code(state: &State, request: &Request) -> Result<Response<Body>> {
    let (id, kiosk, _) = customer_on_kiosk(request)?;
    // Each mail counts toward the kiosk's sign-ins: one kiosk cannot make SES
    // mail more than its per-minute limit.
    count_signin(state, &kiosk).await?;
    let customer = customer_record(state, &id).await?;
    if !customer.enabled {
        return Err(Error::forbidden(
            Code::CustomerDisabled,
            "this customer is disabled",
        ));
    }
    let issued = state
        .codes
        .issue(&id, &customer.email, shared::clock::now_unix())
        .await?
        .map_err(|retry_after| Error::Throttled {
            code: Code::TooManyRequests,
            message: "a code was sent less than a minute ago; wait before asking again".into(),
            retry_after: Some(retry_after),
        })?;
    if let Err(e) = state.mailer.send_code(&customer.email, &issued.code).await {
        // No mail, no code: the customer may ask again at once.
        if let Err(withdrawn) = state.codes.withdraw(&id, &issued).await {
            tracing::warn!(error = %withdrawn, "an unsent code could not be withdrawn");
        }
        return Err(e);
    }
    tracing::info!(customer_id = %id, "verification code sent");
    Ok(json_response(
        202,
        &serde_json::json!({
            "email": shared::domain::email::mask(&customer.email),
            "expires_in": CODE_TTL_SECONDS,
        }),
    ))
}

/// `POST /customers/me/verification/confirm` (customer): the right code
/// gives a verified token and marks the address verified; a wrong one is
/// 401 `invalid_code`, and the fifth spends the code (429
/// `too_many_attempts`). Every attempt counts toward the kiosk's sign-ins.
#[tracing::instrument(skip_all)]
pub(crate) async fn confirm_code(state: &State, request: &Request) -> Result<Response<Body>> {
    let (id, kiosk, scope) = customer_on_kiosk(request)?;
    let body: Confirmation = json_body(request)?;
    count_signin(state, &kiosk).await?;
    // Not six digits: no code we could have sent; nothing to count.
    let code = OneTimeCode::parse(&body.code).ok_or_else(invalid_code)?;
    match state
        .codes
        .check(&id, &code, shared::clock::now_unix())
        .await?
    {
        CodeCheck::Accepted { address_sha256 } => {
            let customer = customer_record(state, &id).await?;
            if !customer.enabled {
                return Err(Error::forbidden(
                    Code::CustomerDisabled,
                    "this customer is disabled",
                ));
            }
            // The code proves the address it was mailed to, not one set since.
            if address_digest(&customer.email) == address_sha256 && !customer.email_verified {
                state.directory.mark_email_verified(&customer).await?;
            }
            let token = issue_proven(
                state,
                &Subject::Customer(id.clone()),
                Role::Customer,
                &scope,
                &[Amr::Cpf, Amr::Otp],
                Some(std::time::Duration::from_secs(VERIFIED_SESSION_SECONDS)),
            )
            .await?;
            tracing::info!(customer_id = %id, kiosk_id = %kiosk, "customer verified");
            Ok(json_response(200, &token))
        }
        CodeCheck::Rejected => {
            tracing::info!(customer_id = %id, "wrong verification code");
            Err(invalid_code())
        }
        CodeCheck::Spent => {
            tracing::warn!(customer_id = %id, "verification code spent by wrong guesses");
            Err(Error::Throttled {
                code: Code::TooManyAttempts,
                message: "too many wrong codes; ask for a new one".into(),
                retry_after: None,
            })
        }
    }
}
