#!/usr/bin/env bash
# The per-request path against its opponents, in one run, on loopback:
#
#   bare axum    GET /hello, a static string: the ceiling (bench/axum-baseline)
#   jsonwebtoken GET /me, axum + the jsonwebtoken 11 Bearer extractor, HS256
#   handwritten  GET /me, axum + ring HMAC + borrowed serde, by hand
#   passcard     GET /healthz; GET /v1/me with an HS256 token, verify cache
#                on and off; GET /v1/me with an EdDSA token, cache on and off
#
# Every target runs in every round, in a rotating order, so drift on this
# shared machine hits them alike. Prints requests/s per round, the medians
# with their spread, and each target's ratio to bare axum (the median of
# the rounds' ratios).
#
#   scripts/bench-http.sh [seconds per run, default 8] [rounds, default 3] [connections, default 32]
#
# Needs wrk (Debian: apt-get install wrk) and curl; wrk runs 1 thread, as
# in the issue that set the targets. Only 127.0.0.1 is targeted; each run
# is bounded by its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
CONNECTIONS="${3:-32}"
command -v wrk >/dev/null || { echo "bench-http.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

cargo build --release --quiet -p passcard -p axum-baseline
PC=target/release/passcard
BASE=target/release/axum-baseline
WORK="$(mktemp -d)"
PIDS=()
# passcard() runs in a subshell (its output is read), so it records its
# server's pid in a file for cleanup to find.
cleanup() {
  for p in "${PIDS[@]}" $(cat "$WORK/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "bench-http.sh: $1 never answered" >&2; exit 1; }

SECRET="$("$PC" keygen 2>/dev/null | sed 's/^PASSCARD_SECRET=//')"
"$PC" keygen --alg EdDSA >"$WORK/eddsa.json" 2>/dev/null
chmod 600 "$WORK/eddsa.json"

# passcard <name> <cache slots> <key: hs256|eddsa>: a server on a port of its own.
passcard() {
  local name=$1 cache=$2 key=$3 p
  p=$(port)
  local env=(PASSCARD_LOG=warn PASSCARD_VERIFY_CACHE="$cache")
  if [[ $key == hs256 ]]; then env+=(PASSCARD_SECRET="$SECRET"); else env+=(PASSCARD_KEY_FILE="$WORK/eddsa.json"); fi
  env -u PASSCARD_DATABASE_URL -u PASSCARD_SECRET -u PASSCARD_KEY_FILE "${env[@]}" \
    "$PC" serve --listen "127.0.0.1:$p" --data-dir "$WORK/$name" >"$WORK/$name.log" 2>&1 &
  echo $! >>"$WORK/pids"
  wait_up "http://127.0.0.1:$p/healthz"
  curl -sf -XPOST "http://127.0.0.1:$p/v1/users" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-password"}' >/dev/null
  local token
  token=$(curl -sf -XPOST "http://127.0.0.1:$p/v1/login" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  echo "$p $token"
}

BP=$(port); "$BASE" bare "127.0.0.1:$BP" >/dev/null & PIDS+=($!)
JP=$(port); BASELINE_SECRET="$SECRET" "$BASE" jsonwebtoken "127.0.0.1:$JP" >/dev/null & PIDS+=($!)
HP=$(port); BASELINE_SECRET="$SECRET" "$BASE" handwritten "127.0.0.1:$HP" >/dev/null & PIDS+=($!)
wait_up "http://127.0.0.1:$BP/hello"
read -r P1 T1 < <(passcard hs256-cache 4096 hs256)
read -r P2 T2 < <(passcard hs256-nocache 0 hs256)
read -r P3 T3 < <(passcard eddsa-cache 4096 eddsa)
read -r P4 T4 < <(passcard eddsa-nocache 0 eddsa)
# The baselines verify the HS256 token of the first passcard server.
for url in "http://127.0.0.1:$JP/me" "http://127.0.0.1:$HP/me"; do
  curl -sf -o /dev/null -H "Authorization: Bearer $T1" "$url" || { echo "bench-http.sh: $url refused the token" >&2; exit 1; }
done

NAMES=("bare axum /hello" "jsonwebtoken /me" "handwritten /me" "passcard /healthz"
       "passcard /v1/me HS256 cache" "passcard /v1/me HS256 no cache"
       "passcard /v1/me EdDSA cache" "passcard /v1/me EdDSA no cache")
URLS=("http://127.0.0.1:$BP/hello" "http://127.0.0.1:$JP/me" "http://127.0.0.1:$HP/me"
      "http://127.0.0.1:$P1/healthz" "http://127.0.0.1:$P1/v1/me" "http://127.0.0.1:$P2/v1/me"
      "http://127.0.0.1:$P3/v1/me" "http://127.0.0.1:$P4/v1/me")
TOKENS=("" "$T1" "$T1" "" "$T1" "$T2" "$T3" "$T4")
N=${#NAMES[@]}

# wrk's requests/s, and its count of non-2xx answers and socket errors.
run() {
  local i=$1 out
  if [[ -n "${TOKENS[$i]}" ]]; then
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Authorization: Bearer ${TOKENS[$i]}" "${URLS[$i]}")
  else
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${URLS[$i]}")
  fi
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "bench-http.sh: ${NAMES[$i]} had errors:" >&2; echo "$out" >&2; exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

echo "wrk: 1 thread, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, rotating order; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
RESULTS="$WORK/results"
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for k in $(seq 0 $((N - 1))); do
    i=$(( (k + round - 1) % N ))
    r=$(run "$i")
    echo "$round $i $r" >>"$RESULTS"
    line+=" [${NAMES[$i]}] $r"
  done
  echo "$line"
done

python3 - "$RESULTS" "${NAMES[@]}" <<'PY'
import statistics, sys
path, names = sys.argv[1], sys.argv[2:]
runs = {}
for line in open(path):
    rnd, i, r = line.split()
    runs.setdefault(int(i), {})[int(rnd)] = float(r)
base = runs[0]
print(f"{'target':34} {'median req/s':>12} {'min':>8} {'max':>8} {'vs bare axum':>13} {'(rounds)':>20}")
for i, name in enumerate(names):
    v = runs[i]
    ratios = [v[r] / base[r] for r in sorted(v)]
    print(f"{name:34} {statistics.median(v.values()):12.0f} {min(v.values()):8.0f} {max(v.values()):8.0f} "
          f"{statistics.median(ratios):12.3f}x  ({', '.join(f'{x:.2f}' for x in ratios)})")
PY
