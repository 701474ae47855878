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
  [authenticate]="aws-sdk-cognitoidentityprovider aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sts"
  [validate-jwt]=""
  [products]="aws-sdk-dynamodb aws-sdk-sts"
  [orders]="aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sts"
  [order-expiry]="aws-sdk-dynamodb aws-sdk-secretsmanager aws-sdk-sts"
)

status=0
for package in "${!clients[@]}"; do
  tree="$(cargo tree --locked -p "$package" -e normal --prefix none --format '{p}' | sed 's/ (.*//' | sort -u)"
  have="$( (grep -oE '^aws-sdk-[a-z]+' <<< "$tree" || true) | sort | tr '\n' ' ' | sed 's/ $//')"
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
[[ $status -eq 0 ]] && echo "dependencies: each function links only its SDK clients, one TLS stack, ring; the authorizer none"
exit $status
