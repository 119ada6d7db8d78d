"""The real `mailpit-api` npm client (MailpitClient, pinned in npm/package-lock.json) against mailjar.

Fixture messages go in over real SMTP (smtplib, with AUTH for the second inbox); then
npm/mailpit_client.mjs runs the client's calls against one inbox and asserts Mailpit's answers, one
JSON line per check. It runs twice on one server: with the bare base URL (the default inbox) and with
/inboxes/<slug> of a second inbox created with the CLI. Each inbox holds mail while the other is
exercised, so the exact counts the script asserts also prove that an inbox sees only its own mail, and
the Python side checks that deleting everything in one inbox leaves the other untouched.

node and the npm dependencies are installed by scripts/setup.sh (apt nodejs + npm, then `npm ci` in
tests/integration/npm). A missing node skips with a MISSING TOOL reason; missing node_modules fails.
MAILPIT_CLIENT_KEEP_GOING=1 makes the script run every check after a failure (to see all of them)."""

import base64
import email.policy
import json
import os
import shutil
import subprocess
import time
import uuid
from email.message import EmailMessage

import pytest

from helpers import HOST, smtplib_send, smtplib_wire_bytes, token

NODE = shutil.which("node")
NPM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npm")
SCRIPT = os.path.join(NPM_DIR, "mailpit_client.mjs")
CLIENT_PACKAGE = os.path.join(NPM_DIR, "node_modules", "mailpit-api", "package.json")
CLIENT_VERSION = "2.1.0"

RUN_TIMEOUT_S = 45.0         # one whole run of the script (its two wait calls give up after 15 s each)
FLAG_POLL_S = 0.05
AWAIT_SEND_DELAY_S = 0.3     # the client is already polling when the awaited message is sent
MAX_OUTPUT_LINES = 1000      # the script prints one line per check (about 40)
PHRASE = "plover quartz"

# Every check the script makes; a run must report each one as passed.
EXPECTED_CHECKS = [
    "getInfo", "getConfiguration", "listMessages", "listMessages paging", "isolation from other inboxes",
    *[f"searchMessages {n}" for n in ("word", "phrase", "words", "from:", "subject:", "has:attachment",
                                      "negation", "tag:", "is:unread", "is:read")],
    "getMessageSummary", "getMessageSummary latest", "getMessageHeaders", "getMessageSource",
    "getMessageAttachment", "setReadStatus all unread", "setReadStatus by IDs", "setReadStatus by search",
    "setReadStatus all read", "getTags from X-Tags", "setTags", "renameTag", "deleteTag",
    "setTags without Tags clears", "waitForMessage", "waitForMessages count", "sendMessage",
    "deleteMessages by IDs", "deleteMessagesBySearch", "deleteMessages all",
]

pytestmark = pytest.mark.skipif(
    not NODE, reason="MISSING TOOL: node is not installed (scripts/setup.sh installs nodejs and npm); "
                     "CI must install it")


@pytest.fixture(scope="module")
def client_installed():
    """The pinned client is installed; fails (does not skip) when it is not, since setup.sh installs it."""
    if not os.path.isfile(CLIENT_PACKAGE):
        pytest.fail(f"mailpit-api is not installed in {NPM_DIR}: run scripts/setup.sh "
                    f"(or `npm ci` there)", pytrace=False)
    with open(CLIENT_PACKAGE, encoding="utf-8") as f:
        version = json.load(f)["version"]
    assert version == CLIENT_VERSION, f"installed mailpit-api {version}, expected {CLIENT_VERSION}: run npm ci"


# ---- fixture messages --------------------------------------------------------------------------------

def _text_message(headers, body):
    """An ASCII message with CRLF line endings, as bytes."""
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii")


def _attachment_message(tok, payload):
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Alice Sender <alice@example.com>"
    msg["To"] = "Bob Rcpt <bob@example.org>"
    msg["Subject"] = f"Report {tok}"
    msg["Message-ID"] = f"<{tok}.report@mailjar.test>"
    msg["Date"] = "Mon, 01 Jan 2024 10:01:00 +0000"
    msg.set_content("See the attached report.\n")
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="report.bin")
    return msg.as_bytes()


def _send(srv, creds, sender, msg):
    """Delivers one message with smtplib (AUTH when creds are given); returns its queued ID."""
    with srv.smtp() as c:
        if creds:
            code, resp = c.login(creds["username"], creds["password"])
            assert code == 235, (code, resp)
        return smtplib_send(c, sender, ["bob@example.org"], msg)


def send_fixtures(srv, slug, creds):
    """Sends the four fixture messages of one inbox, oldest first, and returns the manifest part that
    describes them (IDs, expected fields, the exact raw source of the ASCII message)."""
    tok = token()
    word = "zebracorn" + uuid.uuid4().hex[:10]
    date = "Mon, 01 Jan 2024 10:00:00 +0000"
    plain_body = f"Hello, this is the plain message {tok}.\r\nIt mentions {PHRASE} and the word {word}.\r\n"
    plain = _text_message([
        "From: Alice Sender <alice@example.com>",
        "To: Bob Rcpt <bob@example.org>",
        "Cc: Dave Copy <dave@example.org>",
        "Reply-To: Replies <replies@example.com>",
        f"Subject: Plain {tok}",
        f"Message-ID: <{tok}.plain@mailjar.test>",
        f"Date: {date}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        f"X-Mailjar-Token: {tok}",
    ], plain_body)
    reversed_phrase = " ".join(reversed(PHRASE.split()))
    invoice = _text_message([
        "From: Carol Biller <carol@example.net>", "To: Bob Rcpt <bob@example.org>",
        f"Subject: Invoice 42 {tok}", f"Message-ID: <{tok}.invoice@mailjar.test>",
        "Date: Mon, 01 Jan 2024 10:00:30 +0000", "Content-Type: text/plain; charset=us-ascii",
    ], f"Your invoice: {reversed_phrase}, as agreed.\r\n")
    payload = bytes(range(256)) * 2
    attached = _attachment_message(tok, payload)
    x_tags = f"alpha-{slug}, beta-{slug}"
    tagged = _text_message([
        "From: Carol Biller <carol@example.net>", "To: Bob Rcpt <bob@example.org>",
        f"Subject: Tagged {tok}", f"Message-ID: <{tok}.tagged@mailjar.test>",
        "Date: Mon, 01 Jan 2024 10:02:00 +0000", "Content-Type: text/plain; charset=us-ascii",
        f"X-Tags: {x_tags}",
    ], "A tagged message.\r\n")

    plain_id = _send(srv, creds, "alice@example.com", plain)
    invoice_id = _send(srv, creds, "carol@example.net", invoice)
    attached_id = _send(srv, creds, "alice@example.com", attached)
    tagged_id = _send(srv, creds, "carol@example.net", tagged)
    return {
        "slug": slug,
        "token": tok,
        "auth": creds,
        "phrase": PHRASE,
        "tags": [f"alpha-{slug}", f"beta-{slug}"],
        "fixtures": {
            "plain": {
                "id": plain_id, "token": tok, "word": word, "subject": f"Plain {tok}",
                "message_id": f"{tok}.plain@mailjar.test", "date": date, "text": plain_body,
                "from": {"Name": "Alice Sender", "Address": "alice@example.com"},
                "to": [{"Name": "Bob Rcpt", "Address": "bob@example.org"}],
                "cc": [{"Name": "Dave Copy", "Address": "dave@example.org"}],
                "reply_to": [{"Name": "Replies", "Address": "replies@example.com"}],
                "raw": smtplib_wire_bytes(plain).decode("ascii"),
                "size": len(smtplib_wire_bytes(plain)),
            },
            "invoice": {"id": invoice_id, "subject": f"Invoice 42 {tok}"},
            "attached": {
                "id": attached_id, "subject": f"Report {tok}", "filename": "report.bin",
                "content_type": "application/octet-stream", "text": "See the attached report.\n",
                "content_b64": base64.b64encode(payload).decode("ascii"),
            },
            "tagged": {"id": tagged_id, "subject": f"Tagged {tok}", "x_tags": x_tags},
        },
        "ids_newest_first": [tagged_id, attached_id, invoice_id, plain_id],
    }


# ---- running the node script -------------------------------------------------------------------------

def run_client(srv, tmp_path, base_url, manifest, creds):
    """Runs mailpit_client.mjs on one inbox. When the script signals (flag file) that it is waiting,
    sends the awaited message over SMTP. Returns the parsed output lines by check name and the ID of
    the awaited message; fails with the script's whole output on any failed check."""
    slug = manifest["slug"]
    flag = tmp_path / f"waiting-{slug}"
    wait_token = token()
    manifest = dict(manifest, wait={"flag": str(flag), "token": wait_token, "subject": f"Waited {wait_token}",
                                    "from": "waiter@example.com"},
                    batch_token=token())
    manifest_path = tmp_path / f"manifest-{slug}.json"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    awaited = _text_message(["From: Waiter <waiter@example.com>", "To: Bob Rcpt <bob@example.org>",
                             f"Subject: Waited {wait_token}", "Content-Type: text/plain; charset=us-ascii"],
                            f"The message waitForMessage waits for, {wait_token}.\r\n")

    cmd = [NODE, SCRIPT, "--base-url", base_url, "--smtp-port", str(srv.smtp_port),
           "--manifest", str(manifest_path)]
    if os.environ.get("MAILPIT_CLIENT_KEEP_GOING") == "1":
        cmd.append("--keep-going")
    proc = subprocess.Popen(cmd, cwd=NPM_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    awaited_id = None
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if flag.exists():
                time.sleep(AWAIT_SEND_DELAY_S)
                awaited_id = _send(srv, creds, "waiter@example.com", awaited)
                break
            time.sleep(FLAG_POLL_S)
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"mailpit_client.mjs did not finish within {RUN_TIMEOUT_S}s\n{out}\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    report = f"node {' '.join(cmd[1:])} -> exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    lines = [_parse_line(line) for line in out.splitlines()[:MAX_OUTPUT_LINES] if line.strip()]
    failed = [line for line in lines if line.get("ok") is False]
    assert proc.returncode == 0 and not failed, f"mailpit-api checks failed on {base_url}:\n{report}"
    checks = {line["check"]: line for line in lines if "check" in line}
    assert [c for c in EXPECTED_CHECKS if not checks.get(c, {}).get("ok")] == [], report
    assert lines[-1] == {"summary": True, "passed": len(EXPECTED_CHECKS), "failed": 0}, report
    assert awaited_id is not None, f"the script never signalled that it waits\n{report}"
    return checks, awaited_id


def _parse_line(line):
    """One output line of the script; a line that is not a JSON object counts as a failed check."""
    try:
        parsed = json.loads(line)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"ok": False, "unparsed": line}


def _ids(messages):
    return [m["ID"] for m in messages]


@pytest.mark.timeout_s(120)
def test_mailpit_api_client_default_and_second_inbox(make_server, tmp_path, client_installed):
    srv = make_server()
    staging = srv.create_inbox("default", "staging", create_project=False)
    slug = staging["slug"]
    assert slug != "default"
    creds = {"username": staging["smtp_username"], "password": staging["smtp_password"]}

    default_fx = send_fixtures(srv, "default", None)
    staging_fx = send_fixtures(srv, slug, creds)
    assert _ids(srv.all_messages()) == default_fx["ids_newest_first"]
    assert _ids(srv.all_messages(slug)) == staging_fx["ids_newest_first"]

    # The default inbox, through the bare base URL; the staging inbox holds its own four meanwhile.
    default_fx["foreign"] = {"id": staging_fx["fixtures"]["plain"]["id"], "token": staging_fx["token"]}
    checks, awaited = run_client(srv, tmp_path, f"http://{HOST}:{srv.http_port}", default_fx, None)
    assert checks["waitForMessage"]["id"] == awaited
    assert srv.total() == 0, "the script's deleteMessages() left mail in the default inbox"
    assert _ids(srv.all_messages(slug)) == staging_fx["ids_newest_first"], \
        "calls on the default inbox changed the staging inbox"

    # The staging inbox, through /inboxes/<slug>; the default inbox holds one message meanwhile.
    sentinel = _text_message(["From: Sentinel <sentinel@example.com>", "To: Bob Rcpt <bob@example.org>",
                              f"Subject: Sentinel {default_fx['token']}"], "Stays in the default inbox.\r\n")
    sentinel_id = _send(srv, None, "sentinel@example.com", sentinel)
    staging_fx["foreign"] = {"id": sentinel_id, "token": default_fx["token"]}
    checks, awaited = run_client(srv, tmp_path, f"http://{HOST}:{srv.http_port}/inboxes/{slug}", staging_fx,
                                 creds)
    assert checks["waitForMessage"]["id"] == awaited
    assert srv.total(slug) == 0, "the script's deleteMessages() left mail in the staging inbox"
    assert _ids(srv.all_messages()) == [sentinel_id], "calls on the staging inbox changed the default inbox"
    assert srv.raw(sentinel_id) == smtplib_wire_bytes(sentinel)
