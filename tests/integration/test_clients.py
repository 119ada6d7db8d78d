"""Real SMTP clients against mailjar: swaks (plain, AUTH, STARTTLS, implicit TLS, PIPELINING; Debian's
swaks has no BDAT, which test_protocol.py covers with raw sockets) and curl's SMTP client (plain, AUTH with each mechanism, STARTTLS, SMTPS). The stored raw
bytes must equal what the client sent.

These tools are installed by the README's install step (apt-get install swaks curl
libnet-ssleay-perl); a missing tool skips its tests with a loud reason, so CI must have them."""

import re
import shutil
import subprocess

import pytest

from helpers import HOST, token

SWAKS = shutil.which("swaks")
CURL = shutil.which("curl")
TOOL_TIMEOUT_S = 20

needs_swaks = pytest.mark.skipif(
    not SWAKS, reason="MISSING TOOL: swaks is not installed (apt-get install swaks); CI must install it")
needs_curl = pytest.mark.skipif(
    not CURL, reason="MISSING TOOL: curl is not installed (apt-get install curl); CI must install it")

MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"]


def _swaks_supports(feature_line):
    if not SWAKS:
        return False
    out = subprocess.run([SWAKS, "--support"], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    return f"=== {feature_line} supported" in out.stdout + out.stderr


needs_swaks_tls = pytest.mark.skipif(
    not _swaks_supports("TLS"),
    reason="MISSING TOOL: swaks without TLS support (apt-get install libnet-ssleay-perl); CI must install it")


@pytest.fixture(scope="module")
def inbox(_shared_server):
    return _shared_server.create_inbox("clients-project", "clients inbox")


def _queued_ids(output):
    return re.findall(r"250[ -]2\.0\.0 Ok: queued as (\S+)", output)


# ---- swaks --------------------------------------------------------------------------------------------

def _swaks_message(tok):
    """The DATA file for swaks: CRLF line endings and no final newline, no backslashes and no %TOKENS%
    (swaks rewrites those). swaks dot-stuffs lines starting with '.', and ends the data with CRLF . CRLF,
    so the server must store exactly these bytes plus the final CRLF."""
    return (f"From: Swaks Sender <swaks@example.com>\r\n"
            f"To: Rcpt <rcpt@example.org>\r\n"
            f"Subject: swaks {tok}\r\n"
            f"Message-ID: <{tok}@mailjar.test>\r\n"
            f"\r\n"
            f"Hello from swaks {tok}.\r\n"
            f".a line that starts with a dot\r\n"
            f"..two dots\r\n"
            f"last line").encode()


def _run_swaks(tmp_path, port, tok, *extra, expect_ok=True, to="rcpt@example.org"):
    data = tmp_path / f"{tok}.eml"
    data.write_bytes(_swaks_message(tok))
    cmd = [SWAKS, "--server", HOST, "--port", str(port), "--from", "swaks@example.com", "--to", to,
           "--helo", "client.test", "--timeout", "10", "--data", f"@{data}", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    out = r.stdout + r.stderr
    if expect_ok:
        assert r.returncode == 0, f"swaks failed ({r.returncode}):\n{out}"
        ids = _queued_ids(out)
        assert len(ids) == 1, f"no single 'queued as' in swaks output:\n{out}"
        return ids[0], _swaks_message(tok) + b"\r\n", out
    return None, None, out


@needs_swaks
def test_swaks_plain(server, tmp_path):
    mid, expected, _ = _run_swaks(tmp_path, server.smtp_port, token())
    assert server.raw(mid) == expected


@needs_swaks
def test_swaks_multiple_recipients(server, tmp_path):
    before = server.total()
    mid, expected, out = _run_swaks(tmp_path, server.smtp_port, token(),
                                    to="a@example.org,b@example.org,c@example.org")
    assert out.count("RCPT TO:") == 3, out
    assert server.raw(mid) == expected
    assert server.total() == before + 1


@needs_swaks
def test_swaks_pipeline(server, tmp_path):
    mid, expected, out = _run_swaks(tmp_path, server.smtp_port, token(), "--pipeline")
    assert "PIPELINING" in out
    assert server.raw(mid) == expected


@needs_swaks
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_swaks_auth(server, inbox, tmp_path, mechanism):
    mid, expected, _ = _run_swaks(tmp_path, server.smtp_port, token(), "--auth", mechanism,
                                  "--auth-user", inbox["smtp_username"], "--auth-password", inbox["smtp_password"])
    assert server.raw(mid, inbox["slug"]) == expected
    assert server.raw_status(mid) == 404


@needs_swaks
def test_swaks_auth_wrong_password(server, inbox, tmp_path):
    _, _, out = _run_swaks(tmp_path, server.smtp_port, token(), "--auth", "PLAIN", "--auth-user",
                           inbox["smtp_username"], "--auth-password", "wrong", expect_ok=False)
    assert re.search(r"535[ -]5\.7\.8", out), out
    assert not _queued_ids(out)


@needs_swaks
@needs_swaks_tls
def test_swaks_starttls_with_auth(server, inbox, tmp_path):
    mid, expected, out = _run_swaks(tmp_path, server.smtp_port, token(), "--tls", "--auth", "LOGIN",
                                    "--auth-user", inbox["smtp_username"], "--auth-password",
                                    inbox["smtp_password"], "--pipeline")
    assert "STARTTLS" in out
    assert server.raw(mid, inbox["slug"]) == expected


@needs_swaks
@needs_swaks_tls
def test_swaks_tls_on_connect(server, tmp_path):
    mid, expected, _ = _run_swaks(tmp_path, server.smtps_port, token(), "--tls-on-connect")
    assert server.raw(mid) == expected


@needs_swaks
# ---- curl -------------------------------------------------------------------------------------------

def _curl_message(tok):
    """curl uploads the file as is (no line-ending conversion without --crlf), dot-stuffs it and ends
    with CRLF . CRLF (adding a CRLF first when the file does not end with one). A file that already
    ends with CRLF is therefore stored byte for byte."""
    return (f"From: Curl Sender <curl@example.com>\r\n"
            f"To: Rcpt <rcpt@example.org>\r\n"
            f"Subject: curl {tok}\r\n"
            f"Message-ID: <{tok}@mailjar.test>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n"
            f"\r\n"
            f"Hello from curl {tok}. Ünïcödé.\r\n"
            f".leading dot\r\n"
            f"..\r\n"
            f".\r\n"
            f"end\r\n").encode()


def _run_curl(tmp_path, url, tok, *extra, rcpts=("rcpt@example.org",), message=None, expect_ok=True):
    data = tmp_path / f"{tok}.eml"
    body = message if message is not None else _curl_message(tok)
    data.write_bytes(body)
    cmd = [CURL, "-sS", "-v", "--max-time", "15", url, "--mail-from", "curl@example.com"]
    for r in rcpts:
        cmd += ["--mail-rcpt", r]
    cmd += ["--upload-file", str(data), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    out = r.stdout + r.stderr
    if not expect_ok:
        return r.returncode, out
    assert r.returncode == 0, f"curl failed ({r.returncode}):\n{out}"
    ids = _queued_ids(out)
    assert len(ids) == 1, f"no single 'queued as' in curl -v output:\n{out}"
    return ids[0], body


@needs_curl
def test_curl_plain_multiple_recipients(server, tmp_path):
    before = server.total()
    mid, sent = _run_curl(tmp_path, f"smtp://{HOST}:{server.smtp_port}/client.test", token(),
                          rcpts=("a@example.org", "b@example.org"))
    assert server.raw(mid) == sent
    assert server.total() == before + 1


@needs_curl
def test_curl_file_without_final_newline(server, tmp_path):
    tok = token()
    body = _curl_message(tok) + b"no newline at the end"
    mid, _ = _run_curl(tmp_path, f"smtp://{HOST}:{server.smtp_port}/client.test", tok, message=body)
    assert server.raw(mid) == body + b"\r\n"


@needs_curl
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_curl_auth(server, inbox, tmp_path, mechanism):
    mid, sent = _run_curl(tmp_path, f"smtp://{HOST}:{server.smtp_port}/client.test", token(),
                          "--user", f"{inbox['smtp_username']}:{inbox['smtp_password']}",
                          "--login-options", f"AUTH={mechanism}")
    assert server.raw(mid, inbox["slug"]) == sent
    assert server.raw_status(mid) == 404


@needs_curl
def test_curl_auth_wrong_password(server, inbox, tmp_path):
    rc, out = _run_curl(tmp_path, f"smtp://{HOST}:{server.smtp_port}/client.test", token(),
                        "--user", f"{inbox['smtp_username']}:wrong", "--login-options", "AUTH=PLAIN",
                        expect_ok=False)
    assert rc != 0
    assert re.search(r"535[ -]5\.7\.8", out), out
    assert not _queued_ids(out)


@needs_curl
def test_curl_starttls_with_auth(server, inbox, tmp_path):
    mid, sent = _run_curl(tmp_path, f"smtp://{HOST}:{server.smtp_port}/client.test", token(),
                          "--ssl-reqd", "--insecure", "--user",
                          f"{inbox['smtp_username']}:{inbox['smtp_password']}")
    assert server.raw(mid, inbox["slug"]) == sent


@needs_curl
def test_curl_smtps(server, tmp_path):
    mid, sent = _run_curl(tmp_path, f"smtps://{HOST}:{server.smtps_port}/client.test", token(), "--insecure")
    assert server.raw(mid) == sent
