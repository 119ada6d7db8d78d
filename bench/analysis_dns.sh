#!/usr/bin/env bash
# Does analysis that waits on the DNS slow SMTP ingestion? 20 SMTP clients on real sockets send 2,000
# messages to the real listener, pipeline and writer, with and without a network analyzer that needs three
# rounds of DNS from a resolver answering 50 ms after each question (analysis starting at once, no quiet
# period), in turns, ROUNDS times (default 5). Prints each round and the medians. Needs a built ./build.
# Usage: bench/analysis_dns.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/tests/unit/ingest/ingest_load_tests
[ -x "$bin" ] || { echo "build first: scripts/setup.sh" >&2; exit 2; }
ROUNDS=${1:-5} "$bin" --gtest_also_run_disabled_tests --gtest_filter='*Measure*' | grep '^round' | tee /tmp/analysis_dns.$$
for mode in off on; do
  grep "analyzer $mode" /tmp/analysis_dns.$$ | awk -v m="$mode" '{print $(NF-1)}' | sort -n |
    awk -v m="$mode" '{a[NR]=$1} END {printf "median analyzer %-3s: %s msg/s (%d rounds)\n", m, a[int((NR+1)/2)], NR}'
done
grep -q ' [1-9][0-9]* 4xx' /tmp/analysis_dns.$$ && echo "SOME 4xx REPLIES" || echo "no 4xx replies"
rm -f /tmp/analysis_dns.$$
