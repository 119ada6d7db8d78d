"""GET /view/{ID}.html over a real socket, for mail sent over real SMTP: cid: references point at the
message's part URLs (also under /inboxes/{slug}), the sandbox CSP allows no scripts, and remote images
are allowed only with ?remote=1."""

import json
import re
from email.message import EmailMessage

import pytest

from helpers import smtplib_send, token

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _message(tok, html, inline=True):
    m = EmailMessage()
    m["From"] = "Carol <carol@example.com>"
    m["To"] = "dave@example.org"
    m["Subject"] = f"view {tok}"
    m["Message-ID"] = f"<{tok}@mailjar.test>"
    m.set_content(f"text of {tok}\n")
    m.add_alternative(html, subtype="html")
    if inline:
        m.get_payload()[1].add_related(PNG, "image", "png", cid="<Logo.1@mailjar.test>")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _send(server, raw, login=None):
    with server.smtp() as client:
        if login:
            client.login(*login)
        return smtplib_send(client, "carol@example.com", ["dave@example.org"], raw)


def _header(headers, name):
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def _img_src(csp):
    directive = next((d.strip() for d in csp.split(";") if d.strip().startswith("img-src ")), "")
    return set(directive.split()[1:])


def _inline_part_id(server, mid, prefix=""):
    status, _, body = server.http_request("GET", f"{prefix}/api/v1/message/{mid}")
    assert status == 200
    parts = json.loads(body)["Inline"]
    assert len(parts) == 1 and parts[0]["ContentID"] == "Logo.1@mailjar.test"
    return parts[0]["PartID"]


HTML = ('<html><body><p>hello</p><img src="cid:Logo.1@mailjar.test">'
        "<div style=\"background:url('cid:logo.1%40mailjar.test')\">x</div>"
        '<img src="cid:unknown@x"><p>an acid:test stays</p>'
        '<img src="https://tracker.example/pixel.gif"></body></html>')


def test_view_rewrites_cid_urls_to_part_urls(make_server):
    server = make_server()
    tok = token()
    mid = _send(server, _message(tok, HTML))
    part_id = _inline_part_id(server, mid)
    status, headers, body = server.http_request("GET", f"/view/{mid}.html")
    assert status == 200
    html = body.decode()
    url = f"/api/v1/message/{mid}/part/{part_id}"
    # Exact and case-folded, percent-encoded Content-IDs both resolve; an unknown one and text stay.
    assert f'<img src="{url}">' in html
    assert f"url('{url}')" in html
    assert 'src="cid:unknown@x"' in html
    assert "an acid:test stays" in html
    assert "cid:Logo" not in html and "cid:logo" not in html
    # The rewritten URL serves the inline image itself.
    status, _, image = server.http_request("GET", url)
    assert status == 200 and image == PNG


def test_view_part_urls_keep_the_inbox_prefix(make_server):
    server = make_server()
    box = server.create_inbox("webview", "staging")
    tok = token()
    mid = _send(server, _message(tok, HTML), login=(box["smtp_username"], box["smtp_password"]))
    prefix = f"/inboxes/{box['slug']}"
    part_id = _inline_part_id(server, mid, prefix)
    status, _, body = server.http_request("GET", f"{prefix}/view/{mid}.html")
    assert status == 200
    url = f"{prefix}/api/v1/message/{mid}/part/{part_id}"
    assert f'<img src="{url}">' in body.decode()
    status, _, image = server.http_request("GET", url)
    assert status == 200 and image == PNG


@pytest.mark.parametrize("query, remote_allowed", [
    ("", False), ("?remote=0", False), ("?remote=yes", False), ("?remote=1", True),
])
def test_view_csp_blocks_scripts_and_remote_images_unless_asked(make_server, query, remote_allowed):
    server = make_server()
    tok = token()
    mid = _send(server, _message(tok, HTML, inline=False))
    status, headers, body = server.http_request("GET", f"/view/{mid}.html{query}")
    assert status == 200
    assert _header(headers, "Content-Type") == "text/html; charset=utf-8"
    assert _header(headers, "X-Content-Type-Options") == "nosniff"
    assert _header(headers, "Referrer-Policy") == "no-referrer"
    csp = _header(headers, "Content-Security-Policy")
    directives = [d.strip() for d in csp.split(";")]
    sandbox = directives[0].split()
    # A sandbox that never grants scripts, same-origin, forms or top navigation.
    assert sandbox[0] == "sandbox"
    assert set(sandbox[1:]) <= {"allow-popups", "allow-popups-to-escape-sandbox"}
    assert "default-src 'none'" in directives
    assert not re.search(r"script-src|unsafe-eval", csp)
    expected = {"'self'", "data:"} | ({"https:", "http:"} if remote_allowed else set())
    assert _img_src(csp) == expected
    # The body is the message's HTML (remote URLs are left for the browser to block or load).
    assert b"https://tracker.example/pixel.gif" in body


def test_view_text_and_unknown(make_server):
    server = make_server()
    tok = token()
    mid = _send(server, _message(tok, HTML))
    status, _, body = server.http_request("GET", f"/view/{mid}.txt")
    assert status == 200 and body.strip() == f"text of {tok}".encode()
    status, _, _ = server.http_request("GET", "/view/01ARZ3NDEKTSV4RRFFQ69G5FAV.html")
    assert status == 404
