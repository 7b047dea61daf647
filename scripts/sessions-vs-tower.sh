#!/usr/bin/env bash
# passcard's session mode against the stack a Rust user would pick instead:
# axum + tower-sessions + its Redis store, with users in SQLite through sqlx
# (bench/tower-sessions-baseline). All keep sessions in the same Redis and
# users in SQLite, and per GET all read the session, then its user.
#
# The baseline runs twice: as its documentation sets it up (a pool of 6
# Redis clients; sqlx's ping at every check-out), and tuned as passcard
# tuned itself (1 Redis connection, no ping). Same machine, same run; each
# round runs all three back to back, in an order that rotates, with wrk on
# loopback.
#
#   scripts/sessions-vs-tower.sh [seconds per run, default 10] [connections, default 32]
#
# REDIS_URL (default redis://127.0.0.1:6379, naming no database) is the
# Redis all use: passcard's keys go under a prefix of their own, the
# baselines' into databases 14 and 15 (tower-sessions' store has no
# prefix). ROUNDS (default 5). Needs wrk, curl and python3. Prints
# requests/s of each run, the medians, and the median of the rounds' own
# ratios (drift in the machine's speed cancels out within a round).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
ROUNDS="${ROUNDS:-5}"
REDIS="${REDIS_URL:-redis://127.0.0.1:6379}"
command -v wrk >/dev/null || { echo "sessions-vs-tower.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
# The URL with database N, and the URL without its password (for printing).
redis_db() { python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
if p.path not in ("", "/"): sys.exit("sessions-vs-tower.sh: REDIS_URL must name no database")
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$REDIS" "$1"; }
SHOWN=$(sed -E 's#//[^@/]*@#//***@#' <<<"$REDIS")
DOCUMENTED_URL=$(redis_db 14)
TUNED_URL=$(redis_db 15)

cargo build --release --quiet -p passcard -p tower-sessions-baseline
DATA="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $rc != 0 ]]; then
    for f in "$DATA"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done
  fi
  rm -rf "$DATA"
}
PIDS=()
trap cleanup EXIT

env -u PASSCARD_SECRET -u PASSCARD_KEY_FILE -u PASSCARD_DATABASE_URL \
  PASSCARD_MODE=session PASSCARD_SESSION_STORE="$REDIS" PASSCARD_SESSION_PREFIX="passcard-vs-tower-$PORT" \
  PASSCARD_LOG=warn target/release/passcard serve --listen "127.0.0.1:$PORT" --data-dir "$DATA/passcard" >"$DATA/passcard.log" 2>&1 &
PIDS+=($!)
BIND="127.0.0.1:$((PORT + 1))" REDIS_URL="$DOCUMENTED_URL" DATABASE_URL="sqlite://$DATA/documented.db" \
  target/release/tower-sessions-baseline >"$DATA/documented.log" 2>&1 &
PIDS+=($!)
BIND="127.0.0.1:$((PORT + 2))" REDIS_URL="$TUNED_URL" DATABASE_URL="sqlite://$DATA/tuned.db" \
  REDIS_CONNECTIONS=1 SQLITE_PING=0 target/release/tower-sessions-baseline >"$DATA/tuned.log" 2>&1 &
PIDS+=($!)
URLS=("http://127.0.0.1:$PORT/v1/me" "http://127.0.0.1:$((PORT + 1))/me" "http://127.0.0.1:$((PORT + 2))/me")
NAMES=("passcard sessions" "tower-sessions, as documented" "tower-sessions, tuned like passcard")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null &&
    curl -sf "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null &&
    curl -sf "http://127.0.0.1:$((PORT + 2))/healthz" >/dev/null && break
  sleep 0.1
done

cookie() { awk -F'[:;] *' 'tolower($1) == "set-cookie" {print $2}'; }
LOGIN='{"username":"loadtest","password":"load-test-password"}'
curl -sf -XPOST "http://127.0.0.1:$PORT/v1/users" -H 'content-type: application/json' -d "$LOGIN" >/dev/null
COOKIES=(
  "$(curl -sf -D - -o /dev/null -XPOST "http://127.0.0.1:$PORT/v1/login" -H 'content-type: application/json' -d "$LOGIN" | cookie)"
  "$(curl -sf -D - -o /dev/null -XPOST "http://127.0.0.1:$((PORT + 1))/login" -H 'content-type: application/json' -d "$LOGIN" | cookie)"
  "$(curl -sf -D - -o /dev/null -XPOST "http://127.0.0.1:$((PORT + 2))/login" -H 'content-type: application/json' -d "$LOGIN" | cookie)"
)
# All answer the same question before they are timed.
for i in 0 1 2; do
  curl -sf "${URLS[$i]}" -H "Cookie: ${COOKIES[$i]}" | grep -q '"role":"user"'
done

# Requests/s, or a failure if any answer was not 2xx or any socket failed.
rps() {
  local out; out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "sessions-vs-tower.sh: failed requests: $out" >&2; exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}
RESULTS=("" "" "")
echo "wrk: 1 thread, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, order rotating; Redis $SHOWN"
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for k in 0 1 2; do
    i=$(((round + k) % 3))
    r=$(rps -H "Cookie: ${COOKIES[$i]}" "${URLS[$i]}")
    RESULTS[i]="${RESULTS[$i]} $r"
  done
  for i in 0 1 2; do line="$line  ${NAMES[$i]} $(awk '{print $NF}' <<<"${RESULTS[$i]}")"; done
  echo "$line  (req/s)"
done
python3 - "${RESULTS[0]}" "${RESULTS[1]}" "${RESULTS[2]}" <<'PY'
import statistics, sys
ours, documented, tuned = ([float(v) for v in s.split()] for s in sys.argv[1:4])
m = statistics.median
print(f"median req/s: passcard sessions {m(ours):.0f}, tower-sessions as documented {m(documented):.0f}, tuned like passcard {m(tuned):.0f}")
for name, base in (("as documented", documented), ("tuned like passcard", tuned)):
    ratios = [a / b for a, b in zip(ours, base)]
    print(f"passcard / tower-sessions {name}: {m(ratios):.2f}x (median of the rounds' ratios; from {min(ratios):.2f}x to {max(ratios):.2f}x); "
          f"per request {1e6 / m(ours):.1f} us vs {1e6 / m(base):.1f} us")
PY
