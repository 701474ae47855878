//! An environment's token keys: where they live, the first pair, a
//! rotation. The local bootstrap makes each stack's keys with this code (under
//! the stack's prefix), the end-to-end tests rotate them with it, and
//! `kiosk-tools keys generate|rotate ENV` (`make keys`, `make rotate-keys`)
//! runs it for a deployed environment.
//!
//! An environment's token keys live in two places, both outside the stack
//! (CloudFormation cannot make an Ed25519 key):
//! - the **private key**, a JWK in the Secrets Manager secret
//!   `kiosk/<env>/token-signing-key` (`AWSCURRENT` signs; `AWSPREVIOUS` is the
//!   key before it). Only `authenticate` may read it.
//! - the **public keys** (current and previous), a JWKS in the SSM parameter
//!   `/kiosk/<env>/token-public-keys`, which the template reads at deploy time
//!   into the verifiers' `JWT_PUBLIC_KEYS`.
//!
//! `generate` makes the first pair (once per environment, before its first
//! deploy); `rotate` makes a new current key and keeps the old one as
//! previous, so a token signed before it keeps working and one signed with
//! the key before that does not. Both use the standard AWS credential chain
//! (and `AWS_ENDPOINT_URL`, for the emulator).

use shared::domain::jwk::{PrivateKey, PublicKeys};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where one environment's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames {
    /// Secrets Manager secret name of the private key.
    pub secret: String,
    /// SSM parameter name of the public keys.
    pub parameter: String,
}

impl KeyNames {
    /// The names under a prefix: `kiosk/<env>` for an environment (what
    /// template.yaml expects), the stack's own for a local stack.
    pub fn under(prefix: &str) -> Self {
        Self {
            secret: format!("{prefix}/token-signing-key"),
            parameter: format!("/{prefix}/token-public-keys"),
        }
    }
}

/// SSM with room to wait: these are operator commands and stack bootstraps,
/// not request paths, and an emulator's first SSM call loads its default
/// parameters (over a second on an idle machine).
fn ssm(sdk: &aws_config::SdkConfig) -> aws_sdk_ssm::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .operation_attempt_timeout(std::time::Duration::from_secs(30))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build();
    aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(sdk)
            .timeout_config(timeouts)
            .build(),
    )
}

/// A new private key from 32 bytes of the operating system's randomness.
pub fn new_key() -> Result<PrivateKey, BoxError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(PrivateKey::from_seed(seed))
}

/// Creates an environment's first key pair; refuses if it has one (that is
/// `rotate`'s job, and overwriting would log everyone out).
pub async fn generate(
    sdk: &aws_config::SdkConfig,
    names: &KeyNames,
) -> Result<PublicKeys, BoxError> {
    let key = new_key()?;
    let public = PublicKeys::new(vec![key.public()])?;
    let ssm = ssm(sdk);
    ssm.put_parameter()
        .name(&names.parameter)
        .description("JWKS of the kiosk API's token verification keys (kiosk-tools keys)")
        .value(public.to_jwks())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(false)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(s) if s.is_parameter_already_exists() => format!(
                "{} already exists: this environment has keys (use `rotate`)",
                names.parameter
            )
            .into(),
            _ => BoxError::from(e),
        })?;
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(&names.secret)
        .description(
            "Ed25519 private JWK that signs the kiosk API's access tokens (kiosk-tools keys)",
        )
        .secret_string(key.to_jwk())
        .send()
        .await?;
    Ok(public)
}

/// Makes a new current key; the current one becomes the previous one and the
/// one before it is dropped. Returns the new public set.
///
/// The public set is written first: if the secret then cannot be written, the
/// verifiers merely know one key more, and the signer (which signs only with a
/// published key) keeps signing with the key it has.
pub async fn rotate(sdk: &aws_config::SdkConfig, names: &KeyNames) -> Result<PublicKeys, BoxError> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let current = secrets
        .get_secret_value()
        .secret_id(&names.secret)
        .send()
        .await?;
    let current = PrivateKey::from_jwk(
        current
            .secret_string()
            .ok_or("the signing key secret has no string value")?
            .as_bytes(),
    )?;
    let key = new_key()?;
    let public = PublicKeys::new(vec![key.public(), current.public()])?;
    ssm(sdk)
        .put_parameter()
        .name(&names.parameter)
        .value(public.to_jwks())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await?;
    secrets
        .put_secret_value()
        .secret_id(&names.secret)
        .secret_string(key.to_jwk())
        .send()
        .await?;
    Ok(public)
}

/// The value of an SSM parameter (what CloudFormation reads for a parameter
/// of type `AWS::SSM::Parameter::Value<String>`).
pub async fn parameter(sdk: &aws_config::SdkConfig, name: &str) -> Result<String, BoxError> {
    let answer = ssm(sdk).get_parameter().name(name).send().await?;
    answer
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| format!("SSM parameter {name} has no value").into())
}
