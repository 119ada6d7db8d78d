"""The REST API (Mailpit-compatible surface, inboxes, wait API, WebSocket events) over real HTTP against a
real server fed over real SMTP (smtplib)."""

import base64
import hashlib
import json
import os
import smtplib
import socket
import struct
import threading
import time
import urllib.parse
from email.message import EmailMessage

import pytest

from helpers import HOST, make_message, smtplib_send, token


# ---- small clients ----

def call(srv, method, path, body=None, headers=None, inbox=None):
    """(status, headers, parsed JSON or text) of one request; JSON bodies are sent as JSON."""
    if inbox:
        path = f"/inboxes/{inbox}{path}"
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    status, resp_headers, raw = srv.http_request(method, path, body=data, headers=hdrs, timeout=30)
    ctype = {k.lower(): v for k, v in resp_headers.items()}.get("content-type", "")
    if ctype.startswith("application/json"):
        return status, resp_headers, json.loads(raw)
    return status, resp_headers, raw


def send(srv, msg, sender="alice@example.com", rcpts=("bob@example.org",), login=None):
    with srv.smtp() as c:
        if login:
            c.login(*login)
        return smtplib_send(c, sender, list(rcpts), msg)


def q(text):
    return urllib.parse.quote(text, safe="")


def search_ids(srv, query, inbox=None):
    status, _, body = call(srv, "GET", f"/api/v1/search?query={q(query)}&limit=1000", inbox=inbox)
    assert status == 200, (query, status, body)
    assert body["messages_count"] == len(body["messages"]), body
    return {m["ID"] for m in body["messages"]}


def multipart(tok, subject, attachment=b"%PDF-1.4 fake pdf bytes\x00\x01\x02", inline_png=None):
    m = EmailMessage()
    m["From"] = "Carol Sender <carol@example.com>"
    m["To"] = "Dave <dave@example.org>"
    m["Subject"] = subject
    m["Message-ID"] = f"<{tok}@mailjar.test>"
    m.set_content(f"Plain text of {tok}.\n")
    html = f"<html><body><p>HTML of {tok}</p>"
    if inline_png:
        html += '<img src="cid:logo@x">'
    m.add_alternative(html + "</body></html>", subtype="html")
    if inline_png:
        m.get_payload()[1].add_related(inline_png, "image", "png", cid="<logo@x>")
    m.add_attachment(attachment, maintype="application", subtype="pdf", filename="report é.pdf")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# ---- list, message, headers, parts, views ----

def test_message_detail_parts_headers_and_views(server):
    tok = token()
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    pdf = b"%PDF-1.4 " + os.urandom(200)
    mid = send(server, multipart(tok, f"detail {tok}", attachment=pdf, inline_png=png))

    status, _, m = call(server, "GET", f"/api/v1/message/{mid}")
    assert status == 200
    assert m["ID"] == mid and m["MessageID"] == f"{tok}@mailjar.test"
    assert m["Subject"] == f"detail {tok}"
    assert m["From"] == {"Name": "Carol Sender", "Address": "carol@example.com"}
    assert m["To"] == [{"Name": "Dave", "Address": "dave@example.org"}]
    assert m["Text"].strip() == f"Plain text of {tok}."
    assert f"HTML of {tok}" in m["HTML"]
    assert m["Envelope"]["MailFrom"] == "alice@example.com"
    assert [r["Address"] for r in m["Envelope"]["RcptTo"]] == ["bob@example.org"]
    assert len(m["Attachments"]) == 1 and len(m["Inline"]) == 1
    att = m["Attachments"][0]
    assert att["FileName"] == "report é.pdf" and att["ContentType"] == "application/pdf"
    assert att["Size"] == len(pdf)
    assert att["Checksums"] == {"MD5": hashlib.md5(pdf).hexdigest(), "SHA1": hashlib.sha1(pdf).hexdigest(),
                                "SHA256": hashlib.sha256(pdf).hexdigest()}
    assert m["Inline"][0]["ContentID"] == "logo@x"

    status, headers, body = call(server, "GET", f"/api/v1/message/{mid}/part/{att['PartID']}")
    assert status == 200 and body == pdf
    assert headers["Content-Type"].startswith("application/pdf")
    status, _, body = call(server, "GET", f"/api/v1/message/{mid}/part/{m['Inline'][0]['PartID']}")
    assert status == 200 and body == png
    status, _, err = call(server, "GET", f"/api/v1/message/{mid}/part/9.9")
    assert status == 404 and err["Code"] == "part_not_found"

    status, _, h = call(server, "GET", f"/api/v1/message/{mid}/headers")
    assert status == 200
    assert h["Subject"] == [f"detail {tok}"] and h["Message-ID"] == [f"<{tok}@mailjar.test>"]

    status, headers, html = call(server, "GET", f"/view/{mid}.html")
    assert status == 200 and f"HTML of {tok}".encode() in html
    assert headers["Content-Type"].startswith("text/html")
    assert "sandbox" in headers["Content-Security-Policy"]
    status, _, text = call(server, "GET", f"/view/{mid}.txt")
    assert status == 200 and text.strip() == f"Plain text of {tok}.".encode()

    # Opening the message marked it read.
    listed = {x["ID"]: x for x in server.messages(limit=200)["messages"]}
    assert listed[mid]["Read"] is True and listed[mid]["Attachments"] == 1


def test_latest_and_missing_messages(make_server):
    srv = make_server()
    status, _, err = call(srv, "GET", "/api/v1/message/latest")
    assert status == 404 and err["Code"] == "message_not_found" and err["Error"]
    ids = [send(srv, make_message(token())) for _ in range(3)]
    status, _, m = call(srv, "GET", "/api/v1/message/latest")
    assert status == 200 and m["ID"] == ids[-1]
    status, _, err = call(srv, "GET", "/api/v1/message/01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert status == 404 and err["Code"] == "message_not_found"


def test_errors_are_json_with_codes(server):
    status, headers, err = call(server, "GET", "/api/v1/nope")
    assert status == 404 and err["Code"] == "not_found"
    status, headers, err = call(server, "POST", "/api/v1/messages")
    assert status == 405 and "GET" in headers["Allow"] and err["Code"] == "method_not_allowed"
    status, _, err = call(server, "GET", "/api/v1/search?query=" + q("foo:bar"))
    assert status == 400 and err["Code"] == "invalid_query" and "foo" in err["Error"]
    status, _, err = call(server, "PUT", "/api/v1/messages", body=None, headers={"Content-Type": "application/json"})
    assert status == 200  # an empty body marks all unread, as Mailpit does
    status, _, raw = server.http_request("PUT", "/api/v1/tags", body=b"{not json",
                                         headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(raw)["Code"] == "invalid_json"
    status, _, err = call(server, "GET", "/inboxes/no-such-inbox/api/v1/messages")
    assert status == 404 and err["Code"] == "inbox_not_found"


def test_info_and_webui(server):
    send(server, make_message(token()))
    status, _, info = call(server, "GET", "/api/v1/info")
    assert status == 200 and info["Version"] and info["Messages"] >= 1
    assert info["DatabaseSize"] > 0 and info["RuntimeStats"]["Uptime"] >= 0
    status, _, ui = call(server, "GET", "/api/v1/webui")
    assert status == 200 and ui["MessageRelay"]["Enabled"] is False


# ---- search language ----

SEARCH_CORPUS = [
    # key, sender, to, subject, body, extra headers, attachment
    ("invoice", "Billing <billing@shop.example>", "Alice <alice@customer.example>", "Your invoice 42",
     "Please pay the invoice today.", (), False),
    ("report", "Reports <reports@corp.example>", "Bob <bob@corp.example>", "Weekly report",
     "The quarterly numbers are attached.", ("Cc: Carol <carol@corp.example>",), True),
    ("unicode", "Zoë Ärgerlich <zoe@umlaut.example>", "Émile <emile@accent.example>", "Ärger mit der Übergröße",
     "Straße und Café", (), False),
    ("phrase", "News <news@letters.example>", "Alice <alice@customer.example>", "Brown fox",
     "the quick brown fox jumps over the lazy dog", ("Reply-To: Helpdesk <help@desk.example>",), False),
    ("reverse", "News <news@letters.example>", "Bob <bob@corp.example>", "Fox brown",
     "the fox is brown and quick", (), False),
]


@pytest.fixture(scope="module")
def search_server(tmp_path_factory):
    from conftest import MailjarServer
    srv = MailjarServer(tmp_path_factory.mktemp("search") / "data")
    srv.start()
    ids = {}
    for key, sender, to, subject, body, extra, attach in SEARCH_CORPUS:
        if attach:
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = sender, to, subject
            for h in extra:
                name, value = h.split(": ", 1)
                m[name] = value
            m.set_content(body)
            m.add_attachment(b"numbers", maintype="application", subtype="octet-stream", filename="q.bin")
            raw = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        else:
            raw = make_message(key, subject=subject, body=body, sender=sender, to=to, extra_headers=extra)
        ids[key] = send(srv, raw)
    srv.search_ids = ids
    yield srv
    srv.cleanup()


SEARCH_TABLE = [
    ("invoice", {"invoice"}),
    ("INVOICE", {"invoice"}),
    ("invoic", {"invoice"}),                      # prefix of a token
    ("pay today", {"invoice"}),                   # all words must match
    ("pay tomorrow", set()),
    ('"brown fox"', {"phrase"}),                  # phrase: order matters
    ('"fox brown"', {"reverse"}),
    ("brown fox", {"phrase", "reverse"}),
    ("from:billing@shop.example", {"invoice"}),
    ("from:News", {"phrase", "reverse"}),
    ("to:alice@customer.example", {"invoice", "phrase"}),
    ("cc:carol", {"report"}),
    ("addressed:carol", {"report"}),
    ("addressed:emile", {"unicode"}),
    ("subject:weekly", {"report"}),
    ('subject:"fox brown"', {"reverse"}),
    ("reply-to:help@desk", {"phrase"}),
    ("message-id:phrase@mailjar.test", {"phrase"}),
    ("has:attachment", {"report"}),
    ("-has:attachment", {"invoice", "unicode", "phrase", "reverse"}),
    ("!has:attachment from:news", {"phrase", "reverse"}),
    ("-fox", {"invoice", "report", "unicode"}),
    ("fox -subject:brown", set()),
    ("fox -\"brown fox\"", {"reverse"}),
    ("ärger", {"unicode"}),                       # Unicode case folding
    ("ÄRGER übergröße", {"unicode"}),
    ("zoë", {"unicode"}),
    ("ZOE", {"unicode"}),                         # diacritics folded too
    ("strasse", set()),                           # ß is not expanded
    ("café", {"unicode"}),
    ("larger:1", {"invoice", "report", "unicode", "phrase", "reverse"}),
    ("smaller:10", set()),
    ("larger:1M", set()),
    ("after:2000-01-01", {"invoice", "report", "unicode", "phrase", "reverse"}),
    ("before:2000-01-01", set()),
    ('NEAR(brown fox)', set()),                   # FTS5 syntax is matched literally, never an error
    ('"unterminated', None),
    ("subject:* OR", set()),
]


@pytest.mark.parametrize("query,expected", SEARCH_TABLE)
def test_search_language(search_server, query, expected):
    srv = search_server
    if expected is None:
        status, _, err = call(srv, "GET", f"/api/v1/search?query={q(query)}")
        assert status == 400 and err["Code"] == "invalid_query"
        return
    got = search_ids(srv, query)
    assert got == {srv.search_ids[k] for k in expected}, query


def test_search_read_status_operators_and_paging(make_server):
    srv = make_server()
    ids = [send(srv, make_message(token(), subject=f"paging {i}")) for i in range(7)]
    assert search_ids(srv, "is:unread paging") == set(ids)
    status, _, _ = call(srv, "PUT", "/api/v1/messages", body={"IDs": ids[:3], "Read": True})
    assert status == 200
    assert search_ids(srv, "is:read") == set(ids[:3])
    assert search_ids(srv, "is:unread") == set(ids[3:])
    status, _, page = call(srv, "GET", "/api/v1/search?query=paging&start=2&limit=3")
    assert page["messages_count"] == 7 and page["count"] == 3 and page["start"] == 2
    assert [m["ID"] for m in page["messages"]] == list(reversed(ids))[2:5]
    assert page["messages_unread"] == 4 and page["total"] == 7 and page["unread"] == 4
    # Read status by search, then all unread again.
    status, _, _ = call(srv, "PUT", "/api/v1/messages", body={"Read": True, "Search": "subject:paging"})
    assert status == 200 and srv.messages()["unread"] == 0
    status, _, _ = call(srv, "PUT", "/api/v1/messages", body={"Read": False})
    assert status == 200 and srv.messages()["unread"] == 7


# ---- delete ----

def test_delete_by_ids_by_search_and_all(make_server):
    srv = make_server()
    keep = send(srv, make_message(token(), subject="keep me"))
    gone = [send(srv, make_message(token(), subject=f"delete me {i}")) for i in range(3)]
    status, _, _ = call(srv, "DELETE", "/api/v1/messages", body={"IDs": gone[:1]})
    assert status == 200
    assert srv.raw_status(gone[0]) == 404 and srv.total() == 3
    assert search_ids(srv, "delete") == set(gone[1:])          # its index entry is gone too
    status, _, _ = call(srv, "DELETE", "/api/v1/search?query=" + q("subject:delete"))
    assert status == 200 and {m["ID"] for m in srv.all_messages()} == {keep}
    status, _, err = call(srv, "DELETE", "/api/v1/search")
    assert status == 400 and err["Code"] == "invalid_query"
    status, _, _ = call(srv, "DELETE", "/api/v1/messages")
    assert status == 200 and srv.total() == 0 and srv.messages()["unread"] == 0


# ---- tags ----

def test_tags_from_headers_plus_addressing_and_the_tag_api(make_server):
    srv = make_server()
    a = send(srv, make_message(token(), extra_headers=("X-Tags: Red, blue",)))
    b = send(srv, make_message(token(), to="Bob <bob+orders@example.org>"))
    c = send(srv, make_message(token()))
    status, _, tags = call(srv, "GET", "/api/v1/tags")
    assert status == 200 and tags == ["blue", "orders", "Red"]
    assert srv.messages()["tags"] == ["blue", "orders", "Red"]
    assert search_ids(srv, "tag:red") == {a}
    assert search_ids(srv, "is:tagged") == {a, b}
    assert search_ids(srv, "-is:tagged") == {c}

    status, _, _ = call(srv, "PUT", "/api/v1/tags", body={"IDs": [b, c], "Tags": ["green", "Urgent"]})
    assert status == 200
    listed = {m["ID"]: m["Tags"] for m in srv.all_messages()}
    assert listed[b] == ["green", "Urgent"] and listed[c] == ["green", "Urgent"]
    assert search_ids(srv, "tag:orders") == set()

    status, _, _ = call(srv, "PUT", "/api/v1/tags/green", body={"Name": "lime"})
    assert status == 200 and search_ids(srv, "tag:lime") == {b, c} and search_ids(srv, "tag:green") == set()
    status, _, _ = call(srv, "PUT", "/api/v1/tags/" + q("Urgent"), body={})
    assert status == 400
    status, _, _ = call(srv, "DELETE", "/api/v1/tags/lime")
    assert status == 200
    status, _, tags = call(srv, "GET", "/api/v1/tags")
    assert tags == ["blue", "Red", "Urgent"]
    status, _, _ = call(srv, "PUT", "/api/v1/tags", body={"IDs": [a], "Tags": []})
    assert {m["ID"]: m["Tags"] for m in srv.all_messages()}[a] == []


# ---- send over HTTP ----

def test_send_stores_like_smtp_mail(make_server):
    srv = make_server()
    staging = srv.create_inbox("web", "staging")
    tok = token()
    body = {
        "From": {"Email": "app@example.com", "Name": "The Ápp"},
        "To": [{"Email": "user@example.org", "Name": "User"}],
        "Bcc": ["hidden@example.org"],
        "Subject": f"Sent over HTTP {tok} ✓",
        "Text": "text body",
        "HTML": "<p>html body</p>",
        "Attachments": [{"Content": base64.b64encode(b"hello file").decode(), "Filename": "a.txt"}],
        "Headers": {"X-Custom": "yes"},
        "Tags": ["api"],
    }
    status, _, out = call(srv, "POST", "/api/v1/send", body=body, inbox=staging["slug"])
    assert status == 200, out
    mid = out["ID"]
    assert srv.total() == 0                                   # it went to the inbox of the path
    status, _, m = call(srv, "GET", f"/api/v1/message/{mid}", inbox=staging["slug"])
    assert m["Subject"] == f"Sent over HTTP {tok} ✓" and m["From"]["Name"] == "The Ápp"
    assert m["Text"].strip() == "text body" and "html body" in m["HTML"]
    assert m["Tags"] == ["api"] and m["Bcc"] == []
    assert [r["Address"] for r in m["Envelope"]["RcptTo"]] == ["user@example.org", "hidden@example.org"]
    assert len(m["Attachments"]) == 1
    part = m["Attachments"][0]["PartID"]
    status, _, data = call(srv, "GET", f"/api/v1/message/{mid}/part/{part}", inbox=staging["slug"])
    assert data == b"hello file"
    raw = srv.raw(mid, inbox=staging["slug"])
    assert b"X-Custom: yes" in raw and b"hidden@example.org" not in raw

    for bad in ({}, {"From": {"Email": "a@b"}}, {"From": "x@y", "To": "nope"},
                {"From": {"Email": "a@b"}, "To": ["c@d"], "Attachments": [{"Content": "%%%"}]},
                {"From": {"Email": "a@b\r\nBcc: evil@x"}, "To": ["c@d"]}):
        status, _, err = call(srv, "POST", "/api/v1/send", body=bad)
        assert status == 400, (bad, err)
        assert err["Code"] in ("invalid_json", "invalid_message")


# ---- inboxes ----

def test_inbox_paths_are_isolated(make_server):
    srv = make_server()
    a = srv.create_inbox("alpha", "mail")
    b = srv.create_inbox("beta", "mail")
    in_a = send(srv, make_message(token(), subject="for alpha"), login=(a["smtp_username"], a["smtp_password"]))
    in_b = send(srv, make_message(token(), subject="for beta"), login=(b["smtp_username"], b["smtp_password"]))
    bare = send(srv, make_message(token(), subject="for default"))

    assert [m["ID"] for m in srv.messages(inbox=a["slug"])["messages"]] == [in_a]
    assert [m["ID"] for m in srv.messages(inbox=b["slug"])["messages"]] == [in_b]
    assert [m["ID"] for m in srv.messages()["messages"]] == [bare]
    assert search_ids(srv, "for", inbox=a["slug"]) == {in_a}

    # IDs of another inbox are not found, not read, not changed, not deleted.
    for path in (f"/api/v1/message/{in_b}", f"/api/v1/message/{in_b}/raw", f"/api/v1/message/{in_b}/headers",
                 f"/view/{in_b}.html"):
        status, _, _ = call(srv, "GET", path, inbox=a["slug"])
        assert status == 404, path
    call(srv, "PUT", "/api/v1/messages", body={"IDs": [in_b], "Read": True}, inbox=a["slug"])
    call(srv, "PUT", "/api/v1/tags", body={"IDs": [in_b], "Tags": ["x"]}, inbox=a["slug"])
    call(srv, "DELETE", "/api/v1/messages", body={"IDs": [in_b]}, inbox=a["slug"])
    call(srv, "DELETE", "/api/v1/messages", inbox=a["slug"])       # deletes all of alpha only
    listed_b = srv.messages(inbox=b["slug"])
    assert listed_b["total"] == 1 and listed_b["unread"] == 1 and listed_b["messages"][0]["Tags"] == []
    assert srv.total(inbox=a["slug"]) == 0 and srv.total() == 1


# ---- wait API ----

def test_wait_for_a_message_before_during_and_never(make_server):
    srv = make_server()
    tok = token()
    # Never: a short timeout gives 408 with the JSON error shape.
    t0 = time.monotonic()
    status, _, err = call(srv, "GET", f"/api/v1/wait?query={q('subject:' + tok)}&timeout=1s")
    assert status == 408 and err["Code"] == "timeout"
    assert time.monotonic() - t0 >= 0.9

    # During: the message arrives while the request waits; a non-matching one does not release it.
    def later():
        time.sleep(0.4)
        send(srv, make_message(token(), subject="unrelated"))
        time.sleep(0.3)
        later.id = send(srv, make_message(tok, subject=f"awaited {tok}"))
    th = threading.Thread(target=later)
    th.start()
    status, _, m = call(srv, "GET", f"/api/v1/wait?query={q('subject:' + tok)}&timeout=20s")
    th.join()
    assert status == 200, m
    assert m["ID"] == later.id and m["Subject"] == f"awaited {tok}"

    # Before: without since= only new messages count; with since= an earlier one is returned at once.
    status, _, _ = call(srv, "GET", f"/api/v1/wait?query={q('subject:' + tok)}&timeout=500ms")
    assert status == 408
    status, _, m = call(srv, "GET", f"/api/v1/wait?query={q('subject:' + tok)}&since=0&timeout=5s")
    assert status == 200 and m["ID"] == later.id
    oldest = srv.all_messages()[-1]
    assert oldest["Subject"] == "unrelated"
    status, _, m = call(srv, "GET", f"/api/v1/wait?since={oldest['ID']}&timeout=5s")
    assert status == 200 and m["ID"] == later.id              # the oldest message stored after it

    for bad in ("timeout=abc", "timeout=0s", "timeout=9999s", "since=yesterday", "query=" + q("foo:bar")):
        status, _, err = call(srv, "GET", f"/api/v1/wait?{bad}")
        assert status == 400, bad


def test_many_waiters_are_all_released(make_server):
    srv = make_server()
    tok = token()
    results = []

    def waiter():
        results.append(call(srv, "GET", f"/api/v1/wait?query={q(tok)}&timeout=20s"))
    threads = [threading.Thread(target=waiter) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    mid = send(srv, make_message(tok))
    for t in threads:
        t.join()
    assert len(results) == 20
    assert all(status == 200 and body["ID"] == mid for status, _, body in results)


# ---- WebSocket events ----

class WsClient:
    """A minimal RFC 6455 client over a raw socket (text frames, client masking)."""

    def __init__(self, port, path, origin=None, timeout=10, headers=None):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if origin:
            lines.append(f"Origin: {origin}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head else 0

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_json(self):
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 1:
                return json.loads(payload)
            if opcode == 8:
                raise ConnectionError("close frame")

    def next_event(self, type_, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            ev = self.recv_json()
            if ev["Type"] == type_:
                return ev
        raise TimeoutError(type_)

    def close(self):
        self.sock.close()


def test_websocket_events_and_origin_check(make_server):
    srv = make_server()
    staging = srv.create_inbox("web", "staging")
    # A foreign Origin is refused (cross-site WebSocket hijacking); the server's own origin is accepted.
    evil = WsClient(srv.http_port, "/api/events", origin="http://evil.example")
    assert evil.status == 403
    evil.close()
    ws = WsClient(srv.http_port, "/api/events", origin=f"http://{HOST}:{srv.http_port}")
    assert ws.status == 101
    ws_staging = WsClient(srv.http_port, f"/inboxes/{staging['slug']}/api/events")
    assert ws_staging.status == 101
    time.sleep(0.3)  # subscriptions are made on a worker

    tok = token()
    mid = send(srv, make_message(tok, subject=f"event {tok}"))
    ev = ws.next_event("new")
    assert ev["Data"]["ID"] == mid and ev["Data"]["Subject"] == f"event {tok}"

    call(srv, "PUT", "/api/v1/messages", body={"IDs": [mid], "Read": True})
    ev = ws.next_event("update")
    assert ev["Data"] == {"ID": mid, "Read": True}
    stats = ws.next_event("stats")
    assert stats["Data"]["Total"] == 1 and stats["Data"]["Unread"] == 0
    call(srv, "DELETE", "/api/v1/messages", body={"IDs": [mid]})
    assert ws.next_event("delete")["Data"] == {"ID": mid}
    call(srv, "DELETE", "/api/v1/messages")
    assert ws.next_event("truncate")["Data"] is None

    # The staging socket saw none of the default inbox's events, only its own.
    in_staging = send(srv, make_message(token()), login=(staging["smtp_username"], staging["smtp_password"]))
    ev = ws_staging.recv_json()
    assert ev["Type"] == "new" and ev["Data"]["ID"] == in_staging
    ws.close()
    ws_staging.close()

    # A plain GET of the WebSocket path is a clear 400.
    status, _, err = call(srv, "GET", "/api/events")
    assert status == 400 and err["Code"] == "websocket_required"


def test_list_before_pages_stably_while_mail_arrives(make_server):
    srv = make_server()
    ids = [send(srv, make_message(token())) for _ in range(5)]
    status, _, page = call(srv, "GET", f"/api/v1/messages?before={ids[3]}&limit=2")
    assert status == 200 and [m["ID"] for m in page["messages"]] == [ids[2], ids[1]]
    assert page["total"] == 5
    send(srv, make_message(token()))                         # a new arrival does not shift the next page
    status, _, page = call(srv, "GET", f"/api/v1/messages?before={ids[1]}&limit=2")
    assert [m["ID"] for m in page["messages"]] == [ids[0]]
    status, _, page = call(srv, "GET", "/api/v1/messages?before=0")
    assert status == 200 and page["messages"] == []
    status, _, page = call(srv, "GET", "/api/v1/messages?before=" + q("2999-01-01T00:00:00Z"))
    assert len(page["messages"]) == 6
    status, _, err = call(srv, "GET", "/api/v1/messages?before=yesterday")
    assert status == 400 and err["Code"] == "invalid_parameter"


def test_waits_of_clients_that_hang_up_end_at_once(make_server):
    srv = make_server()

    def waiting():
        return call(srv, "GET", "/api/v1/info")[2]["RuntimeStats"]["Waiting"]

    socks = []
    for i in range(50):
        s = socket.create_connection((HOST, srv.http_port))
        s.sendall(f"GET /api/v1/wait?timeout=120s&query=subject:never{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        socks.append(s)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and waiting() < 50:
        time.sleep(0.1)
    assert waiting() == 50
    for s in socks:
        s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and waiting() > 0:
        time.sleep(0.1)
    assert waiting() == 0
    assert srv.assert_accepts_mail()


def _half_closed_request(srv, target):
    """Sends one GET, shuts the sending side (as `nc -N` does) and reads until the server closes."""
    with socket.create_connection((HOST, srv.http_port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_a_client_that_half_closes_still_gets_its_answer(make_server):
    srv = make_server()
    mid = send(srv, make_message(token()))
    head, _, body = _half_closed_request(srv, "/api/v1/messages").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")  # and the server closed: _half_closed_request read to the end
    assert json.loads(body)["messages"][0]["ID"] == mid
    assert _half_closed_request(srv, "/livez").startswith(b"HTTP/1.1 200 ")
    # A held wait ends when the client stops sending: 499 (its timeout would answer 408).
    head, _, body = _half_closed_request(srv, "/api/v1/wait?timeout=60s&query=subject:never").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 499 ") and json.loads(body)["Code"] == "cancelled"
    assert call(srv, "GET", "/api/v1/info")[2]["RuntimeStats"]["Waiting"] == 0


def _read_reply_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_100_continue_is_answered_before_the_body(make_server):
    srv = make_server("--http-max-body", "64K")
    tok = token()
    body = json.dumps({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.org"}],
                       "Subject": f"continue {tok}", "Text": "x" * 5000}).encode()
    with socket.create_connection((HOST, srv.http_port), timeout=10) as s:
        s.sendall(f"POST /api/v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
        interim = _read_reply_head(s)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        s.sendall(body)
        data = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), data
        mid = json.loads(rest)["ID"]
    assert search_ids(srv, f"subject:continue subject:{tok}") == {mid}
    # A body over the limit is refused at once, without 100 Continue, and the body is never needed.
    with socket.create_connection((HOST, srv.http_port), timeout=10) as s:
        s.sendall(b"POST /api/v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n")
        assert _read_reply_head(s).startswith(b"HTTP/1.1 413 ")


def test_mailhog_v2_and_openapi_over_http(make_server):
    srv = make_server()
    tok = token()
    mid = send(srv, make_message(tok, subject=f"hog {tok}", body="needle in the haystack\r\n"),
               sender="carol@example.com", rcpts=("dave@example.org",))
    status, _, page = call(srv, "GET", "/api/v2/messages")
    assert status == 200 and page["total"] == 1 and page["count"] == 1 and page["start"] == 0
    item = page["items"][0]
    assert item["ID"] == mid
    assert item["From"]["Mailbox"] == "carol" and item["From"]["Domain"] == "example.com"
    assert [(t["Mailbox"], t["Domain"]) for t in item["To"]] == [("dave", "example.org")]
    assert item["Content"]["Headers"]["Subject"] == [f"hog {tok}"]
    assert "needle" in item["Content"]["Body"] and item["Raw"]["Data"] == srv.raw(mid).decode()
    status, _, found = call(srv, "GET", "/api/v2/search?kind=containing&query=needle")
    assert status == 200 and [i["ID"] for i in found["items"]] == [mid]
    status, _, found = call(srv, "GET", "/api/v2/search?kind=containing&query=absent")
    assert status == 200 and found["total"] == 0
    status, _, err = call(srv, "GET", "/api/v2/search?kind=nope&query=x")
    assert status == 400

    status, headers, doc = call(srv, "GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    assert "/api/v1/wait" in doc["paths"] and "/inboxes/{slug}/api/v1/messages" in doc["paths"]
