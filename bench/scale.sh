#!/usr/bin/env bash
# Stores N messages (default 100,000) in one inbox with Postfix's smtp-source over 20 kept-open
# connections, then reports: ingest rate, peak RSS during the load, RSS after, database size, and the
# latency of the first list page (median of 5 curl requests).
# Usage: bench/scale.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100000}
"$ROOT/scripts/setup.sh" >/dev/null
PEERS_DIR="$ROOT/bench/.peers" "$ROOT/bench/harness/setup-peers.sh" --no-npm >/dev/null
BIN="$ROOT/build/server/mailjar"
DIR=$(mktemp -d)
SMTP=25501 HTTP=25502
"$BIN" serve --smtp 127.0.0.1:$SMTP --http 127.0.0.1:$HTTP --data-dir "$DIR/data" 2>"$DIR/log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP/readyz" >/dev/null && break; sleep 0.05; done
PF="$ROOT/bench/.peers/postfix"
t0=$EPOCHREALTIME
LD_LIBRARY_PATH=$PF/usr/lib/postfix "$PF/usr/sbin/smtp-source" -M localhost -f bench@localhost \
  -t sink@localhost -s 20 -l 4096 -m "$N" -d 127.0.0.1:$SMTP
t1=$EPOCHREALTIME
hwm=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
total=$(curl -fsS "http://127.0.0.1:$HTTP/api/v1/messages?limit=1" | jq -r .total)
times=()
for _ in 1 2 3 4 5; do
  times+=("$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$HTTP/api/v1/messages?limit=50")")
done
rss=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
hwm_after=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
db=$(du -sk "$DIR/data" | cut -f1)
med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
awk -v n="$N" -v t0="$t0" -v t1="$t1" -v total="$total" -v hwm="$hwm" -v hwm2="$hwm_after" -v rss="$rss" \
    -v db="$db" -v med="$med" 'BEGIN {
  printf "messages sent        %d (stored: %d)\n", n, total
  printf "ingest               %.0f msg/s\n", n / (t1 - t0)
  printf "peak RSS during load %.1f MiB\n", hwm / 1024
  printf "RSS after            %.1f MiB (peak incl. queries %.1f MiB)\n", rss / 1024, hwm2 / 1024
  printf "data dir             %.1f MiB (%.0f bytes/message)\n", db / 1024, db * 1024 / n
  printf "first list page      %.2f ms (median of 5, curl time_total)\n", med * 1000
}'
[ "$total" -eq "$N" ] || { echo "LOST: stored $total of $N" >&2; exit 1; }
