//! Runs a built Lambda binary on one event, the way AWS Lambda would: the binary talks
//! to an emulation of the Lambda Runtime API on 127.0.0.1, no Docker or cargo-lambda.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, watch};
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

/// `VmHWM` of a live process, from /proc.
fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
    let name = binary
        .file_name()
        .map_or_else(|| "function".into(), |n| n.to_string_lossy().into_owned());
    let (addr, answer, _server) = serve_one(event, &name, timeout).await?;
    let mut command = Command::new(binary);
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
    if std::env::var_os("AWS_REGION").is_none() {
        command.env("AWS_REGION", "us-east-1");
    }
    command
        .envs(env.iter().map(|(key, value)| (key, value)))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| InvokeError::Spawn {
        binary: binary.to_owned(),
        source,
    })?;

    let logs = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(out, vec![logs.clone()])));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(err, vec![logs.clone(), stderr.clone()])));
    }

    let end = tokio::select! {
        // An answer wins over a simultaneous exit: the function did answer.
        biased;
        outcome = answer => End::Answered(outcome.map_err(|_| io::Error::other("the emulated API stopped"))?),
        status = child.wait() => End::Exited(status?),
        () = tokio::time::sleep(timeout) => End::TimedOut,
    };
    let peak_memory_kib = child.id().and_then(peak_memory_kib);
    // Lambda would freeze the environment here; killing it is the local equivalent.
    // start_kill fails only if the child has already exited, which is fine.
    let _ = child.start_kill();
    child.wait().await?;
    // A grandchild may still hold the pipes open: don't wait for them forever.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        for pump in pumps {
            let _ = pump.await;
        }
    })
    .await;

    let stderr = take(&stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let stderr_tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    match end {
        End::Answered(outcome) => Ok(Invocation {
            outcome,
            logs: take(&logs),
            peak_memory_kib,
        }),
        End::Exited(status) => Err(InvokeError::Exited {
            status,
            stderr_tail,
        }),
        End::TimedOut => Err(InvokeError::Timeout {
            timeout,
            stderr_tail,
        }),
    }
}

/// How the wait for the function ended.
enum End {
    Answered(Outcome),
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

/// State of the emulated API for its single invocation.
struct Api {
    event: Bytes,
    request_id: String,
    function_arn: String,
    timeout: Duration,
    handed_out: AtomicBool,
    answer: Mutex<Option<oneshot::Sender<Outcome>>>,
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

/// Serves the Runtime API for one invocation of `event` on an ephemeral port of 127.0.0.1;
/// the receiver yields the function's answer.
async fn serve_one(
    event: &Value,
    function_name: &str,
    timeout: Duration,
) -> io::Result<(SocketAddr, oneshot::Receiver<Outcome>, Server)> {
    let (answer, answered) = oneshot::channel();
    let (close, closed) = watch::channel(());
    let api = Arc::new(Api {
        event: Bytes::from(serde_json::to_vec(event).map_err(io::Error::other)?),
        request_id: Uuid::new_v4().to_string(),
        function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
        timeout,
        handed_out: AtomicBool::new(false),
        answer: Mutex::new(Some(answer)),
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
        .with_state(api);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "the emulated Lambda Runtime API stopped");
        }
    });
    Ok((
        addr,
        answered,
        Server {
            task,
            _close: close,
        },
    ))
}

async fn next(State(api): State<Arc<Api>>) -> Response {
    if api.handed_out.swap(true, Ordering::SeqCst) {
        // Lambda freezes the environment once it has answered, so the runtime's next poll
        // never returns; only the end of the emulation releases it.
        let _ = api.closed.clone().changed().await;
        return StatusCode::GONE.into_response();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (root, parent) = (
        Uuid::new_v4().simple().to_string(),
        Uuid::new_v4().simple().to_string(),
    );
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", api.request_id.clone()),
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
    (headers, api.event.clone()).into_response()
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
    api.settle(&api.request_id, Outcome::Error(parse(&body)))
}

impl Api {
    /// Delivers the answer to the invocation `request_id`; only the first one counts.
    fn settle(&self, request_id: &str, outcome: Outcome) -> StatusCode {
        let sender = if request_id == self.request_id {
            self.answer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        } else {
            None
        };
        match sender.map(|sender| sender.send(outcome)) {
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

    #[tokio::test]
    async fn hands_out_the_event_once_and_takes_a_chunked_response() {
        let event = json!({"path": "/auth", "body": "{\"cpf\":\"1\"}"});
        let (addr, answer, server) = serve_one(&event, "authenticate", Duration::from_secs(30))
            .await
            .unwrap();

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
        match answer.await.unwrap() {
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
        drop(server);
        // Dropping the server releases the parked poll.
        let released = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .unwrap()
            .unwrap();
        assert!(released.starts_with("HTTP/1.1 410"), "{released}");
    }

    #[tokio::test]
    async fn takes_invocation_and_init_errors() {
        let (addr, answer, _server) = serve_one(&json!({}), "f", Duration::from_secs(30))
            .await
            .unwrap();
        let next = http(addr, NEXT).await;
        let id = header(&next, "lambda-runtime-aws-request-id");
        let payload =
            r#"{"errorType":"&alloc::boxed::Box<dyn core::error::Error>","errorMessage":"boom"}"#;
        let accepted = http(
            addr,
            &post(
                &format!("/2018-06-01/runtime/invocation/{id}/error"),
                payload,
            ),
        )
        .await;
        assert!(accepted.starts_with("HTTP/1.1 202"), "{accepted}");
        match answer.await.unwrap() {
            Outcome::Error(error) => assert_eq!(error["errorMessage"], "boom"),
            other => panic!("{other:?}"),
        }

        let (addr, answer, _server) = serve_one(&json!({}), "f", Duration::from_secs(30))
            .await
            .unwrap();
        let accepted = http(
            addr,
            &post(
                "/2018-06-01/runtime/init/error",
                r#"{"errorType":"Init","errorMessage":"no table"}"#,
            ),
        )
        .await;
        assert!(accepted.starts_with("HTTP/1.1 202"), "{accepted}");
        match answer.await.unwrap() {
            Outcome::Error(error) => assert_eq!(error["errorType"], "Init"),
            other => panic!("{other:?}"),
        }
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
        use std::os::unix::fs::PermissionsExt;
        let script = std::env::temp_dir().join(format!("runtime-api-{}", Uuid::new_v4().simple()));
        std::fs::write(&script, "#!/bin/sh\necho waiting >&2\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
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
