#!/usr/bin/env bash
# passcard's session mode against the stack a Rust user would pick instead:
# axum + tower-sessions + its Redis store, with users in SQLite through sqlx
# (bench/tower-sessions-baseline). Both keep sessions in the same Redis and
# users in SQLite, and per GET both read the session, then its user. Same
# machine, same run, rounds alternating; wrk on loopback.
#
#   scripts/sessions-vs-tower.sh [seconds per run, default 10] [connections, default 32]
#
# REDIS_URL (default redis://127.0.0.1:6379) names the Redis both use;
# passcard's keys go under a prefix of their own, the baseline's into
# database 14 (tower-sessions' store has no prefix). Needs wrk and curl.
# Prints requests/s of each run, the medians, passcard as a share of the
# baseline, and the median of the rounds' own ratios (each round runs both
# back to back, so drift in the machine's speed cancels out).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
ROUNDS="${ROUNDS:-5}"
REDIS="${REDIS_URL:-redis://127.0.0.1:6379}"
command -v wrk >/dev/null || { echo "sessions-vs-tower.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

cargo build --release --quiet -p passcard -p tower-sessions-baseline
DATA="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
OURS="http://127.0.0.1:$PORT"
BPORT=$((PORT + 1))
THEIRS="http://127.0.0.1:$BPORT"
cleanup() {
  for p in "${PID:-}" "${BPID:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null; rm -rf "$DATA"
}
trap cleanup EXIT

env -u PASSCARD_SECRET -u PASSCARD_KEY_FILE -u PASSCARD_DATABASE_URL \
  PASSCARD_MODE=session PASSCARD_SESSION_STORE="$REDIS" PASSCARD_SESSION_PREFIX="passcard-vs-tower-$PORT" \
  PASSCARD_LOG=warn target/release/passcard serve --listen "127.0.0.1:$PORT" --data-dir "$DATA/passcard" >"$DATA/passcard.log" 2>&1 &
PID=$!
BIND="127.0.0.1:$BPORT" REDIS_URL="${REDIS%/}/14" DATABASE_URL="sqlite://$DATA/baseline.db" \
  target/release/tower-sessions-baseline >"$DATA/baseline.log" 2>&1 &
BPID=$!
for _ in $(seq 100); do
  curl -sf "$OURS/healthz" >/dev/null && curl -sf "$THEIRS/healthz" >/dev/null && break
  sleep 0.1
done

cookie() { awk -F'[:;] *' 'tolower($1) == "set-cookie" {print $2}'; }
curl -sf -XPOST "$OURS/v1/users" -H 'content-type: application/json' \
  -d '{"username":"loadtest","password":"load-test-password"}' >/dev/null
OUR_COOKIE=$(curl -sf -D - -o /dev/null -XPOST "$OURS/v1/login" -H 'content-type: application/json' \
  -d '{"username":"loadtest","password":"load-test-password"}' | cookie)
THEIR_COOKIE=$(curl -sf -D - -o /dev/null -XPOST "$THEIRS/login" -H 'content-type: application/json' \
  -d '{"username":"loadtest"}' | cookie)
# Both answer the same question before they are timed.
curl -sf "$OURS/v1/me" -H "Cookie: $OUR_COOKIE" | grep -q '"role":"user"'
curl -sf "$THEIRS/me" -H "Cookie: $THEIR_COOKIE" | grep -q '"role":"user"'

# Requests/s, or nothing (and a failure) if any answer was not 2xx.
rps() {
  local out; out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@")
  if grep -q 'Non-2xx' <<<"$out"; then echo "sessions-vs-tower.sh: non-2xx answers: $out" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}
A=(); B=()
echo "wrk: 1 thread, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, alternating; Redis $REDIS"
for round in $(seq "$ROUNDS"); do
  a=$(rps -H "Cookie: $OUR_COOKIE" "$OURS/v1/me"); A+=("$a")
  b=$(rps -H "Cookie: $THEIR_COOKIE" "$THEIRS/me"); B+=("$b")
  echo "round $round: passcard sessions $a   tower-sessions $b   (req/s)"
done
python3 - "${A[*]}" "${B[*]}" <<'PY'
import statistics, sys
a, b = ([float(v) for v in s.split()] for s in sys.argv[1:3])
ma, mb = statistics.median(a), statistics.median(b)
print(f"median req/s: passcard sessions {ma:.0f}, tower-sessions + Redis store {mb:.0f}")
print(f"passcard at {100 * ma / mb:.1f}% of the baseline ({ma / mb:.2f}x); per request {1e6 / ma:.1f} us vs {1e6 / mb:.1f} us")
ratios = [x / y for x, y in zip(a, b)]
print(f"median of the rounds' ratios: {statistics.median(ratios):.2f}x (from {min(ratios):.2f}x to {max(ratios):.2f}x)")
PY
