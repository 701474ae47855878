#!/usr/bin/env bash
# Smoke test of a running kiosk API: [kiosk sign-in →] signup → auth → validate → menu → checkout.
#   SMOKE_CPF=<the environment's smoke CPF> scripts/smoke.sh https://abc123.execute-api.sa-east-1.amazonaws.com/dev
# The deploy pipeline runs it against each stack; `make test` runs it against
# the local API. It leaves nothing behind but one smoke customer (signed up once)
# and one cancelled order per run. Needs curl and python3.
#
# Settings (environment variables; the deploy workflow takes them from the
# GitHub environment being deployed, deploy/README.md "The smoke test"):
#   SMOKE_CPF               the smoke customer's CPF. Required, except against the
#                           local stack (127.0.0.1 / localhost), where it defaults
#                           to the public test CPF 000.000.001-91.
#   SMOKE_KIOSK_ID,         an enrolled kiosk (POST /kiosks) the smoke test signs in
#   SMOKE_KIOSK_SECRET      as first; its token then signs the customer up and in.
#                           Both or neither; without them the customer routes are
#                           called without a kiosk token.
#   SMOKE_ALLOW_EMPTY_MENU  1: pass without a checkout while the menu is empty.
set -euo pipefail

base="${1:?usage: $0 BASE_URL}"
base="${base%/}"
case "$base" in
  http://127.0.0.1:* | http://127.0.0.1 | http://localhost:* | http://localhost | http://\[::1\]:*) local_stack=1 ;;
  *) local_stack=0 ;;
esac
if [[ -n "${SMOKE_CPF:-}" ]]; then
  cpf="$SMOKE_CPF"
elif [[ "$local_stack" == 1 ]]; then
  cpf=00000000191
else
  echo "smoke: SMOKE_CPF is not set: give the smoke customer's CPF of this environment (a GitHub environment secret in the deploy workflow; deploy/README.md, The smoke test). The local stack's default is not used against $base." >&2
  exit 2
fi
# The customer routes are an enrolled kiosk's: the smoke test signs in as one.
kiosk_id="${SMOKE_KIOSK_ID:-}"
kiosk_secret="${SMOKE_KIOSK_SECRET:-}"
if [[ -z "$kiosk_id" || -z "$kiosk_secret" ]]; then
  echo "smoke: set SMOKE_KIOSK_ID and SMOKE_KIOSK_SECRET: the smoke kiosk of this environment (deploy/README.md, The smoke test; locally the demo kiosk in .local/kiosk-<port>.env)" >&2
  exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# call METHOD PATH EXPECTED_STATUSES [TOKEN] [BODY]: prints the body; fails on another status.
call() {
  local method="$1" path="$2" expected="$3" token="${4:-}" body="${5:-}"
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$method" "$base$path" -H 'Content-Type: application/json')
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$body" ]] && args+=(-d "$body")
  local status
  status="$(curl "${args[@]}")"
  if [[ " $expected " != *" $status "* ]]; then
    echo "smoke: $method $path answered $status, expected $expected: $(head -c 500 "$tmp/body")" >&2
    exit 1
  fi
  echo "smoke: $method $path -> $status" >&2
  cat "$tmp/body"
}
field() { python3 -c "import json, sys; v = json.load(sys.stdin)$1; print('' if v is None else v)"; }

# The kiosk's token signs the customer up and in.
body="$(python3 -c 'import json, sys; print(json.dumps({"kiosk_id": sys.argv[1], "secret": sys.argv[2]}))' "$kiosk_id" "$kiosk_secret")"
kiosk_token="$(call POST /auth/kiosk 200 "" "$body" | field '["access_token"]')"
call POST /customers "201 409" "$kiosk_token" "{\"cpf\": \"$cpf\", \"name\": \"Smoke Test\", \"email\": \"smoke@example.com\"}" > /dev/null
token="$(call POST /auth 200 "$kiosk_token" "{\"cpf\": \"$cpf\"}" | field '["access_token"]')"
role="$(call POST /validate 200 "$token" | field '["claims"]["role"]')"
[[ "$role" == customer ]] || { echo "smoke: validate says role '$role'" >&2; exit 1; }
call GET /products 401 > /dev/null
# The first item on sale (sold-out ones are listed with "available": false) whose
# every group its defaults satisfy (a combo needs its slots chosen): orderable as is.
product="$(call GET '/products?limit=100' 200 "$token" | python3 -c 'import json, sys; print(next((p["id"] for p in json.load(sys.stdin)["items"] if p.get("available", True) and p.get("kind", "item") == "item" and all(sum(o.get("default", False) for o in g["options"]) >= g["min"] for g in p.get("modifier_groups", []))), ""))')"
if [[ -z "$product" ]]; then
  if [[ "${SMOKE_ALLOW_EMPTY_MENU:-0}" == 1 ]]; then
    echo "smoke: the menu is empty (or all sold out); checkout not tried (SMOKE_ALLOW_EMPTY_MENU=1)" >&2
    echo "smoke: ok"
    exit 0
  fi
  echo "smoke: the menu is empty (or all sold out), so checkout cannot be tried: add a product first (README, Deploy)" >&2
  exit 1
fi
order="$(call POST /orders 201 "$token" "{\"items\": [{\"product_id\": \"$product\", \"quantity\": 1}], \"fulfillment\": \"takeout\"}" | field '["id"]')"
status="$(call GET "/orders/$order" 200 "$token" | field '["status"]')"
[[ "$status" == awaiting_payment ]] || { echo "smoke: the new order is '$status'" >&2; exit 1; }
call PATCH "/orders/$order" 200 "$token" '{"status": "cancelled"}' > /dev/null
echo "smoke: ok"
