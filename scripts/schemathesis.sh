#!/usr/bin/env bash
# A longer Schemathesis run than CI's, against a real passcard server and
# the OpenAPI document it serves (the schema test of the server crate):
#
#   scripts/schemathesis.sh [max-examples] [seed]
#
# max-examples: test cases per operation and phase (default 200; CI runs
# 25). seed: default random; a failure prints the seed that repeats it.
# Installs Schemathesis into the build folder first.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/schemathesis-setup.sh)"
export PASSCARD_TEST_SCHEMATHESIS_EXAMPLES="${1:-200}"
export PASSCARD_TEST_SCHEMATHESIS_SEED="${2:-$((RANDOM * 32768 + RANDOM))}"
echo "schemathesis: $PASSCARD_TEST_SCHEMATHESIS_EXAMPLES examples, seed $PASSCARD_TEST_SCHEMATHESIS_SEED" >&2
exec nice -n 19 cargo test -p passcard --test it --locked schemathesis_finds -- --nocapture
