#!/usr/bin/env bash
# Runs the fuzz targets in fuzz/ on the stable toolchain.
#
#   scripts/fuzz.sh --ci [TARGET...]      what .ci/run does: deterministic
#   scripts/fuzz.sh SECONDS [TARGET...]   random, longer runs, by hand
#
# TARGETs default to every target `cargo fuzz list` names. Steps:
#
# 1. cargo-fuzz $CARGO_FUZZ_VERSION: the one on PATH if it is that version,
#    else installed (--locked) into the build folder, target/tools.
# 2. One build of every target with libFuzzer and coverage instrumentation,
#    --cfg fuzzing, debug assertions and overflow checks, and no sanitizer
#    (the sanitizers need nightly; passcard forbids unsafe code, so they
#    would watch only dependencies). fuzz/Cargo.lock must be current.
# 3. Per target: the crashes found before (fuzz/regressions/TARGET/) are
#    replayed, then:
#    --ci: a fixed number of inputs (CI_RUNS, or FUZZ_CI_RUNS) with a fixed
#      seed of the target's own (the cksum of its name), from a fresh
#      corpus of fuzz/seeds/TARGET, never reloaded from disk, comparison
#      values not fed back into mutations (-use_cmp=0), address
#      randomisation off, source paths remapped in the build, and
#      PASSCARD_FUZZ_DETERMINISTIC=1 (a target skips what is random by
#      nature: jwks, signing with an EC or RSA key): the same commit always
#      gives the same answer, wherever it is checked out.
#    SECONDS: that long, with a seed from the clock, from a corpus kept in
#      the build folder (target/fuzz-corpus/TARGET, grown across runs and
#      seeded from fuzz/seeds/TARGET). What it finds is new each time.
#
# Exits non-zero if any target crashes (a panic, a failed check, a
# timeout, or running out of memory); the input is saved under
# target/fuzz-artifacts/TARGET/ and printed in hex. To keep one: fix the
# bug, add the input to fuzz/regressions/TARGET/ (the --ci runs replay it
# from then on), and a unit test beside the code.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
# Inputs per target in --ci runs: about 15 s each on this 2-core machine
# (the targets differ in speed: measured with 20 s runs and
# -print_final_stats, 2026-12-03); FUZZ_CI_RUNS sets one count for all.
CI_RUNS="${FUZZ_CI_RUNS:-}"
ci_runs() {
  if [ -n "$CI_RUNS" ]; then echo "$CI_RUNS"; return; fi
  case "$1" in
    credential) echo 1500000 ;;
    feed) echo 2500000 ;;
    forwarded) echo 700000 ;;
    jwks) echo 3500000 ;;
    settings) echo 1500000 ;;
    verify) echo 1200000 ;;
    *) echo 1000000 ;;
  esac
}

mode="${1:-}"
case "$mode" in
  --ci) seconds="" ;;
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh --ci [TARGET...] | scripts/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2 ;;
  *) seconds="$mode" ;;
esac
shift

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

# Every target fuzz/ has, as cargo-fuzz reads them from fuzz/Cargo.toml.
mapfile -t all_targets < <(cargo fuzz list --fuzz-dir fuzz)
[ ${#all_targets[@]} -gt 0 ] || { echo "fuzz.sh: cargo fuzz list names no target" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  printf '%s\n' "${all_targets[@]}" | grep -qx -- "$t" ||
    { echo "fuzz.sh: no target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
  [ -d "fuzz/seeds/$t" ] || { echo "fuzz.sh: target '$t' has no fuzz/seeds/$t" >&2; exit 2; }
done

# 2. One build of every target.
echo "== fuzz: building the targets"
cargo fetch --locked --quiet --manifest-path fuzz/Cargo.toml
# Source paths written as /passcard, so the binary (and so a --ci run) is
# the same wherever the checkout is.
RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$PWD=/passcard" \
  cargo fuzz build --fuzz-dir fuzz --sanitizer none --target-dir "$fuzz_build"
bin_dir="$fuzz_build/x86_64-unknown-linux-gnu/release"

# 3. Each target: regressions, then the run.
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$bin_dir/$t"
  artifacts="$build/fuzz-artifacts/$t"
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
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
  common=(-max_len=9000 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  if [ -z "$seconds" ]; then
    corpus="$build/fuzz-ci-corpus/$t"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp fuzz/seeds/"$t"/* "$corpus/"
    seed="$(printf '%s' "$t" | cksum | cut -d' ' -f1)"
    runs="$(ci_runs "$t")"
    echo "== fuzz $t: $runs inputs, seed $seed"
    args=(-runs="$runs" -seed="$seed" -reload=0)
    what="$runs inputs, seed $seed"
    # A target leaves out what would make its run differ from one process
    # to the next (jwks: signing with an EC key, whose signature is random).
    export PASSCARD_FUZZ_DETERMINISTIC=1
    # libFuzzer feeds the values of comparisons back into its mutations,
    # pointers among them, which move with address randomisation and with
    # the length of the paths and environment a run starts with: the
    # values are not fed back here (-use_cmp=0), and addresses are not
    # randomised where that can be turned off. Then two runs of one seed
    # are the same run, in any checkout.
    args+=(-use_cmp=0)
    if setarch "$(uname -m)" -R true 2>/dev/null; then
      runner=(setarch "$(uname -m)" -R)
    else
      runner=()
    fi
  else
    corpus="$build/fuzz-corpus/$t"
    mkdir -p "$corpus"
    cp fuzz/seeds/"$t"/* "$corpus/"
    echo "== fuzz $t: ${seconds}s"
    args=(-max_total_time="$seconds")
    what="${seconds}s"
    runner=()
    unset PASSCARD_FUZZ_DETERMINISTIC
  fi
  if "${runner[@]}" "$bin" "$corpus" "${common[@]}" "${args[@]}" >"$log" 2>&1; then
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")"
    size="$(ls "$corpus" | wc -l)"
    summary+=("$t: ${execs:-?} executions in ${took:-?} s ($what), corpus $size inputs, no crash")
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

echo "== fuzz summary"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failing targets: ${failed[*]}" >&2
  exit 1
fi
