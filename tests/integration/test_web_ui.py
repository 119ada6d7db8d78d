"""The web UI in real headless Chromium: tests/e2e/ui.mjs (playwright-core driving Debian's chromium)
against a fresh server fed over SMTP.

Two messages are sent before the page opens; when the script reports that the page shows them (a
{"ready": "live"} line), a third message and one whose Subject is an HTML payload are sent while the page
is open. The script asserts the list, the live arrivals, that the payload shows as literal text and ran
nothing (window.__pwned stays undefined), and saves screenshots into the test's tmp dir. Every check the
script makes must be reported as passed.

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

from helpers import smtplib_send, token

NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium")
HERE = os.path.dirname(os.path.abspath(__file__))
NPM_DIR = os.path.join(HERE, "npm")
SCRIPT = os.path.join(os.path.dirname(HERE), "e2e", "ui.mjs")
PLAYWRIGHT_PACKAGE = os.path.join(NPM_DIR, "node_modules", "playwright-core", "package.json")

RUN_TIMEOUT_S = 90.0        # one whole run of the script (each wait in it gives up after 15 s)
MAX_OUTPUT_LINES = 200      # the script prints one line per check (about 20)
HOSTILE_SUBJECT = "<img src=x onerror=window.__pwned=1>"

EXPECTED_CHECKS = [
    "page served", "page has a strict CSP", "list shows both subjects newest first",
    "rows show the snippet and the size",
    "inbox picker shows the inbox", "live stream connected", "title has the unread count",
    "live arrivals prepended without reload", "title follows live arrivals", "picker count follows live arrivals",
    "hostile subject is literal text (live)", "hostile subject ran nothing (live)",
    "hostile subject is literal text (loaded)", "hostile subject ran nothing (loaded)", "list after reload",
    "text contrast at least 4.5:1 (light)", "dark mode follows the system", "text contrast at least 4.5:1 (dark)",
    "4K layout uses the width without overflow", "no script or console errors",
]

needs_browser = [
    pytest.mark.skipif(not CHROMIUM, reason="MISSING TOOL: chromium is not installed (scripts/setup.sh "
                                            "installs Debian's chromium); CI must install it"),
    pytest.mark.skipif(not NODE, reason="MISSING TOOL: node is not installed (scripts/setup.sh installs "
                                        "nodejs and npm); CI must install it"),
]


def _message(subject, sender="Alice Sender <alice@example.com>"):
    return (f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <{token()}@mailjar.test>\r\n\r\nHello from the web UI test.\r\n").encode("utf-8")


def _send(server, subject):
    with server.smtp() as client:
        return smtplib_send(client, "alice@example.com", ["bob@example.org"], _message(subject))


def _header(headers, name):
    """A response header by case-insensitive name ('' when absent)."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def _reader(stream, lines):
    for line in stream:
        lines.put(line)
    lines.put(None)


@needs_browser[0]
@needs_browser[1]
@pytest.mark.timeout_s(RUN_TIMEOUT_S + 30)
def test_message_list_live_arrival_and_hostile_subject(make_server, tmp_path):
    if not os.path.isfile(PLAYWRIGHT_PACKAGE):
        pytest.fail(f"playwright-core is not installed in {NPM_DIR}: run scripts/setup.sh (or `npm ci` there)",
                    pytrace=False)
    server = make_server()
    tok = token()
    _send(server, f"First {tok}")
    _send(server, f"Second {tok}")

    shots = tmp_path / "screenshots"
    shots.mkdir()
    url = f"http://127.0.0.1:{server.http_port}/"
    proc = subprocess.Popen(["node", SCRIPT, url, tok, str(shots), NPM_DIR], cwd=NPM_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env={**os.environ, "MAILJAR_CHROMIUM": CHROMIUM})
    lines = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    passed, errors, sent_live = [], [], False
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        for _ in range(MAX_OUTPUT_LINES):
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the browser script ran longer than {RUN_TIMEOUT_S}s; checks passed: {passed}")
            if line is None:
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue  # node or chromium chatter
            if record.get("check") and record.get("ok"):
                passed.append(record["check"])
            elif "error" in record:
                errors.append(record["error"])
            elif record.get("ready") == "live":
                _send(server, f"Live {tok}")
                _send(server, HOSTILE_SUBJECT)
                sent_live = True
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()[-4000:]
    assert not errors, f"browser script failed: {errors}\nstderr: {stderr}"
    assert code == 0, f"browser script exited {code}\nstderr: {stderr}"
    assert sent_live, "the script never reported the page ready for live arrivals"
    assert passed == EXPECTED_CHECKS
    for name in ("message-list.png", "message-list-dark.png"):
        shot = shots / name
        assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot {shot}"

    # The stored subject is the payload itself, unchanged (the UI showed it as text, not a sanitised copy).
    status, _, body = server.http_request("GET", "/api/v1/messages")
    assert status == 200
    stored = [m["Subject"] for m in json.loads(body)["messages"]]
    assert HOSTILE_SUBJECT in stored


def test_ui_routes_over_http(make_server):
    """The page, an asset with its validators, and a JSON 404 for an unknown asset, over a real socket."""
    server = make_server()
    status, headers, body = server.http_request("GET", "/")
    assert status == 200
    assert _header(headers, "Content-Type") == "text/html; charset=utf-8"
    assert "script-src 'self'" in _header(headers, "Content-Security-Policy")
    assert b'<script type="module" src="/ui/app.js">' in body

    status, headers, body = server.http_request("GET", "/ui/app.js")
    assert status == 200
    assert _header(headers, "Content-Type") == "text/javascript; charset=utf-8"
    assert _header(headers, "Cache-Control") == "no-cache"
    etag = _header(headers, "ETag")
    status, headers, body = server.http_request("GET", "/ui/app.js", headers={"If-None-Match": etag})
    assert status == 304 and body == b""

    status, headers, body = server.http_request("GET", "/ui/nope.js")
    assert status == 404
    assert json.loads(body)["Code"] == "not_found"
    status, _, body = server.http_request("GET", "/inboxes/no-such-inbox/")
    assert status == 404
    assert json.loads(body)["Code"] == "inbox_not_found"
