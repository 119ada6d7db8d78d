#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz: builds them (clang, ASan + UBSan, into ./build-fuzz) and runs one.
#   scripts/fuzz.sh --list                 the targets
#   scripts/fuzz.sh TARGET SECONDS [ARGS]  runs TARGET for SECONDS from its seeds (tests/fuzz/corpus/TARGET,
#                                          read only) and what earlier runs found (build-fuzz/corpus/TARGET);
#                                          ARGS go to libFuzzer (e.g. -jobs=2 -workers=2)
#   scripts/fuzz.sh --all SECONDS          every target in turn
# A crash, leak or sanitizer report stops the run with its input in build-fuzz/crashes/ (exit status
# non-zero); reproduce it with build-fuzz/tests/fuzz/fuzz_TARGET FILE, then add it as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --no-build
# clang with its libFuzzer and sanitizer runtimes, from Debian (installed only when missing).
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD=build-fuzz
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILJAR_FUZZ=ON >/dev/null
fi
cmake --build "$BUILD" -j "${MAILJAR_JOBS:-$(nproc)}" >/dev/null

targets() { cat "$BUILD/fuzz-targets.txt"; }

run() {
  local target=$1 seconds=$2
  shift 2
  targets | grep -qx "$target" || { echo "fuzz: no target '$target' (scripts/fuzz.sh --list)" >&2; exit 2; }
  mkdir -p "$BUILD/corpus/$target" "$BUILD/crashes"
  local seeds=()
  [ -d "tests/fuzz/corpus/$target" ] && seeds=("tests/fuzz/corpus/$target")
  echo "fuzz: $target for ${seconds}s"
  # Leaks are checked at the end of the run only (libFuzzer's -detect_leaks), with the suppressions of the
  # libraries' one-time allocations.
  LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
    "$BUILD/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -max_len=262144 -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$target-" "$@" \
    "$BUILD/corpus/$target" "${seeds[@]}"
}

case "${1:-}" in
  --list) targets ;;
  --all)
    [ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh --all SECONDS" >&2; exit 2; }
    for t in $(targets); do run "$t" "$2"; done ;;
  ""|-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    [ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args]" >&2; exit 2; }
    run "$@" ;;
esac
