#!/usr/bin/env bash
# Installs Schemathesis (property-based testing from an OpenAPI document,
# software nobody on this project wrote) into the build folder, and prints
# the variable that points the schema test at it:
#
#   eval "$(scripts/schemathesis-setup.sh)"
#   cargo test -p passcard --test it schema
#
# The version is pinned here so a run is repeatable.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/target/schemathesis-venv"
VERSION=4.32.5
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV" >&2
fi
if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $VERSION" ]]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
echo "export PASSCARD_TEST_SCHEMATHESIS='$VENV/bin/schemathesis'"
