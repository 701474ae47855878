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
log="$root/.local/moto-$port.log"
# Cognito checks TOTP codes (against its one fixed secret) only with this.
MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true "$moto" -H 127.0.0.1 -p "$port" > "$log" 2>&1 &
moto_pid=$!
stop() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" > /dev/null 2>&1; then break; fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto failed to start; see $log" >&2; exit 1; }
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "moto on $AWS_ENDPOINT_URL (log: $log)" >&2
"$@"
