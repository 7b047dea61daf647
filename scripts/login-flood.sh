#!/usr/bin/env bash
# GET /v1/me latency while logins hash passwords as fast as the hashing
# budget allows, on loopback.
#
# One server (release build, SQLite, HS256, default hashing budget: CPU
# cores - 1). In each round, /v1/me is driven at a fixed rate (hey: C
# workers x Q requests/s each) for S seconds twice: once alone ("idle"),
# once while L login loops keep more logins in flight than the budget can
# hash ("flood"). Reports each phase's p50/p99 per round, the median of the
# rounds, the ratio flood/idle, logins/s achieved, and every non-200.
#
#   scripts/login-flood.sh [seconds per phase, default 10] [rounds, default 3]
#                          [me rate req/s, default 2000] [login loops, default 8]
#                          [--hash-concurrency, default the server's: CPU cores - 1]
#
# Needs hey (Debian: apt-get install hey) and curl. Only 127.0.0.1 is
# targeted; every phase is bounded by its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
ROUNDS="${2:-3}"
RATE="${3:-2000}"
LOGINS="${4:-8}"
HASHES=()
[[ -n "${5:-}" ]] && HASHES=(--hash-concurrency "$5")
WORKERS=8
command -v hey >/dev/null || { echo "login-flood.sh: hey is missing (apt-get install hey)" >&2; exit 2; }

cargo build --release --quiet -p passcard
PC=target/release/passcard
WORK="$(mktemp -d)"
cleanup() { [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null; pkill -P $$ hey 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
env -u PASSCARD_DATABASE_URL -u PASSCARD_SECRET -u PASSCARD_KEY_FILE PASSCARD_LOG=warn \
  "$PC" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" "${HASHES[@]}" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$BASE/healthz" && break; sleep 0.1; done
for u in reader flooder; do
  curl -sf -o /dev/null -XPOST "$BASE/v1/users" -H 'content-type: application/json' \
    -d "{\"username\":\"$u\",\"password\":\"password-of-$u\"}"
done
TOKEN=$(curl -sf -XPOST "$BASE/v1/login" -H 'content-type: application/json' \
  -d '{"username":"reader","password":"password-of-reader"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# hey's CSV: one row per request (response-time, ..., status-code, offset).
me() {
  hey -z "${SECS}s" -c "$WORKERS" -q $((RATE / WORKERS)) -o csv \
    -H "Authorization: Bearer $TOKEN" "$BASE/v1/me" >"$1"
}
flood() {
  hey -z "$((SECS + 2))s" -c "$LOGINS" -m POST -T application/json \
    -d '{"username":"flooder","password":"password-of-flooder"}' "$BASE/v1/login" >"$1"
}

echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); /v1/me at $RATE req/s for ${SECS}s per phase; $LOGINS login loops; hash concurrency ${5:-default}"
for round in $(seq "$ROUNDS"); do
  me "$WORK/idle-$round.csv"
  flood "$WORK/logins-$round.txt" &
  FLOOD=$!
  sleep 1 # the hashing queue fills before /v1/me is measured
  me "$WORK/flood-$round.csv"
  wait "$FLOOD"
done

python3 - "$WORK" "$ROUNDS" <<'PY'
import csv, glob, re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def load(path):
    rows = list(csv.DictReader(open(path)))
    ms = sorted(float(r["response-time"]) * 1000 for r in rows)
    bad = [r["status-code"] for r in rows if r["status-code"] != "200"]
    pct = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]
    return len(ms), pct(0.50), pct(0.99), bad
ratios, idle99, flood99, failures = [], [], [], 0
for r in range(1, rounds + 1):
    n_i, p50_i, p99_i, bad_i = load(f"{work}/idle-{r}.csv")
    n_f, p50_f, p99_f, bad_f = load(f"{work}/flood-{r}.csv")
    text = open(f"{work}/logins-{r}.txt").read()
    logins = re.search(r"Requests/sec:\s*([\d.]+)", text).group(1)
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", text)
    failures += len(bad_i) + len(bad_f)
    idle99.append(p99_i); flood99.append(p99_f); ratios.append(p99_f / p99_i)
    print(f"round {r}: idle n={n_i} p50 {p50_i:.2f} ms p99 {p99_i:.2f} ms | "
          f"flood n={n_f} p50 {p50_f:.2f} ms p99 {p99_f:.2f} ms | ratio {p99_f / p99_i:.2f} | "
          f"logins {logins}/s {dict(codes)} | /v1/me non-200: {len(bad_i) + len(bad_f)}")
print(f"median p99: idle {statistics.median(idle99):.2f} ms, flood {statistics.median(flood99):.2f} ms; "
      f"flood/idle median {statistics.median(ratios):.2f} (rounds {', '.join(f'{x:.2f}' for x in ratios)}); "
      f"/v1/me failures: {failures}")
sys.exit(1 if failures else 0)
PY
