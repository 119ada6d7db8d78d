#!/usr/bin/env bash
# One command: install what is missing, build, and run every test (unit + integration) with CTest; then
# the same tests again on a build with AddressSanitizer and UndefinedBehaviorSanitizer (./build-asan).
#   scripts/test.sh              both passes (what CI runs)
#   scripts/test.sh --quick      the normal build only
#   scripts/test.sh --sanitize   the sanitizer build only
# Further arguments go to ctest (e.g. -R integration).
set -euo pipefail
cd "$(dirname "$0")/.."

plain=1 sanitized=1
case "${1:-}" in
  --quick) sanitized=0; shift ;;
  --sanitize) plain=0; shift ;;
esac

scripts/setup.sh
if [ "$plain" = 1 ]; then
  (cd build && ctest --output-on-failure -j "${MAILJAR_TEST_JOBS:-2}" "$@")
fi
if [ "$sanitized" = 1 ]; then
  scripts/setup.sh --sanitize
  # Leaks are reported (at the exit of each test process, the server's included: a leak fails the test that
  # stopped it), except the libraries' one-time allocations listed in the suppressions.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  export MAILJAR_SANITIZED=1  # tests that measure memory skip themselves (ASan's allocator keeps freed memory)
  (cd build-asan && ctest --output-on-failure -j "${MAILJAR_TEST_JOBS:-2}" "$@")
fi
