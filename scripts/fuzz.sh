#!/usr/bin/env bash
# Runs the fuzz targets in fuzz/ on the stable toolchain: what .ci/run does
# (30 s each), or longer by hand.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default $FUZZ_SECONDS, else 30); TARGETs default to
# all of them. Steps:
#
# 1. cargo-fuzz $CARGO_FUZZ_VERSION: the one on PATH if it is that version,
#    else installed (--locked) into the build folder, target/tools.
# 2. One build of every target with libFuzzer and coverage instrumentation,
#    --cfg fuzzing, debug assertions and overflow checks, and no sanitizer
#    (the sanitizers need nightly; passcard forbids unsafe code, so they
#    would watch only dependencies). fuzz/Cargo.lock must be current.
# 3. Per target: the crashes found before (fuzz/regressions/TARGET/) are
#    replayed, then the target runs for SECONDS from a scratch corpus in the
#    build folder (target/fuzz-corpus/TARGET) seeded from fuzz/seeds/TARGET.
#
# Exits non-zero if any target crashes (a panic, a failed check, a
# timeout, or running out of memory); the input is saved under
# target/fuzz-artifacts/TARGET/ and printed in hex. To keep one: fix the
# bug, add the input to fuzz/regressions/TARGET/, and a unit test beside
# the code.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(verify jwks credential forwarded settings feed)
CARGO_FUZZ_VERSION=0.13.2

seconds="${1:-${FUZZ_SECONDS:-30}}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: no target '$t' (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

build="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
fuzz_build="$build/fuzz"
tools="$build/tools"

# 1. cargo-fuzz, pinned.
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "== fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools"
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
      --root "$tools" --target-dir "$tools/build"
  fi
  export PATH="$tools/bin:$PATH"
fi

# 2. One build of every target.
echo "== fuzz: building the targets"
cargo fetch --locked --quiet --manifest-path fuzz/Cargo.toml
cargo fuzz build --fuzz-dir fuzz --sanitizer none --target-dir "$fuzz_build"
bin_dir="$fuzz_build/x86_64-unknown-linux-gnu/release"

# 3. Each target: regressions, then SECONDS of fuzzing.
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$bin_dir/$t"
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/seeds/"$t"/* "$corpus/"
  log="$build/fuzz-$t.log"
  regressions=(fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== fuzz $t: replaying ${#regressions[@]} regression input(s)"
    if ! "$bin" -artifact_prefix="$artifacts/" "${regressions[@]}" >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      echo "fuzz.sh: $t crashes on a regression input again" >&2
      failed+=("$t")
      summary+=("$t: regression crashed")
      continue
    fi
  fi
  echo "== fuzz $t: ${seconds}s"
  if "$bin" "$corpus" -max_total_time="$seconds" -max_len=9000 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    size="$(ls "$corpus" | wc -l)"
    summary+=("$t: ${runs:-?} executions, corpus $size inputs, no crash")
  else
    tail -n 40 "$log" >&2
    for a in "$artifacts"/*; do
      [ -f "$a" ] || continue
      echo "fuzz.sh: $t failed on $a:" >&2
      od -A x -t x1z -v "$a" | head -n 64 >&2 || true  # head closes the pipe early
    done
    failed+=("$t")
    summary+=("$t: CRASHED (log $log)")
  fi
done

echo "== fuzz summary (${seconds}s per target)"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failing targets: ${failed[*]}" >&2
  exit 1
fi
