//! `make bench` (`kiosk-local bench`, after `scripts/bench.sh` has built the
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

pub mod budgets;
mod report;

use crate::bootstrap::{BoxError, LocalStack};
use crate::env_file::EnvVars;
use crate::events::{SAMPLE_ORDER_ID, SAMPLE_PRODUCT_ID};
use crate::runtime_api::{CpuTime, Instance, Outcome};
use crate::template::Template;
use budgets::{Budgets, Measure, Verdict};
use serde_json::Value;
use std::collections::HashMap;
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
    // One Query of the menu index.
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

const USAGE: &str =
    "usage: kiosk-local bench --bins DIR --zips DIR --tls-cert FILE --tls-key FILE \
[--budgets FILE] [--out FILE] [--cold N] [--warm N]
  --bins      the x86_64 release binaries (one per function, and the floors)
  --zips      cargo lambda's arm64 zips (<binary>/bootstrap.zip)
  --tls-cert, --tls-key   the certificate moto serves TLS with (SSL_CERT_FILE must trust it)
  --budgets   default bench/budgets;  --out  the report (default: none written)
  --cold      cold starts per binary and transport (21);  --warm  warm calls measured (500)";

struct Options {
    bins: PathBuf,
    zips: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    budgets: PathBuf,
    out: Option<PathBuf>,
    cold_starts: usize,
    warm_calls: usize,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, BoxError> {
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
    fn warm_up_calls(&self) -> usize {
        (self.warm_calls / 10).max(10)
    }
}

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
                format!("no event to bench {binary} with: add it to EVENTS in local/src/bench.rs")
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
pub async fn main(args: &[String]) -> Result<(), BoxError> {
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
    for transport in [Transport::Tls, Transport::Http] {
        eprintln!("bench: over {}", transport.name());
        let stand = Stand::prepare(&options, &template, &subjects, transport).await?;
        let measured = stand.measure(&options, &template, &subjects).await?;
        runs.push(report::Run {
            transport: transport.name(),
            rows: rows(&options, &subjects, &measured)?,
        });
    }
    let verdicts = check(&budgets, &runs[0]);
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

fn binary_path(options: &Options, subject: &Subject) -> PathBuf {
    options.bins.join(&subject.binary)
}

fn zip_path(options: &Options, subject: &Subject) -> PathBuf {
    options.zips.join(&subject.binary).join("bootstrap.zip")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    Tls,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Http => "HTTP",
            Transport::Tls => "TLS",
        }
    }
}

/// A moto server of the bench's own, killed on drop.
struct Emulator {
    _child: tokio::process::Child,
    endpoint: String,
}

impl Emulator {
    async fn start(options: &Options, transport: Transport) -> Result<Emulator, BoxError> {
        let moto = workspace().join(".venv").join("bin").join("moto_server");
        if !moto.exists() {
            return Err(format!("{} is missing: run `make venv`", moto.display()).into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = tokio::process::Command::new(moto);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if transport == Transport::Tls {
            command.arg("-c").arg(&options.tls_cert);
            command.arg("-k").arg(&options.tls_key);
        }
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let scheme = match transport {
            Transport::Http => "http",
            Transport::Tls => "https",
        };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Emulator {
                    _child: child,
                    endpoint: format!("{scheme}://127.0.0.1:{port}"),
                });
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("moto exited ({status}) before listening").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("moto did not listen on port {port} within 30 s").into())
    }
}

/// A bootstrapped stack in an emulator of its own, and what each binary
/// runs with there.
struct Stand {
    _emulator: Emulator,
    env: EnvVars,
    events: HashMap<String, Value>,
}

impl Stand {
    async fn prepare(
        options: &Options,
        template: &Template,
        subjects: &[Subject],
        transport: Transport,
    ) -> Result<Stand, BoxError> {
        let emulator = Emulator::start(options, transport).await?;
        let sdk = crate::emulator_sdk(&emulator.endpoint).await;
        let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (stack, _) = crate::start(&sdk, template, &prefix, &[]).await?;
        crate::seed_demo_menu(&sdk, &stack).await?;
        let env = crate::env_file::resolve(template, &stack, &emulator.endpoint)?;
        let mut stand = Stand {
            _emulator: emulator,
            env,
            events: HashMap::new(),
        };
        let ids = stand.sample_ids(options, template, &sdk, &stack).await?;
        let token = stand.guest_token(options, template).await?;
        for subject in subjects {
            let mut event = crate::events::load(subject.event_file, &ids)?;
            if event.get("type").and_then(Value::as_str) == Some("TOKEN") {
                event["authorizationToken"] = format!("Bearer {token}").into();
            }
            stand.events.insert(subject.binary.clone(), event);
        }
        Ok(stand)
    }

    /// The environment of `binary`: its function's in the template (nothing
    /// for a floor), and the bench's `SSL_CERT_FILE`, which trusts moto's
    /// certificate. Nothing else of the bench's own environment.
    fn env_of(&self, template: &Template, binary: &str) -> Result<Vec<(String, String)>, BoxError> {
        let mut env = Vec::new();
        if let Some(roots) = std::env::var_os("SSL_CERT_FILE") {
            env.push((
                "SSL_CERT_FILE".to_owned(),
                roots.to_string_lossy().into_owned(),
            ));
        }
        let functions = template.functions()?;
        if let Some((function, _)) = functions.iter().find(|(_, b)| *b == binary) {
            let vars = self
                .env
                .get(function)
                .ok_or_else(|| format!("no environment for {function}"))?;
            env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Ok(env)
    }

    /// Runs `binary` once on `event`; its answer's JSON body.
    async fn call(
        &self,
        options: &Options,
        template: &Template,
        binary: &str,
        event: &Value,
    ) -> Result<Value, BoxError> {
        let env = self.env_of(template, binary)?;
        let run =
            crate::runtime_api::invoke(&options.bins.join(binary), event, &env, INVOCATION_TIMEOUT)
                .await?;
        accepted(binary, &run.outcome).map_err(|e| format!("{e}\n{}", tail(&run.logs)))?;
        let Outcome::Response(response) = run.outcome else {
            return Err(format!("{binary} answered no response").into());
        };
        let body = response["body"].as_str().unwrap_or("null");
        Ok(serde_json::from_str(body)?)
    }

    /// A product, and an order of the sample events' guest placed through
    /// the orders binary: the ids the events name, of this stack.
    async fn sample_ids(
        &self,
        options: &Options,
        template: &Template,
        sdk: &aws_config::SdkConfig,
        stack: &LocalStack,
    ) -> Result<HashMap<&'static str, String>, BoxError> {
        let product = crate::events::create_product(sdk, stack).await?;
        let mut ids = HashMap::from([(SAMPLE_PRODUCT_ID, product)]);
        let checkout = crate::events::load("orders/post-orders.json", &ids)?;
        let order = self.call(options, template, "orders", &checkout).await?;
        let id = order["id"].as_str().ok_or("the placed order has no id")?;
        ids.insert(SAMPLE_ORDER_ID, id.to_owned());
        Ok(ids)
    }

    /// A guest token of this stack, signed by the authenticate binary.
    async fn guest_token(
        &self,
        options: &Options,
        template: &Template,
    ) -> Result<String, BoxError> {
        let event = crate::events::load("authenticate/post-auth-guest.json", &HashMap::new())?;
        let tokens = self.call(options, template, "authenticate", &event).await?;
        let token = tokens["access_token"]
            .as_str()
            .ok_or("the guest sign-in answered no access_token")?;
        Ok(token.to_owned())
    }

    /// Cold starts of every subject in turn, then all of them warm, taking
    /// turns too: a burst of load on the machine touches them alike.
    async fn measure(
        &self,
        options: &Options,
        template: &Template,
        subjects: &[Subject],
    ) -> Result<HashMap<String, Measured>, BoxError> {
        let mut measured: HashMap<String, Measured> = HashMap::new();
        for round in 0..options.cold_starts {
            eprintln!(
                "bench:   cold starts, round {}/{}",
                round + 1,
                options.cold_starts
            );
            for subject in subjects {
                let run = self.launch(options, template, subject).await?;
                let entry = measured.entry(subject.binary.clone()).or_default();
                entry.init.push(run.init);
                entry.init_cpu.push(run.init_cpu);
                entry.first.push(run.first);
                entry.first_cpu.push(run.cpu);
                entry.peak_kib = entry
                    .peak_kib
                    .max(run.instance.peak_memory_kib().unwrap_or(0));
                run.instance.stop().await;
            }
        }

        eprintln!("bench:   warm calls");
        let mut warm = Vec::new();
        for subject in subjects {
            let mut instance = self.launch(options, template, subject).await?.instance;
            for _ in 0..options.warm_up_calls() {
                self.invoke(&mut instance, subject).await?;
            }
            warm.push((subject, instance, Duration::ZERO));
        }
        let mut done = 0;
        while done < options.warm_calls {
            let batch = WARM_BATCH.min(options.warm_calls - done);
            for (subject, instance, cpu) in &mut warm {
                let before = instance.cpu_time().ok_or(NO_CPU_TIME)?;
                let entry = measured.entry(subject.binary.clone()).or_default();
                for _ in 0..batch {
                    entry
                        .latencies
                        .push(self.invoke(instance, subject).await?.latency);
                }
                *cpu += instance.cpu_time().ok_or(NO_CPU_TIME)?.since(&before);
            }
            done += batch;
        }
        for (subject, instance, cpu) in warm {
            let entry = measured.entry(subject.binary.clone()).or_default();
            entry.cpu_per_call = cpu / u32::try_from(options.warm_calls)?;
            entry.peak_kib = entry.peak_kib.max(instance.peak_memory_kib().unwrap_or(0));
            instance.stop().await;
        }
        Ok(measured)
    }

    /// Starts `subject` and answers its first invocation.
    async fn launch(
        &self,
        options: &Options,
        template: &Template,
        subject: &Subject,
    ) -> Result<Launched, BoxError> {
        let env = self.env_of(template, &subject.binary)?;
        let mut instance =
            Instance::start_clean(&binary_path(options, subject), &env, INVOCATION_TIMEOUT).await?;
        let first = self.invoke(&mut instance, subject).await?;
        let cpu = instance
            .cpu_time()
            .ok_or(NO_CPU_TIME)?
            .since(&CpuTime::default());
        let init = instance
            .init_duration()
            .ok_or_else(|| format!("{} answered without polling", subject.binary))?;
        let init_cpu = instance.init_cpu().ok_or(NO_CPU_TIME)?;
        Ok(Launched {
            instance,
            init,
            init_cpu,
            first: first.since_start,
            cpu,
        })
    }

    /// One invocation of `subject`'s event; an error unless it succeeded.
    async fn invoke(
        &self,
        instance: &mut Instance,
        subject: &Subject,
    ) -> Result<crate::runtime_api::Answered, BoxError> {
        let event = self
            .events
            .get(&subject.binary)
            .ok_or_else(|| format!("no event for {}", subject.binary))?;
        let answered = instance.invoke(event).await?;
        if let Err(e) = accepted(&subject.binary, &answered.outcome) {
            return Err(format!("{e} on {}", subject.event_file).into());
        }
        Ok(answered)
    }
}

/// Warm calls a process makes before the next one takes its turn.
const WARM_BATCH: usize = 25;

const NO_CPU_TIME: &str = "cannot read a process's CPU time from /proc";

/// A process that has answered its first invocation.
struct Launched {
    instance: Instance,
    init: Duration,
    /// The CPU time its init used.
    init_cpu: Duration,
    first: Duration,
    /// The CPU time it used up to its first response.
    cpu: Duration,
}

/// Everything measured of one binary over one transport.
#[derive(Debug, Default)]
struct Measured {
    init: Vec<Duration>,
    init_cpu: Vec<Duration>,
    first: Vec<Duration>,
    first_cpu: Vec<Duration>,
    latencies: Vec<Duration>,
    cpu_per_call: Duration,
    peak_kib: u64,
}

/// Whether `outcome` is a success of `binary`: a 200 of an HTTP function, an
/// Allow of the authorizer, the event itself of the runtime floor.
fn accepted(binary: &str, outcome: &Outcome) -> Result<(), String> {
    let response = match outcome {
        Outcome::Response(response) => response,
        Outcome::Error(error) => return Err(format!("{binary} answered an error: {error}")),
    };
    if let Some(status) = response.get("statusCode")
        && status != 200
        && status != 201
    {
        return Err(format!("{binary} answered {status}: {}", response["body"]));
    }
    if let Some(policy) = response.get("policyDocument")
        && policy["Statement"][0]["Effect"] != "Allow"
    {
        return Err(format!("{binary} did not allow: {policy}"));
    }
    Ok(())
}

fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The median of `values` (the lower middle one of an even count).
fn median(values: &[Duration]) -> Duration {
    percentile(values, 0.5)
}

/// The nearest-rank percentile `p` (0..=1) of `values`.
fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    // Nearest rank: the smallest value with at least p of them at or below it.
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

fn rows(
    options: &Options,
    subjects: &[Subject],
    measured: &HashMap<String, Measured>,
) -> Result<Vec<report::Row>, BoxError> {
    subjects
        .iter()
        .map(|subject| {
            let m = measured
                .get(&subject.binary)
                .ok_or_else(|| format!("{} was not measured", subject.binary))?;
            Ok(report::Row {
                binary: subject.binary.clone(),
                function: subject.function.clone(),
                floor: subject.floor.map(str::to_owned),
                init: median(&m.init),
                init_cpu: median(&m.init_cpu),
                first: median(&m.first),
                first_cpu: median(&m.first_cpu),
                p50: percentile(&m.latencies, 0.5),
                p99: percentile(&m.latencies, 0.99),
                cpu: m.cpu_per_call,
                rss_bytes: m.peak_kib * 1024,
                zip_bytes: std::fs::metadata(zip_path(options, subject))?.len(),
            })
        })
        .collect()
}

/// Every budget of every function in `run`, checked.
fn check(budgets: &Budgets, run: &report::Run) -> Vec<report::Checked> {
    let mut checked = Vec::new();
    for row in &run.rows {
        let Some(function) = &row.function else {
            continue;
        };
        let floor = run
            .rows
            .iter()
            .find(|r| Some(&r.binary) == row.floor.as_ref());
        for budget in budgets.of(function) {
            let floor_value = floor.map(|f| f.value(budget.measure));
            let verdict = budget.check(row.value(budget.measure), floor_value);
            // A relative budget needs a floor, which every function has here.
            let verdict = verdict.unwrap_or(Verdict {
                limit: f64::NAN,
                measured: row.value(budget.measure),
                met: false,
            });
            checked.push(report::Checked {
                function: function.clone(),
                budget: budget.clone(),
                verdict,
            });
        }
    }
    checked
}

impl report::Row {
    /// The measure in its unit: bytes or seconds.
    fn value(&self, measure: Measure) -> f64 {
        match measure {
            Measure::Zip => self.zip_bytes as f64,
            Measure::Rss => self.rss_bytes as f64,
            Measure::Init => self.init.as_secs_f64(),
            Measure::First => self.first.as_secs_f64(),
            Measure::Cpu => self.cpu.as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values = ms(&[5, 1, 4, 2, 3]);
        assert_eq!(median(&values), Duration::from_millis(3));
        assert_eq!(percentile(&values, 0.99), Duration::from_millis(5));
        assert_eq!(
            percentile(&ms(&(1..=200).collect::<Vec<_>>()), 0.99),
            Duration::from_millis(198)
        );
        assert_eq!(median(&ms(&[2, 1, 4, 3])), Duration::from_millis(2));
        assert_eq!(median(&[]), Duration::ZERO);
    }

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

    #[test]
    fn successes_are_a_200_an_allow_or_the_event_back() {
        let ok = |v: Value| accepted("f", &Outcome::Response(v));
        assert!(ok(serde_json::json!({"statusCode": 200, "body": "{}"})).is_ok());
        assert!(ok(serde_json::json!({"statusCode": 503, "body": "{}"})).is_err());
        let allow = serde_json::json!({"policyDocument": {"Statement": [{"Effect": "Allow"}]}});
        assert!(ok(allow).is_ok());
        let deny = serde_json::json!({"policyDocument": {"Statement": [{"Effect": "Deny"}]}});
        assert!(ok(deny).is_err());
        assert!(ok(serde_json::json!({"type": "TOKEN"})).is_ok());
        assert!(accepted("f", &Outcome::Error(serde_json::json!({}))).is_err());
    }

    #[test]
    fn options_need_the_binaries_the_zips_and_the_certificate() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
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
