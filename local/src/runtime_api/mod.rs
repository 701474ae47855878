//! Runs a built Lambda binary the way AWS Lambda would: the binary talks to an
//! emulation of the Lambda Runtime API on 127.0.0.1, no Docker or cargo-lambda.
//!
//! [`invoke`] runs one event in a fresh process: a cold start, whose peak memory
//! belongs to that event alone. An [`Instance`] keeps its process and hands it
//! events one after another, as a warm execution environment does, and times
//! them: its init (start to the first `GET /next`), each answer, its CPU time and
//! peak memory (what `make bench` measures).
//!
//! By job: `emulation` serves the Runtime API a process polls, `instance`
//! starts the process and waits for its answers, `measure` reads its CPU time
//! and peak memory from /proc; this file holds what a caller gets back.

mod emulation;
mod instance;
mod measure;

pub use instance::Instance;
pub use measure::CpuTime;

use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

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
