#!/usr/bin/env bash
# HTTP load on loopback: GET /v1/me with a valid token against GET /healthz
# (the unauthenticated ceiling), in the same run, on the same server. A third
# line sends /healthz the same Authorization header (ignored there), so the
# cost of carrying a 400-byte header is told apart from verifying it. In
# token mode a fourth line sends /v1/me the token in the access cookie (a
# browser's way), to compare the two transports.
#
#   scripts/load.sh [seconds per run, default 10] [connections, default 32]
#
# PASSCARD_VERIFY_CACHE=0 scripts/load.sh measures with the verified-token
# cache off (every request checks the HMAC). PASSCARD_MODE=session measures
# the stateful opponent: a session cookie looked up in the store (SQLite, or
# Redis with PASSCARD_SESSION_STORE=redis://127.0.0.1:6379) per request.
#
# Needs wrk (Debian: apt-get install wrk) and curl. Only 127.0.0.1 is ever
# targeted; each run is bounded by its duration. Prints requests/s of each
# run, the medians, and /v1/me as a share of /healthz.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
ROUNDS=3
command -v wrk >/dev/null || { echo "load.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

cargo build --release --quiet -p passcard
BIN=target/release/passcard
DATA="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
BASE="http://127.0.0.1:$PORT"
cleanup() { [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT

MODE="${PASSCARD_MODE:-token}"
env -u PASSCARD_SECRET -u PASSCARD_KEY_FILE -u PASSCARD_DATABASE_URL \
  PASSCARD_VERIFY_CACHE="${PASSCARD_VERIFY_CACHE:-4096}" PASSCARD_MODE="$MODE" \
  PASSCARD_SESSION_PREFIX="passcard-load-$PORT" PASSCARD_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

curl -sf -XPOST "$BASE/v1/users" -H 'content-type: application/json' \
  -d '{"username":"loadtest","password":"load-test-password"}' >/dev/null
LOGIN='{"username":"loadtest","password":"load-test-password"}'
if [[ $MODE == session ]]; then
  COOKIE=$(curl -sf -D - -o /dev/null -XPOST "$BASE/v1/login" -H 'content-type: application/json' -d "$LOGIN" |
    awk -F'[:;] *' 'tolower($1) == "set-cookie" {print $2}')
  AUTH="Cookie: $COOKIE"
else
  TOKEN=$(curl -sf -XPOST "$BASE/v1/login" -H 'content-type: application/json' -d "$LOGIN" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  AUTH="Authorization: Bearer $TOKEN"
  ACCESS=$(curl -sf -D - -o /dev/null -XPOST "$BASE/v1/login" -H 'content-type: application/json' \
    -d '{"username":"loadtest","password":"load-test-password","transport":"cookie"}' |
    awk -F'[:;] *' 'tolower($1) == "set-cookie" && $2 ~ /passcard_access=/ {print $2}')
  COOKIE_AUTH="Cookie: $ACCESS"
  curl -sf "$BASE/v1/me" -H "$COOKIE_AUTH" >/dev/null
fi
curl -sf "$BASE/v1/me" -H "$AUTH" >/dev/null

rps() { wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" | awk '/^Requests\/sec:/ {print $2}'; }
HEALTH=(); ME=(); HDR=(); COOKIE_ME=()
echo "wrk: 1 thread, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, alternating; mode $MODE; verify cache ${PASSCARD_VERIFY_CACHE:-4096} slots"
for round in $(seq "$ROUNDS"); do
  h=$(rps "$BASE/healthz"); HEALTH+=("$h")
  m=$(rps -H "$AUTH" "$BASE/v1/me"); ME+=("$m")
  x=$(rps -H "$AUTH" "$BASE/healthz"); HDR+=("$x")
  c=-
  if [[ -n "${COOKIE_AUTH:-}" ]]; then c=$(rps -H "$COOKIE_AUTH" "$BASE/v1/me"); COOKIE_ME+=("$c"); fi
  echo "round $round: /healthz $h   /v1/me $m   /healthz+header $x   /v1/me by cookie $c   (req/s)"
done
if curl -s "$BASE/metrics" | grep 'route="/v1/me"' | grep -qv 'status="200"'; then
  echo "load.sh: some /v1/me requests were not 200; the numbers are not comparable" >&2
  exit 1
fi
python3 - "${HEALTH[*]}" "${ME[*]}" "${HDR[*]}" "${COOKIE_ME[*]:-}" <<'PY'
import statistics, sys
h, m, x = ([float(v) for v in a.split()] for a in sys.argv[1:4])
c = [float(v) for v in sys.argv[4].split()]
mh, mm, mx = statistics.median(h), statistics.median(m), statistics.median(x)
print(f"median req/s: /healthz {mh:.0f}, /v1/me {mm:.0f}, /healthz+header {mx:.0f}")
print(f"/v1/me at {100 * mm / mh:.1f}% of /healthz; at {100 * mm / mx:.1f}% of /healthz with the same header")
print(f"per request: /healthz {1e6 / mh:.2f} us, /v1/me {1e6 / mm:.2f} us (+{1e6 / mm - 1e6 / mh:.2f} us)")
if c:
    mc = statistics.median(c)
    print(f"/v1/me by cookie {mc:.0f} req/s (runs {', '.join(f'{v:.0f}' for v in c)}): "
          f"{mc / mm:.3f}x /v1/me by header (runs {', '.join(f'{v:.0f}' for v in m)})")
PY
