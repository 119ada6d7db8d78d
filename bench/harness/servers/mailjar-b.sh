# A second mailjar build for same-run A/B comparisons: set MAILJAR_B_BIN to its binary, e.g.
#   MAILJAR_BIN=/tmp/old/mailjar MAILJAR_B_BIN=$PWD/build/server/mailjar \
#     bench/harness/run-peers.sh -n 5 -p small-reuse smtp-sink mailjar mailjar-b
SERVER_NAME=mailjar-b
SMTP_PORT=25411
HTTP_PORT=25412
STORAGE="as mailjar (a second build, for A/B)"
START='exec "$MAILJAR_B_BIN" serve --smtp 127.0.0.1:$SMTP_PORT --http 127.0.0.1:$HTTP_PORT --data-dir "$RUN_DIR/data"'
COUNT='curl -fsS --max-time 30 "http://127.0.0.1:$HTTP_PORT/api/v1/messages?limit=1" | jq -r .total'
VERSION='"$MAILJAR_B_BIN" --version'
