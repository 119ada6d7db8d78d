"""Projects and inboxes over the API, retention limits, and API tokens (--auth on): a project token can
never read, list, count, search, change or delete another project's mail, not even by guessing IDs."""

import base64
import json
import time
import urllib.parse

import pytest

from helpers import make_message, smtplib_send, token
from test_api import WsClient, call, send


def with_token(tok):
    return {"Authorization": f"Bearer {tok}"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def cli_token(srv, *args):
    r = srv.cli("token", "create", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["token"]


# ---- management ----

def test_projects_and_inboxes_over_the_api(make_server):
    srv = make_server()
    status, _, p = call(srv, "POST", "/api/v1/projects", body={"Name": "shop"})
    assert status == 201 and p["Name"] == "shop"
    status, _, err = call(srv, "POST", "/api/v1/projects", body={"Name": "shop"})
    assert status == 409 and err["Code"] == "conflict"
    status, _, projects = call(srv, "GET", "/api/v1/projects")
    assert [x["Name"] for x in projects] == ["default", "shop"]

    status, _, inbox = call(srv, "POST", "/api/v1/inboxes", body={"Project": "shop", "Name": "Staging EU"})
    assert status == 201, inbox
    assert inbox["Slug"] == "staging-eu" and inbox["Project"] == "shop"
    assert inbox["SMTP"]["Port"] == srv.smtp_port and inbox["SMTP"]["Username"] and inbox["SMTP"]["Password"]
    assert inbox["BasePath"] == "/inboxes/staging-eu" and inbox["Messages"] == 0
    status, _, err = call(srv, "POST", "/api/v1/inboxes", body={"Project": "nope", "Name": "x"})
    assert status == 404 and err["Code"] == "project_not_found"
    status, _, err = call(srv, "POST", "/api/v1/inboxes", body={"Project": "shop"})
    assert status == 400

    # Its credentials deliver into it; the listing counts it.
    creds = (inbox["SMTP"]["Username"], inbox["SMTP"]["Password"])
    mid = send(srv, make_message(token()), login=creds)
    status, _, got = call(srv, "GET", "/api/v1/inboxes/staging-eu")
    assert status == 200 and got["Messages"] == 1 and got["Unread"] == 1
    status, _, listed = call(srv, "GET", "/api/v1/inboxes")
    assert {i["Slug"] for i in listed} == {"default", "staging-eu"}

    # Rotating the credentials: the old ones are refused, the new ones work.
    status, _, rotated = call(srv, "PATCH", "/api/v1/inboxes/staging-eu", body={"RotateCredentials": True})
    assert status == 200
    assert (rotated["SMTP"]["Username"], rotated["SMTP"]["Password"]) != creds
    with srv.smtp() as c:
        with pytest.raises(Exception) as exc:
            c.login(*creds)
        assert "535" in str(exc.value)
    send(srv, make_message(token()), login=(rotated["SMTP"]["Username"], rotated["SMTP"]["Password"]))

    status, _, renamed = call(srv, "PATCH", "/api/v1/inboxes/staging-eu", body={"Name": "Staging"})
    assert status == 200 and renamed["Name"] == "Staging" and renamed["Slug"] == "staging-eu"
    for bad in ({"MaxMessages": -1}, {"MaxMessages": "10"}, {"Name": ""}, {"RotateCredentials": "yes"}):
        status, _, _ = call(srv, "PATCH", "/api/v1/inboxes/staging-eu", body=bad)
        assert status == 400, bad

    status, _, _ = call(srv, "DELETE", "/api/v1/inboxes/staging-eu")
    assert status == 200
    status, _, _ = call(srv, "GET", "/api/v1/inboxes/staging-eu")
    assert status == 404
    status, _, _ = call(srv, "GET", f"/api/v1/message/{mid}/raw", inbox="staging-eu")
    assert status == 404
    status, _, err = call(srv, "DELETE", "/api/v1/inboxes/default")
    assert status == 400 and err["Code"] == "invalid_operation"


# ---- retention ----

def test_retention_limits_prune_oldest_first_with_events(make_server):
    srv = make_server()
    status, _, inbox = call(srv, "POST", "/api/v1/inboxes", body={"Name": "keep3"})
    creds = (inbox["SMTP"]["Username"], inbox["SMTP"]["Password"])
    ids = [send(srv, make_message(token(), subject=f"r{i}"), login=creds) for i in range(5)]
    ws = WsClient(srv.http_port, "/inboxes/keep3/api/events")
    assert ws.status == 101
    time.sleep(0.3)

    status, _, updated = call(srv, "PATCH", "/api/v1/inboxes/keep3", body={"MaxMessages": 3})
    assert status == 200 and updated["Retention"]["MaxMessages"] == 3
    assert [m["ID"] for m in srv.all_messages(inbox="keep3")] == list(reversed(ids[2:]))
    ev = ws.next_event("prune")
    assert sorted(ev["Data"]["IDs"]) == sorted(ids[:2])

    # New mail over the limit is pruned by the periodic pass (once a second).
    newest = send(srv, make_message(token()), login=creds)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and srv.total(inbox="keep3") > 3:
        time.sleep(0.2)
    assert [m["ID"] for m in srv.all_messages(inbox="keep3")] == [newest, ids[4], ids[3]]

    # A size limit keeps the newest messages that fit.
    sizes = {m["ID"]: m["Size"] for m in srv.all_messages(inbox="keep3")}
    status, _, _ = call(srv, "PATCH", "/api/v1/inboxes/keep3",
                        body={"MaxMessages": 0, "MaxBytes": sizes[newest] + sizes[ids[4]]})
    assert [m["ID"] for m in srv.all_messages(inbox="keep3")] == [newest, ids[4]]
    # An age limit removes everything older than it.
    time.sleep(1.2)
    status, _, _ = call(srv, "PATCH", "/api/v1/inboxes/keep3", body={"MaxBytes": 0, "MaxAgeSeconds": 1})
    assert srv.total(inbox="keep3") == 0
    status, _, info = call(srv, "GET", "/api/v1/info", inbox="keep3")
    assert info["RuntimeStats"]["MessagesDeleted"] == 5 + 1
    ws.close()


# ---- tokens and tenant isolation ----

def test_auth_tokens_and_tenant_isolation(make_server):
    srv = make_server("--auth", "on")
    a_inbox = srv.create_inbox("acme", "mail")
    b_inbox = srv.create_inbox("globex", "mail")
    admin = cli_token(srv, "--admin", "ops")
    ta = cli_token(srv, "--project", "acme", "ci-acme")
    tb = cli_token(srv, "--project", "globex", "ci-globex")
    a_id = send(srv, make_message(token(), subject="acme secret"), login=(a_inbox["smtp_username"], a_inbox["smtp_password"]))
    b_id = send(srv, make_message(token(), subject="globex secret"), login=(b_inbox["smtp_username"], b_inbox["smtp_password"]))
    a, b = a_inbox["slug"], b_inbox["slug"]

    # No token, a wrong token: 401 with a Basic challenge. Health and the API description stay open.
    for hdrs in ({}, with_token("mj_wrong"), {"Authorization": "Bearer "}, basic("x", "nope")):
        status, headers, err = call(srv, "GET", "/api/v1/messages", headers=hdrs, inbox=a)
        assert status == 401 and err["Code"] == "unauthorized"
        assert headers["WWW-Authenticate"].startswith("Basic")
    assert call(srv, "GET", "/livez")[0] == 200 and call(srv, "GET", "/api/v1/openapi.json")[0] == 200

    # Bearer and Basic (token as password or as user name) both work for the token's own inbox.
    for hdrs in (with_token(ta), basic("anyone", ta), basic(ta, "")):
        status, _, page = call(srv, "GET", "/api/v1/messages", headers=hdrs, inbox=a)
        assert status == 200 and [m["ID"] for m in page["messages"]] == [a_id]

    # Project A's token never sees project B's mail: not listed, counted, searched, read, changed, deleted.
    status, _, err = call(srv, "GET", "/api/v1/messages", headers=with_token(ta), inbox=b)
    assert status == 404 and err["Code"] == "inbox_not_found"
    unknown = call(srv, "GET", "/api/v1/messages", headers=with_token(ta), inbox="no-such")
    assert unknown[0] == 404 and unknown[2] == err                # indistinguishable from a missing inbox
    for method, path, body in (("GET", f"/api/v1/message/{b_id}", None), ("GET", f"/api/v1/message/{b_id}/raw", None),
                               ("GET", f"/api/v1/message/{b_id}/headers", None), ("GET", f"/view/{b_id}.html", None),
                               ("GET", "/api/v1/search?query=secret", None), ("GET", "/api/v1/info", None),
                               ("GET", "/api/v1/wait?since=0&timeout=1s", None), ("GET", "/api/v1/tags", None),
                               ("PUT", "/api/v1/messages", {"IDs": [b_id], "Read": True}),
                               ("DELETE", "/api/v1/messages", {"IDs": [b_id]}), ("DELETE", "/api/v1/messages", None),
                               ("DELETE", "/api/v1/search?query=secret", None),
                               ("PUT", "/api/v1/tags", {"IDs": [b_id], "Tags": ["x"]})):
        status, _, _ = call(srv, method, path, body=body, headers=with_token(ta), inbox=b)
        assert status == 404, (method, path)
        # Under its own inbox, B's IDs are simply not there.
        status, _, out = call(srv, method, path, body=body, headers=with_token(ta), inbox=a)
        if method == "GET" and "/message/" in path or path.startswith("/view/"):
            assert status == 404, (method, path)
    status, _, found = call(srv, "GET", "/api/v1/search?query=secret", headers=with_token(ta), inbox=a)
    assert status == 200 and found["messages_count"] == 0      # A's own message was deleted above, B's untouched
    # The bare paths are the default inbox, which belongs to project default: 403 for a project token.
    status, _, err = call(srv, "GET", "/api/v1/messages", headers=with_token(ta))
    assert status == 403 and err["Code"] == "forbidden"
    # Listings only show the token's own project.
    status, _, projects = call(srv, "GET", "/api/v1/projects", headers=with_token(ta))
    assert [p["Name"] for p in projects] == ["acme"]
    status, _, inboxes = call(srv, "GET", "/api/v1/inboxes", headers=with_token(ta))
    assert [i["Slug"] for i in inboxes] == [a]
    for method, path, body in (("GET", f"/api/v1/inboxes/{b}", None), ("PATCH", f"/api/v1/inboxes/{b}", {"MaxMessages": 1}),
                               ("DELETE", f"/api/v1/inboxes/{b}", None)):
        assert call(srv, method, path, body=body, headers=with_token(ta))[0] == 404, (method, path)
    assert call(srv, "POST", "/api/v1/inboxes", body={"Project": "globex", "Name": "x"}, headers=with_token(ta))[0] == 404
    assert call(srv, "POST", "/api/v1/projects", body={"Name": "mine"}, headers=with_token(ta))[0] == 403
    status, _, made = call(srv, "POST", "/api/v1/inboxes", body={"Name": "second"}, headers=with_token(ta))
    assert status == 201 and made["Project"] == "acme"

    # B's message is intact, unread, untagged; the admin token sees everything.
    status, _, page = call(srv, "GET", "/api/v1/messages", headers=with_token(tb), inbox=b)
    assert [m["ID"] for m in page["messages"]] == [b_id] and page["unread"] == 1 and page["messages"][0]["Tags"] == []
    status, _, inboxes = call(srv, "GET", "/api/v1/inboxes", headers=with_token(admin))
    assert {i["Slug"] for i in inboxes} == {"default", a, b, "second"}
    assert call(srv, "GET", "/api/v1/messages", headers=with_token(admin))[0] == 200

    # WebSocket: a foreign project's token gets its connection closed; the own project's events arrive.
    ws_foreign = WsClient(srv.http_port, f"/inboxes/{b}/api/events", headers=with_token(ta))
    ws_own = WsClient(srv.http_port, f"/inboxes/{b}/api/events", headers=basic("ci", tb))
    assert ws_foreign.status == 101 and ws_own.status == 101  # verified on a worker after the upgrade
    with pytest.raises((ConnectionError, OSError)):
        ws_foreign.recv_json()
    time.sleep(0.3)
    new_b = send(srv, make_message(token()), login=(b_inbox["smtp_username"], b_inbox["smtp_password"]))
    assert ws_own.next_event("new")["Data"]["ID"] == new_b
    ws_foreign.close()
    ws_own.close()
