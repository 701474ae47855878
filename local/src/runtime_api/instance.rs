//! A function process and the emulated Runtime API it polls: started with
//! Lambda's variables, handed events one at a time, its stdout and stderr
//! collected, killed and reaped at the end.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::emulation::{Api, Pending, Server, Settled, serve};
use super::measure::{CpuTime, peak_memory_kib};
use super::{Answered, InvokeError, Outcome};

/// How many lines of the child's stderr an error carries.
const TAIL_LINES: usize = 20;

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

#[cfg(test)]
mod tests {
    use super::super::invoke;
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

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
