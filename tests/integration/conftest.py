"""Fixtures of the integration suite: a real `mailjar serve` process per module (shared) or per test
(custom options), on free loopback ports and a temporary data directory.

MAILJAR_BIN selects the binary (default: /work/main/build/server/mailjar). The server's log is captured
to a file and its tail is attached to the report of every failing test that had a server running.
"""

import http.client
import json
import os
import signal
import subprocess
import time

import pytest

from helpers import HOST, RecordingSMTP, RecordingSMTP_SSL, SmtpSocket, free_port, make_message, \
    require_binary, run_cli, smtplib_send, smtplib_wire_bytes, token, unverified_tls_context

READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
TEST_TIMEOUT_S = 60.0  # per test, setup and teardown included (override: @pytest.mark.timeout_s(N))

_live_servers = []


class MailjarServer:
    """One `mailjar serve` process. Ports are chosen once and kept across restarts, so a restarted
    server is reachable at the same addresses with the same data directory."""

    def __init__(self, data_dir, args=(), env=None, tls=False, smtps=False, config_via_env=False):
        self.binary = require_binary()
        self.config_via_env = config_via_env
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.env = dict(env or {})
        self.tls = tls or smtps
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.smtps_port = free_port() if smtps else None
        self.log_path = self.data_dir.rstrip("/") + ".log"
        self.proc = None
        self.starts = 0

    # ---- lifecycle ----
    def base_config(self):
        """Addresses and data directory as (flag, value) pairs; value None for a switch."""
        cfg = [("--smtp", f"{HOST}:{self.smtp_port}"), ("--http", f"{HOST}:{self.http_port}"),
               ("--data-dir", self.data_dir)]
        if self.smtps_port:
            cfg.append(("--smtps", f"{HOST}:{self.smtps_port}"))
        if self.tls:
            cfg.append(("--tls-self-signed", None))
        return cfg

    def command(self):
        cmd = [self.binary, "serve"]
        if not self.config_via_env:
            for flag, value in self.base_config():
                cmd += [flag] if value is None else [flag, value]
        return cmd + self.args

    def process_env(self):
        env = dict(os.environ)
        if self.config_via_env:
            for flag, value in self.base_config():
                env["MAILJAR_" + flag[2:].upper().replace("-", "_")] = "true" if value is None else value
        env.update(self.env)
        return env

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        os.makedirs(self.data_dir, exist_ok=True)
        env = self.process_env()
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
        if self not in _live_servers:
            _live_servers.append(self)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        """Polls GET /readyz until 200; fails with the log if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mailjar exited with {self.proc.returncode} before becoming ready\n"
                            f"{self.log_tail()}", pytrace=False)
            try:
                status, _, _ = self.http_request("GET", "/readyz", timeout=1.0)
                if status == 200:
                    return
                last = f"status {status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        pytest.fail(f"mailjar not ready within {timeout}s (last: {last})\n{self.log_tail()}", pytrace=False)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM and wait; returns the exit code (kills with SIGKILL and fails if it hangs)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"mailjar did not exit within {timeout}s of SIGTERM")

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        try:
            if self.alive():
                try:
                    self.stop()
                except AssertionError:
                    pass
        finally:
            if self in _live_servers:
                _live_servers.remove(self)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=120):
        text = self.log_text().splitlines()
        return "----- mailjar log tail (%s) -----\n%s" % (self.log_path, "\n".join(text[-lines:]))

    # ---- SMTP clients ----
    def smtp(self, timeout=10, ehlo=True):
        """A connected smtplib.SMTP client (EHLO already sent unless ehlo=False) that records what its
        data() sent and received (helpers.RecordingSMTP)."""
        c = RecordingSMTP(HOST, self.smtp_port, local_hostname="client.test", timeout=timeout)
        if ehlo:
            c.ehlo()
        return c

    def smtps(self, timeout=10):
        assert self.smtps_port, "server started without --smtps"
        c = RecordingSMTP_SSL(HOST, self.smtps_port, local_hostname="client.test", timeout=timeout,
                             context=unverified_tls_context())
        c.ehlo()
        return c

    def raw_socket(self, timeout=10, read_banner=True, port=None):
        return SmtpSocket(port or self.smtp_port, timeout=timeout, read_banner=read_banner)

    # ---- HTTP ----
    def http_request(self, method, path, timeout=10.0, body=None, headers=None):
        conn = http.client.HTTPConnection(HOST, self.http_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    @staticmethod
    def _prefixed(path, inbox):
        return f"/inboxes/{inbox}{path}" if inbox else path

    def api_get(self, path, inbox=None):
        """GET a JSON API path (under /inboxes/{inbox} when given); asserts 200 and returns the JSON."""
        status, headers, body = self.http_request("GET", self._prefixed(path, inbox))
        assert status == 200, f"GET {self._prefixed(path, inbox)} -> {status}: {body[:500]!r}"
        return json.loads(body)

    def messages(self, inbox=None, start=0, limit=50):
        return self.api_get(f"/api/v1/messages?start={start}&limit={limit}", inbox)

    def all_messages(self, inbox=None, page=100, max_pages=200):
        """Every message summary of an inbox, newest first, following start/limit paging."""
        out, start = [], 0
        for _ in range(max_pages):
            page_json = self.messages(inbox, start, page)
            batch = page_json["messages"]
            out.extend(batch)
            start += len(batch)
            if not batch or start >= page_json["total"]:
                return out
        raise AssertionError("listing did not end within the page budget")

    def total(self, inbox=None):
        return self.messages(inbox, 0, 1)["total"]

    def raw(self, message_id, inbox=None):
        """The stored raw bytes of a message; asserts 200."""
        path = self._prefixed(f"/api/v1/message/{message_id}/raw", inbox)
        status, _, body = self.http_request("GET", path)
        assert status == 200, f"GET {path} -> {status}: {body[:300]!r}"
        return body

    def raw_status(self, message_id, inbox=None):
        return self.http_request("GET", self._prefixed(f"/api/v1/message/{message_id}/raw", inbox))[0]

    # ---- CLI on this server's data directory ----
    def cli(self, *args, env=None):
        return run_cli(*args, "--data-dir", self.data_dir, env=env)

    def create_inbox(self, project, name, create_project=True):
        """Creates (project and) inbox with the CLI; returns the --json object."""
        if create_project:
            r = self.cli("project", "create", project)
            assert r.returncode == 0 or "exist" in (r.stderr + r.stdout).lower(), r
        r = self.cli("inbox", "create", "--project", project, name, "--json")
        assert r.returncode == 0, f"inbox create failed ({r.returncode}): {r.stderr}"
        return json.loads(r.stdout)

    def list_inboxes(self):
        r = self.cli("inbox", "list", "--json")
        assert r.returncode == 0, f"inbox list failed ({r.returncode}): {r.stderr}"
        return json.loads(r.stdout)

    # ---- the health check every abuse test ends with ----
    def assert_accepts_mail(self, inbox_creds=None):
        """A normal smtplib transaction succeeds and the raw bytes come back identical."""
        assert self.alive(), f"mailjar died (exit {self.proc.returncode})\n{self.log_tail()}"
        tok = token()
        msg = make_message(tok)
        with self.smtp() as c:
            mid = smtplib_send(c, "health@example.com", ["check@example.org"], msg)
        assert self.raw(mid) == smtplib_wire_bytes(msg)
        return mid


# ---- fixtures ----

@pytest.fixture(scope="session")
def mailjar_bin():
    return require_binary()


@pytest.fixture(scope="module")
def _shared_server(tmp_path_factory):
    srv = MailjarServer(tmp_path_factory.mktemp("shared") / "data", tls=True, smtps=True)
    srv.start()
    yield srv
    srv.cleanup()


@pytest.fixture
def server(_shared_server):
    """The module's shared server (STARTTLS + SMTPS with a self-signed certificate, default options).
    Tests on it must find their messages by ID or token, not by absolute counts. If a previous test
    crashed it, it is restarted (that test already failed); a crash during this test fails it."""
    if not _shared_server.alive():
        _shared_server.start()
    yield _shared_server
    assert _shared_server.alive(), \
        f"mailjar died during the test (exit {_shared_server.proc.returncode})\n{_shared_server.log_tail()}"


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(*flags, env=None, tls=False, smtps=False, start=True, config_via_env=False)
    -> a fresh server on its own data directory, stopped at the end of the test. config_via_env passes
    addresses and data directory as MAILJAR_* variables instead of flags."""
    made = []

    def factory(*args, env=None, tls=False, smtps=False, start=True, config_via_env=False):
        srv = MailjarServer(tmp_path / f"data{len(made)}", args=args, env=env, tls=tls, smtps=smtps,
                            config_via_env=config_via_env)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    for srv in made:
        srv.cleanup()


# ---- per-test time limit and server logs on failure ----

class TimeLimitExceeded(Exception):
    pass


def _on_alarm(signum, frame):
    raise TimeLimitExceeded("test exceeded its time limit")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    marker = item.get_closest_marker("timeout_s")
    limit = marker.args[0] if marker else TEST_TIMEOUT_S
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in list(_live_servers):
            report.sections.append((f"mailjar log {os.path.basename(srv.data_dir)}", srv.log_tail()))

