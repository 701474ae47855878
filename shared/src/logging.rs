//! The one logging policy of every binary: the level Lambda's logging
//! config asks for (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), INFO by
//! default and never TRACE; JSON when `AWS_LAMBDA_LOG_FORMAT` says so.
//!
//! At TRACE lambda_runtime logs every raw event, and events carry CPFs,
//! passwords and tokens: TRACE is read as DEBUG. Per-target directives are
//! not read, so none can turn it back on. The functions on lambda_runtime
//! install the subscriber with [`init`] (feature `lambda`); the authorizer,
//! which has no lambda_runtime, builds its own from the same two answers.

use tracing::level_filters::LevelFilter;

/// The level `requested` names, capped at DEBUG; INFO for anything unknown.
pub fn level(requested: &str) -> LevelFilter {
    match requested.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        "OFF" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// The level this process's environment asks for (see [`level`]).
pub fn level_from_env() -> LevelFilter {
    let requested = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default();
    level(&requested)
}

/// Whether Lambda's logging config asks for JSON lines (the template does).
pub fn json_from_env() -> bool {
    std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

/// Installs the runtime's subscriber with this policy: no timestamps
/// (CloudWatch stamps every line), no colours, no targets.
#[cfg(feature = "lambda")]
pub fn init() {
    use lambda_runtime::tracing::subscriber;
    let collector = subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_max_level(level_from_env());
    if json_from_env() {
        collector.json().init();
    } else {
        collector.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_is_never_granted() {
        assert_eq!(level("TRACE"), LevelFilter::DEBUG);
        assert_eq!(level("trace"), LevelFilter::DEBUG);
        assert_eq!(level("warn"), LevelFilter::WARN);
        assert_eq!(level(""), LevelFilter::INFO);
        assert_eq!(level("shared=trace"), LevelFilter::INFO);
    }
}
