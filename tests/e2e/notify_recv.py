#!/usr/bin/env python3
"""notify_recv.py - a fake service manager's notify socket, for test_notify.sh.

    notify_recv.py SOCKET_PATH LOG_FILE

Binds a unix datagram socket at SOCKET_PATH (mode 0666, so a daemon that
dropped to another user can still send) and appends one line per datagram
to LOG_FILE: CLOCK_MONOTONIC seconds, a space, the datagram with its
newlines written as " | ". Runs until SIGTERM.
"""
import os
import signal
import socket
import sys
import time


def main():
    path, log = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(log, "a", buffering=1) as out:
        while True:
            data = s.recv(4096)
            text = data.decode("utf-8", "replace").replace("\n", " | ")
            out.write("%.3f %s\n" % (time.monotonic(), text))


if __name__ == "__main__":
    main()
