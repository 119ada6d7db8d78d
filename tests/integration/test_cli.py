"""The command line: help and version texts, option validation (flags and MAILJAR_* variables),
configuration through the environment, and project/inbox administration while the server runs."""

import json
import os
import re
import socket
import subprocess

import pytest

from helpers import HOST, free_port, make_message, require_binary, run_cli, smtplib_send, smtplib_wire_bytes, token

SERVE_FLAGS = ["--smtp", "--http", "--data-dir", "--smtps", "--tls-self-signed", "--smtp-auth",
               "--smtp-auth-cleartext", "--max-message-size", "--max-recipients", "--max-command-line",
               "--max-text-line", "--max-errors", "--max-connections", "--command-timeout", "--data-timeout",
               "--bare-newline", "--hostname"]
INBOX_KEYS = {"slug", "name", "project", "smtp_username", "smtp_password"}


def _env_name(flag):
    return "MAILJAR_" + flag[2:].upper().replace("-", "_")


def _mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def _serve_until_exit(args, env=None, timeout=10):
    """Runs `mailjar serve ARGS`, expecting it to refuse to start; kills it and fails if it serves."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen([require_binary(), "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=full_env, stdin=subprocess.DEVNULL)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"mailjar serve {args} started instead of rejecting its configuration:\n{out}{err}")
    return p.returncode, out, err


def _base_args(tmp_path):
    return ["--smtp", f"{HOST}:{free_port()}", "--http", f"{HOST}:{free_port()}", "--data-dir",
            str(tmp_path / "data")]


# ---- help and version ----------------------------------------------------------------------------------

def test_top_level_help(mailjar_bin):
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    for word in ("serve", "project", "inbox"):
        assert _mentions(r.stdout, word), f"'mailjar --help' does not mention {word}:\n{r.stdout}"


def test_serve_help_mentions_every_flag_and_variable(mailjar_bin):
    r = run_cli("serve", "--help")
    assert r.returncode == 0, r.stderr
    missing = [f for f in SERVE_FLAGS if not _mentions(r.stdout, f)]
    assert not missing, f"serve --help lacks flags {missing}:\n{r.stdout}"
    missing_env = [_env_name(f) for f in SERVE_FLAGS if not _mentions(r.stdout, _env_name(f))]
    assert not missing_env, f"serve --help lacks variables {missing_env}:\n{r.stdout}"


def test_version(mailjar_bin):
    r = run_cli("--version")
    assert r.returncode == 0, r.stderr
    assert re.search(r"\b\d+\.\d+\.\d+\b", r.stdout), r.stdout


# ---- validation ----------------------------------------------------------------------------------------

INVALID_FLAGS = [
    (["--max-recipients", "abc"], "--max-recipients"),
    (["--max-recipients", "-5"], "--max-recipients"),
    (["--max-message-size", "12abc"], "--max-message-size"),
    (["--max-message-size", "-1"], "--max-message-size"),
    (["--max-command-line", "lots"], "--max-command-line"),
    (["--max-text-line", "1.5"], "--max-text-line"),
    (["--max-errors", "x"], "--max-errors"),
    (["--max-connections", "many"], "--max-connections"),
    (["--command-timeout", "soon"], "--command-timeout"),
    (["--data-timeout", "-3"], "--data-timeout"),
    (["--smtp-auth", "sometimes"], "--smtp-auth"),
    (["--smtp-auth-cleartext", "maybe"], "--smtp-auth-cleartext"),
    (["--bare-newline", "fix"], "--bare-newline"),
    (["--smtp", "127.0.0.1:99999"], "--smtp"),
    (["--http", "127.0.0.1:notaport"], "--http"),
    (["--smtps", "nocolon"], "--smtps"),
    (["--no-such-flag"], "--no-such-flag"),
    (["--max-recipients"], "--max-recipients"),
]


@pytest.mark.parametrize("bad,flag", INVALID_FLAGS, ids=[" ".join(b) for b, _ in INVALID_FLAGS])
def test_invalid_flag_values_are_rejected(tmp_path, mailjar_bin, bad, flag):
    rc, out, err = _serve_until_exit(_base_args(tmp_path) + bad)
    assert rc != 0, f"exit code 0 for {bad}"
    assert flag in err, f"stderr does not name {flag}: {err!r}"


@pytest.mark.parametrize("var,value", [("MAILJAR_MAX_RECIPIENTS", "abc"), ("MAILJAR_SMTP_AUTH", "bogus"),
                                       ("MAILJAR_COMMAND_TIMEOUT", "-1"), ("MAILJAR_BARE_NEWLINE", "strip")])
def test_invalid_environment_values_are_rejected(tmp_path, mailjar_bin, var, value):
    rc, out, err = _serve_until_exit(_base_args(tmp_path), env={var: value})
    assert rc != 0, f"exit code 0 for {var}={value}"
    assert var in err, f"stderr does not name {var}: {err!r}"


def test_port_in_use_fails_to_start(tmp_path, mailjar_bin):
    blocker = socket.socket()
    blocker.bind((HOST, 0))
    blocker.listen(1)
    try:
        port = blocker.getsockname()[1]
        args = ["--smtp", f"{HOST}:{port}", "--http", f"{HOST}:{free_port()}", "--data-dir", str(tmp_path / "d")]
        rc, out, err = _serve_until_exit(args)
        assert rc != 0
        assert str(port) in out + err, f"the error does not say which address failed: {out}{err}"
    finally:
        blocker.close()


# ---- configuration through the environment -------------------------------------------------------------

def test_env_var_max_recipients_enforced_and_flag_wins(make_server):
    srv = make_server(env={"MAILJAR_MAX_RECIPIENTS": "2"})
    with srv.smtp() as c:
        assert c.mail("env@example.com")[0] == 250
        assert c.rcpt("one@example.org")[0] == 250
        assert c.rcpt("two@example.org")[0] == 250
        code, resp = c.rcpt("three@example.org")
        assert code == 452 and resp.startswith(b"4.5.3"), (code, resp)
        msg = make_message(token())
        code, resp = c.data(msg)
        assert code == 250, (code, resp)
    srv2 = make_server("--max-recipients", "3", env={"MAILJAR_MAX_RECIPIENTS": "2"})
    with srv2.smtp() as c:
        assert c.mail("env@example.com")[0] == 250
        for i in range(3):
            assert c.rcpt(f"r{i}@example.org")[0] == 250, "the flag did not override the variable"
        assert c.rcpt("r3@example.org")[0] == 452


def test_log_level_controls_the_info_lines(make_server):
    quiet = make_server("--log-level", "error")
    quiet.assert_accepts_mail()
    assert quiet.stop() == 0
    assert "SMTP on" not in quiet.log_text() and "shutting down" not in quiet.log_text(), quiet.log_tail()
    chatty = make_server("--log-level", "info")
    chatty.assert_accepts_mail()
    assert chatty.stop() == 0
    assert "SMTP on 127.0.0.1:%d" % chatty.smtp_port in chatty.log_text(), chatty.log_tail()
    assert "shutting down" in chatty.log_text(), chatty.log_tail()


def test_whole_configuration_from_environment(make_server):
    srv = make_server(config_via_env=True, env={"MAILJAR_SMTP_AUTH": "required",
                                                "MAILJAR_HOSTNAME": "env.mailjar.test",
                                                "MAILJAR_MAX_MESSAGE_SIZE": "5000"})
    assert srv.command()[1:] == ["serve"]
    with srv.smtp() as c:
        assert "env.mailjar.test" in c.ehlo_resp.decode()
        assert c.esmtp_features["size"].strip() == "5000"
        code, resp = c.mail("x@example.com")
        assert code == 530, (code, resp)
        default = next(i for i in srv.list_inboxes() if i["slug"] == "default")
        assert c.login(default["smtp_username"], default["smtp_password"])[0] == 235
        msg = make_message(token())
        mid = smtplib_send(c, "x@example.com", ["y@example.org"], msg)
    assert srv.raw(mid) == smtplib_wire_bytes(msg)
    assert os.path.isdir(srv.data_dir) and os.listdir(srv.data_dir)


# ---- administration ------------------------------------------------------------------------------------

def _parse_key_values(text):
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def test_fresh_data_dir_has_default_inbox(tmp_path, mailjar_bin):
    r = run_cli("inbox", "list", "--data-dir", str(tmp_path / "fresh"), "--json")
    assert r.returncode == 0, r.stderr
    inboxes = json.loads(r.stdout)
    assert isinstance(inboxes, list)
    default = [i for i in inboxes if i["slug"] == "default"]
    assert len(default) == 1 and INBOX_KEYS <= set(default[0])
    assert default[0]["project"] == "default" and default[0]["name"] == "default"


def test_admin_errors(tmp_path, mailjar_bin):
    d = str(tmp_path / "admin")
    r = run_cli("inbox", "create", "--project", "no-such-project", "x", "--data-dir", d)
    assert r.returncode != 0 and "no-such-project" in r.stderr, r
    r = run_cli("project", "create", "twice", "--data-dir", d)
    assert r.returncode == 0, r.stderr
    r = run_cli("project", "create", "twice", "--data-dir", d)
    assert r.returncode != 0 and "twice" in r.stderr, r
    r = run_cli("inbox", "frobnicate", "--data-dir", d)
    assert r.returncode != 0 and r.stderr, r


def test_project_and_inbox_admin_while_server_runs(make_server):
    srv = make_server()
    r = srv.cli("project", "create", "acme")
    assert r.returncode == 0, r.stderr
    r = srv.cli("inbox", "create", "--project", "acme", "Staging Box", "--json")
    assert r.returncode == 0, r.stderr
    staging = json.loads(r.stdout)
    assert INBOX_KEYS <= set(staging), staging
    assert staging["project"] == "acme" and staging["name"] == "Staging Box"
    assert re.fullmatch(r"[a-z0-9-]+", staging["slug"]), staging["slug"]
    assert staging["smtp_username"] and staging["smtp_password"]

    r = srv.cli("inbox", "create", "--project", "acme", "QA")
    assert r.returncode == 0, r.stderr
    qa = _parse_key_values(r.stdout)
    assert INBOX_KEYS <= set(qa), r.stdout
    assert qa["project"] == "acme" and qa["name"] == "QA"
    assert qa["slug"] != staging["slug"] and qa["smtp_username"] != staging["smtp_username"]

    listed = srv.list_inboxes()
    by_slug = {i["slug"]: i for i in listed}
    assert {"default", staging["slug"], qa["slug"]} <= set(by_slug)
    assert {k: by_slug[staging["slug"]][k] for k in INBOX_KEYS} == {k: staging[k] for k in INBOX_KEYS}
    assert {k: by_slug[qa["slug"]][k] for k in INBOX_KEYS} == {k: qa[k] for k in INBOX_KEYS}
    r = srv.cli("inbox", "list")
    assert r.returncode == 0, r.stderr
    for slug in ("default", staging["slug"], qa["slug"]):
        assert slug in r.stdout

    # The running server sees the new inboxes at once: credentials work and the API serves them.
    for box in (staging, qa):
        with srv.smtp() as c:
            assert c.login(box["smtp_username"], box["smtp_password"])[0] == 235
            msg = make_message(token())
            mid = smtplib_send(c, "admin@example.com", ["admin@example.org"], msg)
        assert srv.raw(mid, box["slug"]) == smtplib_wire_bytes(msg)
        assert [m["ID"] for m in srv.messages(box["slug"])["messages"]] == [mid]
    assert srv.total() == 0
