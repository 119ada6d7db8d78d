"""Analysis reports over the real server: background analysis after SMTP delivery announced on the
WebSocket, GET and POST /api/v1/message/{ID}/analysis, --analysis-queue 0 (on demand only),
--analyzers none, inbox isolation, and an unknown analyzer refused at start."""

import subprocess
import time

from helpers import HOST, token
from test_api import WsClient, call, send

# A message with header problems the headers analyzer must report: no Date, no Message-ID, Subject twice,
# a raw 8-bit byte in a header of a session without SMTPUTF8.
BROKEN = ("From: Alice <alice@example.com>\r\n"
          "To: bob@example.org\r\n"
          "Subject: first {tok}\r\n"
          "Subject: second\r\n"
          "X-Note: caf\xe9\r\n"
          "\r\n"
          "body {tok}\r\n")

CLEAN = ("From: Alice <alice@example.com>\r\n"
         "To: Bob <bob@example.org>\r\n"
         "Subject: clean {tok}\r\n"
         "Date: {date}\r\n"
         "Message-ID: <{tok}@example.com>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "\r\n"
         "hello {tok}\r\n")


def _broken(tok):
    return BROKEN.format(tok=tok).encode("latin-1")


def _clean(tok):
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    return CLEAN.format(tok=tok, date=date).encode()


def _finding_ids(report):
    return {f["ID"] for f in report["Findings"]}


def _wait_for_reports(srv, mid, timeout=15.0, inbox=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = call(srv, "GET", f"/api/v1/message/{mid}/analysis", inbox=inbox)
        assert status == 200, body
        if body["Reports"]:
            return body
        time.sleep(0.1)
    raise AssertionError(f"no reports for {mid} within {timeout} s")


def test_background_analysis_reports_and_announces_header_findings(make_server):
    srv = make_server()
    ws = WsClient(srv.http_port, "/api/events")
    assert ws.status == 101
    time.sleep(0.3)  # subscriptions are made on a worker
    tok = token()
    broken = send(srv, _broken(tok))
    ev = ws.next_event("analysis", timeout=15)
    assert ev["Data"] == {"ID": broken, "Analyzers": ["headers"]}
    ws.close()

    status, _, body = call(srv, "GET", f"/api/v1/message/{broken}/analysis")
    assert status == 200
    assert body["ID"] == broken and body["Analyzers"] == ["headers"]
    assert len(body["Reports"]) == 1
    report = body["Reports"][0]
    assert report["Analyzer"] == "headers" and report["Title"]
    assert report["Verdict"] == "fail"
    assert {"date.missing", "message_id.missing", "header.duplicate",
            "header.8bit_without_smtputf8"} <= _finding_ids(report), report
    assert "error" in report["Summary"]
    for f in report["Findings"]:
        assert f["Severity"] in ("info", "warning", "error") and f["Message"]
    dup = [f for f in report["Findings"] if f["ID"] == "header.duplicate"]
    assert len(dup) == 1 and "subject" in dup[0]["Evidence"].lower()
    assert report["Created"].endswith("Z") and isinstance(report["DurationMs"], (int, float))

    clean = send(srv, _clean(tok))
    report = _wait_for_reports(srv, clean)["Reports"][0]
    assert report["Verdict"] == "pass", report
    assert report["Findings"] == []

    stats = call(srv, "GET", "/api/v1/info")[2]["RuntimeStats"]
    assert stats["AnalysisDone"] >= 2 and stats["AnalysisSkipped"] == 0 and stats["AnalysisQueued"] >= 0

    # "latest" names the newest message, as everywhere in the API.
    status, _, body = call(srv, "GET", "/api/v1/message/latest/analysis")
    assert status == 200 and body["ID"] == clean


def test_on_demand_only_with_queue_zero(make_server):
    srv = make_server("--analysis-queue", "0")
    mid = send(srv, _broken(token()))
    time.sleep(0.5)
    status, _, body = call(srv, "GET", f"/api/v1/message/{mid}/analysis")
    assert status == 200 and body == {"ID": mid, "Analyzers": ["headers"], "Reports": []}

    status, _, body = call(srv, "POST", f"/api/v1/message/{mid}/analysis")
    assert status == 200, body
    assert body["ID"] == mid and [r["Analyzer"] for r in body["Reports"]] == ["headers"]
    assert "date.missing" in _finding_ids(body["Reports"][0])
    status, _, again = call(srv, "GET", f"/api/v1/message/{mid}/analysis")
    assert again == body

    # Running again replaces the report (one per analyzer), with a new time.
    time.sleep(0.01)
    status, _, rerun = call(srv, "POST", f"/api/v1/message/{mid}/analysis")
    assert status == 200 and len(rerun["Reports"]) == 1
    assert rerun["Reports"][0]["Created"] >= body["Reports"][0]["Created"]

    status, _, err = call(srv, "GET", "/api/v1/message/01NOSUCHMESSAGE00000000000/analysis")
    assert status == 404 and err["Code"] == "message_not_found"
    status, _, err = call(srv, "POST", "/api/v1/message/01NOSUCHMESSAGE00000000000/analysis")
    assert status == 404 and err["Code"] == "message_not_found"

    # Deleting the message removes its reports with it.
    call(srv, "DELETE", "/api/v1/messages", body={"IDs": [mid]})
    status, _, err = call(srv, "GET", f"/api/v1/message/{mid}/analysis")
    assert status == 404


def test_reports_stay_in_their_inbox(make_server):
    srv = make_server()
    staging = srv.create_inbox("web", "staging")
    mid = send(srv, _broken(token()), login=(staging["smtp_username"], staging["smtp_password"]))
    body = _wait_for_reports(srv, mid, inbox=staging["slug"])
    assert body["Reports"][0]["Analyzer"] == "headers"
    for method in ("GET", "POST"):
        status, _, err = call(srv, method, f"/api/v1/message/{mid}/analysis")
        assert status == 404 and err["Code"] == "message_not_found", (method, err)


def test_analyzers_none(make_server):
    srv = make_server("--analyzers", "none")
    mid = send(srv, _broken(token()))
    status, _, body = call(srv, "GET", f"/api/v1/message/{mid}/analysis")
    assert status == 200 and body == {"ID": mid, "Analyzers": [], "Reports": []}
    status, _, err = call(srv, "POST", f"/api/v1/message/{mid}/analysis")
    assert status == 503 and err["Code"] == "analysis_unavailable"


def test_unknown_analyzer_is_refused_at_start(tmp_path, mailjar_bin):
    run = subprocess.run([mailjar_bin, "serve", "--analyzers", "headers,nope", "--data-dir", str(tmp_path / "d"),
                          "--smtp", f"{HOST}:0", "--http", f"{HOST}:0"],
                         capture_output=True, text=True, timeout=20)
    assert run.returncode != 0
    assert "nope" in run.stderr and "headers" in run.stderr, run.stderr


def test_messages_never_analysed_are_analysed_after_a_restart(make_server):
    srv = make_server("--analysis-queue", "0")  # stores without analysing, like a stop before analysis ran
    ids = [send(srv, _broken(token())) for _ in range(3)]
    for mid in ids:
        assert call(srv, "GET", f"/api/v1/message/{mid}/analysis")[2]["Reports"] == []
    srv.stop()
    srv.args = []  # the defaults: background analysis on
    srv.start()
    for mid in ids:
        report = _wait_for_reports(srv, mid)["Reports"][0]
        assert report["Analyzer"] == "headers" and "date.missing" in _finding_ids(report)
