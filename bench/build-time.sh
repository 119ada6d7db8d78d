#!/usr/bin/env bash
# Clean and incremental build times on this machine (-j2 by default), with ccache off so that the clean
# number is a real compile, and with a warm ccache for comparison.
# Usage: bench/build-time.sh [JOBS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${1:-2}
"$ROOT/scripts/setup.sh" --no-build
# Inside the tree, like ./build: ccache's paths are relative to the build directory, so only a build
# directory at the same depth shares the cache with ./build and with CI's clone.
B="$ROOT/build-timing"
rm -rf "$B"
trap 'rm -rf "$B"' EXIT
t() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v s="$s" -v e="$EPOCHREALTIME" 'BEGIN{printf "%.1f s", e-s}'; }
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "clean build, everything incl. tests, ccache off: $(CCACHE_DISABLE=1 t cmake --build "$B" -j "$JOBS")"
touch "$ROOT/server/smtp/session.cpp"
echo "incremental (touch smtp/session.cpp), ccache off: $(CCACHE_DISABLE=1 t cmake --build "$B" -j "$JOBS")"
touch "$ROOT/server/main.cpp"
echo "incremental (touch main.cpp), ccache off: $(CCACHE_DISABLE=1 t cmake --build "$B" -j "$JOBS")"
rm -rf "$B"/*
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "clean build with ccache on (warm if this tree was built before on this machine): $(t cmake --build "$B" -j "$JOBS")"
