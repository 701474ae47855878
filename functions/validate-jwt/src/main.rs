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

/// Logs as Lambda's logging config asks (`AWS_LAMBDA_LOG_FORMAT`,
/// `AWS_LAMBDA_LOG_LEVEL`), INFO and text by default. TRACE is capped at
/// DEBUG: nothing here logs an event, and nothing may start to.
fn init_logging() {
    use tracing::level_filters::LevelFilter;
    let level = match std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "TRACE" | "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}
