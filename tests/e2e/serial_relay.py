#!/usr/bin/env python3
"""serial_relay.py - a noisy serial cable between two ptys, for test_serial.sh.

    serial_relay.py CLIENT_PTY DAEMON_PTY [--bad-up "0 4"] [--bad-down "0"]
                    [--garbage-up "2"] [--garbage-down "1"] [--stats FILE]

Copies bytes both ways. Frames are counted per direction by their "\\n"
(up = client to daemon, down = daemon to client, from 0); a frame whose
number is listed in --bad-up/--bad-down gets one bit flipped in its 11th
byte (inside the payload), and garbage (with a "#" and a bogus header) is
sent ahead of a frame listed in --garbage-up/--garbage-down. Deterministic,
so a test knows which tries are lost. On SIGTERM it writes what it did to
--stats as JSON and exits.
"""
import argparse
import json
import os
import select
import signal
import sys
import termios
import tty

GARBAGE = b"~~noise\x00\xff#zz#00ffff:half a frame\n#"


class Direction:
    def __init__(self, name, src, dst, bad, garbage):
        self.name, self.src, self.dst = name, src, dst
        self.bad, self.garbage = bad, garbage
        self.frame, self.pos = 0, 0  # frame number, byte offset in it
        self.flipped = self.injected = self.bytes = 0

    def pump(self):
        data = os.read(self.src, 4096)
        if not data:
            raise OSError("end of file on " + self.name)
        out = bytearray()
        for b in data:
            if self.pos == 0 and self.frame in self.garbage:
                out += GARBAGE
                self.injected += 1
            if self.pos == 10 and self.frame in self.bad:
                b ^= 0x04
                self.flipped += 1
            out.append(b)
            self.pos += 1
            if b == 0x0A:
                self.frame += 1
                self.pos = 0
        os.write(self.dst, bytes(out))
        self.bytes += len(data)

    def stats(self):
        return {"frames": self.frame, "bytes": self.bytes, "flipped": self.flipped,
                "garbage_injected": self.injected}


def open_raw(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    return fd


def numbers(s):
    return {int(x) for x in s.split()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("client")
    ap.add_argument("daemon")
    ap.add_argument("--bad-up", default="")
    ap.add_argument("--bad-down", default="")
    ap.add_argument("--garbage-up", default="")
    ap.add_argument("--garbage-down", default="")
    ap.add_argument("--stats")
    a = ap.parse_args()
    c, d = open_raw(a.client), open_raw(a.daemon)
    up = Direction("up", c, d, numbers(a.bad_up), numbers(a.garbage_up))
    down = Direction("down", d, c, numbers(a.bad_down), numbers(a.garbage_down))

    def done(*_):
        if a.stats:
            with open(a.stats, "w") as f:
                json.dump({"up": up.stats(), "down": down.stats()}, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    by_fd = {c: up, d: down}
    while True:
        ready, _, _ = select.select([c, d], [], [])
        for fd in ready:
            by_fd[fd].pump()


if __name__ == "__main__":
    main()
