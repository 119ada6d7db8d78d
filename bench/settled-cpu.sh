#!/usr/bin/env bash
# Server CPU per message for the small-reuse load (smtp-source: 20 connections kept open, 4 KiB
# messages), counted twice: when the load ends (what run-peers.sh reports) and once mailjar has gone idle
# afterwards, i.e. including what it does after the 250s: the full-text indexing of the messages it
# stored (and their analysis, unless --analyzers none is given). Also checks that the index caught up.
# Prints each run and the medians.
# Usage: bench/settled-cpu.sh [-n RUNS] [-m MESSAGES] [-- extra `mailjar serve` arguments]
#   e.g. bench/settled-cpu.sh -n 5 -- --analyzers none
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3 MSGS=20000
while (($#)); do
  case "$1" in
    -n) RUNS=$2; shift 2 ;;
    -m) MSGS=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [-n RUNS] [-m MESSAGES] [-- serve args]" >&2; exit 2 ;;
  esac
done
EXTRA=("$@")
BIN=${MAILJAR_BIN:-$ROOT/build/server/mailjar}
export PEERS_DIR=${PEERS_DIR:-$ROOT/bench/.peers}
"$ROOT/bench/harness/setup-peers.sh" >/dev/null
SBIN=$PEERS_DIR/postfix/usr/sbin LIB=$PEERS_DIR/postfix/usr/lib/postfix
SMTP_PORT=25531 HTTP_PORT=25532
TICK_US=$((1000000 / $(getconf CLK_TCK)))

cpu_ticks() { local st; st=$(sed 's/.*) //' "/proc/$1/stat"); set -- $st; echo $((${12} + ${13})); }

WORK=$(mktemp -d /tmp/mailjar-settled.XXXXXX)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

at_end=() settled=() settle_s=()
for ((run = 1; run <= RUNS; run++)); do
  rm -rf "$WORK/data"
  "$BIN" serve --smtp 127.0.0.1:$SMTP_PORT --http 127.0.0.1:$HTTP_PORT --data-dir "$WORK/data" "${EXTRA[@]}" \
    >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.1; done
  before=$(cpu_ticks "$PID")
  LD_LIBRARY_PATH=$LIB timeout 300 "$SBIN/smtp-source" -s 20 -m "$MSGS" -l 4096 -d -M localhost \
    -f bench@localhost -t sink@localhost "127.0.0.1:$SMTP_PORT" >"$WORK/source.log" 2>&1
  t_end=$(date +%s.%N)
  end=$(cpu_ticks "$PID")
  # Idle: no CPU tick for 2 s in a row (bounded at 120 s).
  last=$end still=0 t_idle=$t_end
  for _ in $(seq 480); do
    sleep 0.25
    now=$(cpu_ticks "$PID")
    if ((now == last)); then
      ((++still >= 8)) && break
    else
      still=0 last=$now t_idle=$(date +%s.%N)
    fi
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  caught_up=$(python3 - "$WORK/data/mailjar.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n, top = db.execute("SELECT count(*), max(seq) FROM messages").fetchone()
try:
    line = db.execute("SELECT indexed_seq FROM index_state").fetchone()[0]
    print(f"{n} messages, index line {line} of {top}")
except sqlite3.OperationalError:  # a build from before schema 004 indexes with each group
    print(f"{n} messages, indexed with their groups")
EOF
)
  a=$(( (end - before) * TICK_US / MSGS )) s=$(( (last - before) * TICK_US / MSGS ))
  at_end+=("$a") settled+=("$s") settle_s+=("$(echo "$t_idle - $t_end" | bc)")
  echo "run $run: ${a} us/msg at the end of the load, ${s} us/msg settled (busy $(printf %.1f "${settle_s[-1]}") s after the load); $caught_up"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "median: $(median "${at_end[@]}") us/msg at the end of the load, $(median "${settled[@]}") us/msg settled"
