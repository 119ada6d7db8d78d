"""The one way the integration suite runs a Chromium script from tests/e2e/ (playwright-core driving
Debian's chromium): tool checks, the node process with a time limit, the JSON-lines protocol, screenshots.

Protocol: the script prints one JSON object per line: {"check": NAME, "ok": true} for each passed check,
{"error": TEXT} when it fails, {"ask": NAME, ...} asks the driver to act on or check the server (`answer`
returns the JSON object written back on the script's stdin), and any other object goes to `on_record`. Lines that are not JSON (node or chromium chatter)
are ignored.

chromium, node and npm are installed by scripts/setup.sh; a missing chromium or node skips with a
MISSING TOOL reason, a missing playwright-core (installed by `npm ci` in tests/integration/npm) fails."""

import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium")
HERE = os.path.dirname(os.path.abspath(__file__))
NPM_DIR = os.path.join(HERE, "npm")
E2E_DIR = os.path.join(os.path.dirname(HERE), "e2e")
PLAYWRIGHT_PACKAGE = os.path.join(NPM_DIR, "node_modules", "playwright-core", "package.json")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

needs_browser = [
    pytest.mark.skipif(not CHROMIUM, reason="MISSING TOOL: chromium is not installed (scripts/setup.sh "
                                            "installs Debian's chromium); CI must install it"),
    pytest.mark.skipif(not NODE, reason="MISSING TOOL: node is not installed (scripts/setup.sh installs "
                                        "nodejs and npm); CI must install it"),
]


class BrowserRun:
    """What a script reported: the checks that passed (in order), its errors, exit code and stderr tail."""

    def __init__(self):
        self.passed, self.errors, self.code, self.stderr = [], [], None, ""
        self.asked = []  # (ask name, whether the driver answered ok), in order

    def assert_passed(self, expected, context=""):
        assert not self.errors, (f"browser script failed: {self.errors}\nstderr: {self.stderr}\n"
                                 f"asked: {self.asked}\n{context}")
        assert self.code == 0, f"browser script exited {self.code}\nstderr: {self.stderr}"
        assert self.passed == expected


def run_script(script, args, timeout_s, on_record=None, max_lines=500, answer=None):
    """Runs tests/e2e/`script` with `args` (after the script path) in NPM_DIR, at most `timeout_s`.
    `answer(record)` answers each {"ask": ...} line (its result is written to the script's stdin and noted in
    run.asked); `on_record(record, reply)` gets every other JSON line that is neither a check nor an error,
    and `reply(obj)` writes one JSON line to the script's stdin."""
    if not os.path.isfile(PLAYWRIGHT_PACKAGE):
        pytest.fail(f"playwright-core is not installed in {NPM_DIR}: run scripts/setup.sh (or `npm ci` there)",
                    pytrace=False)
    proc = subprocess.Popen(["node", os.path.join(E2E_DIR, script), *args], cwd=NPM_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE,
                            text=True, env={**os.environ, "MAILJAR_CHROMIUM": CHROMIUM})
    lines = queue.Queue()

    def read(stream):
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, args=(proc.stdout,), daemon=True).start()

    def reply(obj):
        proc.stdin.write(json.dumps(obj) + "\n")
        proc.stdin.flush()

    run = BrowserRun()
    deadline = time.monotonic() + timeout_s
    try:
        for _ in range(max_lines):
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the browser script ran longer than {timeout_s}s; checks passed: {run.passed}")
            if line is None:
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue  # node or chromium chatter
            if not isinstance(record, dict):
                continue
            if record.get("check") and record.get("ok"):
                run.passed.append(record["check"])
            elif "error" in record:
                run.errors.append(record["error"])
            elif "ask" in record and answer:
                reply_obj = answer(record)
                run.asked.append((record["ask"], reply_obj.get("ok")))
                reply(reply_obj)
            elif on_record:
                on_record(record, reply)
        run.code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run.stderr = proc.stderr.read()[-4000:]
    return run


def assert_screenshots(directory, names):
    for name in names:
        shot = directory / name
        assert shot.is_file() and shot.read_bytes()[:8] == PNG_MAGIC, f"no screenshot {shot}"
