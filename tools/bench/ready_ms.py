#!/usr/bin/env python3
"""ready_ms.py - outpostd's cold start, for tools/bench/run.sh (PHASES=gateway).

    ready_ms.py RUNS OUTPOSTD CONFIG WORKDIR

Starts OUTPOSTD -c CONFIG RUNS times, one after the other, each with
$NOTIFY_SOCKET pointing at a unix datagram socket in WORKDIR, and prints
one line per run: milliseconds from just before the exec (posix_spawn) to
the datagram carrying READY=1. The daemon is stopped (SIGTERM) and waited
for before the next run. Exits 1 if a run sends no READY=1 within 10 s.
"""
import os
import signal
import socket
import sys
import time


def one(binary, config, sock_path, sock):
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    t0 = time.monotonic()
    pid = os.posix_spawn(binary, [binary, "-c", config], env)
    ready = None
    while ready is None:
        left = t0 + 10 - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            break
        if b"READY=1" in data.split(b"\n"):
            ready = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    return None if ready is None else (ready - t0) * 1000


def main():
    runs, binary, config, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    sock_path = os.path.join(work, "ready.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)  # the daemon's log
    for _ in range(runs):
        ms = one(binary, config, sock_path, sock)
        if ms is None:
            print("ready_ms: no READY=1 from %s within 10 s" % binary, file=sys.stdout)
            sys.exit(1)
        print("%.2f" % ms, flush=True)


if __name__ == "__main__":
    main()
