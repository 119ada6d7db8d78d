"""Shared helpers of the integration suite: a raw SMTP socket client, message builders and the
functions that compute what a client actually puts on the wire (so stored raw bytes can be compared
byte for byte).

Everything here talks to loopback only and every socket operation has a timeout.
"""

import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import uuid

import pytest

HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 10.0
MAILJAR_BIN = os.environ.get("MAILJAR_BIN", "/work/main/build/server/mailjar")
CLI_TIMEOUT_S = 20.0

_handed_out_ports = set()


def free_port():
    """A currently free loopback TCP port, never the same twice in one run (port 0 cannot be used:
    the server's bound port is not discoverable)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port
    raise RuntimeError("no free port found")


def require_binary():
    """The mailjar binary under test; fails the calling test loudly when it is missing."""
    if not (os.path.isfile(MAILJAR_BIN) and os.access(MAILJAR_BIN, os.X_OK)):
        pytest.fail(f"mailjar binary not found or not executable: {MAILJAR_BIN} "
                    f"(build the 'mailjar' target or set MAILJAR_BIN)", pytrace=False)
    return MAILJAR_BIN


def run_cli(*args, env=None, timeout=CLI_TIMEOUT_S):
    """Runs `mailjar ARGS...` to completion and returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([require_binary(), *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, stdin=subprocess.DEVNULL)

_REPLY_LINE = re.compile(rb"^(\d{3})([ -])(.*)$", re.S)
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
QUEUED_RE = re.compile(r"^2\.0\.0 Ok: queued as (\S+)$")


def unverified_tls_context():
    """A client TLS context that accepts the server's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def api_call(server, method, path, body=None):
    """One HTTP API call with an optional JSON body; returns (status, parsed JSON or the raw bytes)."""
    data = json.dumps(body).encode() if body is not None else None
    status, _, raw = server.http_request(method, path, body=data,
                                         headers={"Content-Type": "application/json"} if data else {})
    return status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)


def token():
    """A unique marker to find one message in a listing (goes into the Subject)."""
    return "tok" + uuid.uuid4().hex


def make_message(tok, subject=None, body=None, sender="Alice Sender <alice@example.com>",
                 to="Bob Rcpt <bob@example.org>", extra_headers=()):
    """A small RFC 5322 message with CRLF line endings, ending with CRLF, as bytes."""
    subject = subject if subject is not None else f"test {tok}"
    body = body if body is not None else f"Hello, this is message {tok}.\r\nSecond line.\r\n"
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <{tok}@mailjar.test>",
        "Date: Mon, 01 Jan 2024 10:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        *extra_headers,
    ]
    head = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n"
    if isinstance(body, str):
        body = body.encode("utf-8")
    return head + body


def smtplib_wire_bytes(msg):
    """What smtplib.SMTP.data()/sendmail() transmits for `msg`, after the server undoes the dot-stuffing:
    a str is EOL-normalised to CRLF and encoded, bytes go as they are, and a final CRLF is appended when
    missing. This is what the server must store."""
    if isinstance(msg, str):
        msg = smtplib._fix_eols(msg).encode("ascii")
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    return msg


def queued_id(reply_text):
    """The message ID from a '250 2.0.0 Ok: queued as <ID>' reply text (bytes or str, without code)."""
    if isinstance(reply_text, bytes):
        reply_text = reply_text.decode("utf-8", "replace")
    m = QUEUED_RE.match(reply_text.strip())
    assert m, f"not a 'queued as' reply: {reply_text!r}"
    return m.group(1).strip("<>")


class _RecordData:
    """Remembers what data() was given and what the server answered, so a test can compute the exact
    bytes that went on the wire and read the queued ID even through sendmail()/send_message()."""

    sent_data = None
    data_reply = None

    def data(self, msg):
        self.sent_data = msg
        self.data_reply = super().data(msg)
        return self.data_reply

    def last_queued_id(self):
        assert self.data_reply is not None and self.data_reply[0] == 250, self.data_reply
        return queued_id(self.data_reply[1])

    def last_wire_bytes(self):
        return smtplib_wire_bytes(self.sent_data)


class RecordingSMTP(_RecordData, smtplib.SMTP):
    pass


class RecordingSMTP_SSL(_RecordData, smtplib.SMTP_SSL):
    pass


def smtplib_send(client, sender, rcpts, msg, mail_options=(), rcpt_options=()):
    """MAIL/RCPT/DATA with an smtplib client; asserts every step succeeds and returns the queued ID."""
    code, resp = client.mail(sender, list(mail_options))
    assert code == 250, (code, resp)
    for r in rcpts:
        code, resp = client.rcpt(r, list(rcpt_options))
        assert code == 250, (r, code, resp)
    code, resp = client.data(msg)
    assert code == 250, (code, resp)
    return queued_id(resp)


class Reply:
    """One SMTP reply: code, enhanced status code of the first line (or ''), text lines, wire bytes."""

    def __init__(self, code, lines, wire):
        self.code = code
        self.lines = lines
        self.wire = wire
        m = _ENHANCED.match(lines[0]) if lines else None
        self.enhanced = ".".join(m.groups()) if m else ""

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return f"Reply({self.wire!r})"


class ProtocolError(AssertionError):
    pass


class SmtpSocket:
    """A raw SMTP client over a TCP (optionally TLS) socket with explicit reply parsing, for the tests
    that need byte-level control: pipelining, BDAT, bare newlines, garbage, abrupt disconnects."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, tls_context=None, read_banner=True):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.eof = False
        self.banner = self.reply() if read_banner else None

    # ---- sending ----
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def cmd(self, line, timeout=None):
        """Sends one command line (CRLF appended) and returns its reply."""
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply(timeout)

    def starttls(self, context=None):
        """Upgrades the connection in place (after a 220 to STARTTLS was read)."""
        assert self.buf == b"", f"bytes after the STARTTLS reply: {self.buf!r}"
        self.sock = (context or unverified_tls_context()).wrap_socket(self.sock, server_hostname="localhost")

    # ---- receiving ----
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout(f"no complete reply within {self.timeout}s; buffered {self.buf[:200]!r}")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ProtocolError(f"reply line without CRLF: {self.buf[:200]!r}")
            if not self._fill(deadline):
                raise EOFError(f"connection closed; unparsed bytes {self.buf[:200]!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout=None):
        """Reads one complete (possibly multi-line) reply. Raises EOFError when the server closed first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines, wire, code = [], b"", None
        while True:
            raw = self._line(deadline)
            wire += raw + b"\r\n"
            m = _REPLY_LINE.match(raw)
            if not m:
                raise ProtocolError(f"not an SMTP reply line: {raw[:200]!r}")
            c = int(m.group(1))
            if code is not None and c != code:
                raise ProtocolError(f"reply code changed inside a multi-line reply: {wire!r}")
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return Reply(code, lines, wire)

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def read_until_closed(self, timeout=None):
        """Reads replies until the server closes the connection. Returns (replies, closed). `closed` is
        False when the deadline passed first. A reset after the server's last bytes counts as closed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = []
        try:
            while True:
                while b"\r\n" in self.buf:
                    out.append(self.reply(timeout=max(0.1, deadline - time.monotonic())))
                if not self._fill(deadline):
                    break
        except (ConnectionResetError, BrokenPipeError):
            pass
        except socket.timeout:
            return out, False
        while b"\r\n" in self.buf:
            out.append(self.reply(timeout=1))
        return out, True

    def closed_by_peer(self, timeout=3.0):
        """True when the peer closes (EOF or reset) within `timeout` without sending more bytes."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self._fill(deadline):
                    return True
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_data_transaction(conn, sender, rcpts, content, ehlo="client.test"):
    """EHLO (when given), MAIL, RCPTs, DATA with `content` (already dot-stuffed, without the final
    '.\\r\\n'); returns the reply to the end of data."""
    if ehlo:
        r = conn.cmd(f"EHLO {ehlo}")
        assert r.code == 250, r
    r = conn.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == 250, r
    for rc in rcpts:
        r = conn.cmd(f"RCPT TO:<{rc}>")
        assert r.code == 250, r
    r = conn.cmd("DATA")
    assert r.code == 354, r
    conn.send(content + b".\r\n")
    return conn.reply()


class Collector(threading.Thread):
    """Reads everything a socket receives until EOF, reset or deadline (for floods where the test
    writes and reads at the same time)."""

    def __init__(self, sock, deadline_s):
        super().__init__(daemon=True)
        self.sock = sock
        self.deadline = time.monotonic() + deadline_s
        self.data = bytearray()
        self.closed = False
        self.reset = False
        self.first_data_at = None  # time.monotonic() of the first received bytes
        self.closed_at = None

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                self.sock.settimeout(max(0.05, self.deadline - time.monotonic()))
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    return
                if not chunk:
                    self.closed = True
                    self.closed_at = time.monotonic()
                    return
                if self.first_data_at is None:
                    self.first_data_at = time.monotonic()
                self.data += chunk
        except (ConnectionResetError, BrokenPipeError):
            self.closed = True
            self.reset = True
            self.closed_at = time.monotonic()
        except OSError:
            self.closed = True
            self.closed_at = time.monotonic()


def parse_replies(data):
    """Splits received bytes into Reply objects; a trailing incomplete line is returned separately."""
    replies, lines, wire = [], [], b""
    rest = bytes(data)
    while b"\r\n" in rest:
        raw, rest = rest.split(b"\r\n", 1)
        m = _REPLY_LINE.match(raw)
        if not m:
            raise ProtocolError(f"not an SMTP reply line: {raw[:200]!r}")
        wire += raw + b"\r\n"
        lines.append(m.group(3).decode("utf-8", "replace"))
        if m.group(2) == b" ":
            replies.append(Reply(int(m.group(1)), lines, wire))
            lines, wire = [], b""
    return replies, rest
