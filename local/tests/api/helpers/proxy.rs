//! Proxies in front of the emulator (every AWS call of a stack's functions
//! and bootstrap, told apart by its `X-Amz-Target`) that record calls,
//! make writes one at a time or answer a broken server's page; and one in
//! front of the Mercado Pago stand-in that fails or races cancellations.

use super::TestApp;
use super::emulator::{emulator_endpoint, spawn_app_configured, spawn_app_through};

/// The AWS operations the app sends, as seen on the wire (the `X-Amz-Target`
/// header of the JSON protocols: `DynamoDB_20120810.Query`, ...): all of them,
/// and how many were taken already.
#[derive(Clone, Default)]
pub struct Recorder(std::sync::Arc<std::sync::Mutex<(Vec<String>, usize)>>);

impl Recorder {
    fn push(&self, operation: String) {
        self.0.lock().unwrap().0.push(operation);
    }

    /// The operations sent since the last take.
    pub fn take(&self) -> Vec<String> {
        let mut recorded = self.0.lock().unwrap();
        let (all, taken) = &mut *recorded;
        let new = all[*taken..].to_vec();
        *taken = all.len();
        new
    }

    /// The DynamoDB operations sent since the last take, and all of those.
    pub fn take_dynamodb(&self) -> (Vec<String>, Vec<String>) {
        let all = self.take();
        let dynamodb = all
            .iter()
            .filter(|o| o.starts_with("DynamoDB"))
            .cloned()
            .collect();
        (dynamodb, all)
    }

    /// Every operation sent since the app was spawned.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().0.clone()
    }
}

/// A pass-through proxy in front of the emulator that records every call.
async fn start_recording_proxy(upstream: String) -> (String, Recorder) {
    let recorder = Recorder::default();
    let seen = recorder.clone();
    let endpoint = start_proxy(upstream, move |target: &str| {
        seen.push(target.to_owned());
        Relay::Forward
    })
    .await;
    (endpoint, recorder)
}

/// What the proxy does with a call.
pub(super) enum Relay {
    Forward,
    /// Answers 500 with an HTML page, as a broken emulator or load balancer
    /// does, instead of forwarding.
    ServerErrorPage,
    /// Forwards it while no other `Serialized` call is in flight.
    Serialized,
}

/// Whether the call (its `X-Amz-Target`) writes to DynamoDB.
pub(super) fn is_write(target: &str) -> bool {
    ["TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"]
        .iter()
        .any(|op| target.ends_with(&format!(".{op}")))
}

/// A proxy in front of the emulator that shows `on_call` each call's
/// operation (its `X-Amz-Target`) and relays the call as it says; its endpoint.
pub(super) async fn start_proxy(
    upstream: String,
    on_call: impl Fn(&str) -> Relay + Clone + Send + Sync + 'static,
) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};
    let client = reqwest::Client::new();
    let one_at_a_time = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream, on_call) = (client.clone(), upstream.clone(), on_call.clone());
        let one_at_a_time = one_at_a_time.clone();
        async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no target)");
            let how = on_call(target);
            if let Relay::Serialized = how {
                // The turn is held until the emulator answers, even when the
                // caller gave up waiting (a timeout): a write still in flight
                // at the emulator keeps the next one out, as DynamoDB's
                // isolation would.
                let turn = one_at_a_time.lock_owned().await;
                let call = tokio::spawn(async move {
                    let answer = relay(&client, &upstream, method, &uri, &headers, body).await;
                    drop(turn);
                    answer
                });
                return call.await.unwrap();
            }
            if let Relay::ServerErrorPage = how {
                let page = "<html><body><h1>500 Internal Server Error</h1></body></html>";
                let mut answer = axum::response::Response::new(axum::body::Body::from(page));
                *answer.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                let html = axum::http::HeaderValue::from_static("text/html");
                answer.headers_mut().insert("content-type", html);
                return answer;
            }
            relay(&client, &upstream, method, &uri, &headers, body).await
        }
    };
    serve(axum::Router::new().fallback(forward)).await
}

/// Sends the request to `upstream` as it came (its headers but `host` and
/// `content-length`) and answers what `upstream` answered: what the test
/// proxies do with every call they let through.
async fn relay(
    client: &reqwest::Client,
    upstream: &str,
    method: axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let url = format!(
        "{upstream}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut request = client.request(method, url).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let mut answer = axum::response::Response::new(axum::body::Body::from(body));
    *answer.status_mut() = status;
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// `spawn_app`, with every AWS call of the functions (and of the bootstrap)
/// going through a recording proxy.
pub async fn spawn_recorded_app() -> (TestApp, Recorder) {
    let (endpoint, recorder) = start_recording_proxy(emulator_endpoint()).await;
    (spawn_app_through(&endpoint).await, recorder)
}

/// `spawn_app` with template `parameters` set (`KioskSigninsPerMinute`, ...),
/// its DynamoDB writes made one at a time. moto's writes are not isolated:
/// a transaction snapshots its tables and, when a condition fails, restores
/// the snapshot, undoing the writes of whatever ran meanwhile; and of
/// concurrent conditional updates of one item, more than the condition
/// allows can pass it. DynamoDB's are isolated; tests of concurrent writes
/// on one item need that.
pub async fn spawn_app_with_isolated_writes(parameters: &[(&str, &str)]) -> TestApp {
    let on_call = |target: &str| {
        if is_write(target) {
            Relay::Serialized
        } else {
            Relay::Forward
        }
    };
    let endpoint = start_proxy(emulator_endpoint(), on_call).await;
    spawn_app_configured(&endpoint, parameters).await
}

/// `spawn_app`, with every call of `operation` (`Query`, ...) answered 500
/// with an HTML page instead of reaching the emulator.
pub async fn spawn_app_failing(operation: &'static str) -> TestApp {
    let on_call = move |target: &str| match target.ends_with(operation) {
        true => Relay::ServerErrorPage,
        false => Relay::Forward,
    };
    spawn_app_through(&start_proxy(emulator_endpoint(), on_call).await).await
}

/// What [`MercadoPagoProxy`] does to a `POST /v1/orders/{id}/cancel`.
#[derive(Clone, Copy)]
pub enum AtCancel {
    /// Answers 503 without forwarding it.
    Fail,
    /// Pays the order at the stand-in (no notification), then forwards it.
    PayFirst,
}

/// A Mercado Pago in front of the stand-in that does [`AtCancel`] to
/// cancellations and forwards everything else.
pub struct MercadoPagoProxy;

impl MercadoPagoProxy {
    /// Starts one in front of the stand-in at `upstream`; its URL.
    pub async fn start(upstream: &str, at_cancel: AtCancel) -> String {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let (client, upstream) = (reqwest::Client::new(), upstream.to_owned());
        let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (client, upstream) = (client.clone(), upstream.clone());
            async move {
                let path = uri.path().to_owned();
                if let Some(id) = path
                    .strip_prefix("/v1/orders/")
                    .and_then(|rest| rest.strip_suffix("/cancel"))
                {
                    if let AtCancel::Fail = at_cancel {
                        let mut answer = axum::response::Response::new(axum::body::Body::from(
                            r#"{"errors":[{"code":"internal_error","message":"down"}]}"#,
                        ));
                        *answer.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        return answer;
                    }
                    let paid = client
                        .post(format!("{upstream}/simulate/orders/{id}/pay?notify=false"))
                        .send()
                        .await
                        .unwrap();
                    assert!(paid.status().is_success(), "{}", paid.status());
                }
                relay(&client, &upstream, method, &uri, &headers, body).await
            }
        };
        serve(axum::Router::new().fallback(forward)).await
    }
}

/// Serves `router` on a free port of 127.0.0.1 for the rest of the test; its
/// base URL (`http://127.0.0.1:<port>`).
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}
