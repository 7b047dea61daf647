#!/usr/bin/env bash
# Installs the OAuth/JOSE clients the interop tests drive (software nobody
# on this project wrote) into the build folder: a Python virtual
# environment with authlib, requests and PyJWT, and node's jose. Prints the
# variables that point the tests at them:
#
#   eval "$(scripts/interop-setup.sh)"
#   cargo test -p passcard --test it interop
#
# Versions are pinned here so a run is repeatable.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$PWD/target/interop"
mkdir -p "$DIR"
if [[ ! -x "$DIR/venv/bin/python" ]]; then
  python3 -m venv "$DIR/venv" >&2
fi
"$DIR/venv/bin/pip" install --quiet --disable-pip-version-check \
  'authlib==1.6.5' 'requests==2.32.5' 'pyjwt[crypto]==2.10.1' >&2
mkdir -p "$DIR/node"
if [[ ! -d "$DIR/node/node_modules/jose" ]]; then
  (cd "$DIR/node" && npm install --silent --no-audit --no-fund --prefix . 'jose@6.1.0' >&2)
fi
echo "export PASSCARD_TEST_PYTHON='$DIR/venv/bin/python'"
echo "export PASSCARD_TEST_NODE_DIR='$DIR/node'"
