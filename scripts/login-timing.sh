#!/usr/bin/env bash
# Login timing on loopback: wrong password for a real user against an
# unknown user, interleaved, N of each (default 20). Both must get the same
# 401 in about the same time (the unknown user is checked against a dummy
# argon2id hash). Prints medians.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
cargo build --release --quiet -p passcard
DATA="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
BASE="http://127.0.0.1:$PORT"
cleanup() { [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT
# A high failure limit so the limiter does not answer instead of argon2.
env -u PASSCARD_SECRET -u PASSCARD_KEY_FILE -u PASSCARD_DATABASE_URL PASSCARD_LOG=warn \
  target/release/passcard serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
  --login-max-failures 100000 >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -XPOST "$BASE/v1/users" -H 'content-type: application/json' \
  -d '{"username":"timing","password":"the-right-password"}' >/dev/null
login() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -XPOST "$BASE/v1/login" \
    -H 'content-type: application/json' -d "{\"username\":\"$1\",\"password\":\"a-wrong-password\"}"
}
WRONG=(); UNKNOWN=()
for _ in $(seq "$N"); do
  read -r code t < <(login timing); [[ $code == 401 ]] || { echo "unexpected $code" >&2; exit 1; }; WRONG+=("$t")
  read -r code t < <(login nobody-here); [[ $code == 401 ]] || { echo "unexpected $code" >&2; exit 1; }; UNKNOWN+=("$t")
done
python3 - "${WRONG[*]}" "${UNKNOWN[*]}" <<'PY'
import statistics, sys
w, u = ([float(v) * 1000 for v in a.split()] for a in sys.argv[1:3])
mw, mu = statistics.median(w), statistics.median(u)
print(f"median login time: wrong password {mw:.1f} ms, unknown user {mu:.1f} ms (ratio {mu / mw:.2f}), n={len(w)} each")
PY
