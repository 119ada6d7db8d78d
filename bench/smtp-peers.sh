#!/usr/bin/env bash
# Measures mailjar's SMTP ingestion beside Postfix's smtp-sink (the machine's ceiling) and MailDev, in the
# same run, with the team harness (bench/harness, see its README.md): every profile x N reps, a fresh
# server per run, medians. Every mailjar message is durably stored before its 250, and the harness checks
# the stored count through the API.
# Usage: bench/smtp-peers.sh [-n REPS] [-p "PROFILES"] [extra run-peers.sh args] [SERVER ...]
#   default servers: smtp-sink maildev mailjar
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/setup.sh"
export PEERS_DIR="$ROOT/bench/.peers"
export MAILJAR_BIN="$ROOT/build/server/mailjar"
"$ROOT/bench/harness/setup-peers.sh" >/dev/null
args=() servers=()
while (($#)); do
  case "$1" in
    -n|-p|-b|-q|-N|-R|-x|-o) args+=("$1" "$2"); shift 2 ;;
    *) servers+=("$1"); shift ;;
  esac
done
((${#servers[@]})) || servers=(smtp-sink maildev mailjar)
mkdir -p "$ROOT/bench/results"
exec "$ROOT/bench/harness/run-peers.sh" -o "$ROOT/bench/results" "${args[@]}" "${servers[@]}"
