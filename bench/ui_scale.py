#!/usr/bin/env python3
"""UI timings at scale (issue 4's targets) in real headless Chromium, against a real mailjar.

Fills one inbox with N messages the way bench/api_scale.py does (reuse its data directory with --keep),
then runs bench/ui_scale.mjs ROUNDS times in one browser and reports medians:
  paint  navigation -> first list row in the DOM    (target < 500 ms)
  open   click on a row -> the pane shows it         (target < 200 ms)
  live   SMTP 250 -> the new row in the open list    (target < 100 ms)

Usage: bench/ui_scale.py [--messages N] [--rounds 5] [--keep DIR]
Needs chromium and tests/integration/npm/node_modules (scripts/setup.sh installs both).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_scale  # noqa: E402  (same folder: the message generator and helpers)

HOST = "127.0.0.1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", help="data directory to reuse (filled once)")
    args = ap.parse_args()

    binary = os.environ.get("MAILJAR_BIN", "./build/server/mailjar")
    data = args.keep or tempfile.mkdtemp(prefix="mailjar-ui-bench-")
    proc, smtp_port, http_port = api_scale.start_server(binary, data)
    try:
        have = api_scale.stored_total(http_port)
        if have < args.messages:
            secs = api_scale.fill(smtp_port, args.messages - have)
            print(f"filled {args.messages - have} messages in {secs:.1f} s", flush=True)
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["node", os.path.join(here, "ui_scale.mjs"), f"http://{HOST}:{http_port}/",
                              str(smtp_port), str(args.rounds)], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            print(out.stdout, out.stderr, file=sys.stderr)
            return 1
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        for r in rows:
            print(f"round {r['round'] + 1}: paint {r['paint_ms']:.0f} ms, open {r['open_ms']:.0f} ms, "
                  f"live {r['live_ms']:.0f} ms")
        targets = {"paint_ms": 500, "open_ms": 200, "live_ms": 100}
        print(f"\n{have if have >= args.messages else args.messages} messages, median of {len(rows)} rounds")
        for key, target in targets.items():
            med = statistics.median(r[key] for r in rows)
            print(f"{key[:-3]:6} {med:8.1f} ms   target < {target} ms   {'OK' if med < target else 'MISSED'}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
