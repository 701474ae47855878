#!/usr/bin/env bash
# Each Lambda binary links only what it calls: the SDK clients it uses (plus
# aws-sdk-sts, which aws-config's credential chain needs), one TLS stack
# (hyper 1, rustls 0.23) and one crypto provider (ring). Fails when a
# dependency change brings back a second stack, aws-lc or an unused client.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A clients=(
  [authenticate]="aws-sdk-cognitoidentityprovider aws-sdk-secretsmanager aws-sdk-sts"
  [validate-jwt]="aws-sdk-secretsmanager aws-sdk-sts"
  [products]="aws-sdk-dynamodb aws-sdk-sts"
  [orders]="aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sts"
)

status=0
for package in "${!clients[@]}"; do
  tree="$(cargo tree --locked -p "$package" -e normal --prefix none --format '{p}' | sed 's/ (.*//' | sort -u)"
  have="$(grep -oE '^aws-sdk-[a-z]+' <<< "$tree" | sort | tr '\n' ' ' | sed 's/ $//')"
  want="$(tr ' ' '\n' <<< "${clients[$package]}" | sort | tr '\n' ' ' | sed 's/ $//')"
  if [[ "$have" != "$want" ]]; then
    echo "$package links SDK clients [$have], expected [$want]" >&2; status=1
  fi
  for banned in 'hyper v0\.' 'rustls v0\.(1|2[0-2])\.' 'aws-lc' 'openssl v' 'openssl-sys' 'native-tls'; do
    if grep -qE "^$banned" <<< "$tree"; then
      echo "$package links $(grep -E "^$banned" <<< "$tree" | head -1): one TLS stack (hyper 1, rustls 0.23 on ring) only" >&2; status=1
    fi
  done
  for single in hyper rustls ring; do
    if [[ "$(grep -cE "^$single v" <<< "$tree")" -gt 1 ]]; then
      echo "$package links two versions of $single" >&2; status=1
    fi
  done
done
[[ $status -eq 0 ]] && echo "dependencies: each function links only its SDK clients, one TLS stack, ring"
exit $status
