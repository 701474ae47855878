//! The bench's tables, for the terminal and for docs/PERFORMANCE.md.

use super::budgets::{Budget, Measure, Verdict};
use std::fmt::Write;
use std::time::Duration;

/// One binary over one transport.
#[derive(Debug, Clone)]
pub struct Row {
    pub binary: String,
    /// The function's logical id; `None` for a floor.
    pub function: Option<String>,
    /// Its floor's binary; `None` for a floor.
    pub floor: Option<String>,
    pub init: Duration,
    /// The CPU time the process used by its first poll.
    pub init_cpu: Duration,
    pub first: Duration,
    /// The CPU time the process used from its start to its first response.
    pub first_cpu: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub cpu: Duration,
    pub rss_bytes: u64,
    pub zip_bytes: u64,
}

/// Every binary over one transport.
#[derive(Debug, Clone)]
pub struct Run {
    pub transport: &'static str,
    pub rows: Vec<Row>,
}

/// A budget of a function, checked.
#[derive(Debug, Clone)]
pub struct Checked {
    pub function: String,
    pub budget: Budget,
    pub verdict: Verdict,
}

/// Where the bench ran.
#[derive(Debug, Clone)]
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub memory: String,
    pub load: String,
    pub rustc: String,
    pub cargo_lambda: String,
    pub moto: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown", |(_, model)| model.trim())
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "unknown".to_owned(),
                |kib| format!("{} GiB", kib / (1024 * 1024)),
            );
        let now = time::OffsetDateTime::now_utc();
        let venv = super::workspace().join(".venv").join("bin");
        Machine {
            date: format!(
                "{}-{:02}-{:02} {:02}:{:02} UTC",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute()
            ),
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned()),
            memory,
            load: Machine::load_average(),
            rustc: output("rustc", &["-V"]),
            cargo_lambda: output(
                &venv.join("cargo-lambda").to_string_lossy(),
                &["lambda", "--version"],
            ),
            moto: output(
                &venv.join("python").to_string_lossy(),
                &["-c", "import moto; print('moto', moto.__version__)"],
            ),
        }
    }

    /// The 1-minute load average: how busy the machine was besides the bench.
    pub fn load_average() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

/// The first line a command prints, or "unknown".
fn output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Everything the bench found.
#[derive(Debug, Clone)]
pub struct Report {
    pub machine: Machine,
    pub machine_after: String,
    pub cold_starts: usize,
    pub warm_calls: usize,
    pub warm_up_calls: usize,
    /// Binary → its event file.
    pub events: Vec<(String, String)>,
    /// The TLS run first: the budgets are checked on it.
    pub runs: Vec<Run>,
    pub verdicts: Vec<Checked>,
    /// The cost per 1,000 orders and the capacity table (`cost`).
    pub cost: String,
    pub took: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// `value (+difference)` of a time in ms against the floor's.
fn plus(value: Duration, floor: Option<Duration>) -> String {
    match floor {
        Some(floor) => format!("{:.2} ms ({:+.2})", ms(value), ms(value) - ms(floor)),
        None => format!("{:.2} ms", ms(value)),
    }
}

/// `value unit (×ratio)` against the floor's.
fn times(value: f64, floor: Option<f64>, shown: String) -> String {
    match floor {
        Some(floor) if floor > 0.0 => format!("{shown} (×{:.2})", value / floor),
        _ => shown,
    }
}

impl Run {
    fn floor_of(&self, row: &Row) -> Option<&Row> {
        let floor = row.floor.as_ref()?;
        self.rows.iter().find(|r| &r.binary == floor)
    }

    /// The run as a markdown table.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| binary | init | init CPU | first response | first response CPU | warm p50 | warm p99 | CPU / warm call | max RSS | arm64 zip |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let floor = self.floor_of(row);
            let name = match (&row.function, &row.floor) {
                (Some(function), Some(floor)) => format!("{} ({function}; vs {floor})", row.binary),
                _ => format!("**{}** (floor)", row.binary),
            };
            let cells = [
                name,
                plus(row.init, floor.map(|f| f.init)),
                plus(row.init_cpu, floor.map(|f| f.init_cpu)),
                plus(row.first, floor.map(|f| f.first)),
                plus(row.first_cpu, floor.map(|f| f.first_cpu)),
                plus(row.p50, floor.map(|f| f.p50)),
                plus(row.p99, floor.map(|f| f.p99)),
                times(
                    us(row.cpu),
                    floor.map(|f| us(f.cpu)),
                    format!("{:.0} µs", us(row.cpu)),
                ),
                times(
                    row.rss_bytes as f64,
                    floor.map(|f| f.rss_bytes as f64),
                    format!("{:.1} MB", mb(row.rss_bytes)),
                ),
                times(
                    row.zip_bytes as f64,
                    floor.map(|f| f.zip_bytes as f64),
                    format!("{:.2} MB", mb(row.zip_bytes)),
                ),
            ];
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}

impl Report {
    /// The budgets as a markdown table.
    pub fn budgets(&self) -> String {
        let mut out = String::from(
            "| function | budget | limit | measured | result |\n|---|---|---|---|---|\n",
        );
        for checked in &self.verdicts {
            let measure: Measure = checked.budget.measure;
            let result = match (checked.verdict.met, checked.budget.enforced) {
                (true, _) => "PASS",
                (false, true) => "**FAIL**",
                (false, false) => "**FAIL** (pending: not enforced)",
            };
            let limit = if checked.verdict.limit.is_nan() {
                "no floor".to_owned()
            } else {
                measure.show(checked.verdict.limit)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                checked.function,
                checked.budget,
                limit,
                measure.show(checked.verdict.measured),
                result
            );
        }
        out
    }

    /// One line on the budgets: how many were met, missed, and pending.
    pub fn summary(&self) -> String {
        let met = self.verdicts.iter().filter(|c| c.verdict.met).count();
        let missed: Vec<&Checked> = self.verdicts.iter().filter(|c| !c.verdict.met).collect();
        let pending = missed.iter().filter(|c| !c.budget.enforced).count();
        format!(
            "{met} of {} budgets met; {} missed, {pending} of them pending",
            self.verdicts.len(),
            missed.len()
        )
    }

    /// What the terminal shows.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        for run in &self.runs {
            let _ = writeln!(out, "\nOver {}:\n\n{}", run.transport, run.table());
        }
        let _ = write!(
            out,
            "Budgets (bench/budgets, checked on the {} run): {}\n\n{}",
            self.runs.first().map_or("", |r| r.transport),
            self.summary(),
            self.budgets()
        );
        out
    }

    /// docs/PERFORMANCE.md.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = write!(
            out,
            "# Performance\n\n\
             Written by `make bench` ({date}); run it again to refresh this file, do not edit it\n\
             by hand. How it measures, and what to keep in mind reading it, is below the tables.\n\n\
             - Machine: {cpu}, {cores} cores, {memory}, Linux {kernel}; 1-minute load average\n  \
             {load} when the bench started and {load_after} when it ended (other builds share the machine)\n\
             - Toolchain: {rustc}; {cargo_lambda}; {moto}\n\
             - {cold} cold starts of each binary over each transport; {warm} warm calls measured\n  \
             per binary and transport, after {warm_up} warm-up calls; the measurements took {took} s\n\
             - Budgets: {summary} (below)\n",
            date = m.date,
            cpu = m.cpu,
            cores = m.cores,
            memory = m.memory,
            kernel = m.kernel,
            load = m.load,
            load_after = self.machine_after,
            rustc = m.rustc,
            cargo_lambda = m.cargo_lambda,
            moto = m.moto,
            cold = self.cold_starts,
            warm = self.warm_calls,
            warm_up = self.warm_up_calls,
            took = self.took.as_secs(),
            summary = self.summary(),
        );
        for run in &self.runs {
            let _ = write!(out, "\n## Over {}\n\n{}", run.transport, run.table());
        }
        let _ = write!(
            out,
            "\n## Budgets\n\n\
             From `bench/budgets`, checked on the {} run (the deployed case). A missed\n\
             budget fails `make bench`, unless it is marked `pending` there.\n\n{}",
            self.runs.first().map_or("", |r| r.transport),
            self.budgets()
        );
        out.push_str(&self.cost);
        let events: Vec<String> = self
            .events
            .iter()
            .map(|(binary, file)| format!("{binary}: `events/{file}`"))
            .collect();
        let _ = write!(out, "{}", METHOD.replace("{events}", &events.join("; ")));
        out
    }
}

const METHOD: &str = "
## How it measures

- **Binaries**: each function's x86_64 release binary, built on its own
  (`cargo build --release -p <function>`: only its features, as `sam build`
  builds it from its folder), with the workspace's release profile; and two floors built
  alike (`bench/`): `hello-runtime` (lambda_runtime, hands the event back) and
  `hello-http` (lambda_http, answers 200), with the functions' runtime, tokio
  and log setup and nothing else. The authorizer is compared with
  hello-runtime, the HTTP functions with hello-http: times as a difference
  (+ms), CPU, memory and size as a ratio (×).
- **Run**: over the project's Lambda Runtime API harness
  (`local/src/runtime_api/`), with the environment `make dev` writes to
  `.local/env.json` (JSON logs at INFO, as deployed), against a moto server
  bootstrapped from template.yaml and seeded with the demo menu. Once over
  HTTP, once over TLS: a CA and a leaf certificate for 127.0.0.1 made with
  openssl at bench time; the functions trust it through `SSL_CERT_FILE`,
  which rustls-native-certs reads instead of the system store. That file holds
  the system's roots too, so loading the roots at the first call costs what it
  costs in Lambda.
- **Events**: {events}. The authorizer's carries a token the guest sign-in
  signed on the same stack, so its first call reads the key from Secrets
  Manager; the order read is one the bench placed first.
- **init**: process start to its first `GET /runtime/invocation/next`;
  **first response**: process start to its first response posted (the first
  AWS call, its connection and, over TLS, its handshake included). Medians of
  the cold starts, which take turns across binaries so that a burst of load
  on the machine touches them alike.
- **init CPU**, **first response CPU**: the CPU time the process had used
  (user and system, every thread: `/proc/<pid>/task/*/schedstat`, in ns;
  `/proc/<pid>/stat` counts 10 ms ticks, too coarse here) by its first poll,
  and by its first response: what the cold start costs the function itself,
  whatever the machine's load and the emulator's pace. Medians of the cold
  starts. On a busy machine they are the steadier measure: init's wall time
  also counts the waits for a core.
- **warm p50 / p99**: from the event handed out (the answer to `GET /next`) to
  the response posted, over the measured warm calls of one process per
  binary. The processes take turns, 25 calls each.
- **CPU / warm call**: the process's CPU time over its measured warm calls,
  divided by their number.
- **max RSS**: the highest `VmHWM` of any process of that binary (what Lambda
  reports as Max Memory Used). MB here are 1,000,000 bytes.
- **arm64 zip**: `cargo lambda build --release --arm64 --output-format zip -p
  <package>`, what Lambda downloads at a cold start.

What to keep in mind:

- moto answers every request with `Connection: close`, so every AWS call opens
  a new connection, and over TLS makes a full handshake. The warm calls of the
  functions that call AWS (products, orders, and authenticate, whose guest
  sign-in counts the kiosk's sign-ins with one conditional write) pay one each
  over TLS, which the AWS endpoints' keep-alive would spare them: their warm TLS
  numbers are an upper bound. The authorizer makes no AWS call when warm. The
  bench's stack sets `KioskSigninsPerMinute` to its maximum (1000): its one
  kiosk signs a guest in for every call.
- moto is a Python server on the same cores: it, not the function, sets the
  pace of the calls that reach it.
- The endpoint is an IP address: no DNS lookup, which in Lambda a cold start
  makes once per AWS endpoint.
- The harness's Runtime API is part of every latency (a debug build of
  kiosk-tools, the same for the floors); init and first response also count
  the process's exec.
- Two shared cores: other builds running at the same time add noise, most to
  the cold starts; the load averages above say how busy the machine was.
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::budgets::Budgets;

    fn row(binary: &str, floor: Option<&str>, init_ms: u64, zip: u64) -> Row {
        Row {
            binary: binary.into(),
            function: floor.map(|_| format!("{binary}Function")),
            floor: floor.map(str::to_owned),
            init: Duration::from_millis(init_ms),
            init_cpu: Duration::from_millis(init_ms),
            first: Duration::from_millis(init_ms * 2),
            first_cpu: Duration::from_millis(init_ms),
            p50: Duration::from_micros(300),
            p99: Duration::from_micros(900),
            cpu: Duration::from_micros(40),
            rss_bytes: 4_000_000,
            zip_bytes: zip,
        }
    }

    #[test]
    fn a_function_is_shown_against_its_floor() {
        let run = Run {
            transport: "TLS",
            rows: vec![
                row("hello-http", None, 2, 700_000),
                row("products", Some("hello-http"), 5, 2_100_000),
            ],
        };
        let table = run.table();
        assert!(
            table.contains("| **hello-http** (floor) | 2.00 ms |"),
            "{table}"
        );
        assert!(
            table.contains("| products (productsFunction; vs hello-http) | 5.00 ms (+3.00) | 5.00 ms (+3.00) | 10.00 ms (+6.00) | 5.00 ms (+3.00) |"),
            "{table}"
        );
        assert!(table.contains("2.10 MB (×3.00)"), "{table}");
    }

    #[test]
    fn budgets_show_pass_fail_and_pending() {
        let budgets = Budgets::parse("F zip 1.0MB pending\nF init floor+1ms\nF rss 8MB").unwrap();
        let checked = |measure: usize, measured: f64, floor: f64| {
            let budget = budgets.of("F")[measure].clone();
            Checked {
                function: "F".into(),
                verdict: budget.check(measured, Some(floor)).unwrap(),
                budget,
            }
        };
        let report = Report {
            machine: Machine {
                date: "2026-11-23 12:00 UTC".into(),
                cpu: "cpu".into(),
                cores: 2,
                kernel: "6".into(),
                memory: "8 GiB".into(),
                load: "0.5".into(),
                rustc: "rustc".into(),
                cargo_lambda: "cargo-lambda".into(),
                moto: "moto".into(),
            },
            machine_after: "0.5".into(),
            cold_starts: 5,
            warm_calls: 200,
            warm_up_calls: 20,
            events: vec![("products".into(), "products/get-products.json".into())],
            runs: vec![],
            verdicts: vec![
                checked(0, 2.0e6, 0.0),
                checked(1, 0.0030, 0.0025),
                checked(2, 9.0e6, 0.0),
            ],
            cost: "\n## Cost per 1,000 orders\n".into(),
            took: Duration::from_secs(60),
        };
        let table = report.budgets();
        assert!(
            table.contains(
                "| F | arm64 zip ≤ 1.0MB | 1.00 MB | 2.00 MB | **FAIL** (pending: not enforced) |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| F | init ≤ floor+1ms | 3.50 ms | 3.00 ms | PASS |"),
            "{table}"
        );
        assert!(
            table.contains("| F | max RSS ≤ 8MB | 8.0 MB | 9.0 MB | **FAIL** |"),
            "{table}"
        );
        assert_eq!(
            report.summary(),
            "1 of 3 budgets met; 2 missed, 1 of them pending"
        );
        let markdown = report.markdown();
        assert!(markdown.contains("products: `events/products/get-products.json`"));
    }
}
