#!/usr/bin/env bash
# make bench: each function's release binary against its do-nothing floor.
#   scripts/bench.sh [--cold N] [--warm N]
# Builds the functions of template.yaml and the floors of bench/ (x86_64 release,
# and their arm64 zips with cargo lambda), makes a CA and a certificate for
# 127.0.0.1, then runs `kiosk-tools bench` (tools/src/bench/): moto over HTTP
# and over TLS, the table, the budgets of bench/budgets, docs/PERFORMANCE.md.
# Exits non-zero when an enforced budget is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
export PATH="$root/.venv/bin:$PATH"
started=$SECONDS

command -v openssl > /dev/null || { echo "bench: openssl is missing (it makes the TLS certificate)" >&2; exit 1; }
[[ -x .venv/bin/cargo-lambda ]] || { echo "bench: cargo-lambda is missing: run 'make venv'" >&2; exit 1; }

# Every function is a package of its own, named as its binary in template.yaml.
mapfile -t functions < <(sed -n 's/^ *Binary: *\([A-Za-z0-9_-]*\).*/\1/p' template.yaml)
packages=("${functions[@]}" hello-runtime hello-http)

# One package a build: each links only its own features, as `sam build` builds
# it from its folder (a build of them together would unify their features).
for package in "${packages[@]}"; do
  echo "bench: x86_64 release build of $package" >&2
  cargo build --locked --release -p "$package"
done
for package in "${packages[@]}"; do
  echo "bench: arm64 zip of $package" >&2
  cargo lambda build --locked --release --arm64 --output-format zip -p "$package"
done
cargo build --locked -p kiosk-tools
built=$SECONDS

# A CA and a leaf for 127.0.0.1, RSA 2048 like the AWS endpoints' certificates.
# The functions trust the CA through SSL_CERT_FILE, which rustls-native-certs
# reads instead of the system store; the file holds the system's roots too, so
# loading them costs what it costs in Lambda. The functions start with
# Lambda's variables only (no SSL_CERT_DIR of this shell, which would make
# them read every file of the certificate folder too).
tls="$root/.local/bench-tls"
rm -rf "$tls" && mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiosk bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tls/ca.key" -out "$tls/ca.pem" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$tls/leaf.key" -out "$tls/leaf.csr" 2> /dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > "$tls/leaf.ext"
openssl x509 -req -days 2 -in "$tls/leaf.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
  -CAcreateserial -extfile "$tls/leaf.ext" -out "$tls/leaf.pem" 2> /dev/null
for system in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  [[ -f "$system" ]] && { cat "$system" > "$tls/roots.pem"; break; }
done
cat "$tls/ca.pem" >> "$tls/roots.pem"

status=0
env -u SSL_CERT_DIR SSL_CERT_FILE="$tls/roots.pem" "$target/debug/kiosk-tools" bench \
  --bins "$target/release" --zips "$target/lambda" \
  --tls-cert "$tls/leaf.pem" --tls-key "$tls/leaf.key" \
  --out docs/PERFORMANCE.md "$@" || status=$?
echo "bench: $((SECONDS - started)) s in all, $((built - started)) s of them building" >&2
exit $status
