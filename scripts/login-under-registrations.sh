#!/usr/bin/env bash
# Login latency while registrations are in flight, on loopback: the median
# of N logins (default 20) with no other load, then with R registrations
# (default 12) kept in flight from other addresses the whole time.
# Usage: scripts/login-under-registrations.sh [N] [R] [passcard binary]
# (default binary: a release build of this checkout; pass another to
# compare builds).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
R="${2:-12}"
BIN="${3:-}"
if [[ -z "$BIN" ]]; then
  cargo build --release --quiet -p passcard
  BIN=target/release/passcard
fi
DATA="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
BASE="http://127.0.0.1:$PORT"
cleanup() {
  [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null
  pkill -P $$ curl 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
# Limits high enough that they never answer instead of argon2; registrations
# come from one address, as in a flood.
env -u PASSCARD_SECRET -u PASSCARD_KEY_FILE -u PASSCARD_DATABASE_URL PASSCARD_LOG=error \
  PASSCARD_REGISTRATIONS_PER_ADDRESS=1000000 \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
  --login-max-failures 100000 >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -XPOST "$BASE/v1/users" -H 'content-type: application/json' \
  -d '{"username":"timing","password":"the-right-password"}' >/dev/null
login() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -XPOST "$BASE/v1/login" \
    -H 'content-type: application/json' -d '{"username":"timing","password":"the-right-password"}'
}
measure() {
  local times=()
  for _ in $(seq "$N"); do
    read -r code t < <(login)
    [[ $code == 200 ]] || { echo "login answered $code" >&2; exit 1; }
    times+=("$t")
    sleep 0.05
  done
  echo "${times[*]}"
}
IDLE="$(measure)"
# R loops, each registering new names back to back.
STOP="$DATA/stop"
for r in $(seq "$R"); do
  ( i=0; while [[ ! -e "$STOP" ]]; do
      i=$((i + 1))
      curl -s -o /dev/null -XPOST "$BASE/v1/users" -H 'content-type: application/json' \
        -d "{\"username\":\"flood-$r-$i\",\"password\":\"a-flood-password\"}"
    done ) &
done
sleep 1
LOADED="$(measure)"
touch "$STOP"
python3 - "$IDLE" "$LOADED" "$R" <<'PY'
import statistics, sys
idle, loaded = ([float(v) * 1000 for v in a.split()] for a in sys.argv[1:3])
r = sys.argv[3]
q = lambda xs: statistics.quantiles(xs, n=10)
print(f"login alone: median {statistics.median(idle):.1f} ms (p10 {q(idle)[0]:.1f}, p90 {q(idle)[-1]:.1f})")
print(f"login with {r} registrations in flight: median {statistics.median(loaded):.1f} ms "
      f"(p10 {q(loaded)[0]:.1f}, p90 {q(loaded)[-1]:.1f}), n={len(idle)} each")
PY
