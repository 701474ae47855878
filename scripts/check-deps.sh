#!/usr/bin/env bash
# Each Lambda binary links only what it calls: the SDK clients it uses (plus
# aws-sdk-sts, which aws-config's credential chain needs), one TLS stack
# (hyper 1, rustls 0.23) and one crypto provider (ring). The authorizer calls
# nothing: no SDK, no HTTP client, no TLS, no async runtime's I/O.
# Fails when a dependency change brings back a second stack, aws-lc or an
# unused client.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A clients=(
  [authenticate]="aws-sdk-cognitoidentityprovider aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sesv2 aws-sdk-sts"
  [validate-jwt]=""
  [products]="aws-sdk-dynamodb aws-sdk-sts"
  [orders]="aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sts"
  [order-expiry]="aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sts"
)

status=0
for package in "${!clients[@]}"; do
  tree="$(cargo tree --locked -p "$package" -e normal --prefix none --format '{p}' | sed 's/ (.*//' | sort -u)"
  have="$( (grep -oE '^aws-sdk-[a-z0-9]+' <<< "$tree" || true) | sort | tr '\n' ' ' | sed 's/ $//')"
  # shellcheck disable=SC2086 # split the list into words
  want="$(printf '%s\n' ${clients[$package]} | sort | tr '\n' ' ' | sed 's/^ *//; s/ $//')"
  if [[ "$have" != "$want" ]]; then
    echo "$package links SDK clients [$have], expected [$want]" >&2; status=1
  fi
  for banned in 'hyper v0\.' 'rustls v0\.(1|2[0-2])\.' 'aws-lc' 'openssl v' 'openssl-sys' 'native-tls'; do
    if grep -qE "^$banned" <<< "$tree"; then
      echo "$package links $(grep -E "^$banned" <<< "$tree" | head -1): one TLS stack (hyper 1, rustls 0.23 on ring) only" >&2; status=1
    fi
  done
  if [[ -z "${clients[$package]}" ]]; then
    for banned in 'aws-config v' 'aws-smithy' 'hyper' 'rustls' 'ring v' 'lambda_runtime v' 'tower v'; do
      if grep -qE "^$banned" <<< "$tree"; then
        echo "$package links $(grep -E "^$banned" <<< "$tree" | head -1): it makes no network call and needs none" >&2; status=1
      fi
    done
  fi
  for single in hyper rustls ring; do
    if [[ "$(grep -cE "^$single v" <<< "$tree")" -gt 1 ]]; then
      echo "$package links two versions of $single" >&2; status=1
    fi
  done
done
# Imports point inward (shared/src): the domain names no adapter, no edge
# and no orchestration; services name no adapter and no edge; the HTTP edge
# names no adapter and no service. The domain uses no async runtime.
inward() { # folder, forbidden modules (regex alternation), what it is
  local found
  found="$(grep -rnE "crate::($2)\b" "shared/src/$1" || true)"
  if [[ -n "$found" ]]; then
    echo "shared/src/$1 ($3) names crate::{$2}:" >&2; echo "$found" >&2; status=1
  fi
}
inward domain 'store|http|payments|service|config' 'pure types and rules'
inward service 'store|http' 'orchestration over ports'
inward http 'store|service|payments' 'the HTTP edge'
if grep -rnE '\btokio::' shared/src/domain >&2; then
  echo "shared/src/domain uses tokio: the domain does no I/O" >&2; status=1
fi
# The module graph of shared/src has no cycle: which top-level module names
# which, and a depth-first search over it.
python3 - <<'PY' || status=1
import os, re, sys
root = "shared/src"
mods = sorted(n[:-3] if n.endswith(".rs") else n for n in os.listdir(root)
              if n not in ("lib.rs",) and (n.endswith(".rs") or os.path.isdir(os.path.join(root, n))))
edges = {m: set() for m in mods}
for m in mods:
    path = os.path.join(root, m)
    files = [path + ".rs"] if os.path.isfile(path + ".rs") else [
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".rs")]
    for f in files:
        text = open(f).read()
        # Test code may reach across (fakes, fixtures); the graph is the
        # production code's.
        text = text.split("#[cfg(test)]\nmod tests")[0]
        for other in re.findall(r"crate::([a-z_]+)", text):
            if other in edges and other != m:
                edges[m].add(other)
def cycle():
    state = {}
    def visit(m, path):
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                return path + [m, n]
            if n not in state:
                found = visit(n, path + [m])
                if found:
                    return found
        state[m] = 2
        return None
    for m in mods:
        if m not in state:
            found = visit(m, [])
            if found:
                return found
found = cycle()
if found:
    print("shared/src has a module cycle: " + " -> ".join(found[found.index(found[-1]):]), file=sys.stderr)
    sys.exit(1)
PY
[[ $status -eq 0 ]] && echo "dependencies: each function links only its SDK clients, one TLS stack, ring; the authorizer none; shared's imports point inward, no module cycle"
exit $status
