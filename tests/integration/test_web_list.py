"""The web UI's list features in real headless Chromium: tests/e2e/list.mjs against a fresh server fed
over SMTP (fixtures and launch as in test_web_ui.py).

70 messages and one from carol go to the default inbox, one to a second inbox "other". The script pages
by scrolling, searches with an operator, opens the search help, marks read and deletes through the
toolbar, drives the list with j/k/Enter/Delete, reads the SMTP credentials and a snippet in the settings,
creates and deletes an inbox, switches inbox through the picker and checks the layout at 360x740. After
each change it asks this driver (an {"ask": ...} line) to confirm the server's state over the API, and
gets one JSON answer line on stdin. Screenshots go to the test's tmp dir."""


import pytest

from browser import NPM_DIR, assert_screenshots, needs_browser, run_script
from helpers import api_call, smtplib_send, token

RUN_TIMEOUT_S = 120.0      # one whole run of the script (each wait in it gives up after 15 s)
PAGED_MESSAGES = 70        # more than one page of 50

EXPECTED_CHECKS = [
    "first page has 50 rows", "scrolling loads the older messages", "oldest message reached by paging",
    "title has the unread count", "favicon shows the count", "operator search narrows the list",
    "help popover opens", "Escape closes the help", "clearing the search returns to the list",
    "selection counted", "marked read", "deleted", "j/k/Enter opens the right message", "deleted",
    "? shows the shortcuts", "Escape closes the shortcuts", "credentials", "settings show the SMTP credentials",
    "snippet carries the credentials", "default inbox cannot be deleted", "inbox created",
    "page moved to the new inbox", "inbox deleted", "picker switches to the other inbox's mail",
    "no horizontal scrollbar at 360 px", "settings fit at 360 px", "no script or console errors",
]


def _message(subject, sender="Alice Sender <alice@example.com>"):
    return (f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <{token()}@mailjar.test>\r\n\r\nHello from the web list test.\r\n").encode("utf-8")


def _answer(server, record):
    """Checks the server state the script asks about; returns the answer object."""
    name = record["ask"]
    if name in ("marked read", "deleted"):
        listed = {m["ID"]: m for m in server.all_messages()}
        for mid in record["ids"]:
            if name == "marked read" and not (mid in listed and listed[mid]["Read"]):
                return {"ok": False, "why": f"{mid} is not read on the server"}
            if name == "deleted" and (mid in listed or server.raw_status(mid) != 404):
                return {"ok": False, "why": f"{mid} still exists on the server"}
        return {"ok": True}
    if name == "credentials":
        status, inbox = api_call(server, "GET", "/api/v1/inboxes/default")
        return {"ok": status == 200, "why": status, **inbox.get("SMTP", {})}
    if name == "inbox created":
        status, inboxes = api_call(server, "GET", "/api/v1/inboxes")
        match = [i for i in inboxes if i["Name"] == record["name"] and i["Project"] == "default"]
        return {"ok": len(match) == 1, "why": [i["Name"] for i in inboxes], "slug": match[0]["Slug"] if match else ""}
    if name == "inbox deleted":
        status, _ = api_call(server, "GET", f"/api/v1/inboxes/{record['slug']}")
        return {"ok": status == 404, "why": f"GET inbox -> {status}"}
    return {"ok": False, "why": f"unknown question {name}"}


@needs_browser[0]
@needs_browser[1]
@pytest.mark.timeout_s(RUN_TIMEOUT_S + 60)
def test_list_search_bulk_keyboard_settings_paging(make_server, tmp_path):
    server = make_server()
    tok = token()
    with server.smtp() as client:
        for i in range(PAGED_MESSAGES):
            smtplib_send(client, "alice@example.com", ["bob@example.org"], _message(f"Msg {i:02d} {tok}"))
        smtplib_send(client, "carol@example.net", ["bob@example.org"],
                     _message(f"Invoice {tok}", sender="Carol <carol@example.net>"))
    status, other = api_call(server, "POST", "/api/v1/inboxes", {"Project": "default", "Name": "other"})
    assert status == 201 and other["Slug"] == "other", other
    with server.smtp() as client:
        client.login(other["SMTP"]["Username"], other["SMTP"]["Password"])
        smtplib_send(client, "alice@example.com", ["bob@example.org"], _message(f"Other {tok}"))
    assert server.total() == PAGED_MESSAGES + 1
    assert server.total("other") == 1

    shots = tmp_path / "screenshots"
    shots.mkdir()
    url = f"http://127.0.0.1:{server.http_port}/"
    run = run_script("list.mjs", [url, tok, str(shots), NPM_DIR], RUN_TIMEOUT_S,
                     answer=lambda record: _answer(server, record))
    run.assert_passed(EXPECTED_CHECKS)
    assert all(ok for _, ok in run.asked) and len(run.asked) == 6, run.asked
    assert_screenshots(shots, ("search-help.png", "message-open.png", "settings.png", "list-360.png",
                               "settings-360.png"))

    # The server agrees with what the page showed: 71 sent, 3 + 1 deleted, "other" untouched.
    assert server.total() == PAGED_MESSAGES + 1 - 4
    assert server.total("other") == 1
