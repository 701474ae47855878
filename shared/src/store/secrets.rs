//! Secrets Manager: a secret's current and previous versions as a key set.

use crate::domain::keys::{KeyError, KeySet, SigningKey};
use aws_sdk_secretsmanager::Client;

/// The `AWSCURRENT` and `AWSPREVIOUS` versions of one secret; the version id
/// is the key id.
#[derive(Debug, Clone)]
pub struct SecretVersions {
    client: Client,
    secret_id: String,
}

impl SecretVersions {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    pub(crate) async fn fetch(&self) -> Result<KeySet, KeyError> {
        let (current, previous) =
            tokio::join!(self.stage("AWSCURRENT"), self.stage("AWSPREVIOUS"),);
        let current = current?.ok_or(KeyError::NoCurrentVersion)?;
        // A broken previous version must not take the current one down with it.
        let previous = previous.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "previous signing key unreadable; verifying with the current one only");
            None
        });
        Ok(KeySet { current, previous })
    }

    async fn stage(&self, stage: &str) -> Result<Option<SigningKey>, KeyError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) if crate::store::sdk::is_unavailable(&e) => {
                return Err(KeyError::Unavailable(Box::new(e)));
            }
            Err(e) => return Err(KeyError::Failed(Box::new(e))),
        };
        let (Some(kid), Some(secret)) = (output.version_id(), output.secret_string()) else {
            return Ok(None);
        };
        SigningKey::new(kid, secret).map(Some)
    }
}
