#!/usr/bin/env python3
"""Hostile load against a real `kaledger serve` on 127.0.0.1 (see bench/hostile_load.sh).

Three measurements, each against a fresh server and data directory, each ending by itself:
  bodies  - three 2.79-million-element JSON bodies (`{"lines":[{},{},...]}`, just under the
            8 MiB body limit) posted at once, three rounds; the server's RSS (VmRSS sampled
            every 20 ms, VmHWM at the end) and /healthz latency (a fresh connection every
            20 ms) while they arrive.
  idle    - the server under `ulimit -n 1024`; 1,100 idle connections held (re-opened when
            the server closes them) for 15 s; /healthz latency and statuses meanwhile.
  trickle - a request head sent one byte per second for 40 s; when the server cuts it.
Usage: hostile_load.py BINARY [bodies|idle|trickle ...]
"""
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BINARY = sys.argv[1]


def start_server(extra_args=(), nofile=None):
    data = tempfile.mkdtemp(prefix="kaledger-hostile-")
    token = subprocess.run(
        [BINARY, "token", "create", "--data", data, "--name", "load", "--role", "ingest"],
        check=True, capture_output=True, text=True).stdout.strip()

    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    env = dict(os.environ, RUST_LOG="warn")
    proc = subprocess.Popen(
        [BINARY, "serve", "--data", data, "--listen", "127.0.0.1:0", *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=limit, env=env, text=True)
    line = proc.stdout.readline().strip()
    host, port = line.rsplit("http://", 1)[1].split(":")
    return proc, (host, int(port)), token, data


def stop_server(proc, data):
    proc.terminate()
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    subprocess.run(["rm", "-rf", data], check=False)


def rss_mb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def healthz(address, timeout=10.0):
    """One GET /healthz on a fresh connection: (status line or error, seconds)."""
    started = time.monotonic()
    try:
        with socket.create_connection(address, timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        status = reply.split(b"\r\n", 1)[0].decode() or "closed without answer"
    except OSError as e:
        status = f"error: {e.__class__.__name__}"
    return status, time.monotonic() - started


class Prober(threading.Thread):
    """Probes /healthz every `every` seconds until stopped."""

    def __init__(self, address, every=0.02):
        super().__init__(daemon=True)
        self.address, self.every, self.results = address, every, []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.results.append(healthz(self.address))
            time.sleep(self.every)

    def summary(self):
        latencies = sorted(t for _, t in self.results)
        statuses = {}
        for status, _ in self.results:
            statuses[status] = statuses.get(status, 0) + 1
        return (f"{len(latencies)} probes, p50 {statistics.median(latencies) * 1000:.1f} ms, "
                f"max {latencies[-1] * 1000:.1f} ms, statuses {statuses}")


def post(address, token, body):
    head = (f"POST /v1/sales HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {token}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode()
    with socket.create_connection(address, timeout=120) as s:
        s.sendall(head + body)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n", 1)[0].decode() + " " + reply.rsplit(b"\"code\":", 1)[-1][:30].decode()


def bodies():
    elements = 2_790_000
    body = b'{"lines":[' + b"{}," * (elements - 1) + b"{}]}"
    proc, address, token, data = start_server()
    try:
        print(f"[bodies] body {len(body)} bytes, {elements} elements; RSS at start "
              f"{rss_mb(proc.pid):.1f} MB")
        for round_ in range(3):
            prober = Prober(address)
            samples = []
            prober.start()
            time.sleep(0.2)
            replies = []
            senders = [threading.Thread(target=lambda: replies.append(post(address, token, body)))
                       for _ in range(3)]
            started = time.monotonic()
            for t in senders:
                t.start()
            while any(t.is_alive() for t in senders):
                samples.append(rss_mb(proc.pid))
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            time.sleep(0.2)
            prober.stopping.set()
            prober.join()
            print(f"[bodies] round {round_ + 1}: 3 bodies answered in {elapsed:.2f} s: {replies}")
            print(f"[bodies]   RSS max during {max(samples):.1f} MB, after {rss_mb(proc.pid):.1f} MB, "
                  f"peak (VmHWM) {rss_mb(proc.pid, 'VmHWM'):.1f} MB")
            print(f"[bodies]   /healthz: {prober.summary()}")
    finally:
        stop_server(proc, data)


def idle():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    proc, address, token, data = start_server(nofile=1024)
    held, stop = [], threading.Event()
    counts = {"opened": 0, "closed_by_server": 0}

    def hold():
        selector = selectors.DefaultSelector()

        def open_one():
            try:
                s = socket.create_connection(address, timeout=5)
            except OSError:
                return
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
            held.append(s)
            counts["opened"] += 1

        while len(held) < 1100 and not stop.is_set():
            open_one()
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                s = key.fileobj
                selector.unregister(s)
                held.remove(s)
                s.close()
                counts["closed_by_server"] += 1
            while len(held) < 1100 and not stop.is_set():
                open_one()
        for s in held:
            s.close()

    try:
        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        while len(held) < 1100 and holder.is_alive():
            time.sleep(0.05)
        print(f"[idle] server under ulimit -n 1024; {len(held)} idle connections held")
        prober = Prober(address, every=0.1)
        prober.start()
        time.sleep(15)
        prober.stopping.set()
        prober.join()
        stop.set()
        holder.join()
        print(f"[idle] during 15 s: {counts['opened']} connections opened, "
              f"{counts['closed_by_server']} closed by the server (idle eviction, timeout or 503)")
        print(f"[idle] /healthz: {prober.summary()}")
    finally:
        stop_server(proc, data)


def trickle():
    proc, address, token, data = start_server()
    try:
        s = socket.create_connection(address, timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nx-slow: ")
        started = time.monotonic()
        outcome = "not cut: all 40 bytes sent"
        for i in range(40):
            time.sleep(1)
            try:
                s.sendall(b"x")
            except OSError as e:
                outcome = f"cut after {time.monotonic() - started:.1f} s ({e.__class__.__name__})"
                break
        s.close()
        print(f"[trickle] 40 s header trickle, one byte per second: {outcome}")
    finally:
        stop_server(proc, data)


if __name__ == "__main__":
    for name in sys.argv[2:] or ["bodies", "idle", "trickle"]:
        {"bodies": bodies, "idle": idle, "trickle": trickle}[name]()
