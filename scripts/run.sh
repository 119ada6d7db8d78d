#!/usr/bin/env bash
# One command: install what is missing, build, and start mailjar on its defaults
# (SMTP 1025, HTTP 8025, data in ./data). Extra arguments go to `mailjar serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/server/mailjar serve "$@"
