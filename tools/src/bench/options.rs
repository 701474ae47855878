//! The bench's command line (`kiosk-tools bench --bins DIR ...`).

use super::workspace;
use kiosk_local::bootstrap::BoxError;
use std::collections::HashMap;
use std::path::PathBuf;

const USAGE: &str =
    "usage: kiosk-tools bench --bins DIR --zips DIR --tls-cert FILE --tls-key FILE \
[--budgets FILE] [--out FILE] [--cold N] [--warm N]
  --bins      the x86_64 release binaries (one per function, and the floors)
  --zips      cargo lambda's arm64 zips (<binary>/bootstrap.zip)
  --tls-cert, --tls-key   the certificate moto serves TLS with (SSL_CERT_FILE must trust it)
  --budgets   default bench/budgets;  --out  the report (default: none written)
  --cold      cold starts per binary and transport (21);  --warm  warm calls measured (500)";

/// What the command line asks for.
pub(super) struct Options {
    pub(super) bins: PathBuf,
    pub(super) zips: PathBuf,
    pub(super) tls_cert: PathBuf,
    pub(super) tls_key: PathBuf,
    pub(super) budgets: PathBuf,
    pub(super) out: Option<PathBuf>,
    pub(super) cold_starts: usize,
    pub(super) warm_calls: usize,
}

impl Options {
    pub(super) fn parse(args: &[&str]) -> Result<Options, BoxError> {
        let mut given: HashMap<&str, &str> = HashMap::new();
        for pair in args.chunks(2) {
            match pair {
                [name, value] if name.starts_with("--") => {
                    given.insert(&name[2..], value);
                }
                _ => return Err(USAGE.into()),
            }
        }
        let path = |name: &str| given.get(name).map(PathBuf::from);
        let required =
            |name: &str| path(name).ok_or_else(|| format!("--{name} is missing\n{USAGE}"));
        let count = |name: &str, default: usize| -> Result<usize, BoxError> {
            match given.get(name) {
                Some(n) => n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--{name} takes a positive number").into()),
                None => Ok(default),
            }
        };
        let known = [
            "bins", "zips", "tls-cert", "tls-key", "budgets", "out", "cold", "warm",
        ];
        if let Some(unknown) = given.keys().find(|k| !known.contains(k)) {
            return Err(format!("unknown option --{unknown}\n{USAGE}").into());
        }
        Ok(Options {
            bins: required("bins")?,
            zips: required("zips")?,
            tls_cert: required("tls-cert")?,
            tls_key: required("tls-key")?,
            budgets: path("budgets").unwrap_or_else(|| workspace().join("bench").join("budgets")),
            out: path("out"),
            cold_starts: count("cold", 21)?,
            warm_calls: count("warm", 500)?,
        })
    }

    /// Calls before the measured warm ones, so that they start warm.
    pub(super) fn warm_up_calls(&self) -> usize {
        (self.warm_calls / 10).max(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_need_the_binaries_the_zips_and_the_certificate() {
        let args = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        let options = Options::parse(&args(
            "--bins b --zips z --tls-cert c --tls-key k --warm 200",
        ))
        .unwrap();
        assert_eq!((options.cold_starts, options.warm_calls), (21, 200));
        assert_eq!(options.warm_up_calls(), 20);
        assert!(Options::parse(&args("--bins b --zips z --tls-cert c")).is_err());
        assert!(
            Options::parse(&args("--bins b --zips z --tls-cert c --tls-key k --warm 0")).is_err()
        );
        assert!(Options::parse(&args("--bins b --zips z --tls-cert c --tls-key k --x 1")).is_err());
    }
}
