//! `kiosk-tools bench ...` (what `make bench` runs once `scripts/bench.sh` has
//! built the binaries) and `kiosk-tools keys generate|rotate ENV` (what
//! `make keys` and `make rotate-keys` run).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    kiosk_local::command_main("kiosk-tools", run).await
}

const USAGE: &str =
    "usage: kiosk-tools keys generate|rotate ENV    (an environment's token keys; deploy/README.md)
       kiosk-tools bench --bins DIR ...          (what make bench runs: scripts/bench.sh)";

async fn run(args: &[&str]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match args {
        ["keys", command @ ("generate" | "rotate"), environment] => {
            kiosk_tools::keys::main(command, environment).await
        }
        ["bench", options @ ..] => kiosk_tools::bench::main(options).await,
        _ => Err(USAGE.into()),
    }
}
