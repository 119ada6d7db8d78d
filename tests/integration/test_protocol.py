"""SMTP at the byte level over raw sockets: pipelining, BDAT, dot-unstuffing, bare newlines and
smuggling, every perimeter limit, abusive peers (garbage, TLS on the wrong port, HTTP, disconnects,
silence, connection floods). After each abuse case the server must still accept a normal message."""

import random
import socket
import ssl
import struct
import threading
import time

import pytest

from helpers import HOST, Collector, SmtpSocket, make_message, parse_replies, queued_id, \
    raw_data_transaction, token, unverified_tls_context


def _ehlo(conn, name="client.test"):
    r = conn.cmd(f"EHLO {name}")
    assert r.code == 250, r
    return r


def _assert_enhanced(reply, code, enhanced):
    assert reply.code == code and reply.enhanced == enhanced, \
        f"expected {code} {enhanced}, got {reply.wire!r}"


def _listed_subjects(server, inbox=None):
    return [m["Subject"] for m in server.all_messages(inbox)]


def _client_hello():
    """The bytes of a real TLS ClientHello (what a TLS client sends first)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = unverified_tls_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16", "not a TLS handshake record"
    return hello


# ---- pipelining ------------------------------------------------------------------------------------

def test_pipelined_transaction_in_one_send(server):
    msg = make_message(token())
    with server.raw_socket() as conn:
        conn.send(b"EHLO pipe.test\r\nMAIL FROM:<pipe@example.com>\r\nRCPT TO:<a@example.org>\r\n"
                  b"RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n")
        rs = conn.replies(6)
        assert [r.code for r in rs] == [250, 250, 250, 250, 250, 354], rs
        assert any(line.upper().startswith("PIPELINING") for line in rs[0].lines), rs[0]
        for r in rs[1:5]:
            assert r.enhanced.startswith("2."), f"no enhanced status code: {r.wire!r}"
        conn.send(msg + b".\r\nQUIT\r\n")
        done, bye = conn.replies(2)
        assert done.code == 250, done
        assert bye.code == 221, bye
        assert conn.closed_by_peer()
    assert server.raw(queued_id(done.text)) == msg


def test_two_transactions_pipelined_across_data(server):
    m1, m2 = make_message(token()), make_message(token())
    with server.raw_socket() as conn:
        conn.send(b"EHLO pipe.test\r\nMAIL FROM:<one@example.com>\r\nRCPT TO:<x@example.org>\r\nDATA\r\n")
        assert [r.code for r in conn.replies(4)] == [250, 250, 250, 354]
        conn.send(m1 + b".\r\nMAIL FROM:<two@example.com>\r\nRCPT TO:<y@example.org>\r\nDATA\r\n")
        rs = conn.replies(4)
        assert [r.code for r in rs] == [250, 250, 250, 354], rs
        conn.send(m2 + b".\r\nNOOP\r\n")
        done, noop = conn.replies(2)
        assert done.code == 250 and noop.code == 250
    id1, id2 = queued_id(rs[0].text), queued_id(done.text)
    assert id1 != id2
    assert server.raw(id1) == m1 and server.raw(id2) == m2


def test_command_errors_have_the_specified_codes(server):
    with server.raw_socket() as conn:
        _assert_enhanced(conn.cmd("XYZZY frobnicate"), 500, "5.5.2")
        _assert_enhanced(conn.cmd("DATA"), 503, "5.5.1")
        _assert_enhanced(conn.cmd("EHLO"), 501, "5.5.4")
        _ehlo(conn)
        _assert_enhanced(conn.cmd("RCPT TO:<early@example.org>"), 503, "5.5.1")
        _assert_enhanced(conn.cmd("MAIL FROM:<unterminated@example.com"), 501, "5.5.4")
        _assert_enhanced(conn.cmd("MAIL"), 501, "5.5.4")
        assert conn.cmd("MAIL FROM:<ok@example.com>").code == 250
        _assert_enhanced(conn.cmd("RCPT TO:"), 501, "5.5.4")
        assert conn.cmd("RCPT TO:<ok@example.org>").code == 250
        msg = make_message(token())
        conn.cmd("DATA")
        conn.send(msg + b".\r\n")
        done = conn.reply()
        assert done.code == 250, done
    assert server.raw(queued_id(done.text)) == msg


def test_dsn_parameters_and_null_sender(server):
    msg = make_message(token())
    with server.raw_socket() as conn:
        ehlo = _ehlo(conn)
        assert any(line.upper() == "DSN" for line in ehlo.lines), ehlo
        assert conn.cmd("MAIL FROM:<> RET=HDRS ENVID=QQ314159").code == 250
        assert conn.cmd("RCPT TO:<dsn@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;dsn@example.org").code == 250
        assert conn.cmd("RCPT TO:<never@example.org> NOTIFY=NEVER").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(msg + b".\r\n")
        done = conn.reply()
        assert done.code == 250, done
    assert server.raw(queued_id(done.text)) == msg


def test_starttls_discards_pipelined_plaintext(server):
    """Commands pipelined after STARTTLS must not be executed inside TLS (CVE-2011-0411 class)."""
    with server.raw_socket() as conn:
        _ehlo(conn)
        conn.send(b"STARTTLS\r\nNOOP\r\nMAIL FROM:<injected@example.com>\r\n")
        r = conn.reply()
        assert r.code == 220, r
        time.sleep(0.2)  # let a faulty server answer the injected commands before the handshake
        conn.starttls()
        r = conn.cmd("EHLO tls.test")
        assert r.code == 250 and len(r.lines) > 1, f"first reply inside TLS is not the EHLO reply: {r.wire!r}"
        assert not any(line.upper().startswith("STARTTLS") for line in r.lines)
        _assert_enhanced(conn.cmd("RCPT TO:<x@example.org>"), 503, "5.5.1")
        msg = make_message(token())
        done = raw_data_transaction(conn, "tls@example.com", ["tls@example.org"], msg, ehlo=None)
        assert done.code == 250, done
    assert server.raw(queued_id(done.text)) == msg


# ---- BDAT (RFC 3030) ---------------------------------------------------------------------------------

def test_bdat_chunks_pipelined_with_rcpts(server):
    msg = make_message(token(), body=b"chunked body\r\n.\r\nnot the end\r\n..two dots stay\r\nlast line\r\n")
    c1, c2, c3 = msg[:17], msg[17:150], msg[150:]  # boundaries inside header lines and the body
    with server.raw_socket() as conn:
        _ehlo(conn)
        conn.send(b"MAIL FROM:<bdat@example.com> BODY=8BITMIME\r\nRCPT TO:<b1@example.org>\r\n"
                  b"RCPT TO:<b2@example.org>\r\n" +
                  b"BDAT %d\r\n" % len(c1) + c1 + b"BDAT %d\r\n" % len(c2) + c2 +
                  b"BDAT %d LAST\r\n" % len(c3) + c3 + b"NOOP\r\n")
        rs = conn.replies(7)
        assert [r.code for r in rs] == [250] * 7, rs
    assert server.raw(queued_id(rs[5].text)) == msg


def test_bdat_zero_last(server):
    msg = make_message(token())
    with server.raw_socket() as conn:
        _ehlo(conn)
        conn.send(b"MAIL FROM:<zero@example.com>\r\nRCPT TO:<z@example.org>\r\n" +
                  b"BDAT %d\r\n" % len(msg) + msg + b"BDAT 0 LAST\r\n")
        rs = conn.replies(4)
        assert [r.code for r in rs] == [250] * 4, rs
    assert server.raw(queued_id(rs[3].text)) == msg


def test_bdat_binary_bytes_stored_exactly(make_server):
    # Own server: the body is not valid UTF-8, and the listing must still be valid JSON.
    srv = make_server()
    tok = token()
    body = bytes(range(256)) * 8 + b"\r\n.\r\n" + b"\x00\r\x00\n.\n\r\n" + bytes(range(255, -1, -1)) + b"\r\n"
    msg = make_message(tok, body=body, extra_headers=("Content-Transfer-Encoding: binary",))
    with srv.raw_socket() as conn:
        _ehlo(conn)
        conn.send(b"MAIL FROM:<bin@example.com>\r\nRCPT TO:<bin@example.org>\r\n" +
                  b"BDAT %d LAST\r\n" % len(msg) + msg)
        rs = conn.replies(3)
        assert [r.code for r in rs] == [250] * 3, rs
    mid = queued_id(rs[2].text)
    assert srv.raw(mid) == msg
    listing = srv.messages()
    assert [m["ID"] for m in listing["messages"]] == [mid]
    assert listing["messages"][0]["Subject"] == f"test {tok}"


def test_bdat_sequence_rules(server):
    with server.raw_socket() as conn:
        _ehlo(conn)
        # BDAT without a transaction: 503, and the chunk is still consumed (NOOP after it is answered).
        conn.send(b"BDAT 10\r\n0123456789NOOP\r\n")
        r, noop = conn.replies(2)
        _assert_enhanced(r, 503, "5.5.1")
        assert noop.code == 250, noop
        # DATA after BDAT in the same transaction: 503.
        conn.send(b"MAIL FROM:<mix@example.com>\r\nRCPT TO:<mix@example.org>\r\nBDAT 5\r\nabcde")
        assert [r.code for r in conn.replies(3)] == [250, 250, 250]
        _assert_enhanced(conn.cmd("DATA"), 503, "5.5.1")
        assert conn.cmd("RSET").code == 250
        msg = make_message(token())
        done = raw_data_transaction(conn, "after@example.com", ["after@example.org"], msg, ehlo=None)
        assert done.code == 250, done
    assert server.raw(queued_id(done.text)) == msg


# ---- DATA content: dot-unstuffing and bare newlines ----------------------------------------------------

def test_dot_unstuffing(server):
    tok = token()
    wire = (b"Subject: dots " + tok.encode() + b"\r\n\r\n"
            b"..leading dot\r\n"
            b"..\r\n"
            b"...\r\n"
            b".. space\r\n"
            b"middle . dot.\r\n"
            b".unstuffed by a sloppy client\r\n"
            b"end\r\n")
    expected = (b"Subject: dots " + tok.encode() + b"\r\n\r\n"
                b".leading dot\r\n"
                b".\r\n"
                b"..\r\n"
                b". space\r\n"
                b"middle . dot.\r\n"
                b"unstuffed by a sloppy client\r\n"
                b"end\r\n")
    with server.raw_socket() as conn:
        done = raw_data_transaction(conn, "dots@example.com", ["dots@example.org"], wire)
        assert done.code == 250, done
    assert server.raw(queued_id(done.text)) == expected


SMUGGLING_BODY = (b"line1\nline2\n.\nstill inside\r\n"
                  b"bare cr\rhere\r\n"
                  b"x\n.\r\nMAIL FROM:<smuggle@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
                  b"Subject: smuggled\r\n\r\nsmuggled body\r\n"
                  b"y\r.\r\nRSET\r\n"
                  b"tail\r\n")


def test_bare_newlines_accepted_and_never_end_the_message(server):
    before = server.total()
    tok = token()
    msg = b"Subject: bare " + tok.encode() + b"\r\nFrom: a@example.com\r\n\r\n" + SMUGGLING_BODY
    with server.raw_socket() as conn:
        done = raw_data_transaction(conn, "bare@example.com", ["bare@example.org"], msg)
        assert done.code == 250, done
        conn.send(b"QUIT\r\n")
        rest, closed = conn.read_until_closed(timeout=5)
        assert [r.code for r in rest] == [221], f"extra replies (smuggled commands executed?): {rest}"
        assert closed
    assert server.raw(queued_id(done.text)) == msg
    assert server.total() == before + 1
    assert not any("smuggled" in s for s in _listed_subjects(server))


def test_bare_newlines_rejected_with_policy_reject(make_server):
    srv = make_server("--bare-newline", "reject")
    for body in (SMUGGLING_BODY, b"only a bare LF\nhere\r\n", b"only a bare CR\rhere\r\n"):
        msg = b"Subject: bare " + token().encode() + b"\r\n\r\n" + body
        with srv.raw_socket() as conn:
            r = raw_data_transaction(conn, "bare@example.com", ["bare@example.org"], msg)
            _assert_enhanced(r, 554, "5.6.0")
            good = make_message(token())
            done = raw_data_transaction(conn, "good@example.com", ["good@example.org"], good, ehlo=None)
            assert done.code == 250, done
            conn.send(b"QUIT\r\n")
            rest, _ = conn.read_until_closed(timeout=5)
            assert [x.code for x in rest] == [221], f"extra replies (smuggled commands executed?): {rest}"
        assert srv.raw(queued_id(done.text)) == good
    assert srv.total() == 3
    srv.assert_accepts_mail()


# ---- limits ----------------------------------------------------------------------------------------

def test_command_line_limit(make_server):
    srv = make_server("--max-command-line", "512", "--max-text-line", "1000")
    with srv.raw_socket() as conn:
        _ehlo(conn)
        exact = b"NOOP " + b"a" * (512 - 7)
        assert len(exact + b"\r\n") == 512
        assert conn.cmd(exact).code == 250
        _assert_enhanced(conn.cmd(exact + b"a"), 500, "5.5.2")
        _assert_enhanced(conn.cmd(b"MAIL FROM:<" + b"x" * 100000 + b"@example.com>"), 500, "5.5.2")
        assert conn.cmd("NOOP").code == 250
        msg = make_message(token())
        done = raw_data_transaction(conn, "after@example.com", ["after@example.org"], msg, ehlo=None)
        assert done.code == 250, done
    assert srv.raw(queued_id(done.text)) == msg


def test_text_line_limit(make_server):
    srv = make_server("--max-command-line", "512", "--max-text-line", "1000")
    tok = token()
    head = b"Subject: long " + tok.encode() + b"\r\n\r\n"
    exact_line = b"b" * 998 + b"\r\n"
    with srv.raw_socket() as conn:
        ok = raw_data_transaction(conn, "l@example.com", ["l@example.org"], head + exact_line)
        assert ok.code == 250, ok
        for line in (b"c" * 999 + b"\r\n", b"d" * 200000 + b"\r\n"):
            r = raw_data_transaction(conn, "l@example.com", ["l@example.org"], head + line + b"after\r\n", ehlo=None)
            _assert_enhanced(r, 500, "5.5.2")
        assert conn.cmd("NOOP").code == 250
    assert srv.raw(queued_id(ok.text)) == head + exact_line
    assert srv.total() == 1
    srv.assert_accepts_mail()


def test_message_size_limit(make_server):
    srv = make_server("--max-message-size", "10000")
    with srv.raw_socket() as conn:
        ehlo = _ehlo(conn)
        assert any(line.upper() == "SIZE 10000" for line in ehlo.lines), ehlo
        _assert_enhanced(conn.cmd("MAIL FROM:<big@example.com> SIZE=10001"), 552, "5.3.4")
        assert conn.cmd("MAIL FROM:<big@example.com> SIZE=10000").code == 250
        assert conn.cmd("RSET").code == 250
        big = make_message(token(), body=b"z" * 70 + b"\r\n") + (b"y" * 98 + b"\r\n") * 200
        r = raw_data_transaction(conn, "big@example.com", ["big@example.org"], big, ehlo=None)
        _assert_enhanced(r, 552, "5.3.4")
        conn.send(b"MAIL FROM:<big@example.com>\r\nRCPT TO:<big@example.org>\r\n" +
                  b"BDAT %d LAST\r\n" % len(big) + big + b"NOOP\r\n")
        rs = conn.replies(4)
        assert [x.code for x in rs[:2]] == [250, 250], rs
        _assert_enhanced(rs[2], 552, "5.3.4")
        assert rs[3].code == 250, "the oversized chunk was not consumed"
        fits = make_message(token(), body=(b"w" * 98 + b"\r\n") * 80)
        assert len(fits) < 10000
        done = raw_data_transaction(conn, "fits@example.com", ["fits@example.org"], fits, ehlo=None)
        assert done.code == 250, done
    assert srv.raw(queued_id(done.text)) == fits
    assert srv.total() == 1


@pytest.mark.timeout_s(60)
def test_ten_thousand_pipelined_recipients(make_server):
    srv = make_server("--max-recipients", "100")
    n = 10000
    conn = srv.raw_socket(timeout=30)
    try:
        _ehlo(conn)
        assert conn.cmd("MAIL FROM:<flood@example.com>").code == 250
        payload = b"".join(b"RCPT TO:<r%d@example.org>\r\n" % i for i in range(n))
        errors = []

        def push():
            try:
                conn.sock.sendall(payload)
            except OSError as e:
                errors.append(e)

        sender = threading.Thread(target=push, daemon=True)
        sender.start()
        # While this connection floods (and is not being read), another client is served normally.
        t0 = time.monotonic()
        srv.assert_accepts_mail()
        assert time.monotonic() - t0 < 10
        rs = conn.replies(n)
        sender.join(10)
        assert not errors, errors
        codes = [r.code for r in rs]
        assert codes[:100] == [250] * 100
        assert codes[100:] == [452] * (n - 100), sorted(set(codes[100:]))
        assert all(r.enhanced == "4.5.3" for r in rs[100:])
        msg = make_message(token())
        assert conn.cmd("DATA").code == 354
        conn.send(msg + b".\r\n")
        done = conn.reply()
        assert done.code == 250, done
    finally:
        conn.close()
    assert srv.raw(queued_id(done.text)) == msg
    assert srv.total() == 2


# ---- abusive peers ----------------------------------------------------------------------------------

def _garbage_lines(seed, n):
    rng = random.Random(seed)
    alphabet = [b for b in range(256) if b not in (10, 13)]
    return [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 200))) for _ in range(n)]


def _assert_errors_then_421(replies, max_errors):
    assert replies, "no reply to garbage"
    _assert_enhanced(replies[-1], 421, "4.7.0")
    errors = replies[:-1]
    assert all(500 <= r.code <= 599 for r in errors), errors
    # N errors are allowed; the one that exceeds the limit is still answered, then 421 (Postfix's
    # smtpd_hard_error_limit semantics). Fewer than N means the limit closes too early.
    assert max_errors <= len(errors) <= max_errors + 1, \
        f"{len(errors)} error replies before 421 with --max-errors {max_errors}"


def test_garbage_lines_lead_to_421_and_close(make_server):
    srv = make_server("--max-errors", "5")
    # Lock-step: one garbage line, one reply, so nothing is left unread when the server closes.
    with srv.raw_socket() as conn:
        replies = []
        for line in _garbage_lines(1234, 50):
            conn.send(line + b"\r\n")
            replies.append(conn.reply())
            if replies[-1].code == 421:
                break
        _assert_errors_then_421(replies, 5)
        assert conn.closed_by_peer(timeout=5), "not closed after 421"
    # Burst: all lines in one write. A server that closes while input is still unread makes the
    # kernel send a reset, which may discard its final 421; a clean close must carry the 421.
    with srv.raw_socket() as conn:
        conn.send(b"\r\n".join(_garbage_lines(4321, 50)) + b"\r\n")
        replies, closed = conn.read_until_closed(timeout=10)
        assert closed, f"server did not close after garbage; replies: {replies}"
        assert replies and all(500 <= r.code <= 599 for r in replies[:-1]), replies
        assert replies[-1].code in (421, 500), replies
    srv.assert_accepts_mail()


def test_random_binary_stream_leads_to_close(make_server):
    srv = make_server("--max-errors", "5")
    rng = random.Random(99)
    sock = socket.create_connection((HOST, srv.smtp_port), timeout=10)
    reader = Collector(sock, deadline_s=15)
    reader.start()
    sent = 0
    try:
        while sent < 4 << 20 and not reader.closed:
            sock.sendall(rng.randbytes(16384))
            sent += 16384
    except OSError:
        pass
    reader.join(16)
    sock.close()
    assert reader.closed, f"server kept the connection open after {sent} random bytes"
    replies, _ = parse_replies(reader.data)
    assert replies[0].code == 220
    assert len(replies) >= 2, f"closed without any error reply: {replies}"
    assert all(500 <= r.code <= 599 for r in replies[1:-1]), replies
    if not reader.reset:  # see test_garbage_lines_lead_to_421_and_close about resets
        _assert_enhanced(replies[-1], 421, "4.7.0")
    srv.assert_accepts_mail()


def test_tls_garbage_on_smtps_port(server):
    rng = random.Random(7)
    # (bytes, then half-close?): garbage must fail the handshake at once; a truncated ClientHello or
    # nothing at all must end the connection when the peer closes its side.
    for payload, eof in ((rng.randbytes(8192), False), (b"EHLO plaintext.test\r\n", False),
                         (_client_hello()[:40], True), (b"", True)):
        s = socket.create_connection((HOST, server.smtps_port), timeout=10)
        try:
            if payload:
                s.sendall(payload)
            if eof:
                s.shutdown(socket.SHUT_WR)
            reader = Collector(s, deadline_s=8)
            reader.run()
            assert reader.closed, f"SMTPS port kept a non-TLS peer open ({payload[:20]!r})"
            assert not bytes(reader.data).startswith(b"220"), "plaintext banner on the SMTPS port"
        finally:
            s.close()
    with server.smtps() as c:
        assert c.noop()[0] == 250
    server.assert_accepts_mail()


def test_tls_client_hello_on_plain_port(server):
    with server.raw_socket() as conn:
        conn.send(_client_hello() + b"\r\n")
        r = conn.reply()
        assert r.code in (500, 421), r
    server.assert_accepts_mail()


def test_http_request_on_smtp_port(server):
    with server.raw_socket() as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\nAccept: */*\r\n\r\nQUIT\r\n")
        replies, closed = conn.read_until_closed(timeout=5)
    assert closed and replies, f"no reply to an HTTP request / not closed: {replies}"
    assert replies[0].code >= 400, f"HTTP request line accepted: {replies[0]}"
    assert all(r.code >= 400 for r in replies[:-1]), replies
    assert replies[-1].code in (221, 421) or replies[-1].code >= 500, replies
    server.assert_accepts_mail()


@pytest.mark.parametrize("how", ["close", "reset", "half-close", "bdat"])
def test_client_disconnect_mid_data(server, how):
    before = server.total()
    tok = token()
    msg = make_message(tok, body=b"x" * 5000 + b"\r\n")
    conn = server.raw_socket()
    try:
        _ehlo(conn)
        assert conn.cmd("MAIL FROM:<gone@example.com>").code == 250
        assert conn.cmd("RCPT TO:<gone@example.org>").code == 250
        if how == "bdat":
            conn.send(b"BDAT %d LAST\r\n" % len(msg) + msg[: len(msg) // 2])
        else:
            assert conn.cmd("DATA").code == 354
            conn.send(msg[: len(msg) // 2])
        if how == "reset":
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif how == "half-close":
            conn.sock.shutdown(socket.SHUT_WR)
            replies, closed = conn.read_until_closed(timeout=5)
            assert closed, "server kept a connection open after the client's EOF mid-DATA"
            assert all(r.code >= 400 for r in replies), replies
    finally:
        conn.close()
    time.sleep(0.3)
    assert server.total() == before
    assert not any(tok in s for s in _listed_subjects(server))
    server.assert_accepts_mail()
    assert server.total() == before + 1


@pytest.mark.timeout_s(40)
def test_silent_clients_time_out_while_others_are_served(make_server):
    srv = make_server("--command-timeout", "1", "--data-timeout", "1")
    before = srv.total()
    t0 = time.monotonic()
    idle = srv.raw_socket()                       # silent after the banner
    partial = srv.raw_socket()
    partial.send(b"MAIL FR")                      # half a command, then silence
    in_data = srv.raw_socket()
    _ehlo(in_data)
    assert in_data.cmd("MAIL FROM:<slow@example.com>").code == 250
    assert in_data.cmd("RCPT TO:<slow@example.org>").code == 250
    assert in_data.cmd("DATA").code == 354
    in_data.send(b"Subject: never finished\r\n\r\npartial body")
    readers = []
    for c in (idle, partial, in_data):
        rd = Collector(c.sock, deadline_s=8)
        rd.start()
        readers.append(rd)
    # Meanwhile a normal client is served, and a client that keeps talking is not cut off.
    srv.assert_accepts_mail()
    with srv.raw_socket() as busy:
        _ehlo(busy)
        for _ in range(7):
            time.sleep(0.4)
            assert busy.cmd("NOOP").code == 250
        msg = make_message(token())
        done = raw_data_transaction(busy, "busy@example.com", ["busy@example.org"], msg, ehlo=None)
        assert done.code == 250, done
    assert srv.raw(queued_id(done.text)) == msg
    for name, rd in zip(("idle", "partial command", "in DATA"), readers):
        rd.join(9)
        replies, _ = parse_replies(rd.data)
        assert replies, f"{name}: no reply before the deadline"
        _assert_enhanced(replies[-1], 421, "4.4.2")
        assert rd.closed, f"{name}: not disconnected after 421"
        waited = rd.first_data_at - t0
        assert 0.8 <= waited <= 5.0, f"{name}: timed out after {waited:.2f}s with a 1 s timeout"
    for c in (idle, partial, in_data):
        c.close()
    assert srv.total() == before + 2
    assert not any("never finished" in s for s in _listed_subjects(srv))


def test_max_connections(make_server):
    srv = make_server("--max-connections", "3")
    held = [srv.raw_socket() for _ in range(3)]
    try:
        assert all(c.banner.code == 220 for c in held)
        extra = SmtpSocket(srv.smtp_port, read_banner=False)
        try:
            r = extra.reply()
            assert r.code == 421, r
            assert extra.closed_by_peer(timeout=5), "refused connection was not closed"
        finally:
            extra.close()
        assert srv.http_request("GET", "/livez")[0] == 200
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            c = SmtpSocket(srv.smtp_port, read_banner=False)
            try:
                r = c.reply()
            except (EOFError, ConnectionResetError):
                r = None
            if r is not None and r.code == 220:
                held.append(c)
                break
            c.close()
            assert time.monotonic() < deadline, "slot not released after a client left"
            time.sleep(0.1)
        assert held[-1].cmd("NOOP").code == 250
    finally:
        for c in held:
            c.close()
    _wait_for_banner(srv)
    srv.assert_accepts_mail()


def _wait_for_banner(srv, timeout=5.0):
    """Waits until a new connection is greeted with 220 (slots are released asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        with SmtpSocket(srv.smtp_port, read_banner=False) as c:
            try:
                if c.reply().code == 220:
                    return
            except (EOFError, ConnectionResetError):
                pass
        assert time.monotonic() < deadline, "no 220 greeting after all clients left"
        time.sleep(0.1)
