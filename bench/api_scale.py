#!/usr/bin/env python3
"""API latency at scale (issue 3's targets), against a real mailjar fed over real SMTP.

Fills one inbox with N varied messages (default 100,000: subjects of 5 words from 34 common ones, bodies
of 300 words drawn Zipf-like from a 20,000-word vocabulary plus the common words, 10% with a PDF
attachment, 40 senders; "invoice payment" then matches a few percent of the messages), then measures, each as the median of REPS rounds (each round the median of
REQUESTS requests on a keep-alive connection):
  list       GET /api/v1/messages?limit=50                      (target < 5 ms)
  search2    GET /api/v1/search?query=invoice payment           (target < 20 ms)
  attach     GET /api/v1/search?query=has:attachment from:x     (target < 20 ms)
  wait       SMTP 250 -> the matching /api/v1/wait returns       (p50, target < 5 ms)
  waiters    RSS added by 1,000 idle /api/v1/wait requests       (target < 20 MiB; measured against the
             RSS before the first round's waiters, with the list/search/wait work of that round done)
Prints a table; timing is measured client-side with time.perf_counter (includes HTTP on loopback).

Usage: bench/api_scale.py [--messages N] [--reps 3] [--requests 20] [--keep DIR]
MAILJAR_BIN selects the binary (default ./build/server/mailjar).
"""

import argparse
import base64
import http.client
import json
import os
import random
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from email.message import EmailMessage

HOST = "127.0.0.1"
WORDS = ("account invoice payment welcome password reset order shipping confirm newsletter update security "
         "alert team report weekly monthly receipt subscription trial upgrade delivery tracking customer "
         "support ticket meeting calendar project café été naïve straße").split()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(binary, data):
    """Starts mailjar on free loopback ports with its data in `data`; returns (proc, smtp_port, http_port)
    once its HTTP port accepts connections (or after 10 s)."""
    smtp_port, http_port = free_port(), free_port()
    proc = subprocess.Popen([binary, "serve", "--smtp", f"{HOST}:{smtp_port}", "--http", f"{HOST}:{http_port}",
                             "--data-dir", data, "--log-level", "error"])
    for _ in range(100):
        try:
            socket.create_connection((HOST, http_port)).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, smtp_port, http_port


def stored_total(http_port):
    """How many messages the default inbox holds."""
    conn = http.client.HTTPConnection(HOST, http_port)
    conn.request("GET", "/api/v1/messages?limit=1")
    return json.loads(conn.getresponse().read())["total"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


VOCAB = [f"w{k}" for k in range(20000)]
ZIPF = [1.0 / (k + 1) ** 1.1 for k in range(len(VOCAB))]


BODIES = []  # 2,000 bodies drawn once and reused (drawing 300 weighted words per message is slow)


def make_message(rng, i):
    if not BODIES:
        body_rng = random.Random(7)
        for _ in range(2000):
            words = body_rng.choices(VOCAB, weights=ZIPF, k=290) + [body_rng.choice(WORDS) for _ in range(10)]
            body_rng.shuffle(words)
            BODIES.append("\r\n".join(" ".join(words[k:k + 12]) for k in range(0, len(words), 12)))
    subject = " ".join(rng.choice(WORDS) for _ in range(5)) + f" #{i}"
    head = (f"From: Sender {i % 40} <sender{i % 40}@shop{i % 7}.example>\r\n"
            f"To: user{rng.randrange(5000)}@customer.example\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{i}.{rng.randrange(1 << 30)}@bench.example>\r\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")
    body = BODIES[rng.randrange(len(BODIES))]
    if i % 10:
        return (head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + body + "\r\n").encode()
    pdf = base64.b64encode(b"%PDF-1.4 " + rng.randbytes(512)).decode()
    return (head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body +
            "\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="invoice-{i}.pdf"\r\n\r\n{pdf}\r\n--b1--\r\n').encode()


def fill(port, n, threads=8):
    done = [0]
    lock = threading.Lock()

    def worker(k):
        rng = random.Random(k)
        c = smtplib.SMTP(HOST, port, timeout=60)
        for i in range(k, n, threads):
            c.sendmail("bench@example.com", ["rcpt@example.org"], make_message(rng, i))
            with lock:
                done[0] += 1
        c.quit()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def timed_gets(port, path, requests):
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    times = []
    for _ in range(requests + 2):
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        times.append(time.perf_counter() - t0)
        assert resp.status == 200, (path, resp.status, body[:200])
    conn.close()
    return statistics.median(times[2:]) * 1000  # the first two warm the connection and caches


def wait_latency(http_port, smtp_port, requests):
    lat = []
    c = smtplib.SMTP(HOST, smtp_port, timeout=60)
    for i in range(requests):
        tok = f"waitbench{i}x{random.randrange(1 << 30)}"
        result = {}

        def waiter():
            conn = http.client.HTTPConnection(HOST, http_port, timeout=60)
            conn.request("GET", "/api/v1/wait?timeout=30s&query=" + urllib.parse.quote(f"subject:{tok}"))
            resp = conn.getresponse()
            resp.read()
            result["t"] = time.perf_counter()
            result["status"] = resp.status

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)  # the waiter is registered
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "w@example.com", "r@example.org", f"wait {tok}"
        m.set_content("wait latency")
        c.sendmail("w@example.com", ["r@example.org"], m.as_bytes())
        t250 = time.perf_counter()
        t.join()
        assert result.get("status") == 200, result
        lat.append((result["t"] - t250) * 1000)
    c.quit()
    return statistics.median(lat)


def idle_waiters(http_port, pid, count, baseline_kib):
    """RSS while `count` waits are held, minus the RSS measured before the first round held any (the
    allocator keeps freed memory, so a later round's own before/after difference would read 0)."""
    socks = []
    for i in range(count):
        s = socket.create_connection((HOST, http_port))
        s.sendall(f"GET /api/v1/wait?timeout=120s&query=subject:never{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    time.sleep(3)
    held = rss_kib(pid)
    for s in socks:
        s.close()
    time.sleep(1)  # the server sees the hang-ups and ends the waits
    return (held - baseline_kib) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--keep", help="data directory to reuse (filled once)")
    args = ap.parse_args()

    binary = os.environ.get("MAILJAR_BIN", "./build/server/mailjar")
    data = args.keep or tempfile.mkdtemp(prefix="mailjar-api-bench-")
    proc, smtp_port, http_port = start_server(binary, data)
    try:
        have = stored_total(http_port)
        if have < args.messages:
            secs = fill(smtp_port, args.messages - have)
            print(f"filled {args.messages - have} messages over SMTP in {secs:.1f} s "
                  f"({(args.messages - have) / secs:.0f} msg/s)", flush=True)
        q = urllib.parse.quote
        rows = {"list": [], "search2": [], "attach": [], "wait": [], "waiters": []}
        baseline_kib = None
        for rep in range(args.reps):
            rows["list"].append(timed_gets(http_port, "/api/v1/messages?limit=50", args.requests))
            rows["search2"].append(timed_gets(http_port, "/api/v1/search?query=" + q("invoice payment"),
                                              args.requests))
            rows["attach"].append(timed_gets(http_port, "/api/v1/search?query=" + q("has:attachment from:sender3"),
                                             args.requests))
            rows["wait"].append(wait_latency(http_port, smtp_port, args.requests))
            if baseline_kib is None:
                baseline_kib = rss_kib(proc.pid)
            rows["waiters"].append(idle_waiters(http_port, proc.pid, 1000, baseline_kib))
            print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items()), flush=True)
        targets = {"list": ("ms", 5), "search2": ("ms", 20), "attach": ("ms", 20), "wait": ("ms p50", 5),
                   "waiters": ("MiB", 20)}
        print(f"\n{args.messages} messages, median of {args.reps} rounds x {args.requests} requests")
        print(f"{'measure':10} {'median':>10} {'unit':8} {'target':>8}  runs")
        for k, v in rows.items():
            unit, target = targets[k]
            med = statistics.median(v)
            print(f"{k:10} {med:10.2f} {unit:8} {'< ' + str(target):>8}  {' '.join(f'{x:.2f}' for x in v)}"
                  f"  {'OK' if med < target else 'MISSED'}")
        print(f"peak RSS {rss_kib(proc.pid) / 1024:.1f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
