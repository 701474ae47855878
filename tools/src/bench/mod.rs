//! `make bench` (`kiosk-tools bench`, after `scripts/bench.sh` has built the
//! binaries and made a TLS certificate): each function's release binary and
//! the do-nothing floor it is compared with, run over the Runtime API harness
//! on one event each, against moto bootstrapped from template.yaml, once over
//! HTTP and once over TLS. It prints the table and the budgets
//! (`bench/budgets`), writes docs/PERFORMANCE.md, and fails when an enforced
//! budget is missed.
//!
//! The measures: init (process start to the first `GET /next`) and first
//! response, and the CPU time each took, the medians of several cold starts;
//! warm latency (event handed out to response received) and CPU time per warm
//! call, over many calls of one process per binary; the peak resident memory
//! of every process; the arm64 zip. Each binary starts with Lambda's
//! variables and its function's environment (`.local/env.json`'s), nothing of
//! the shell's. The binaries take turns, cold and warm, so that a burst of load
//! on a shared machine touches them alike.
//!
//! By job: `options` reads the command line, `stand` prepares a stack in an
//! emulator of its own and runs a binary on it, `measure` takes the turns
//! and reduces them to a row, `budgets` reads and checks `bench/budgets`,
//! `report` writes the tables, `cost` the cost per 1,000 orders and the
//! capacity table from the measured durations and item sizes.

pub mod budgets;
mod cost;
mod measure;
mod options;
mod report;
mod stand;

use budgets::Budgets;
use kiosk_local::bootstrap::BoxError;
use kiosk_local::template::Template;
use measure::{check, rows};
use options::Options;
use stand::{Stand, Transport};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The floor of the authorizer: lambda_runtime handing the event back.
const RUNTIME_FLOOR: &str = "hello-runtime";
/// The floor of the HTTP functions: lambda_http answering 200.
const HTTP_FLOOR: &str = "hello-http";

/// The event each binary runs on (a file of `events/`), by binary name: a
/// request every kiosk makes all day. A function missing here stops the bench.
const EVENTS: &[(&str, &str)] = &[
    // Signs a token with the key read from Secrets Manager on first use.
    ("authenticate", "authenticate/post-auth-guest.json"),
    // With a token of the stack (the guest sign-in's): a key read, then an Allow.
    ("validate-jwt", "validate-jwt/authorizer.json"),
    // One Query of the menu index and, at once, one GetItem of the guest's
    // store (its sold-out set).
    ("products", "products/get-products.json"),
    // One GetItem of an order the bench places first.
    ("orders", "orders/get-order.json"),
    // One Query of the index of orders awaiting payment (none are due).
    ("order-expiry", "order-expiry/scheduled.json"),
    (RUNTIME_FLOOR, "validate-jwt/authorizer.json"),
    (HTTP_FLOOR, "products/get-products.json"),
];

/// How long one invocation may take before the bench gives up.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary the bench runs: a function of the template or a floor.
#[derive(Debug, Clone)]
struct Subject {
    binary: String,
    /// The function's logical id; `None` for a floor.
    function: Option<String>,
    /// The floor it is compared with; `None` for a floor.
    floor: Option<&'static str>,
    event_file: &'static str,
}

/// The template's functions, each after its floor: the authorizer after
/// hello-runtime, the HTTP functions after hello-http.
fn subjects(template: &Template) -> Result<Vec<Subject>, BoxError> {
    let event_of = |binary: &str| {
        EVENTS
            .iter()
            .find(|(b, _)| *b == binary)
            .map(|(_, file)| *file)
            .ok_or_else(|| {
                format!(
                    "no event to bench {binary} with: add it to EVENTS in tools/src/bench/mod.rs"
                )
            })
    };
    let authorizer = template.authorizer()?.function;
    let mut subjects = Vec::new();
    for floor in [RUNTIME_FLOOR, HTTP_FLOOR] {
        subjects.push(Subject {
            binary: floor.to_owned(),
            function: None,
            floor: None,
            event_file: event_of(floor)?,
        });
        for (function, binary) in template.functions()? {
            // The authorizer and the scheduled job are lambda_runtime
            // functions; the others are lambda_http ones.
            let its_floor = if function == authorizer || binary == "order-expiry" {
                RUNTIME_FLOOR
            } else {
                HTTP_FLOOR
            };
            if its_floor == floor {
                subjects.push(Subject {
                    event_file: event_of(&binary)?,
                    binary,
                    function: Some(function),
                    floor: Some(floor),
                });
            }
        }
    }
    Ok(subjects)
}

/// Runs the bench with the command line `args` (after `bench`); an error when
/// it cannot run or an enforced budget is missed.
pub async fn main(args: &[&str]) -> Result<(), BoxError> {
    let options = Options::parse(args)?;
    let began = Instant::now();
    let budgets = Budgets::parse(
        &std::fs::read_to_string(&options.budgets)
            .map_err(|e| format!("cannot read {}: {e}", options.budgets.display()))?,
    )?;
    if std::env::var_os("SSL_CERT_FILE").is_none() {
        return Err(
            "SSL_CERT_FILE is not set: it must name a bundle that trusts the certificate \
                    of --tls-cert (scripts/bench.sh makes both)"
                .into(),
        );
    }
    let template = Template::load(&Template::default_path())?;
    let subjects = subjects(&template)?;
    for subject in &subjects {
        for file in [binary_path(&options, subject), zip_path(&options, subject)] {
            if !file.exists() {
                return Err(format!("{} is missing: run `make bench`", file.display()).into());
            }
        }
    }
    let machine = report::Machine::read();

    let mut runs = Vec::new();
    let mut sizes = None;
    for transport in [Transport::Tls, Transport::Http] {
        eprintln!("bench: over {}", transport.name());
        let stand = Stand::prepare(&options, &template, &subjects, transport).await?;
        let measured = stand.measure(&options, &template, &subjects).await?;
        runs.push(report::Run {
            transport: transport.name(),
            rows: rows(&options, &subjects, &measured)?,
        });
        sizes = Some(stand.sizes);
    }
    let verdicts = check(&budgets, &runs[0]);
    let cost = cost_section(&template, &runs, sizes.ok_or("no run")?)?;
    let report = report::Report {
        machine,
        machine_after: report::Machine::load_average(),
        cold_starts: options.cold_starts,
        warm_calls: options.warm_calls,
        warm_up_calls: options.warm_up_calls(),
        events: subjects
            .iter()
            .map(|s| (s.binary.clone(), s.event_file.to_owned()))
            .collect(),
        runs,
        verdicts,
        cost,
        took: began.elapsed(),
    };
    println!("{}", report.tables());
    if let Some(out) = &options.out {
        if let Some(folder) = out.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(out, report.markdown())?;
        eprintln!("bench: wrote {}", out.display());
    }
    let missed: Vec<String> = report
        .verdicts
        .iter()
        .filter(|v| v.budget.enforced && !v.verdict.met)
        .map(|v| format!("{} {}", v.function, v.budget))
        .collect();
    if missed.is_empty() {
        Ok(())
    } else {
        Err(format!("budgets missed: {}", missed.join("; ")).into())
    }
}

/// The AWS calls of each function's sample request (`EVENTS`), which its
/// warm p50 is divided by to give a duration per call.
const SAMPLE_CALLS: &[(&str, f64)] = &[("authenticate", 1.0), ("products", 2.0), ("orders", 1.0)];

/// The cost and capacity section, from the HTTP run's warm p50s (moto over
/// TLS opens a connection per call, which AWS's keep-alive spares), the
/// functions' memory in template.yaml and the measured item sizes.
fn cost_section(
    template: &Template,
    runs: &[report::Run],
    sizes: cost::Sizes,
) -> Result<String, BoxError> {
    let http = runs
        .iter()
        .find(|r| r.transport == Transport::Http.name())
        .ok_or("no run over HTTP")?;
    let memory = |function: &str| {
        template
            .function_memory_mb(function)
            .and_then(|mb| u32::try_from(mb).ok())
            .ok_or_else(|| format!("template.yaml gives {function} no memory"))
    };
    let authorizer = template.authorizer()?.function;
    let mut functions = std::collections::HashMap::new();
    let mut authorizer_cost = None;
    for row in &http.rows {
        let Some(function) = &row.function else {
            continue;
        };
        if *function == authorizer {
            authorizer_cost = Some((row.p50, memory(function)?));
        } else if let Some((_, calls)) = SAMPLE_CALLS.iter().find(|(b, _)| *b == row.binary) {
            let per_call = cost::per_call(row.p50, *calls);
            functions.insert(row.binary.clone(), (per_call, memory(function)?));
        }
    }
    let inputs = cost::Inputs {
        sizes,
        functions: &functions,
        authorizer: authorizer_cost.ok_or("the authorizer was not measured")?,
    };
    Ok(cost::markdown(&inputs)?)
}

fn binary_path(options: &Options, subject: &Subject) -> PathBuf {
    options.bins.join(&subject.binary)
}

fn zip_path(options: &Options, subject: &Subject) -> PathBuf {
    options.zips.join(&subject.binary).join("bootstrap.zip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_benched_after_its_floor() {
        let template = Template::load(&Template::default_path()).unwrap();
        let subjects = subjects(&template).unwrap();
        let order: Vec<(&str, Option<&str>)> = subjects
            .iter()
            .map(|s| (s.binary.as_str(), s.floor))
            .collect();
        assert_eq!(order[0], (RUNTIME_FLOOR, None));
        let http_floor = order.iter().position(|o| *o == (HTTP_FLOOR, None)).unwrap();
        let mut runtime: Vec<&str> = order[1..http_floor].iter().map(|o| o.0).collect();
        runtime.sort_unstable();
        assert_eq!(runtime, ["order-expiry", "validate-jwt"]);
        assert!(
            order[1..http_floor]
                .iter()
                .all(|o| o.1 == Some(RUNTIME_FLOOR))
        );
        assert!(
            order[http_floor + 1..]
                .iter()
                .all(|o| o.1 == Some(HTTP_FLOOR))
        );
        assert_eq!(subjects.len(), template.functions().unwrap().len() + 2);
        for subject in &subjects {
            assert!(crate::events::folder().join(subject.event_file).exists());
        }
    }
}
