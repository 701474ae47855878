#!/usr/bin/env bash
# Runs a command with a moto server of its own on 127.0.0.1, then stops it.
#   scripts/with-emulator.sh [--port N] -- command args...
# Without --port a free port is taken, so tests never collide with `make dev`.
# The command sees AWS_ENDPOINT_URL, AWS_REGION and moto's dummy credentials.
set -euo pipefail

port=""
if [[ "${1:-}" == "--port" ]]; then port="$2"; shift 2; fi
[[ "${1:-}" == "--" ]] && shift
[[ $# -gt 0 ]] || { echo "usage: $0 [--port N] -- command..." >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd)"
moto="$root/.venv/bin/moto_server"
[[ -x "$moto" ]] || { echo "moto is not installed: run 'make venv' first" >&2; exit 1; }
if [[ -z "$port" ]]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "port $port is already in use (another 'make dev'? set MOTO_PORT)" >&2; exit 1
fi

mkdir -p "$root/.local"
# KIOSK_EMULATORS=N (default 1) starts N moto servers: moto answers one
# request at a time (one Python process), so the end-to-end suite spreads its
# stacks over one per core. The first is AWS_ENDPOINT_URL; all of them are in
# KIOSK_EMULATOR_URLS (the test harness gives each test one, by its name).
count="${KIOSK_EMULATORS:-1}"
ports=("$port")
for _ in $(seq 2 "$count"); do
  ports+=("$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')")
done
pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
urls=""
for p in "${ports[@]}"; do
  log="$root/.local/moto-$p.log"
  # Cognito checks TOTP codes (against its one fixed secret) only with this.
  MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true "$moto" -H 127.0.0.1 -p "$p" > "$log" 2>&1 &
  pids+=($!)
  urls="$urls http://127.0.0.1:$p"
done
for i in "${!ports[@]}"; do
  p="${ports[$i]}"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$p/moto-api/" > /dev/null 2>&1; then break; fi
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "moto failed to start; see $root/.local/moto-$p.log" >&2; exit 1; }
    sleep 0.1
  done
done
export KIOSK_EMULATOR_URLS="${urls# }"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "moto on $KIOSK_EMULATOR_URLS (logs: $root/.local/moto-<port>.log)" >&2
"$@"
