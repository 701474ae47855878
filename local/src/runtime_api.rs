//! Runs a built Lambda binary the way AWS Lambda would: the binary talks to an
//! emulation of the Lambda Runtime API on 127.0.0.1, no Docker or cargo-lambda.
//!
//! [`invoke`] runs one event in a fresh process: a cold start, whose peak memory
//! belongs to that event alone. An [`Instance`] keeps its process and hands it
//! events one after another, as a warm execution environment does, and times
//! them: its init (start to the first `GET /next`), each answer, its CPU time and
//! peak memory (what `make bench` measures).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How many lines of the child's stderr an error carries.
const TAIL_LINES: usize = 20;

/// The outcome of one invocation.
#[derive(Debug)]
pub enum Outcome {
    /// The function's response payload (POST .../response), parsed as JSON.
    Response(Value),
    /// The function reported an error (POST .../error or /init/error): the payload as JSON
    /// (lambda_runtime sends {"errorType":..., "errorMessage":...}).
    Error(Value),
}

/// One answered invocation.
#[derive(Debug)]
pub struct Invocation {
    /// What the function answered.
    pub outcome: Outcome,
    /// The child's stdout and stderr, interleaved line by line in arrival order.
    pub logs: String,
    /// The process's peak resident memory (Linux `VmHWM`), what Lambda's
    /// "Max Memory Used" reports; `None` where /proc cannot tell.
    pub peak_memory_kib: Option<u64>,
}

/// One invocation an [`Instance`] answered, and when.
#[derive(Debug)]
pub struct Answered {
    pub outcome: Outcome,
    /// From the event's hand-out (the answer to the runtime's `GET /next`) to
    /// the function's answer arriving.
    pub latency: Duration,
    /// From the process's start to the function's answer arriving.
    pub since_start: Duration,
}

/// `VmHWM` of a live process, from /proc.
fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time a process has used so far, from /proc.
///
/// Per thread in nanoseconds (`/proc/<pid>/task/<tid>/schedstat`) where the
/// kernel has schedstat; `/proc/<pid>/stat`'s `utime + stime` counts whole
/// clock ticks (10 ms), too coarse for calls that take tens of microseconds, so
/// it is only the fallback.
#[derive(Debug, Clone, Default)]
pub struct CpuTime {
    per_thread_ns: HashMap<u32, u64>,
    ticks: u64,
}

/// Linux reports `/proc/<pid>/stat` times in USER_HZ, 100 on every architecture Lambda runs.
const TICK: Duration = Duration::from_millis(10);

impl CpuTime {
    fn of(pid: u32) -> Option<CpuTime> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields count from the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        let ticks = field(11)? + field(12)?;
        let mut per_thread_ns = HashMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let ns = std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse().ok());
                if let Some(ns) = ns {
                    per_thread_ns.insert(tid, ns);
                }
            }
        }
        Some(CpuTime {
            per_thread_ns,
            ticks,
        })
    }

    /// The CPU time used between `earlier` and this reading. Threads are
    /// counted one by one, so that one that exited in between takes away only
    /// its own time in between, not what it had used before.
    pub fn since(&self, earlier: &CpuTime) -> Duration {
        if self.per_thread_ns.is_empty() {
            return TICK
                * u32::try_from(self.ticks.saturating_sub(earlier.ticks)).unwrap_or(u32::MAX);
        }
        let ns: u64 = self
            .per_thread_ns
            .iter()
            .map(|(tid, now)| {
                now.saturating_sub(earlier.per_thread_ns.get(tid).copied().unwrap_or(0))
            })
            .sum();
        Duration::from_nanos(ns)
    }
}

/// Why an invocation produced no [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The binary could not be started.
    #[error("cannot start {}: {source}", binary.display())]
    Spawn { binary: PathBuf, source: io::Error },
    /// The binary exited before answering the invocation.
    #[error("the function exited ({status}) before answering; stderr tail:\n{stderr_tail}")]
    Exited {
        status: ExitStatus,
        stderr_tail: String,
    },
    /// The binary did not answer in time; it has been killed.
    #[error("the function did not answer within {timeout:?}; stderr tail:\n{stderr_tail}")]
    Timeout {
        timeout: Duration,
        stderr_tail: String,
    },
    /// The emulated API or the child's plumbing failed.
    #[error("runtime API emulation: {0}")]
    Io(#[from] io::Error),
}

/// Starts `binary` with `env` on top of the current environment and the variables the Lambda
/// runtime needs, hands it `event` as its one invocation through the emulated Runtime API,
/// waits for its response or error, then kills and reaps it.
pub async fn invoke(
    binary: &Path,
    event: &Value,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Invocation, InvokeError> {
    let mut instance = Instance::start(binary, env, timeout).await?;
    let answered = instance.invoke(event).await;
    let peak_memory_kib = instance.peak_memory_kib();
    let logs = instance.stop().await;
    Ok(Invocation {
        outcome: answered?.outcome,
        logs,
        peak_memory_kib,
    })
}

/// A function process and the emulated Runtime API it polls: an execution
/// environment that stays warm between invocations until [`Instance::stop`]
/// (or drop) kills it.
pub struct Instance {
    child: Child,
    pid: Option<u32>,
    started: Instant,
    timeout: Duration,
    api: Arc<Api>,
    events: mpsc::UnboundedSender<Pending>,
    init_failed: watch::Receiver<Option<Value>>,
    logs: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pumps: Vec<JoinHandle<()>>,
    _server: Server,
}

impl Instance {
    /// Starts `binary` with `env` on top of the current environment and the
    /// variables the Lambda runtime needs. Each invocation may take `timeout`
    /// (its deadline too).
    pub async fn start(
        binary: &Path,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<Instance, InvokeError> {
        Instance::spawn(binary, env, timeout, false).await
    }

    /// [`Instance::start`] without the current environment: only the
    /// variables Lambda sets (`PATH`, `LANG`, `TZ` and the runtime's) and
    /// `env`, as in a Lambda execution environment. What a measurement wants:
    /// nothing of the caller's shell (`SSL_CERT_DIR`, `AWS_PROFILE`, ...)
    /// changes what the function does.
    pub async fn start_clean(
        binary: &Path,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<Instance, InvokeError> {
        Instance::spawn(binary, env, timeout, true).await
    }

    async fn spawn(
        binary: &Path,
        env: &[(String, String)],
        timeout: Duration,
        clean: bool,
    ) -> Result<Instance, InvokeError> {
        let name = binary
            .file_name()
            .map_or_else(|| "function".into(), |n| n.to_string_lossy().into_owned());
        let emulation = serve(&name, timeout).await?;
        let mut command = Command::new(binary);
        if clean {
            command
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
                .env("LANG", "en_US.UTF-8")
                .env("TZ", ":UTC");
        }
        command
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{}", Uuid::new_v4().simple()),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("_HANDLER", "bootstrap");
        if clean || std::env::var_os("AWS_REGION").is_none() {
            command.env("AWS_REGION", "us-east-1");
        }
        command
            .envs(env.iter().map(|(key, value)| (key, value)))
            .env("AWS_LAMBDA_RUNTIME_API", emulation.addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| InvokeError::Spawn {
            binary: binary.to_owned(),
            source,
        })?;
        emulation.api.pid.send_replace(child.id());

        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(out, vec![logs.clone()])));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, vec![logs.clone(), stderr.clone()])));
        }
        Ok(Instance {
            pid: child.id(),
            child,
            started,
            timeout,
            init_failed: emulation.api.init_error.subscribe(),
            api: emulation.api,
            events: emulation.events,
            logs,
            stderr,
            pumps,
            _server: emulation.server,
        })
    }

    /// Hands `event` to the function's next poll and waits for its answer. A
    /// function that exits or does not answer in time is an error, and is
    /// dead from then on.
    pub async fn invoke(&mut self, event: &Value) -> Result<Answered, InvokeError> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            request_id: Uuid::new_v4().to_string(),
            event: Bytes::from(serde_json::to_vec(event).map_err(io::Error::other)?),
            answer,
        };
        let stopped = || io::Error::other("the emulated API stopped");
        self.events.send(pending).map_err(|_| stopped())?;
        let end = tokio::select! {
            // An answer wins over a simultaneous exit: the function did answer.
            biased;
            settled = answered => End::Answered(settled.map_err(|_| stopped())?),
            failed = self.init_failed.wait_for(Option::is_some) => {
                let payload = failed.map_err(|_| stopped())?.clone().unwrap_or_default();
                End::Answered(Settled {
                    outcome: Outcome::Error(payload),
                    handed_out: Instant::now(),
                    at: Instant::now(),
                })
            }
            status = self.child.wait() => End::Exited(status?),
            () = tokio::time::sleep(self.timeout) => End::TimedOut,
        };
        match end {
            End::Answered(settled) => Ok(Answered {
                outcome: settled.outcome,
                latency: settled.at.saturating_duration_since(settled.handed_out),
                since_start: settled.at.saturating_duration_since(self.started),
            }),
            End::Exited(status) => Err(InvokeError::Exited {
                status,
                stderr_tail: self.reap().await?,
            }),
            End::TimedOut => Err(InvokeError::Timeout {
                timeout: self.timeout,
                stderr_tail: self.reap().await?,
            }),
        }
    }

    /// From the process's start to its first `GET /next`: its init, `None`
    /// until it has polled.
    pub fn init_duration(&self) -> Option<Duration> {
        let (polled, _) = self.api.first_poll.get()?;
        Some(polled.saturating_duration_since(self.started))
    }

    /// The CPU time the process had used by its first `GET /next`: what its
    /// init cost it, however busy the machine. `None` until it has polled.
    pub fn init_cpu(&self) -> Option<Duration> {
        let (_, cpu) = self.api.first_poll.get()?;
        Some(cpu.as_ref()?.since(&CpuTime::default()))
    }

    /// The peak resident memory so far (`VmHWM`), while the process lives.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        self.pid.and_then(peak_memory_kib)
    }

    /// The CPU time the process has used so far, while it lives.
    pub fn cpu_time(&self) -> Option<CpuTime> {
        self.pid.and_then(CpuTime::of)
    }

    /// Kills the process, as Lambda would freeze the environment, and returns
    /// its stdout and stderr, interleaved.
    pub async fn stop(mut self) -> String {
        // An error here is a process that has gone already: its output is what counts.
        let _ = self.reap().await;
        take(&self.logs)
    }

    /// Kills and reaps the process, collects the rest of its output, and
    /// returns the tail of its stderr.
    async fn reap(&mut self) -> io::Result<String> {
        // start_kill fails only if the child has already exited, which is fine.
        let _ = self.child.start_kill();
        self.child.wait().await?;
        // A grandchild may still hold the pipes open: don't wait for them forever.
        let pumps = std::mem::take(&mut self.pumps);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            for pump in pumps {
                let _ = pump.await;
            }
        })
        .await;
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let lines: Vec<&str> = stderr.lines().collect();
        Ok(lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n"))
    }
}

/// How the wait for the function ended.
enum End {
    Answered(Settled),
    Exited(ExitStatus),
    TimedOut,
}

/// Copies `stream` line by line into every sink until it closes.
async fn pump(stream: impl AsyncRead + Unpin, sinks: Vec<Arc<Mutex<String>>>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
        let text = String::from_utf8_lossy(&line);
        for sink in &sinks {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_str(&text);
        }
        line.clear();
    }
}

fn take(buffer: &Mutex<String>) -> String {
    std::mem::take(&mut *buffer.lock().unwrap_or_else(PoisonError::into_inner))
}

/// An invocation waiting for the runtime's next poll.
struct Pending {
    request_id: String,
    event: Bytes,
    answer: oneshot::Sender<Settled>,
}

/// An invocation handed out, waiting for the function's answer.
struct InFlight {
    answer: oneshot::Sender<Settled>,
    handed_out: Instant,
}

/// What the function answered to one invocation, and when.
struct Settled {
    outcome: Outcome,
    handed_out: Instant,
    at: Instant,
}

/// State of the emulated API.
struct Api {
    function_arn: String,
    timeout: Duration,
    /// Invocations in the order they are handed out; only one poll takes from it at a time.
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// The process, once started.
    pid: watch::Sender<Option<u32>>,
    /// When the runtime first asked for an invocation (the end of its init),
    /// and the CPU time it had used by then.
    first_poll: OnceLock<(Instant, Option<CpuTime>)>,
    /// The payload of the runtime's `/init/error`, if it posted one.
    init_error: watch::Sender<Option<Value>>,
    closed: watch::Receiver<()>,
}

/// Stops the emulated API when dropped, including requests still parked in GET /next.
struct Server {
    task: JoinHandle<()>,
    _close: watch::Sender<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The emulated Runtime API of one function: where it listens, the queue its
/// invocations go into, its state.
struct Emulation {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<Pending>,
    api: Arc<Api>,
    server: Server,
}

/// Serves the Runtime API for `function_name` on an ephemeral port of 127.0.0.1.
async fn serve(function_name: &str, timeout: Duration) -> io::Result<Emulation> {
    let (events, queue) = mpsc::unbounded_channel();
    let (close, closed) = watch::channel(());
    let api = Arc::new(Api {
        function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
        timeout,
        queue: tokio::sync::Mutex::new(queue),
        in_flight: Mutex::new(HashMap::new()),
        pid: watch::Sender::new(None),
        first_poll: OnceLock::new(),
        init_error: watch::Sender::new(None),
        closed,
    });
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "the emulated Lambda Runtime API stopped");
        }
    });
    Ok(Emulation {
        addr,
        events,
        api,
        server: Server {
            task,
            _close: close,
        },
    })
}

/// `GET /next`: the next queued invocation, as soon as there is one. Lambda
/// freezes the environment once it has answered, so a poll with nothing queued
/// waits; only the end of the emulation releases it.
async fn next(State(api): State<Arc<Api>>) -> Response {
    if api.first_poll.get().is_none() {
        let polled = Instant::now();
        // A busy machine may preempt the spawner between the spawn and noting
        // the pid, and the runtime poll first: wait for the pid then.
        let mut pid = api.pid.subscribe();
        let noted = tokio::time::timeout(Duration::from_secs(1), pid.wait_for(Option::is_some));
        let pid = noted.await.ok().and_then(|p| p.ok().and_then(|p| *p));
        // The runtime waits for this answer: its CPU time now is its init's.
        api.first_poll
            .get_or_init(|| (polled, pid.and_then(CpuTime::of)));
    }
    let mut closed = api.closed.clone();
    let pending = {
        let mut queue = api.queue.lock().await;
        tokio::select! {
            pending = queue.recv() => pending,
            _ = closed.changed() => None,
        }
    };
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (root, parent) = (
        Uuid::new_v4().simple().to_string(),
        Uuid::new_v4().simple().to_string(),
    );
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", pending.request_id.clone()),
        (
            "lambda-runtime-deadline-ms",
            (now + api.timeout).as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            api.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{:08x}-{};Parent={};Sampled=0",
                now.as_secs(),
                &root[..24],
                &parent[..16]
            ),
        ),
    ];
    api.in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            pending.request_id,
            InFlight {
                answer: pending.answer,
                handed_out: Instant::now(),
            },
        );
    (headers, pending.event).into_response()
}

async fn response(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    api.settle(&id, Outcome::Response(parse(&body)))
}

async fn error(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    api.settle(&id, Outcome::Error(parse(&body)))
}

async fn init_error(State(api): State<Arc<Api>>, body: Bytes) -> StatusCode {
    api.init_error.send_replace(Some(parse(&body)));
    StatusCode::ACCEPTED
}

impl Api {
    /// Delivers the answer to the invocation `request_id`; only the first one counts.
    fn settle(&self, request_id: &str, outcome: Outcome) -> StatusCode {
        let at = Instant::now();
        let in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(request_id);
        let sent = in_flight.map(|f| {
            f.answer.send(Settled {
                outcome,
                handed_out: f.handed_out,
                at,
            })
        });
        match sent {
            Some(Ok(())) => StatusCode::ACCEPTED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The payload as JSON; a body that is not JSON is kept as a string.
fn parse(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends one raw HTTP/1.1 request and returns the whole raw response.
    async fn http(addr: SocketAddr, request: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    const NEXT: &str =
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    fn header<'a>(response: &'a str, name: &str) -> &'a str {
        let prefix = format!("{name}: ");
        response
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .starts_with(&prefix)
                    .then(|| &line[prefix.len()..])
            })
            .unwrap()
    }

    fn post(path: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// Queues `event` on the emulation; the receiver yields the function's answer.
    fn enqueue(emulation: &Emulation, event: &Value) -> oneshot::Receiver<Settled> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            request_id: Uuid::new_v4().to_string(),
            event: Bytes::from(serde_json::to_vec(event).unwrap()),
            answer,
        };
        emulation
            .events
            .send(pending)
            .unwrap_or_else(|_| panic!("queue closed"));
        answered
    }

    #[tokio::test]
    async fn hands_out_the_event_once_and_takes_a_chunked_response() {
        let event = json!({"path": "/auth", "body": "{\"cpf\":\"1\"}"});
        let emulation = serve("authenticate", Duration::from_secs(30))
            .await
            .unwrap();
        let addr = emulation.addr;
        let answer = enqueue(&emulation, &event);

        let next = http(addr, NEXT).await;
        assert!(next.starts_with("HTTP/1.1 200"), "{next}");
        let id = header(&next, "lambda-runtime-aws-request-id").to_owned();
        assert!(Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(
            header(&next, "lambda-runtime-invoked-function-arn"),
            "arn:aws:lambda:us-east-1:000000000000:function:authenticate"
        );
        let deadline: u128 = header(&next, "lambda-runtime-deadline-ms").parse().unwrap();
        assert!(
            deadline
                > SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 25_000
        );
        assert!(header(&next, "lambda-runtime-trace-id").starts_with("Root=1-"));
        let body = &next[next.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(serde_json::from_str::<Value>(body).unwrap(), event);

        // The runtime polls again after answering: that poll must never be answered.
        let second = tokio::spawn(http(addr, NEXT));

        let wrong = http(
            addr,
            &post("/2018-06-01/runtime/invocation/nope/response", "{}"),
        )
        .await;
        assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");

        let chunked = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n\
             c\r\n{{\"statusCode\r\n7\r\n\": 200}}\r\n0\r\n\r\n"
        );
        let accepted = http(addr, &chunked).await;
        assert!(accepted.starts_with("HTTP/1.1 202"), "{accepted}");
        match answer.await.unwrap().outcome {
            Outcome::Response(payload) => assert_eq!(payload, json!({"statusCode": 200})),
            other => panic!("{other:?}"),
        }

        let again = http(
            addr,
            &post(
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                "{}",
            ),
        )
        .await;
        assert!(again.starts_with("HTTP/1.1 400"), "{again}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished());
        drop(emulation);
        // Dropping the emulation releases the parked poll.
        let released = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .unwrap()
            .unwrap();
        assert!(released.starts_with("HTTP/1.1 410"), "{released}");
    }

    #[tokio::test]
    async fn takes_invocation_and_init_errors() {
        let emulation = serve("f", Duration::from_secs(30)).await.unwrap();
        let answer = enqueue(&emulation, &json!({}));
        let next = http(emulation.addr, NEXT).await;
        let id = header(&next, "lambda-runtime-aws-request-id");
        let payload =
            r#"{"errorType":"&alloc::boxed::Box<dyn core::error::Error>","errorMessage":"boom"}"#;
        let accepted = http(
            emulation.addr,
            &post(
                &format!("/2018-06-01/runtime/invocation/{id}/error"),
                payload,
            ),
        )
        .await;
        assert!(accepted.starts_with("HTTP/1.1 202"), "{accepted}");
        match answer.await.unwrap().outcome {
            Outcome::Error(error) => assert_eq!(error["errorMessage"], "boom"),
            other => panic!("{other:?}"),
        }

        let emulation = serve("f", Duration::from_secs(30)).await.unwrap();
        let accepted = http(
            emulation.addr,
            &post(
                "/2018-06-01/runtime/init/error",
                r#"{"errorType":"Init","errorMessage":"no table"}"#,
            ),
        )
        .await;
        assert!(accepted.starts_with("HTTP/1.1 202"), "{accepted}");
        let init_error = emulation.api.init_error.borrow().clone().unwrap();
        assert_eq!(init_error["errorType"], "Init");
    }

    /// A Lambda runtime in shell and curl: hands every event back as its response.
    const ECHO_RUNTIME: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
dir=$(mktemp -d)
while curl -sS -D "$dir/headers" -o "$dir/event" "$api/invocation/next"; do
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$dir/headers" | cut -d' ' -f2 | tr -d '\r')
  curl -sS -o /dev/null --data-binary @"$dir/event" "$api/invocation/$id/response"
done
"#;

    fn script(text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("runtime-api-{}", Uuid::new_v4().simple()));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn an_instance_answers_invocations_one_after_another_and_is_measured() {
        let runtime = script(ECHO_RUNTIME);
        let mut instance = Instance::start(&runtime, &[], Duration::from_secs(30))
            .await
            .unwrap();
        let first = instance.invoke(&json!({"n": 0})).await.unwrap();
        let init = instance.init_duration().unwrap();
        assert!(init <= first.since_start, "{init:?} {first:?}");
        assert!(instance.init_cpu().unwrap() > Duration::ZERO);
        assert!(first.latency <= first.since_start);
        let before = instance.cpu_time().unwrap();
        for n in 1..4 {
            let answered = instance.invoke(&json!({ "n": n })).await.unwrap();
            assert!(matches!(answered.outcome, Outcome::Response(ref r) if r["n"] == n));
        }
        let used = instance.cpu_time().unwrap().since(&before);
        assert!(used < Duration::from_secs(10), "{used:?}");
        assert!(instance.peak_memory_kib().unwrap() > 0);
        instance.stop().await;
        std::fs::remove_file(&runtime).unwrap();
    }

    #[tokio::test]
    async fn a_clean_start_passes_only_lambdas_variables_and_the_given_ones() {
        // Answers its environment as its response.
        let runtime = script(&ECHO_RUNTIME.replace(
            "--data-binary @\"$dir/event\"",
            "--data-binary \"$(env | sort | tr '\\n' ' ')\"",
        ));
        let given = [("PRODUCTS_TABLE".to_owned(), "menu".to_owned())];
        let mut instance = Instance::start_clean(&runtime, &given, Duration::from_secs(30))
            .await
            .unwrap();
        let answered = instance.invoke(&json!({})).await.unwrap();
        instance.stop().await;
        std::fs::remove_file(&runtime).unwrap();
        let Outcome::Response(Value::String(env)) = answered.outcome else {
            panic!("{:?}", answered.outcome)
        };
        assert!(env.contains("PRODUCTS_TABLE=menu "), "{env}");
        assert!(env.contains("AWS_LAMBDA_RUNTIME_API=127.0.0.1:"), "{env}");
        assert!(env.contains("TZ=:UTC "), "{env}");
        assert!(!env.contains("CARGO"), "{env}");
    }

    #[test]
    fn cpu_time_counts_each_thread_since_the_earlier_reading() {
        let earlier = CpuTime {
            per_thread_ns: HashMap::from([(1, 1_000), (2, 5_000), (3, 9_000)]),
            ticks: 0,
        };
        // Thread 2 exited, thread 4 started.
        let now = CpuTime {
            per_thread_ns: HashMap::from([(1, 4_000), (3, 9_500), (4, 700)]),
            ticks: 1,
        };
        assert_eq!(now.since(&earlier), Duration::from_nanos(3_000 + 500 + 700));
        let coarse = CpuTime {
            per_thread_ns: HashMap::new(),
            ticks: 3,
        };
        assert_eq!(coarse.since(&earlier), Duration::from_millis(30));
        let own = CpuTime::of(std::process::id()).unwrap();
        assert!(!own.per_thread_ns.is_empty());
    }

    /// The error of running `binary` on an empty event.
    async fn failure_of(binary: &str) -> InvokeError {
        invoke(Path::new(binary), &json!({}), &[], Duration::from_secs(30))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_binary_that_exits_without_answering_is_an_error() {
        let error = failure_of("/bin/true").await;
        assert!(
            matches!(&error, InvokeError::Exited { status, .. } if status.success()),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_missing_binary_cannot_be_spawned() {
        let error = failure_of("/nonexistent/bootstrap").await;
        assert!(
            matches!(&error, InvokeError::Spawn { binary, .. } if binary == Path::new("/nonexistent/bootstrap")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_silent_binary_times_out_and_is_killed() {
        let script = script("#!/bin/sh\necho waiting >&2\nexec sleep 30\n");
        let started = std::time::Instant::now();
        let error = invoke(&script, &json!({}), &[], Duration::from_millis(500))
            .await
            .unwrap_err();
        std::fs::remove_file(&script).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(&error, InvokeError::Timeout { stderr_tail, .. } if stderr_tail == "waiting"),
            "{error}"
        );
    }
}
