"""Python's smtplib against mailjar: extensions, STARTTLS, SMTPS, every AUTH mechanism, SMTPUTF8,
8BITMIME, multiple recipients, RSET, MIME attachments, per-inbox delivery and the listing API.
Every delivery is checked by reading the stored raw bytes back and comparing them with what smtplib
put on the wire."""

import base64
import email.message
import email.policy
import random
import smtplib
import threading

import pytest

from helpers import HOST, RecordingSMTP, make_message, smtplib_send, smtplib_wire_bytes, \
    token, unverified_tls_context

REQUIRED_EXTENSIONS = ["pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking",
                       "dsn", "starttls", "auth"]
MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"]


@pytest.fixture(scope="module")
def inbox(_shared_server):
    """An inbox created with the CLI on the shared server (survives restarts: same data dir)."""
    return _shared_server.create_inbox("smtplib-project", "smtplib inbox")


def _auth(client, mechanism, user, password, initial_response_ok=True):
    """Forces one mechanism through smtplib.SMTP.auth (login() would pick one itself)."""
    client.user, client.password = user, password
    authobject = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
    return client.auth(mechanism, authobject, initial_response_ok=initial_response_ok)


def _ids(listing):
    return [m["ID"] for m in listing["messages"]] if isinstance(listing, dict) else [m["ID"] for m in listing]


def _summary(server, message_id, inbox=None):
    for m in server.all_messages(inbox):
        if m["ID"] == message_id:
            return m
    raise AssertionError(f"message {message_id} not in the listing of inbox {inbox or 'default'}")


def _assert_only_in(server, message_id, slug):
    """The message is listed (and readable) in inbox `slug` and in no other place checked here."""
    assert message_id in _ids(server.all_messages(slug))
    assert message_id not in _ids(server.all_messages()), "message leaked into the default inbox"
    assert server.raw_status(message_id) == 404, "default inbox serves another inbox's message"


# ---- EHLO -----------------------------------------------------------------------------------------

def test_banner_and_ehlo_extensions(server):
    c = RecordingSMTP(timeout=10)
    try:
        code, banner = c.connect(HOST, server.smtp_port)
        assert code == 220, banner
        code, resp = c.ehlo("client.test")
        assert code == 250, resp
        missing = [e for e in REQUIRED_EXTENSIONS if not c.has_extn(e)]
        assert not missing, f"EHLO lacks {missing}: {resp!r}"
        mechs = set(c.esmtp_features["auth"].upper().split())
        assert set(MECHANISMS) <= mechs, mechs
        size = c.esmtp_features["size"].strip()
        assert size.isdigit() and int(size) > 0, f"SIZE without a limit: {size!r}"
        assert c.noop()[0] == 250
    finally:
        c.close()


def test_helo_transaction_works(server):
    c = RecordingSMTP(HOST, server.smtp_port, timeout=10)
    try:
        code, _ = c.helo("old.client.test")
        assert code == 250
        msg = make_message(token())
        mid = smtplib_send(c, "old@example.com", ["new@example.org"], msg)
    finally:
        c.close()
    assert server.raw(mid) == smtplib_wire_bytes(msg)


def test_ehlo_size_reflects_configured_limit_and_no_starttls_without_certificate(make_server):
    srv = make_server("--max-message-size", "12345")
    with srv.smtp() as c:
        assert c.esmtp_features.get("size", "").strip() == "12345"
        assert not c.has_extn("starttls"), "STARTTLS advertised without a certificate"
        code, resp = c.docmd("STARTTLS")
        assert code >= 400 and code != 220, (code, resp)
        assert c.noop()[0] == 250


# ---- STARTTLS, SMTPS and AUTH ----------------------------------------------------------------------

def test_starttls_then_auth_delivers_into_inbox(server, inbox):
    with server.smtp() as c:
        assert c.has_extn("starttls")
        code, resp = c.starttls(context=unverified_tls_context())
        assert code == 220, resp
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        c.ehlo()
        assert not c.has_extn("starttls"), "STARTTLS advertised again inside TLS"
        assert c.has_extn("auth")
        code, resp = c.login(inbox["smtp_username"], inbox["smtp_password"])
        assert code == 235, resp
        msg = make_message(token())
        mid = smtplib_send(c, "tls@example.com", ["tls-rcpt@example.org"], msg)
    assert server.raw(mid, inbox["slug"]) == smtplib_wire_bytes(msg)
    _assert_only_in(server, mid, inbox["slug"])


@pytest.mark.parametrize("mechanism,initial", [("PLAIN", True), ("PLAIN", False), ("LOGIN", True),
                                               ("LOGIN", False), ("CRAM-MD5", False)])
def test_auth_mechanism_delivers_into_inbox(server, inbox, mechanism, initial):
    with server.smtp() as c:
        code, resp = _auth(c, mechanism, inbox["smtp_username"], inbox["smtp_password"], initial)
        assert code == 235, resp
        assert resp.startswith(b"2.7.0"), resp
        msg = make_message(token(), subject=f"auth {mechanism} {token()}")
        mid = smtplib_send(c, "auth@example.com", ["auth-rcpt@example.org"], msg)
    assert server.raw(mid, inbox["slug"]) == smtplib_wire_bytes(msg)
    summary = _summary(server, mid, inbox["slug"])
    assert summary["Username"] == inbox["smtp_username"]
    _assert_only_in(server, mid, inbox["slug"])


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_auth_bad_credentials_535(server, inbox, mechanism):
    with server.smtp() as c:
        with pytest.raises(smtplib.SMTPAuthenticationError) as bad_pw:
            _auth(c, mechanism, inbox["smtp_username"], inbox["smtp_password"] + "x")
        assert bad_pw.value.smtp_code == 535
        assert bad_pw.value.smtp_error.startswith(b"5.7.8"), bad_pw.value.smtp_error
        with pytest.raises(smtplib.SMTPAuthenticationError) as bad_user:
            _auth(c, mechanism, "no-such-user-" + token(), "whatever")
        assert bad_user.value.smtp_code == 535
        assert bad_user.value.smtp_error.startswith(b"5.7.8"), bad_user.value.smtp_error
        # Optional auth: the session goes on unauthenticated and delivers into the default inbox.
        msg = make_message(token())
        mid = smtplib_send(c, "after-fail@example.com", ["x@example.org"], msg)
    assert server.raw(mid) == smtplib_wire_bytes(msg)
    assert server.raw_status(mid, inbox["slug"]) == 404


def test_auth_twice_is_bad_sequence(server, inbox):
    with server.smtp() as c:
        assert _auth(c, "PLAIN", inbox["smtp_username"], inbox["smtp_password"])[0] == 235
        code, resp = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + inbox["smtp_username"].encode() + b"\0" + inbox["smtp_password"].encode()).decode())
        assert code == 503 and resp.startswith(b"5.5.1"), (code, resp)


def test_smtps_implicit_tls(server, inbox):
    with server.smtps() as c:
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert not c.has_extn("starttls"), "STARTTLS advertised on the implicit-TLS port"
        assert set(MECHANISMS) <= set(c.esmtp_features["auth"].upper().split())
        anon = make_message(token())
        anon_id = smtplib_send(c, "smtps@example.com", ["smtps-rcpt@example.org"], anon)
        code, resp = _auth(c, "PLAIN", inbox["smtp_username"], inbox["smtp_password"])
        assert code == 235, resp
        msg = make_message(token())
        mid = smtplib_send(c, "smtps@example.com", ["smtps-rcpt@example.org"], msg)
    assert server.raw(anon_id) == smtplib_wire_bytes(anon)
    assert server.raw(mid, inbox["slug"]) == smtplib_wire_bytes(msg)


def test_auth_required_mode(make_server):
    srv = make_server("--smtp-auth", "required")
    default = next(i for i in srv.list_inboxes() if i["slug"] == "default")
    other = srv.create_inbox("required-project", "required inbox")
    with srv.smtp() as c:
        code, resp = c.mail("early@example.com")
        assert code == 530 and resp.startswith(b"5.7.0"), (code, resp)
        code, resp = c.rcpt("early@example.org")
        assert code in (503, 530), (code, resp)
        with pytest.raises(smtplib.SMTPAuthenticationError) as bad:
            _auth(c, "LOGIN", default["smtp_username"], "wrong-" + default["smtp_password"])
        assert bad.value.smtp_code == 535
        assert c.mail("still-early@example.com")[0] == 530
        assert _auth(c, "CRAM-MD5", other["smtp_username"], other["smtp_password"])[0] == 235
        msg = make_message(token())
        mid = smtplib_send(c, "late@example.com", ["late@example.org"], msg)
    assert srv.raw(mid, other["slug"]) == smtplib_wire_bytes(msg)
    _assert_only_in(srv, mid, other["slug"])
    with srv.smtp() as c:
        assert _auth(c, "PLAIN", default["smtp_username"], default["smtp_password"])[0] == 235
        msg2 = make_message(token())
        mid2 = smtplib_send(c, "d@example.com", ["d@example.org"], msg2)
    assert srv.raw(mid2) == smtplib_wire_bytes(msg2)


def test_auth_off_mode(make_server):
    srv = make_server("--smtp-auth", "off")
    default = next(i for i in srv.list_inboxes() if i["slug"] == "default")
    with srv.smtp() as c:
        assert not c.has_extn("auth"), "AUTH advertised with --smtp-auth off"
        code, resp = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + default["smtp_username"].encode() + b"\0" + default["smtp_password"].encode()).decode())
        assert 500 <= code <= 599, (code, resp)
        msg = make_message(token())
        mid = smtplib_send(c, "off@example.com", ["off@example.org"], msg)
    assert srv.raw(mid) == smtplib_wire_bytes(msg)


def test_cleartext_auth_denied_until_starttls(make_server):
    srv = make_server("--smtp-auth-cleartext", "deny", tls=True)
    default = next(i for i in srv.list_inboxes() if i["slug"] == "default")
    plain = base64.b64encode(b"\0" + default["smtp_username"].encode() + b"\0" +
                             default["smtp_password"].encode()).decode()
    with srv.smtp() as c:
        code, resp = c.docmd("AUTH", "PLAIN " + plain)
        assert 500 <= code <= 599, f"cleartext AUTH accepted: {code} {resp!r}"
        assert c.starttls(context=unverified_tls_context())[0] == 220
        c.ehlo()
        assert set(MECHANISMS) <= set(c.esmtp_features["auth"].upper().split())
        code, resp = c.docmd("AUTH", "PLAIN " + plain)
        assert code == 235, (code, resp)
        msg = make_message(token())
        mid = smtplib_send(c, "tls@example.com", ["tls@example.org"], msg)
    assert srv.raw(mid) == smtplib_wire_bytes(msg)


# ---- message content -------------------------------------------------------------------------------

def test_smtputf8_addresses_and_utf8_headers(server):
    tok = token()
    sender = "jörg@exämple.org"
    rcpts = ["δοκιμή@παράδειγμα.δοκιμή", "用户@例子.广告"]
    subject = f"Grüße 🎉 {tok}"
    msg = (f"From: Jörg Müller <{sender}>\r\n"
           f"To: Δοκιμή <{rcpts[0]}>, {rcpts[1]}\r\n"
           f"Subject: {subject}\r\n"
           f"Message-ID: <{tok}@mailjar.test>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n"
           "\r\n"
           "Ünïcödé bödy ✓\r\n").encode("utf-8")
    with server.smtp() as c:
        assert c.has_extn("smtputf8")
        mid = smtplib_send(c, sender, rcpts, msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    assert server.raw(mid) == msg
    s = _summary(server, mid)
    assert s["Subject"] == subject
    assert s["From"]["Address"] == sender and s["From"]["Name"] == "Jörg Müller"
    assert [a["Address"] for a in s["To"]] == rcpts


def test_send_message_with_smtputf8_option_and_an_international_address(server):
    """smtplib.send_message(msg, mail_options=["SMTPUTF8"]) adds SMTPUTF8 itself too, so it sends
    "MAIL FROM:<...> SMTPUTF8 SMTPUTF8 BODY=8BITMIME": a repeat with the same value is accepted."""
    tok = token()
    m = email.message.EmailMessage(policy=email.policy.SMTPUTF8)
    m["From"] = "Jürgen <jürgen@exämple.org>"
    m["To"] = "zoë@example.org"
    m["Subject"] = f"Grüße {tok}"
    m.set_content("Ünïcödé\n")
    with server.smtp() as c:
        refused = c.send_message(m, mail_options=["SMTPUTF8"])
        mid = c.last_queued_id()
    assert refused == {}
    s = _summary(server, mid)
    assert s["Subject"] == f"Grüße {tok}" and s["From"]["Address"] == "jürgen@exämple.org"
    envelope = server.api_get(f"/api/v1/message/{mid}")["Envelope"]
    assert envelope["MailFrom"] == "jürgen@exämple.org" and envelope["SMTPUTF8"] is True
    assert "SMTPUTF8 SMTPUTF8" in envelope["MailParams"]


def test_conflicting_repeated_parameters_are_named(server):
    with server.raw_socket() as conn:
        assert conn.cmd("EHLO client.test").code == 250
        r = conn.cmd("MAIL FROM:<a@example.com> BODY=7BIT BODY=8BITMIME")
        assert r.code == 501 and r.enhanced == "5.5.4" and "BODY" in r.text, r
        assert conn.cmd("MAIL FROM:<a@example.com> BODY=8BITMIME body=8bitmime").code == 250


def test_non_ascii_address_without_smtputf8_is_refused(server):
    with server.raw_socket() as conn:
        assert conn.cmd("EHLO client.test").code == 250
        r = conn.cmd("MAIL FROM:<jörg@exämple.org>")
        assert 500 <= r.code <= 599, r
        assert conn.cmd("NOOP").code == 250


def test_rfc2047_encoded_subject_is_decoded_in_listing(server):
    tok = token()
    m = email.message.EmailMessage()
    m["From"] = "Zoë <zoe@example.com>"
    m["To"] = "bob@example.org"
    m["Subject"] = f"Ça marche — {tok}"
    m.set_content("plain ascii body\n")
    with server.smtp() as c:
        c.send_message(m)
        mid = c.last_queued_id()
        sent = c.last_wire_bytes()
    assert b"=?utf-8?" in sent.lower(), "the test expects smtplib to encode the subject (RFC 2047)"
    assert server.raw(mid) == sent
    s = _summary(server, mid)
    assert s["Subject"] == f"Ça marche — {tok}"
    assert s["From"] == {"Name": "Zoë", "Address": "zoe@example.com"}


def test_8bit_body(make_server):
    # Own server: the body is not valid UTF-8, and the listing of that inbox must still be valid JSON.
    srv = make_server()
    tok = token()
    body = ("café naïve ½ " + tok + "\r\n").encode("utf-8") + b"latin-1 bytes \xe9\xe8\xff\xa0 end\r\n" + \
        bytes(range(0x80, 0x100)) + b"\r\n"
    msg = make_message(tok, body=body, extra_headers=("Content-Transfer-Encoding: 8bit",))
    with srv.smtp() as c:
        assert c.has_extn("8bitmime")
        mid = smtplib_send(c, "eight@example.com", ["bit@example.org"], msg, mail_options=["BODY=8BITMIME"])
    assert srv.raw(mid) == msg
    s = _summary(srv, mid)
    assert s["Subject"] == f"test {tok}" and s["Size"] == len(msg)


def test_multiple_recipients_store_one_message(server):
    before = server.total()
    tok = token()
    msg = make_message(tok, to="Many <many@example.org>")
    rcpts = [f"rcpt{i}@example.org" for i in range(7)]
    with server.smtp() as c:
        refused = c.sendmail("multi@example.com", rcpts, msg)
        assert refused == {}
        mid = c.last_queued_id()
    assert server.raw(mid) == smtplib_wire_bytes(msg)
    assert server.total() == before + 1
    matches = [m for m in server.all_messages() if tok in m["Subject"]]
    assert [m["ID"] for m in matches] == [mid]


def test_rset_mid_transaction(server):
    before = server.total()
    abandoned, kept = token(), token()
    with server.smtp() as c:
        assert c.mail("first@example.com")[0] == 250
        assert c.rcpt("first@example.org")[0] == 250
        code, resp = c.docmd("MAIL", "FROM:<nested@example.com>")
        assert code == 503 and resp.startswith(b"5.5.1"), (code, resp)
        assert c.rset()[0] == 250
        code, resp = c.docmd("DATA")
        assert code == 503 and resp.startswith(b"5.5.1"), (code, resp)
        code, resp = c.docmd("RCPT", "TO:<orphan@example.org>")
        assert code == 503 and resp.startswith(b"5.5.1"), (code, resp)
        msg = make_message(kept)
        mid = smtplib_send(c, "second@example.com", ["second@example.org"], msg)
    assert server.raw(mid) == smtplib_wire_bytes(msg)
    assert server.total() == before + 1
    subjects = [m["Subject"] for m in server.all_messages()]
    assert not any(abandoned in s for s in subjects)
    assert sum(kept in s for s in subjects) == 1


def test_send_message_multipart_with_attachment(server):
    tok = token()
    m = email.message.EmailMessage()
    m["From"] = "Attach Er <attach@example.com>"
    m["To"] = "Bob <bob@example.org>"
    m["Cc"] = "Carol <carol@example.org>"
    m["Subject"] = f"attachment {tok}"
    m["Message-ID"] = f"<{tok}@mailjar.test>"
    m.set_content(f"See the attached blob {tok}.\n.leading dot line\n")
    blob = bytes(range(256)) * 16
    m.add_attachment(blob, maintype="application", subtype="octet-stream", filename="blob.bin")
    assert m.get_content_type() == "multipart/mixed"
    with server.smtp() as c:
        c.send_message(m)
        mid = c.last_queued_id()
        sent = c.last_wire_bytes()
    raw = server.raw(mid)
    assert raw == sent
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    att = [p for p in parsed.iter_attachments()]
    assert len(att) == 1 and att[0].get_content() == blob
    s = _summary(server, mid)
    assert s["Attachments"] == 1
    assert s["Subject"] == f"attachment {tok}"
    assert s["MessageID"] == f"{tok}@mailjar.test"
    assert s["Cc"] == [{"Name": "Carol", "Address": "carol@example.org"}]
    assert s["Size"] == len(raw)
    assert tok in s["Snippet"]


def test_large_message(server):
    tok = token()
    m = email.message.EmailMessage()
    m["From"] = "big@example.com"
    m["To"] = "big@example.org"
    m["Subject"] = f"large {tok}"
    m.set_content(("A long text line with some words in it. " * 20 + "\n") * 2000)
    m.add_attachment(bytes(random.Random(5).randbytes(3 << 20)), maintype="application",
                     subtype="octet-stream", filename="random.bin")
    with server.smtp(timeout=30) as c:
        c.send_message(m)
        mid = c.last_queued_id()
        sent = c.last_wire_bytes()
    assert len(sent) > 5 << 20
    assert server.raw(mid) == sent
    assert _summary(server, mid)["Size"] == len(sent)


def test_many_concurrent_clients(server):
    n = 40
    results, errors = {}, []

    def one(i):
        try:
            msg = make_message(token(), subject=f"concurrent {i} {token()}")
            with server.smtp(timeout=20) as c:
                results[i] = (smtplib_send(c, f"c{i}@example.com", [f"r{i}@example.org"], msg), msg)
        except Exception as e:  # reported below with the client's number
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == n
    ids = [mid for mid, _ in results.values()]
    assert len(set(ids)) == n, "duplicate IDs"
    for mid, msg in results.values():
        assert server.raw(mid) == smtplib_wire_bytes(msg)


# ---- inboxes and the listing API -------------------------------------------------------------------

def test_delivery_into_cli_created_inbox(server):
    box = server.create_inbox("delivery-project", "Delivery Box")
    sibling = server.create_inbox("delivery-project", "Sibling Box", create_project=False)
    assert box["slug"] != sibling["slug"]
    with server.smtp() as c:
        assert c.login(box["smtp_username"], box["smtp_password"])[0] == 235
        msg = make_message(token())
        mid = smtplib_send(c, "cli@example.com", ["cli@example.org"], msg)
    listing = server.messages(box["slug"])
    assert listing["total"] == 1 and _ids(listing) == [mid]
    assert server.raw(mid, box["slug"]) == smtplib_wire_bytes(msg)
    _assert_only_in(server, mid, box["slug"])
    assert server.messages(sibling["slug"])["total"] == 0
    assert server.raw_status(mid, sibling["slug"]) == 404


def test_listing_fields_order_and_paging(make_server):
    srv = make_server()
    toks, ids, msgs = [token() for _ in range(3)], [], []
    with srv.smtp() as c:
        for i, tok in enumerate(toks):
            msg = make_message(tok, sender=f"Sender {i} <s{i}@example.com>",
                               to=f"To One <one{i}@example.org>, two{i}@example.org",
                               extra_headers=(f"Cc: Cee <cc{i}@example.org>", f"Reply-To: <reply{i}@example.com>"))
            ids.append(smtplib_send(c, f"env{i}@example.com", [f"rcpt{i}@example.org"], msg))
            msgs.append(msg)
    assert len(set(ids)) == 3
    page = srv.messages(start=0, limit=50)
    assert page["total"] == 3 and page["count"] == 3 and page["start"] == 0 and page["unread"] == 3
    assert _ids(page) == ids[::-1], "not newest first"
    newest = page["messages"][0]
    assert newest["From"] == {"Name": "Sender 2", "Address": "s2@example.com"}
    assert newest["To"] == [{"Name": "To One", "Address": "one2@example.org"},
                            {"Name": "", "Address": "two2@example.org"}]
    assert newest["Cc"] == [{"Name": "Cee", "Address": "cc2@example.org"}]
    assert [a["Address"] for a in newest["ReplyTo"]] == ["reply2@example.com"]
    assert newest["Subject"] == f"test {toks[2]}"
    assert newest["MessageID"] == f"{toks[2]}@mailjar.test"
    assert newest["Read"] is False
    assert newest["Size"] == len(smtplib_wire_bytes(msgs[2]))
    assert newest["Attachments"] == 0
    assert toks[2] in newest["Snippet"]
    assert isinstance(newest["Created"], str) and newest["Created"]
    assert isinstance(newest["Tags"], list)
    assert newest["Username"] == ""
    first = srv.messages(start=0, limit=2)
    assert first["count"] == 2 and first["total"] == 3 and _ids(first) == [ids[2], ids[1]]
    rest = srv.messages(start=2, limit=2)
    assert rest["count"] == 1 and rest["start"] == 2 and _ids(rest) == [ids[0]]
    for mid, msg in zip(ids, msgs):
        assert srv.raw(mid) == smtplib_wire_bytes(msg)
    assert srv.raw_status("01ARZ3NDEKTSV4RRFFQ69G5FAV") == 404
    assert srv.http_request("GET", "/inboxes/no-such-inbox/api/v1/messages")[0] == 404


def test_livez_and_readyz(server):
    assert server.http_request("GET", "/livez")[0] == 200
    assert server.http_request("GET", "/readyz")[0] == 200

