"""The message view's Analysis tab (web/message.js) in real headless Chromium: tests/e2e/analysis.mjs
(playwright-core driving Debian's chromium) against two fresh servers fed over SMTP.

One server runs with `--analysis-queue 0`, so no report exists until something POSTs
/api/v1/message/{ID}/analysis. The script opens a message whose tab says no analyzers have run; this
driver then POSTs from outside the page and the open tab must fill in live (WebSocket "analysis" event,
no reload, no click), and again while another tab is shown. A second message is analysed with the tab's
"Run analysis now" button, a third is deleted behind the page so that the button's run fails and shows an
error line, and a message whose From header is markup shows that markup as text in the report's
evidence. The other server runs with `--analyzers none`: its tab says no analyzers are enabled. Every
check the script makes must be reported as passed, and screenshots are saved in the test's tmp dir.

A missing chromium or node skips with a MISSING TOOL reason, a missing playwright-core fails (as in
test_web_ui.py)."""

import json

import pytest

from browser import NPM_DIR, assert_screenshots, needs_browser, run_script
from helpers import api_call, smtplib_send, token

RUN_TIMEOUT_S = 120.0  # one whole run of the script (each wait in it gives up after 15 s)
HOSTILE_FROM = '<img src=x onerror="window.__pwned=1">'

EXPECTED_CHECKS = [
    "Analysis tab says no analyzers have run yet", "analysis posted from outside the page",
    "report fills in live without reload or click", "live report lists date.missing and message_id.missing",
    "verdict and severity badges say it in words", "Run again button shown with reports",
    "analysis posted again from outside the page",
    "hidden Analysis tab refreshes live without switching tabs or focus",
    "second message starts without reports", "Run analysis now shows the report",
    "server stored the report the page asked for", "third message starts without reports",
    "message deleted behind the page", "a failed run shows an error line", "hostile evidence is literal text",
    "hostile evidence created no element and ran nothing", "dark mode follows the system",
    "Analysis tab says no analyzers are enabled", "no script errors or failed requests",
]
SCREENSHOTS = ["analysis-empty.png", "analysis-live.png", "analysis-run.png", "analysis-error.png",
               "analysis-hostile.png", "analysis-dark.png", "analysis-none.png"]


def _raw(headers, body="Hello from the analysis test.\r\n"):
    """A message with exactly these header lines (no Date or Message-ID unless given), CRLF endings."""
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


def _send(server, raw):
    with server.smtp() as client:
        return smtplib_send(client, "alice@example.com", ["bob@example.org"], raw)


def _headers_report(answer):
    """The "headers" report of an analysis answer, or None."""
    return next((r for r in answer.get("Reports", []) if r.get("Analyzer") == "headers"), None)


def _finding_ids(report):
    return [f["ID"] for f in (report or {}).get("Findings", [])]


def _answer(server, record):
    """Acts on or checks the server as the script asks; returns the answer object."""
    name, mid = record["ask"], record.get("id", "")
    path = f"/api/v1/message/{mid}/analysis"
    if name in ("analysis posted from outside the page", "analysis posted again from outside the page"):
        status, answer = api_call(server, "POST", path)
        report = _headers_report(answer) if status == 200 else None
        ids = _finding_ids(report)
        ok = report is not None and "date.missing" in ids and "message_id.missing" in ids
        return {"ok": ok, "why": f"POST -> {status}: {answer}", "summary": (report or {}).get("Summary", "")}
    if name == "server stored the report the page asked for":
        status, answer = api_call(server, "GET", path)
        ids = _finding_ids(_headers_report(answer) if status == 200 else None)
        return {"ok": "date.missing" in ids, "why": f"GET -> {status}: {answer}"}
    if name == "message deleted behind the page":
        status, answer = api_call(server, "DELETE", "/api/v1/messages", {"IDs": [mid]})
        gone, _ = api_call(server, "GET", f"/api/v1/message/{mid}")
        return {"ok": status == 200 and gone == 404, "why": f"DELETE -> {status} {answer}, GET -> {gone}"}
    return {"ok": False, "why": f"unknown step {name}"}


@needs_browser[0]
@needs_browser[1]
@pytest.mark.timeout_s(RUN_TIMEOUT_S + 30)
def test_analysis_tab_live_run_errors_and_hostile_evidence(make_server, tmp_path):
    queued = make_server("--analysis-queue", "0")
    none = make_server("--analyzers", "none")
    tok = token()
    subjects = {"live": f"Live {tok}", "run": f"Run {tok}", "gone": f"Gone {tok}", "none": f"None {tok}"}
    common = ["From: Alice Sender <alice@example.com>", "To: Bob <bob@example.org>"]
    live_id = _send(queued, _raw([*common, f"Subject: {subjects['live']}"]))
    _send(queued, _raw([*common, f"Subject: {subjects['run']}", f"Message-ID: <run-{tok}@mailjar.test>"]))
    _send(queued, _raw([*common, f"Subject: {subjects['gone']}", f"Message-ID: <gone-{tok}@mailjar.test>"]))
    hostile_id = _send(queued, _raw([f"From: {HOSTILE_FROM}", "To: bob@example.org",
                                     f"Message-ID: <hostile-{tok}@mailjar.test>"]))
    none_id = _send(none, _raw([*common, f"Subject: {subjects['none']}"]))

    # Preconditions the page is checked against: no background analysis on the first server, the
    # hostile From quoted (markup and all) in from.unparseable, and no analyzers on the second.
    status, answer = api_call(queued, "GET", f"/api/v1/message/{live_id}/analysis")
    assert status == 200 and answer["Analyzers"] == ["headers"] and answer["Reports"] == [], answer
    status, answer = api_call(queued, "POST", f"/api/v1/message/{hostile_id}/analysis")
    assert status == 200, answer
    unparseable = [f for f in _headers_report(answer)["Findings"] if f["ID"] == "from.unparseable"]
    assert len(unparseable) == 1 and "<img" in unparseable[0]["Evidence"], answer
    status, answer = api_call(none, "GET", f"/api/v1/message/{none_id}/analysis")
    assert status == 200 and answer["Analyzers"] == [] and answer["Reports"] == [], answer

    shots = tmp_path / "screenshots"
    shots.mkdir()
    spec = {**subjects, "hostileId": hostile_id, "hostileFrom": HOSTILE_FROM,
            "hostileEvidence": unparseable[0]["Evidence"]}
    run = run_script("analysis.mjs", [f"http://127.0.0.1:{queued.http_port}/", f"http://127.0.0.1:{none.http_port}/",
                                      json.dumps(spec), str(shots), NPM_DIR], RUN_TIMEOUT_S,
                     answer=lambda record: _answer(queued, record))
    run.assert_passed(EXPECTED_CHECKS)
    assert len(run.asked) == 4 and all(ok for _, ok in run.asked), run.asked
    assert_screenshots(shots, SCREENSHOTS)
