#!/usr/bin/env python3
"""What hostile or careless clients cost mailjar (the adversarial review's four resource findings), measured
against one or more builds in the same run so that they can be compared (A/B). Prints one table.

  json-250      SMTP 250 latency of a 100 KB message sent while 4 clients PUT a body of '[' to
                /api/v1/tags/foo (32 MiB each; an old build parses it for ~13 s on the workers that also
                parse large mail). Median of REPS messages, each sent during the flood.
  json-reply    what the hostile requests got back (status codes) and the server CPU they cost
  mailhog-rss   RSS added by one GET /api/v2/messages with 8 stored messages of 24 MB (and the reply size)
  parts-cpu     server CPU of GET /api/v1/message/{ID} for a 10 MB message of 100,000 parts: first view,
                then the median of 5 more views of the same message
  data-hwm      peak RSS added while 40 sessions each hold 24 MB of unterminated DATA
  idle-rss      RSS added 5 s after those sessions closed (memory given back or kept)

Usage: bench/hostile_api.py [--reps 3] BINARY [BINARY ...]
"""

import argparse
import http.client
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, *args):
        self.dir = tempfile.mkdtemp(prefix="mailjar-hostile-")
        self.smtp, self.http = free_port(), free_port()
        self.proc = subprocess.Popen([binary, "serve", "--smtp", f"{HOST}:{self.smtp}", "--http",
                                      f"{HOST}:{self.http}", "--data-dir", self.dir + "/data", "--log-level",
                                      "error", *args])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def request(self, method, path, body=None, headers=None, timeout=120):
        conn = http.client.HTTPConnection(HOST, self.http, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def send(self, data):
        with smtplib.SMTP(HOST, self.smtp, timeout=120) as c:
            c.sendmail("a@example.com", ["b@example.org"], data)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def message(body):
    return (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n" + body)


def lines(n_bytes):
    line = b"y" * 998 + b"\r\n"
    return line * (n_bytes // len(line))


def json_flood(binary, reps):
    srv = Server(binary)
    try:
        body = b"[" * (32 << 20)
        statuses, latencies = [], []
        cpu0 = srv.cpu()
        for _ in range(reps):
            stop = threading.Event()

            def hostile():
                while not stop.is_set():
                    try:
                        statuses.append(srv.request("PUT", "/api/v1/tags/foo", body=body,
                                                    headers={"Content-Type": "application/json"})[0])
                    except OSError as e:  # a 413 before the body is read resets the sender
                        statuses.append(type(e).__name__)
            threads = [threading.Thread(target=hostile) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.0)  # the flood is under way (this is a benchmark: the pause is the scenario)
            t0 = time.perf_counter()
            srv.send(message(lines(100_000)))
            latencies.append(time.perf_counter() - t0)
            stop.set()
            for t in threads:
                t.join(120)
        cpu = srv.cpu() - cpu0
        summary = {s: statuses.count(s) for s in set(statuses)}
        return statistics.median(latencies), summary, cpu, len(statuses)
    finally:
        srv.stop()


def mailhog(binary):
    srv = Server(binary, "--max-message-size", "30M")
    try:
        for _ in range(8):
            srv.send(message(lines(24_000_000)))
        base = srv.status("VmRSS")
        status, reply = srv.request("GET", "/api/v2/messages")
        return srv.status("VmHWM") - base, len(reply), status
    finally:
        srv.stop()


def many_parts():
    out = [b"From: a@example.com", b"To: b@example.org", b"Subject: many parts", b"MIME-Version: 1.0",
           b'Content-Type: multipart/mixed; boundary="B"', b""]
    for i in range(100_000):
        out += [b"--B", b'Content-Type: text/plain; name="f%d.txt"' % i, b"Content-Disposition: attachment", b"",
                b"part %d" % i]
    out += [b"--B--", b""]
    return b"\r\n".join(out)


def parts(binary, data):
    srv = Server(binary, "--max-message-size", "20M")
    try:
        srv.send(data)
        status, body = srv.request("GET", "/api/v1/messages?limit=1")
        mid = body.split(b'"ID":"', 1)[1].split(b'"', 1)[0].decode()
        costs = []
        for _ in range(6):
            c0 = srv.cpu()
            srv.request("GET", f"/api/v1/message/{mid}")
            costs.append(srv.cpu() - c0)
        return costs[0], statistics.median(costs[1:])
    finally:
        srv.stop()


def unfinished_data(binary):
    srv = Server(binary)
    try:
        base = srv.status("VmRSS")
        chunk = lines(1_000_000)
        socks = []
        for _ in range(40):
            s = socket.create_connection((HOST, srv.smtp), timeout=60)
            f = s.makefile("rb")
            f.readline()
            for cmd in (b"EHLO bench", b"MAIL FROM:<a@example.com>", b"RCPT TO:<b@example.org>", b"DATA"):
                s.sendall(cmd + b"\r\n")
                while True:
                    line = f.readline()
                    if line[3:4] != b"-":
                        break
            if line.startswith(b"354"):
                for _ in range(24):
                    s.sendall(chunk)
            socks.append((s, f))
        for s, f in socks:  # a NOOP-free sync: the end of data makes the server read everything
            s.sendall(b"\r\n.\r\n")
        for s, f in socks:
            f.readline()
        hwm = srv.status("VmHWM") - base
        for s, f in socks:
            s.close()
        time.sleep(5)  # the idle period being measured
        return hwm, srv.status("VmRSS") - base
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    data = many_parts()
    rows = []
    for b in args.binaries:
        print(f"# {b}", file=sys.stderr)
        lat, summary, cpu, n = json_flood(b, args.reps)
        hog_rss, hog_reply, hog_status = mailhog(b)
        first, again = parts(b, data)
        hwm, idle = unfinished_data(b)
        rows.append((b, lat, summary, cpu, n, hog_rss, hog_reply, first, again, hwm, idle))
    mib = 1 << 20
    print(f"{'build':<40} {'json-250':>9} {'flood cpu':>9} {'mailhog-rss':>11} {'reply':>8} "
          f"{'parts 1st':>9} {'again':>7} {'data-hwm':>9} {'idle-rss':>9}  hostile replies")
    for b, lat, summary, cpu, n, hog_rss, hog_reply, first, again, hwm, idle in rows:
        print(f"{b[-40:]:<40} {lat:>8.2f}s {cpu:>8.1f}s {hog_rss / mib:>9.0f}MB {hog_reply / mib:>6.0f}MB "
              f"{first:>8.2f}s {again:>6.2f}s {hwm / mib:>7.0f}MB {idle / mib:>7.0f}MB  {summary} of {n}")


if __name__ == "__main__":
    main()
