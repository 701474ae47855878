//! The authorizer's Lambda entry point: settings once, then the Runtime API loop.

use std::process::ExitCode;
use validate_jwt::runtime::{self, Client, FunctionError};

fn main() -> ExitCode {
    init_logging();
    let mut client = match Client::from_env() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("validate-jwt: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = match validate_jwt::State::from_env(&shared::config::Env::Process) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            let error = FunctionError::new("InvalidConfiguration", e.to_string());
            if let Err(e) = client.init_error(&error) {
                tracing::error!(error = %e, "could not report the init error");
            }
            return ExitCode::FAILURE;
        }
    };
    let error = runtime::run(&mut client, |request| {
        validate_jwt::authorize(&state, request)
    });
    tracing::error!(error = %error, "the Runtime API is gone");
    ExitCode::FAILURE
}

/// Logs by the one policy of `shared::logging` (TRACE read as DEBUG:
/// nothing here logs an event, and nothing may start to), on
/// tracing-subscriber directly: the authorizer links no lambda_runtime.
fn init_logging() {
    let builder = tracing_subscriber::fmt()
        .with_max_level(shared::logging::level_from_env())
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false);
    if shared::logging::json_from_env() {
        builder.json().init();
    } else {
        builder.init();
    }
}
