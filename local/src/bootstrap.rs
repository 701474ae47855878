//! Creates the template's resources in the emulator (moto), under a name
//! prefix so that several stacks (`make dev`, each test) live side by side.
//!
//! moto's CloudFormation skips Cognito and Secrets Manager resources, so the
//! bootstrap creates each resource itself from its definition in template.yaml.

use crate::template::{Refs, Template, TemplateError};
use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, AttributeDataType, ExplicitAuthFlowsType, MessageActionType,
    PasswordPolicyType, PreventUserExistenceErrorTypes, SchemaAttributeType,
    SoftwareTokenMfaConfigType, UserPoolMfaType, UserPoolPolicyType,
};
use yaml_serde::Value;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A staff user to create, with its password and group.
#[derive(Clone)]
pub struct StaffUser {
    pub username: String,
    pub password: String,
    /// `None`: a user with a password but in no group (tests of `not_staff`).
    pub group: Option<String>,
}

/// The local twin of a deployed stack: what `!Ref` and `!GetAtt` resolve to.
#[derive(Debug, Clone)]
pub struct LocalStack {
    pub prefix: String,
    pub refs: Refs,
}

/// The template parameter naming the SES identity codes are mailed from.
pub const SENDER_PARAMETER: &str = "SenderEmail";
/// The local stacks' sender, verified in the emulator's SES.
pub const LOCAL_SENDER: &str = "no-reply@kiosk.example.com";

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// Creates every resource the functions use and the staff users; returns the
/// references to resolve the functions' environment with.
pub async fn bootstrap(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    staff: &[StaffUser],
    overrides: &crate::Overrides,
) -> Result<LocalStack, BoxError> {
    let mut refs = Refs::default();
    for (name, value) in template.parameter_defaults() {
        refs.insert(name, value);
    }
    for (name, value) in &overrides.parameters {
        refs.insert(name.clone(), value.clone());
    }
    // Parameters without a default that every deploy names: the local
    // stack's own values, unless a caller set them.
    if !refs.values.contains_key(SENDER_PARAMETER) {
        refs.insert(SENDER_PARAMETER, LOCAL_SENDER);
    }
    refs.insert("Environment", "local");
    refs.insert("AWS::Region", REGION);
    refs.insert("AWS::AccountId", ACCOUNT);
    refs.insert("AWS::URLSuffix", "amazonaws.com");

    create_user_pool(sdk, template, prefix, &mut refs).await?;
    create_secrets(sdk, template, prefix, &overrides.secrets, &mut refs).await?;
    create_token_keys(sdk, template, prefix, &mut refs).await?;
    create_tables(sdk, template, prefix, &mut refs).await?;
    verify_sender(sdk, &refs).await?;
    let stack = LocalStack {
        prefix: prefix.to_owned(),
        refs,
    };
    create_staff(sdk, &stack, staff).await?;
    Ok(stack)
}

/// Verifies the sender identity in the emulator's SES (CreateEmailIdentity,
/// which the emulator takes as verified at once), as an environment's sender
/// is verified in SES before it deploys: the emulator refuses mail from an
/// unverified address as SES does. Each test stack verifies it again: the
/// call is idempotent there.
async fn verify_sender(sdk: &aws_config::SdkConfig, refs: &Refs) -> Result<(), BoxError> {
    let sender = refs
        .values
        .get(SENDER_PARAMETER)
        .ok_or("the stack has no sender address")?;
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await?;
    Ok(())
}

fn properties<'a>(template: &'a Template, kind: &'a str) -> Result<(&'a str, &'a Value), BoxError> {
    template
        .resources_of_type(kind)
        .next()
        .ok_or_else(|| format!("template.yaml declares no {kind}").into())
}

fn flag(value: &Value, key: &str) -> Option<bool> {
    value.get(key).and_then(Value::as_bool)
}

/// The pool's `MfaConfiguration` (`OFF`, `ON`, `OPTIONAL`), if it sets one.
fn pool_mfa(pool: &Value) -> Option<UserPoolMfaType> {
    pool.get("MfaConfiguration")
        .and_then(Value::as_str)
        .map(UserPoolMfaType::from)
}

async fn create_user_pool(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    refs: &mut Refs,
) -> Result<(), BoxError> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let (pool_id, pool) = properties(template, "AWS::Cognito::UserPool")?;
    let pool_properties = pool;
    let policy = pool
        .get("Policies")
        .and_then(|p| p.get("PasswordPolicy"))
        .unwrap_or(&Value::Null);
    let number = |key: &str| {
        policy
            .get(key)
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
    };
    let password_policy = PasswordPolicyType::builder()
        .set_minimum_length(number("MinimumLength"))
        .set_require_lowercase(flag(policy, "RequireLowercase"))
        .set_require_uppercase(flag(policy, "RequireUppercase"))
        .set_require_numbers(flag(policy, "RequireNumbers"))
        .set_require_symbols(flag(policy, "RequireSymbols"))
        .set_temporary_password_validity_days(number("TemporaryPasswordValidityDays"))
        .build();
    let admin_only = pool
        .get("AdminCreateUserConfig")
        .and_then(|c| flag(c, "AllowAdminCreateUserOnly"));
    // Custom attributes (`Schema`): String ones, mutable as declared.
    let schema = pool
        .get("Schema")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|attribute| {
            let name = attribute
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a Schema attribute has no Name")?;
            Ok(SchemaAttributeType::builder()
                .name(name)
                .attribute_data_type(AttributeDataType::String)
                .set_mutable(flag(attribute, "Mutable"))
                .build())
        })
        .collect::<Result<Vec<_>, BoxError>>()?;
    let created = cognito
        .create_user_pool()
        .pool_name(prefix)
        .set_schema((!schema.is_empty()).then_some(schema))
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(password_policy)
                .build(),
        )
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .set_allow_admin_create_user_only(admin_only)
                .build(),
        )
        .send()
        .await?;
    let pool = created
        .user_pool()
        .ok_or("CreateUserPool returned no pool")?;
    let id = pool.id().ok_or("CreateUserPool returned no id")?.to_owned();
    // MFA as the template configures it (staff TOTP: software tokens).
    if let Some(mfa) = pool_mfa(pool_properties) {
        let software_token = pool_properties
            .get("EnabledMfas")
            .and_then(Value::as_sequence)
            .is_some_and(|m| m.iter().any(|m| m.as_str() == Some("SOFTWARE_TOKEN_MFA")));
        cognito
            .set_user_pool_mfa_config()
            .user_pool_id(&id)
            .mfa_configuration(mfa)
            .set_software_token_mfa_configuration(
                software_token.then(|| SoftwareTokenMfaConfigType::builder().enabled(true).build()),
            )
            .send()
            .await?;
    }
    refs.insert(
        format!("{pool_id}.Arn"),
        pool.arn()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{id}")),
    );
    refs.insert(pool_id, id.clone());

    let (client_logical_id, client) = properties(template, "AWS::Cognito::UserPoolClient")?;
    let flows = client
        .get("ExplicitAuthFlows")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(ExplicitAuthFlowsType::from)
        .collect::<Vec<_>>();
    let prevent = client
        .get("PreventUserExistenceErrors")
        .and_then(Value::as_str)
        .map(PreventUserExistenceErrorTypes::from);
    let created = cognito
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name(format!("{prefix}-backend"))
        .generate_secret(flag(client, "GenerateSecret").unwrap_or(false))
        .set_explicit_auth_flows(Some(flows))
        .set_prevent_user_existence_errors(prevent)
        .send()
        .await?;
    let client_id = created
        .user_pool_client()
        .and_then(|c| c.client_id())
        .ok_or("CreateUserPoolClient returned no id")?;
    refs.insert(client_logical_id, client_id);

    for (group_id, group) in template.resources_of_type("AWS::Cognito::UserPoolGroup") {
        let name = group
            .get("GroupName")
            .and_then(Value::as_str)
            .ok_or("a UserPoolGroup has no GroupName")?;
        let description = group.get("Description").and_then(Value::as_str);
        cognito
            .create_group()
            .user_pool_id(&id)
            .group_name(name)
            .set_description(description.map(str::to_owned))
            .send()
            .await?;
        refs.insert(group_id, name);
    }
    Ok(())
}

async fn create_secrets(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    values: &std::collections::HashMap<String, String>,
    refs: &mut Refs,
) -> Result<(), BoxError> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    for (logical_id, secret) in template.resources_of_type("AWS::SecretsManager::Secret") {
        let generate = secret
            .get("GenerateSecretString")
            .ok_or_else(|| format!("{logical_id} has no GenerateSecretString"))?;
        let length = generate
            .get("PasswordLength")
            .and_then(Value::as_u64)
            .unwrap_or(32);
        let value = match values.get(logical_id) {
            Some(value) => value.clone(),
            None => random_alphanumeric(usize::try_from(length)?),
        };
        let created = secrets
            .create_secret()
            .name(format!("{prefix}/{logical_id}"))
            .secret_string(value)
            .send()
            .await?;
        refs.insert(
            logical_id,
            created.arn().ok_or("CreateSecret returned no ARN")?,
        );
    }
    Ok(())
}

/// The token key pair, made by the same code as `kiosk-tools keys generate`
/// under this stack's prefix, then every `AWS::SSM::Parameter::Value`
/// parameter read from SSM, as CloudFormation reads them at deploy time.
async fn create_token_keys(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    refs: &mut Refs,
) -> Result<(), BoxError> {
    let names = crate::keys::KeyNames::under(prefix);
    crate::keys::generate(sdk, &names).await?;
    refs.insert(SIGNING_KEY_PARAMETER, names.secret);
    refs.insert(PUBLIC_KEYS_PARAMETER, names.parameter);
    resolve_ssm_parameters(sdk, template, refs).await
}

/// The template parameters that name the token keys (their defaults are the
/// dev environment's names; the bootstrap points them at its own).
pub const SIGNING_KEY_PARAMETER: &str = "TokenSigningKeyName";
pub const PUBLIC_KEYS_PARAMETER: &str = "TokenPublicKeys";

/// Replaces each SSM-typed parameter's name with the parameter's value.
pub async fn resolve_ssm_parameters(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    refs: &mut Refs,
) -> Result<(), BoxError> {
    for name in template.ssm_parameters() {
        let parameter = refs
            .values
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("parameter {name} has no value"))?;
        let value = crate::keys::parameter(sdk, &parameter).await?;
        refs.insert(name, value);
    }
    Ok(())
}

async fn create_tables(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    refs: &mut Refs,
) -> Result<(), BoxError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let text = |value: &Value, key: &str| -> Result<String, BoxError> {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("table definition lacks {key}").into())
    };
    let key_schema = |value: &Value| -> Result<Vec<KeySchemaElement>, BoxError> {
        value
            .get("KeySchema")
            .and_then(Value::as_sequence)
            .ok_or("a KeySchema is missing")?
            .iter()
            .map(|k| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(text(k, "AttributeName")?)
                    .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                    .build()?)
            })
            .collect()
    };
    for (logical_id, table) in template.resources_of_type("AWS::DynamoDB::Table") {
        let attributes = table
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| format!("{logical_id} has no AttributeDefinitions"))?
            .iter()
            .map(|a| {
                Ok(AttributeDefinition::builder()
                    .attribute_name(text(a, "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(
                        text(a, "AttributeType")?.as_str(),
                    ))
                    .build()?)
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        let indexes = table
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|index| {
                let projection = index.get("Projection").ok_or("a GSI has no Projection")?;
                let non_key = projection
                    .get("NonKeyAttributes")
                    .and_then(Value::as_sequence)
                    .map(|attributes| {
                        attributes
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    });
                Ok(GlobalSecondaryIndex::builder()
                    .index_name(text(index, "IndexName")?)
                    .set_key_schema(Some(key_schema(index)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                text(projection, "ProjectionType")?.as_str(),
                            ))
                            .set_non_key_attributes(non_key)
                            .build(),
                    )
                    .build()?)
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        let name = format!("{prefix}-{logical_id}");
        let created = dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::from(text(table, "BillingMode")?.as_str()))
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(table)?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .send()
            .await?;
        let arn = created
            .table_description()
            .and_then(|t| t.table_arn())
            .ok_or("CreateTable returned no ARN")?;
        refs.insert(format!("{logical_id}.Arn"), arn);
        if let Some(ttl) = table.get("TimeToLiveSpecification") {
            use aws_sdk_dynamodb::types::TimeToLiveSpecification;
            let specification = TimeToLiveSpecification::builder()
                .attribute_name(text(ttl, "AttributeName")?)
                .enabled(flag(ttl, "Enabled").unwrap_or(false))
                .build()?;
            dynamodb
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(specification)
                .send()
                .await?;
        }
        refs.insert(logical_id, name);
    }
    Ok(())
}

/// Letters and digits from the OS random source (uuid v4 draws from it).
fn random_alphanumeric(length: usize) -> String {
    std::iter::repeat_with(|| uuid::Uuid::new_v4().simple().to_string())
        .flat_map(|s| s.into_bytes())
        .take(length)
        .map(char::from)
        .collect()
}

async fn create_staff(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
    staff: &[StaffUser],
) -> Result<(), BoxError> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let pool = stack.user_pool_id()?;
    for user in staff {
        cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(&user.username)
            .message_action(MessageActionType::Suppress)
            .send()
            .await?;
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(&user.username)
            .password(&user.password)
            .permanent(true)
            .send()
            .await?;
        if let Some(group) = &user.group {
            cognito
                .admin_add_user_to_group()
                .user_pool_id(pool)
                .username(&user.username)
                .group_name(group)
                .send()
                .await?;
        }
    }
    Ok(())
}

impl LocalStack {
    pub fn get(&self, name: &str) -> Result<&str, TemplateError> {
        self.refs
            .values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| TemplateError::Shape(format!("no {name} in the local stack")))
    }

    pub fn user_pool_id(&self) -> Result<&str, TemplateError> {
        self.get("UserPool")
    }
}
