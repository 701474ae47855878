//! Logging setup for the Lambda binaries.

/// The runtime's default subscriber: honours `AWS_LAMBDA_LOG_LEVEL` and
/// `AWS_LAMBDA_LOG_FORMAT` (JSON in the template).
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
