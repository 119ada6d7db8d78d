#!/usr/bin/env bash
# One command: install what is missing, build, and run every test (unit + integration) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j "${MAILJAR_TEST_JOBS:-2}" "$@"
