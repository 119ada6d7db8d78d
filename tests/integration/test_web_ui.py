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

import pytest

from browser import NPM_DIR, assert_screenshots, needs_browser, run_script
from helpers import smtplib_send, token

RUN_TIMEOUT_S = 90.0        # one whole run of the script (each wait in it gives up after 15 s)
HOSTILE_SUBJECT = "<img src=x onerror=window.__pwned=1>"

EXPECTED_CHECKS = [
    "page served", "page has a strict CSP", "list shows both subjects newest first",
    "rows show the snippet and the size",
    "inbox picker shows the inbox", "live stream connected", "title has the unread count",
    "live arrivals prepended without reload", "title follows live arrivals", "picker count follows live arrivals",
    "hostile subject is literal text (live)", "hostile subject ran nothing (live)",
    "hostile subject is literal text (loaded)", "hostile subject ran nothing (loaded)", "list after reload",
    "text contrast at least 4.5:1 (light)", "dark mode follows the system", "text contrast at least 4.5:1 (dark)",
    "4K layout uses the width without overflow", "status line shows no error", "no script or console errors",
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


@needs_browser[0]
@needs_browser[1]
@pytest.mark.timeout_s(RUN_TIMEOUT_S + 30)
def test_message_list_live_arrival_and_hostile_subject(make_server, tmp_path):
    server = make_server()
    tok = token()
    _send(server, f"First {tok}")
    _send(server, f"Second {tok}")

    shots = tmp_path / "screenshots"
    shots.mkdir()
    url = f"http://127.0.0.1:{server.http_port}/"
    sent_live = []

    def on_record(record, reply):
        if record.get("ready") == "live":
            _send(server, f"Live {tok}")
            _send(server, HOSTILE_SUBJECT)
            sent_live.append(True)

    run = run_script("ui.mjs", [url, tok, str(shots), NPM_DIR], RUN_TIMEOUT_S, on_record)
    run.assert_passed(EXPECTED_CHECKS)
    assert sent_live, "the script never reported the page ready for live arrivals"
    assert_screenshots(shots, ("message-list.png", "message-list-dark.png", "message-list-4k.png"))

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
