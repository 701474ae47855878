#!/usr/bin/env bash
# Against a fresh local API (the one `make dev` serves): runs the README's
# walkthrough verbatim, the way a reader would, then the deploy pipeline's
# smoke test (scripts/smoke.sh). Needs the emulator (run it through
# scripts/with-emulator.sh) and a built kiosk-local.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/debug/kiosk-local"
[[ -x "$bin" ]] || { echo "$bin is not built" >&2; exit 1; }
: "${AWS_ENDPOINT_URL:?run me through scripts/with-emulator.sh}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
# The Mercado Pago stand-in on a free port too, beside any `make dev`; its
# env.json beside its log: never over the one of a running `make dev`.
mp_port="$(free_port)"
PORT="$port" MERCADOPAGO_PORT="$mp_port" LOCAL_ENV_JSON="$root/.local/walkthrough-env.json" "$bin" serve > "$root/.local/walkthrough-api.log" 2>&1 &
api_pid=$!
trap 'kill $api_pid 2>/dev/null || true; wait $api_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$api_pid" 2>/dev/null || { cat "$root/.local/walkthrough-api.log" >&2; exit 1; }
  sleep 0.2
done

# The first bash block after the "## Walkthrough" heading, with the API on our port.
script="$(awk '/^## Walkthrough/{w=1} w&&/^```bash/{b=1;next} b&&/^```/{exit} b' "$root/README.md")"
[[ -n "$script" ]] || { echo "README.md has no walkthrough block" >&2; exit 1; }
script="${script//http:\/\/127.0.0.1:3000/http://127.0.0.1:$port}"
script="${script//http:\/\/127.0.0.1:3001/http://127.0.0.1:$mp_port}"
# The walkthrough reads the mailed code from the emulator on MOTO_PORT: ours.
export MOTO_PORT="${AWS_ENDPOINT_URL##*:}"
output="$(bash -euo pipefail -c "$script")"
echo "$output"

expect() { grep -qE -- "$1" <<< "$output" || { echo "walkthrough: expected $2" >&2; exit 1; }; }
expect '"cpf":"\*\*\*\.982\.247-\*\*"' "the masked CPF of the signup"
expect '"valid":true' "a valid token"
expect '"verified_session":false' "the masked view of a CPF-only session"
expect '"verification_required".* 403$' "403 verification_required for the CPF-only erasure"
expect '"name":"Ana Souza".*"verified_session":true' "the whole record for a verified session"
expect '"name":"Ana Souza Lima"' "the record corrected by the verified session"
expect '"role":"guest"|access_token' "a guest token"
expect '"first_name":|first_name' "the first name for the greeting"
expect ' 401$' "401 without a token"
expect ' 403$' "403 for a customer on an admin route"
expect '"items":\[.*\} 200$' "the admin's customer list"
expect '"name":"Centro","timezone":"America/Sao_Paulo",.*"open_now":true' "the demo store Centro, open"
expect '"category":"drink"' "drinks of the demo menu"
expect '"name":"X-Frango Crocante"' "the updated product"
expect '^204$' "204 for the delete"
expect '"product_not_found".* 404$' "404 for the deleted product"
expect '"forbidden".* 403$' "403 for a non-admin delete"
expect '"status":"awaiting_payment",.*"expires_at":"[0-9T:Z-]+"' "an order awaiting payment, with its payment deadline"
expect '"fulfillment":"takeout","items":\[\{"product_id":"[^"]+","name":"Combo X-Burger","kind":"combo","unit_price_cents":4690,"quantity":1,"note":null,"subtotal_cents":4690,"modifiers":\[\],"slots":\[\{"slot_id":"sandwich","name":"Lanche","product_id":"[^"]+","product_name":"X-Burger","price_delta_cents":0,"modifiers":\[\{"group_id":"xburger-extras","group_name":"Adicionais","option_id":"xburger-bacon","name":"Bacon","price_delta_cents":400\},\{"group_id":"xburger-remove","group_name":"Retirar","option_id":"xburger-no-onion","name":"Sem cebola","price_delta_cents":0\}\]\}' "the combo priced and snapshotted"
expect '"total_cents":4690,' "the combo's total computed by the server"
expect '^sem leite: .*Batata Frita' "the menu without milk keeps the fries"
expect '"status":"received","payment_status":"approved"' "the order paid through Mercado Pago"
expect '^\{"preparing":\[[0-9]+\],"ready":\[\]\}$' "the paid order on Centro's board"
expect '^\{"preparing":\[\],"ready":\[\]\}$' "Shopping's board, empty"
expect '"status":"in_preparation"' "the order in preparation"
expect '"status":"completed"' "the order completed"
expect '^\{"store_id":"[^"]+","product_id":"[^"]+","available":false\}$' "X-Burger sold out at Centro"
expect '"name":"X-Burger",.*"dietary":\[[^]]*\],"available":false' "X-Burger listed sold out at Centro"
expect '"product_unavailable".* 422$' "422 for a checkout of a sold-out product"
expect '"name":"X-Burger",.*"dietary":\[[^]]*\],"available":true' "X-Burger on sale at Shopping"
expect '^\{"store_id":"[^"]+","product_id":"[^"]+","available":true\}$' "X-Burger back in stock at Centro"
expect '"name":"Centro",.*"paused":true,.*"open_now":false' "Centro paused"
expect '"store_closed".* 422$' "422 store_closed for a checkout while paused"
echo "README walkthrough: ok"

# The smoke test signs in as the demo kiosk `serve` enrolled.
# shellcheck source=/dev/null
source "$root/.local/kiosk-$port.env"
export SMOKE_KIOSK_ID="$KIOSK_ID" SMOKE_KIOSK_SECRET="$KIOSK_SECRET"
"$root/scripts/smoke.sh" "http://127.0.0.1:$port"
# A second run meets the smoke customer already signed up (409) and still passes.
"$root/scripts/smoke.sh" "http://127.0.0.1:$port"
