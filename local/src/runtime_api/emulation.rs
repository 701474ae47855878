//! The Lambda Runtime API of one function, emulated on an ephemeral port of
//! 127.0.0.1: `GET /next` hands out the queued invocations one at a time,
//! `POST .../response`, `.../error` and `/init/error` take the answers.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Outcome;
use super::measure::CpuTime;

/// An invocation waiting for the runtime's next poll.
pub(super) struct Pending {
    pub(super) request_id: String,
    pub(super) event: Bytes,
    pub(super) answer: oneshot::Sender<Settled>,
}

/// An invocation handed out, waiting for the function's answer.
struct InFlight {
    answer: oneshot::Sender<Settled>,
    handed_out: Instant,
}

/// What the function answered to one invocation, and when.
pub(super) struct Settled {
    pub(super) outcome: Outcome,
    pub(super) handed_out: Instant,
    pub(super) at: Instant,
}

/// State of the emulated API.
pub(super) struct Api {
    function_arn: String,
    timeout: Duration,
    /// Invocations in the order they are handed out; only one poll takes from it at a time.
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// The process, once started.
    pub(super) pid: watch::Sender<Option<u32>>,
    /// When the runtime first asked for an invocation (the end of its init),
    /// and the CPU time it had used by then.
    pub(super) first_poll: OnceLock<(Instant, Option<CpuTime>)>,
    /// The payload of the runtime's `/init/error`, if it posted one.
    pub(super) init_error: watch::Sender<Option<Value>>,
    closed: watch::Receiver<()>,
}

/// Stops the emulated API when dropped, including requests still parked in GET /next.
pub(super) struct Server {
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
pub(super) struct Emulation {
    pub(super) addr: SocketAddr,
    pub(super) events: mpsc::UnboundedSender<Pending>,
    pub(super) api: Arc<Api>,
    pub(super) server: Server,
}

/// Serves the Runtime API for `function_name` on an ephemeral port of 127.0.0.1.
pub(super) async fn serve(function_name: &str, timeout: Duration) -> io::Result<Emulation> {
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
}
