//! The Lambda Runtime API (2018-06-01) over one blocking HTTP/1.1 connection.
//!
//! Why not `lambda_runtime`: it brings tokio's runtime, hyper and tower for a
//! loop of two local HTTP calls, and the authorizer has nothing else that is
//! asynchronous. This client is the loop and nothing more: `GET
//! /runtime/invocation/next`, then `POST .../response` or `.../error`, on a
//! kept-alive connection to `AWS_LAMBDA_RUNTIME_API` (plain HTTP on the
//! sandbox's loopback), reconnecting once if the connection was dropped.
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>
//!
//! It never logs an event or a response: they carry tokens.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

const API_VERSION: &str = "2018-06-01";
/// The largest synchronous payload Lambda accepts (6 MB), plus headroom.
const MAX_BODY_BYTES: usize = 7 * 1024 * 1024;
/// A status or header line longer than this is not the Runtime API's.
const MAX_LINE_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;

/// An error the function reports for one invocation (`errorType`,
/// `errorMessage`), as Lambda shows it to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionError {
    #[serde(rename = "errorType")]
    pub error_type: String,
    #[serde(rename = "errorMessage")]
    pub message: String,
}

impl FunctionError {
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// One event to handle.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub body: Vec<u8>,
}

struct Response {
    status: u16,
    request_id: Option<String>,
    body: Vec<u8>,
}

/// A connection to the Runtime API.
pub struct Client {
    address: String,
    connection: Option<BufReader<TcpStream>>,
}

impl Client {
    /// The Runtime API Lambda names in `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub fn from_env() -> io::Result<Self> {
        let address = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .map_err(|_| invalid("AWS_LAMBDA_RUNTIME_API is not set: not running in Lambda"))?;
        Ok(Self::new(address))
    }

    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            connection: None,
        }
    }

    /// Waits for the next event (a long poll: no timeout).
    pub fn next_invocation(&mut self) -> io::Result<Invocation> {
        let path = format!("/{API_VERSION}/runtime/invocation/next");
        let response = self.exchange("GET", &path, None)?;
        if response.status != 200 {
            return Err(invalid(format!(
                "next invocation: HTTP {}",
                response.status
            )));
        }
        let request_id = response
            .request_id
            .filter(|id| is_request_id(id))
            .ok_or_else(|| invalid("next invocation: no valid Lambda-Runtime-Aws-Request-Id"))?;
        Ok(Invocation {
            request_id,
            body: response.body,
        })
    }

    /// Answers an invocation.
    pub fn respond(&mut self, request_id: &str, body: &[u8]) -> io::Result<()> {
        let path = format!("/{API_VERSION}/runtime/invocation/{request_id}/response");
        self.post(&path, body)
    }

    /// Reports an invocation's error.
    pub fn fail(&mut self, request_id: &str, error: &FunctionError) -> io::Result<()> {
        let path = format!("/{API_VERSION}/runtime/invocation/{request_id}/error");
        self.post(&path, &serde_json::to_vec(error).unwrap_or_default())
    }

    /// Reports that the function cannot start (Lambda then retries the init).
    pub fn init_error(&mut self, error: &FunctionError) -> io::Result<()> {
        let path = format!("/{API_VERSION}/runtime/init/error");
        self.post(&path, &serde_json::to_vec(error).unwrap_or_default())
    }

    fn post(&mut self, path: &str, body: &[u8]) -> io::Result<()> {
        let response = self.exchange("POST", path, Some(body))?;
        match response.status {
            200..=299 => Ok(()),
            status => Err(invalid(format!("POST {path}: HTTP {status}"))),
        }
    }

    /// One request and its response; a connection that was closed under us
    /// (or never opened) is opened again once.
    fn exchange(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<Response> {
        let reused = self.connection.is_some();
        match self.try_exchange(method, path, body) {
            Err(e) if reused && is_dropped(&e) => {
                self.connection = None;
                self.try_exchange(method, path, body)
            }
            other => other,
        }
        .inspect_err(|_| self.connection = None)
    }

    fn try_exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(&self.address)?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::new(stream));
        }
        let connection = self
            .connection
            .as_mut()
            .ok_or_else(|| invalid("no connection"))?;
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        if let Some(body) = body {
            request.push_str("Content-Type: application/json\r\n");
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let stream = connection.get_mut();
        stream.write_all(request.as_bytes())?;
        if let Some(body) = body {
            stream.write_all(body)?;
        }
        stream.flush()?;
        let (response, keep_alive) = read_response(connection)?;
        if !keep_alive {
            self.connection = None;
        }
        Ok(response)
    }
}

/// Runs `handler` on every event, forever: an event that is not an `E` is
/// reported as an `InvalidEvent` error. Returns only when the Runtime API
/// cannot be reached, and then the process should exit.
pub fn run<E, R>(
    client: &mut Client,
    mut handler: impl FnMut(E) -> Result<R, FunctionError>,
) -> io::Error
where
    E: DeserializeOwned,
    R: Serialize,
{
    loop {
        let invocation = match client.next_invocation() {
            Ok(invocation) => invocation,
            Err(e) => return e,
        };
        let answer = serde_json::from_slice::<E>(&invocation.body)
            .map_err(|e| FunctionError::new("InvalidEvent", format!("the event is not valid: {e}")))
            .and_then(&mut handler)
            .and_then(|response| {
                serde_json::to_vec(&response)
                    .map_err(|e| FunctionError::new("InvalidResponse", e.to_string()))
            });
        let sent = match answer {
            Ok(body) => client.respond(&invocation.request_id, &body),
            Err(error) => client.fail(&invocation.request_id, &error),
        };
        if let Err(e) = sent {
            tracing::error!(error = %e, "could not answer the Runtime API");
        }
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// A reused keep-alive connection the other side has since closed.
fn is_dropped(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Request ids go into URL paths: only the characters Lambda uses.
fn is_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if line.len() > MAX_LINE_BYTES || line.last() != Some(&b'\n') {
        return Err(invalid("an HTTP line is too long or cut short"));
    }
    let line = String::from_utf8(line).map_err(|_| invalid("an HTTP line is not UTF-8"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads one HTTP/1.1 response; also says whether the connection stays open.
fn read_response(reader: &mut impl BufRead) -> io::Result<(Response, bool)> {
    let status_line = read_line(reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| invalid("not an HTTP/1.x status line"))?;
    let mut keep_alive = version == "HTTP/1.1";
    let (mut length, mut chunked, mut request_id) = (None, false, None);
    for count in 0.. {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        if count >= MAX_HEADERS {
            return Err(invalid("too many headers"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("a header without a colon"))?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n: usize = value.parse().map_err(|_| invalid("bad Content-Length"))?;
                length = Some(n);
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
            "lambda-runtime-aws-request-id" => request_id = Some(value.to_owned()),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else if let Some(length) = length {
        if length > MAX_BODY_BYTES {
            return Err(invalid("the body is too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else {
        // No length: the body runs to the end of the connection.
        keep_alive = false;
        let mut body = Vec::new();
        reader
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)?;
        if body.len() > MAX_BODY_BYTES {
            return Err(invalid("the body is too large"));
        }
        body
    };
    Ok((
        Response {
            status,
            request_id,
            body,
        },
        keep_alive,
    ))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(invalid("the body is too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(invalid("a chunk is longer than its size"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    fn parse(raw: &str) -> io::Result<(Response, bool)> {
        read_response(&mut BufReader::new(raw.as_bytes()))
    }

    #[test]
    fn reads_length_chunked_and_close_delimited_bodies() {
        let (r, keep) = parse(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc-1\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        assert_eq!(
            (r.status, r.request_id.as_deref(), r.body.as_slice(), keep),
            (200, Some("abc-1"), &b"{}"[..], true)
        );
        let (r, keep) = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.body.as_slice(), keep), (&br#"{"a":1}"#[..], true));
        let (r, keep) = parse("HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\nok").unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), keep),
            (202, &b"ok"[..], false)
        );
    }

    #[test]
    fn refuses_malformed_responses_without_panicking() {
        for raw in [
            "",
            "garbage\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno-colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
        let long = format!(
            "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_LINE_BYTES)
        );
        assert!(parse(&long).is_err());
    }

    #[test]
    fn request_ids_that_could_bend_the_url_are_refused() {
        assert!(is_request_id("8476a536-e9f4-11e8-9739-2dfe598c3fcd"));
        for bad in ["", "../init/error", "a b", "a\r\nX: y", "a?b"] {
            assert!(!is_request_id(bad), "{bad:?}");
        }
    }

    /// A Runtime API of two invocations on one kept-alive connection,
    /// recording what the client posts.
    #[test]
    fn the_loop_answers_each_invocation_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (posted, received) = mpsc::channel();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            for (id, event) in [("id-1", r#"{"n":1}"#), ("id-2", r#"not json"#)] {
                let next = read_line(&mut reader).unwrap();
                assert!(next.starts_with("GET /2018-06-01/runtime/invocation/next "));
                while !read_line(&mut reader).unwrap().is_empty() {}
                write!(
                    writer,
                    "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: {}\r\n\r\n{event}",
                    event.len()
                )
                .unwrap();
                let post = read_line(&mut reader).unwrap();
                let mut length = 0;
                loop {
                    let line = read_line(&mut reader).unwrap();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                posted
                    .send((post, String::from_utf8(body).unwrap()))
                    .unwrap();
                write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
            }
            // Then the runtime goes away: the loop must end, not spin.
        });

        let mut client = Client::new(address);
        let ended = run(&mut client, |event: serde_json::Value| {
            Ok::<_, FunctionError>(
                serde_json::json!({"doubled": event["n"].as_i64().unwrap_or(0) * 2}),
            )
        });
        assert!(
            is_dropped(&ended) || ended.kind() == io::ErrorKind::ConnectionRefused,
            "{ended}"
        );

        let (post, body) = received.recv().unwrap();
        assert!(
            post.starts_with("POST /2018-06-01/runtime/invocation/id-1/response "),
            "{post}"
        );
        assert_eq!(body, r#"{"doubled":2}"#);
        let (post, body) = received.recv().unwrap();
        assert!(
            post.starts_with("POST /2018-06-01/runtime/invocation/id-2/error "),
            "{post}"
        );
        assert!(body.contains(r#""errorType":"InvalidEvent""#), "{body}");
    }
}
