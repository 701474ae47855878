//! Cognito, the directory of customers and staff.
//!
//! Customers are users whose username is `cpf:` and their CPF's 11 digits
//! (Cognito cannot look users up by a custom attribute, so the CPF is the
//! key), in the group `customers`. The prefix keeps customers and staff apart:
//! a staff username that happens to be a valid CPF is never found by a CPF
//! sign-in, and a signup with that CPF never touches the staff account.
//! Staff are users in the group `admin` or `kitchen` who sign in with a
//! password.

pub use crate::domain::customer::{
    Customer, CustomerChanges, CustomerRecord, CustomerSummary, CustomerView, NewCustomer,
};
use crate::domain::{CustomerId, StoreId};
use crate::service::ports::CustomerDirectory;
use crate::store::sdk::from_sdk;
use crate::{Code, Cpf, Error, Result, Role};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ChallengeNameType, MessageActionType,
    SoftwareTokenMfaSettingsType, VerifySoftwareTokenResponseType,
};

pub const CUSTOMERS_GROUP: &str = "customers";
/// The username prefix of customers.
const CUSTOMER_PREFIX: &str = "cpf:";

fn customer_username(cpf: &Cpf) -> String {
    format!("{CUSTOMER_PREFIX}{}", cpf.digits())
}
/// Cognito's own page size limit for ListUsersInGroup.
pub const COGNITO_MAX_PAGE: u16 = 60;

#[derive(Clone)]
pub struct Directory {
    client: Client,
    user_pool_id: String,
    client_id: String,
}

/// A staff member who signed in.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The Cognito `sub`: an opaque id, the token's subject (never the username).
    pub id: String,
    pub role: Role,
    /// The store of a `kitchen` or `manager` (`custom:store_id`); `None` when
    /// the attribute is unset or not a store id.
    pub store_id: Option<StoreId>,
}

/// The outcome of a staff sign-in that did not fail on the network.
#[derive(Debug)]
pub enum StaffSignIn {
    /// The password was right and Cognito asked for nothing more.
    SignedIn {
        staff: Staff,
        /// Cognito's access token of the user: what enrolling a TOTP
        /// device (AssociateSoftwareToken, VerifySoftwareToken) needs.
        cognito_access_token: String,
    },
    /// The password was right; the user has TOTP and Cognito wants a code
    /// (SOFTWARE_TOKEN_MFA), answered with this Cognito `Session`.
    TotpRequired { cognito_session: String },
    /// Unknown user, wrong password, disabled user: one answer for all.
    InvalidCredentials,
    /// The password is right but Cognito wants it changed first.
    PasswordChangeRequired,
    /// Right password, but the user is in neither `admin` nor `kitchen`.
    NotStaff,
}

/// A staff member as the directory holds them now.
#[derive(Debug, Clone)]
pub struct StaffAccount {
    /// The Cognito `sub`.
    pub id: String,
    /// From the groups; `None` outside every staff group.
    pub role: Option<Role>,
    /// `custom:store_id`, when it names a store id.
    pub store_id: Option<StoreId>,
    pub enabled: bool,
    /// Whether a TOTP device is enrolled (UserMFASettingList).
    pub totp: bool,
}

/// The outcome of a step that takes a TOTP code.
#[derive(Debug)]
pub enum TotpOutcome<T> {
    Done(T),
    /// Cognito refused the code.
    Wrong,
    /// The Cognito session or token behind the step is no longer good.
    Expired,
}

/// The signed-in staff member of Cognito's authentication result.
fn signed_in(result: &AuthenticationResultType, role: Role) -> Result<StaffSignIn> {
    // The user's `sub` and store, from the ID token Cognito just gave us
    // over TLS.
    let claims = result
        .id_token()
        .and_then(id_token_claims)
        .unwrap_or_default();
    let id = claims["sub"]
        .as_str()
        .filter(|sub| !sub.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::internal("Cognito's ID token carries no sub"))?;
    let store_id = claims[STORE_ID].as_str().and_then(StoreId::parse);
    let cognito_access_token = result
        .access_token()
        .ok_or_else(|| Error::internal("Cognito's answer carries no access token"))?
        .to_owned();
    Ok(StaffSignIn::SignedIn {
        staff: Staff { id, role, store_id },
        cognito_access_token,
    })
}

pub struct CustomerPage {
    pub customers: Vec<Customer>,
    pub next_token: Option<String>,
}

impl Directory {
    pub fn new(
        client: Client,
        user_pool_id: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
            client_id: client_id.into(),
        }
    }

    /// Creates the customer (no invitation is sent) and adds it to `customers`.
    /// An existing CPF is 409 `customer_exists` (and is put in the group, in
    /// case an earlier signup stopped between the two calls).
    pub async fn create_customer(&self, new: &NewCustomer) -> Result<Customer> {
        let NewCustomer {
            cpf,
            name,
            email,
            marketing_opt_in,
        } = new;
        let now = crate::clock::now_rfc3339();
        let attributes = attributes(&[
            ("name", name.as_str()),
            ("email", email.as_str()),
            (EMAIL_VERIFIED, "false"),
            (MARKETING_OPT_IN, flag(*marketing_opt_in)),
            (MARKETING_AT, &now),
        ])?;
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(customer_username(cpf))
            .set_user_attributes(Some(attributes))
            .message_action(MessageActionType::Suppress)
            .send()
            .await;
        let created = match created {
            Ok(created) => created,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_username_exists_exception()) =>
            {
                // A signup cut short between the two calls left the user outside
                // its group: joining is idempotent, so every retry completes it.
                self.join_customers(cpf).await?;
                return Err(Error::conflict(
                    Code::CustomerExists,
                    "a customer with this CPF already exists",
                ));
            }
            // The CPF is valid by now: what Cognito refuses is the e-mail or the name.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_parameter_exception()) =>
            {
                return Err(Error::validation(
                    Code::InvalidEmail,
                    "Cognito refused this e-mail address",
                ));
            }
            Err(e) => return Err(from_sdk(e)),
        };
        self.join_customers(cpf).await?;
        let user = created
            .user()
            .ok_or_else(|| Error::internal("AdminCreateUser returned no user"))?;
        customer_from(
            &customer_username(cpf),
            user.attributes(),
            user.enabled(),
            user.user_create_date(),
        )
        .ok_or_else(|| Error::internal("AdminCreateUser returned a user without a sub"))
    }

    async fn join_customers(&self, cpf: &Cpf) -> Result<()> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.user_pool_id)
            .username(customer_username(cpf))
            .group_name(CUSTOMERS_GROUP)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    /// The customer with this CPF, in one AdminGetUser round trip.
    pub async fn find_customer(&self, cpf: &Cpf) -> Result<Option<Customer>> {
        let result = self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(customer_username(cpf))
            .send()
            .await;
        match result {
            Ok(user) => Ok(customer_from(
                &customer_username(cpf),
                user.user_attributes(),
                user.enabled(),
                user.user_create_date(),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_user_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// Password sign-in of a staff member (ADMIN_USER_PASSWORD_AUTH), then the
    /// user's groups for the role (checked before a TOTP challenge too, so
    /// that a user outside the staff groups learns nothing more).
    pub async fn sign_in_staff(&self, username: &str, password: &str) -> Result<StaffSignIn> {
        let auth = self
            .client
            .admin_initiate_auth()
            .user_pool_id(&self.user_pool_id)
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await;
        let auth = match auth {
            Ok(auth) => auth,
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_not_authorized_exception()
                        || s.is_user_not_found_exception()
                        || s.is_user_not_confirmed_exception()
                        // A username or password Cognito cannot even parse.
                        || s.is_invalid_parameter_exception()
                }) =>
            {
                return Ok(StaffSignIn::InvalidCredentials);
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_password_reset_required_exception()) =>
            {
                return Ok(StaffSignIn::PasswordChangeRequired);
            }
            Err(e) => return Err(from_sdk(e)),
        };
        let totp = auth.challenge_name() == Some(&ChallengeNameType::SoftwareTokenMfa);
        if !totp && auth.authentication_result().is_none() {
            // Another challenge (NEW_PASSWORD_REQUIRED for a temporary password).
            return Ok(StaffSignIn::PasswordChangeRequired);
        }
        let Some(role) = self.staff_role(username).await? else {
            return Ok(StaffSignIn::NotStaff);
        };
        if totp {
            let cognito_session = auth
                .session()
                .ok_or_else(|| Error::internal("Cognito's TOTP challenge carries no session"))?;
            return Ok(StaffSignIn::TotpRequired {
                cognito_session: cognito_session.to_owned(),
            });
        }
        let result = auth
            .authentication_result()
            .ok_or_else(|| Error::internal("Cognito answered neither tokens nor a challenge"))?;
        signed_in(result, role)
    }

    /// The staff role of `username` from its groups; `None` outside them.
    async fn staff_role(&self, username: &str) -> Result<Option<Role>> {
        let groups = self
            .client
            .admin_list_groups_for_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(Role::from_staff_groups(
            groups.groups().iter().filter_map(|g| g.group_name()),
        ))
    }

    /// The staff member `username` as the directory holds them now: `None`
    /// for no such user and for customers (`cpf:` usernames). Two calls:
    /// AdminGetUser (enabled, `sub`, MFA settings) and AdminListGroupsForUser.
    pub async fn staff_account(&self, username: &str) -> Result<Option<StaffAccount>> {
        if username.is_empty() || username.len() > 128 || username.starts_with(CUSTOMER_PREFIX) {
            return Ok(None);
        }
        let user = self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await;
        let user = match user {
            Ok(user) => user,
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_user_not_found_exception() || s.is_invalid_parameter_exception()
                }) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(from_sdk(e)),
        };
        let Some(id) = user
            .user_attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .filter(|sub| !sub.is_empty())
        else {
            return Err(Error::internal(
                "AdminGetUser returned a user without a sub",
            ));
        };
        let totp = user
            .user_mfa_setting_list()
            .iter()
            .any(|m| m == "SOFTWARE_TOKEN_MFA");
        let store_id = user
            .user_attributes()
            .iter()
            .find(|a| a.name() == STORE_ID)
            .and_then(|a| a.value())
            .and_then(StoreId::parse);
        Ok(Some(StaffAccount {
            id: id.to_owned(),
            role: self.staff_role(user.username()).await?,
            store_id,
            enabled: user.enabled(),
            totp,
        }))
    }

    /// Signs the user out of Cognito everywhere (AdminUserGlobalSignOut):
    /// the Cognito tokens a sign-in step keeps (for TOTP enrolment) stop
    /// working. A user gone meanwhile is not an error.
    pub async fn sign_out_everywhere(&self, username: &str) -> Result<()> {
        let result = self
            .client
            .admin_user_global_sign_out()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_user_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// Starts enrolling a TOTP device (AssociateSoftwareToken) with the
    /// user's Cognito access token: the shared secret (base32).
    pub async fn associate_totp(&self, cognito_access_token: &str) -> Result<Option<String>> {
        let result = self
            .client
            .associate_software_token()
            .access_token(cognito_access_token)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.secret_code().map(str::to_owned)),
            // The Cognito access token expired or was signed out.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_authorized_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// Completes the enrolment: VerifySoftwareToken with `code`, then TOTP
    /// made the user's (preferred) MFA. `Wrong` for a code Cognito refuses.
    pub async fn enrol_totp(
        &self,
        username: &str,
        cognito_access_token: &str,
        code: &str,
    ) -> Result<TotpOutcome<()>> {
        let verified = self
            .client
            .verify_software_token()
            .access_token(cognito_access_token)
            .user_code(code)
            .friendly_device_name("kiosk-staff")
            .send()
            .await;
        match verified {
            Ok(out) if out.status() == Some(&VerifySoftwareTokenResponseType::Success) => {}
            Ok(_) => return Ok(TotpOutcome::Wrong),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_code_mismatch_exception()
                        || s.is_enable_software_token_mfa_exception()
                        || s.is_invalid_parameter_exception()
                }) =>
            {
                return Ok(TotpOutcome::Wrong);
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_authorized_exception()) =>
            {
                return Ok(TotpOutcome::Expired);
            }
            Err(e) => return Err(from_sdk(e)),
        }
        self.client
            .admin_set_user_mfa_preference()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(TotpOutcome::Done(()))
    }

    /// Answers Cognito's SOFTWARE_TOKEN_MFA challenge with `code`: the staff
    /// member signed in.
    pub async fn answer_totp(
        &self,
        username: &str,
        cognito_session: &str,
        code: &str,
    ) -> Result<TotpOutcome<Staff>> {
        let answered = self
            .client
            .admin_respond_to_auth_challenge()
            .user_pool_id(&self.user_pool_id)
            .client_id(&self.client_id)
            .challenge_name(ChallengeNameType::SoftwareTokenMfa)
            .session(cognito_session)
            .challenge_responses("USERNAME", username)
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
            .send()
            .await;
        let answered = match answered {
            Ok(answered) => answered,
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_code_mismatch_exception() || s.is_invalid_parameter_exception()
                }) =>
            {
                return Ok(TotpOutcome::Wrong);
            }
            // The session expired or was used (or the user was disabled).
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_not_authorized_exception()
                        || s.is_expired_code_exception()
                        || s.is_resource_not_found_exception()
                        || s.is_user_not_found_exception()
                }) =>
            {
                return Ok(TotpOutcome::Expired);
            }
            Err(e) => return Err(from_sdk(e)),
        };
        let Some(result) = answered.authentication_result() else {
            return Ok(TotpOutcome::Expired);
        };
        let Some(role) = self.staff_role(username).await? else {
            return Ok(TotpOutcome::Expired);
        };
        match signed_in(result, role)? {
            StaffSignIn::SignedIn { staff, .. } => Ok(TotpOutcome::Done(staff)),
            _ => Ok(TotpOutcome::Expired),
        }
    }

    /// The customer whose id (Cognito `sub`) is `id`: one ListUsers with a
    /// `sub` filter (Cognito's way to find a user by sub). Staff are never
    /// found: only `cpf:` usernames are customers.
    pub async fn customer_by_id(&self, id: &CustomerId) -> Result<Option<Customer>> {
        let id = id.as_str();
        // Our ids are UUIDs; anything else (quotes included) is nobody.
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Ok(None);
        }
        let found = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .filter(format!("sub = \"{id}\""))
            .limit(2)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(found
            .users()
            .iter()
            .find(|u| u.username().is_some_and(|n| n.starts_with(CUSTOMER_PREFIX)))
            .and_then(|u| {
                customer_from(
                    u.username().unwrap_or_default(),
                    u.attributes(),
                    u.enabled(),
                    u.user_create_date(),
                )
            }))
    }

    /// Corrects the customer's record (`PATCH /customers/me`): the fields
    /// given, in one AdminUpdateUserAttributes. A new e-mail is unverified; a
    /// new marketing choice is recorded with its time. An address Cognito
    /// refuses is 400 `invalid_email`.
    pub async fn update_customer(
        &self,
        customer: &Customer,
        changes: &CustomerChanges,
    ) -> Result<()> {
        let now = crate::clock::now_rfc3339();
        let mut changed: Vec<(&str, &str)> = Vec::new();
        if let Some(name) = &changes.name {
            changed.push(("name", name.as_str()));
        }
        if let Some(email) = &changes.email {
            changed.push(("email", email.as_str()));
            changed.push((EMAIL_VERIFIED, "false"));
        }
        if let Some(opt_in) = changes.marketing_opt_in {
            changed.push((MARKETING_OPT_IN, flag(opt_in)));
            changed.push((MARKETING_AT, &now));
        }
        if changed.is_empty() {
            return Ok(());
        }
        let updated = self
            .client
            .admin_update_user_attributes()
            .user_pool_id(&self.user_pool_id)
            .username(format!("{CUSTOMER_PREFIX}{}", customer.cpf_digits()))
            .set_user_attributes(Some(attributes(&changed)?))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_parameter_exception()) =>
            {
                Err(Error::validation(
                    Code::InvalidEmail,
                    "Cognito refused this e-mail address",
                ))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_user_not_found_exception()) =>
            {
                Err(Error::customer_not_found())
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// Records that the customer proved they hold their e-mail address.
    pub async fn mark_email_verified(&self, customer: &Customer) -> Result<()> {
        self.client
            .admin_update_user_attributes()
            .user_pool_id(&self.user_pool_id)
            .username(format!("{CUSTOMER_PREFIX}{}", customer.cpf_digits()))
            // The address with its flag, in one write: a correction that
            // landed since the code was checked is overwritten by the address
            // the code proved, never marked verified itself.
            .set_user_attributes(Some(attributes(&[
                ("email", customer.email.as_str()),
                (EMAIL_VERIFIED, "true"),
            ])?))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    /// Deletes the customer's directory record (LGPD erasure): the CPF is
    /// free for a new signup. Deleting one already gone is not an error.
    pub async fn delete_customer(&self, customer: &Customer) -> Result<()> {
        let deleted = self
            .client
            .admin_delete_user()
            .user_pool_id(&self.user_pool_id)
            .username(format!("{CUSTOMER_PREFIX}{}", customer.cpf_digits()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_user_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// A page of the `customers` group, at most [`COGNITO_MAX_PAGE`] long.
    pub async fn list_customers(
        &self,
        limit: u16,
        next_token: Option<String>,
    ) -> Result<CustomerPage> {
        let page = self
            .client
            .list_users_in_group()
            .user_pool_id(&self.user_pool_id)
            .group_name(CUSTOMERS_GROUP)
            .limit(i32::from(limit.clamp(1, COGNITO_MAX_PAGE)))
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_parameter_exception())
                {
                    Error::invalid_cursor()
                } else {
                    from_sdk(e)
                }
            })?;
        let customers = page
            .users()
            .iter()
            .filter_map(|u| {
                customer_from(
                    u.username().unwrap_or_default(),
                    u.attributes(),
                    u.enabled(),
                    u.user_create_date(),
                )
            })
            .collect();
        Ok(CustomerPage {
            customers,
            next_token: page.next_token().map(str::to_owned),
        })
    }
}

impl CustomerDirectory for Directory {
    async fn customer_by_id(&self, id: &CustomerId) -> Result<Option<Customer>> {
        Directory::customer_by_id(self, id).await
    }

    async fn delete_customer(&self, customer: &Customer) -> Result<()> {
        Directory::delete_customer(self, customer).await
    }
}

/// The claims of an ID token, read (not verified: it comes straight from
/// Cognito's answer to our own call).
fn id_token_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&payload).ok()
}

/// The custom attribute naming a `kitchen`'s or `manager`'s store.
const STORE_ID: &str = "custom:store_id";

/// Cognito's standard attribute: the address was proved (by our e-mailed code).
const EMAIL_VERIFIED: &str = "email_verified";
/// Custom attributes (template.yaml's `Schema`): the marketing choice and when
/// it was made (RFC 3339).
const MARKETING_OPT_IN: &str = "custom:marketing_opt_in";
const MARKETING_AT: &str = "custom:marketing_at";

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn attributes(pairs: &[(&str, &str)]) -> Result<Vec<AttributeType>> {
    pairs
        .iter()
        .map(|(n, v)| {
            AttributeType::builder()
                .name(*n)
                .value(*v)
                .build()
                .map_err(Error::internal)
        })
        .collect()
}

/// The customer of a directory user; `None` without a usable `sub`.
fn customer_from(
    username: &str,
    attributes: &[AttributeType],
    enabled: bool,
    created: Option<&aws_sdk_cognitoidentityprovider::primitives::DateTime>,
) -> Option<Customer> {
    let username = username.strip_prefix(CUSTOMER_PREFIX).unwrap_or(username);
    let attribute = |name: &str| {
        attributes
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .unwrap_or_default()
            .to_owned()
    };
    let mut customer = Customer::new(
        CustomerId::parse(&attribute("sub"))?,
        username,
        attribute("name"),
        attribute("email"),
        enabled,
    );
    customer.email_verified = attribute(EMAIL_VERIFIED) == "true";
    customer.marketing_opt_in = attribute(MARKETING_OPT_IN) == "true";
    customer.created_at =
        created.and_then(|at| time::OffsetDateTime::from_unix_timestamp(at.secs()).ok());
    Some(customer)
}
