#!/usr/bin/env bash
# The soak test, long form: the same test that CI runs for 2 minutes
# (crates/server/tests/it/soak), for [minutes] (default 30): mixed traffic
# (logins, refreshes with replays inside and after the reuse interval,
# /v1/me, logouts, role changes, bans) from 100 users and 20 workers per
# deployment, against `passcard serve` processes on loopback: one on
# SQLite and, with PASSCARD_TEST_DATABASE_URL set, two sharing one
# PostgreSQL database, at the same time. Every answer is checked as it
# comes; each process's resident memory and open descriptors are sampled
# every second, and the summary prints requests per kind and status, RSS
# start/after warm-up/end and its slope, and descriptors.
#
#   scripts/soak.sh [minutes, default 30] [extra cargo test flags, e.g. --release]
#
# Only 127.0.0.1 is targeted; the run stops by itself after [minutes].
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-30}"
shift || true
export PASSCARD_TEST_DATABASE_URL="${PASSCARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export PASSCARD_SOAK_SECS=$((MINUTES * 60))
exec cargo test -p passcard --test it --locked "$@" -- --ignored soak::soak_mixed_traffic --nocapture 2>&1
