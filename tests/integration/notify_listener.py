#!/usr/bin/env python3
"""Stand in for systemd's notification socket (sd_notify(3)) in tests.

    notify_listener.py SOCKET OUT --udp P1,P2,... --tcp P

Binds a unix datagram socket at SOCKET and appends each datagram to OUT as
one line, its newlines shown as '|'.  When a datagram says READY=1 it
checks at once, before reading the next one, that every UDP port named is
bound already (binding it here fails) and that the TCP port accepts a
connection on 127.0.0.1, and appends "PORTS ok" or "PORTS missing: ...".
Runs until killed.
"""
import argparse
import errno
import os
import socket


def ports_taken(udp, tcp):
    missing = []
    for p in udp:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("0.0.0.0", p))
            missing.append("udp/%d" % p)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                missing.append("udp/%d (%s)" % (p, e))
        finally:
            s.close()
    for p in tcp:
        try:
            socket.create_connection(("127.0.0.1", p), timeout=1).close()
        except OSError as e:
            missing.append("tcp/%d (%s)" % (p, e))
    return missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("out")
    ap.add_argument("--udp", default="")
    ap.add_argument("--tcp", default="")
    a = ap.parse_args()
    udp = [int(x) for x in a.udp.split(",") if x]
    tcp = [int(x) for x in a.tcp.split(",") if x]
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.socket)
    with open(a.out, "a", buffering=1) as out:
        out.write("LISTENING\n")
        while True:
            msg = s.recv(4096).decode("utf-8", "replace")
            out.write(msg.replace("\n", "|") + "\n")
            if "READY=1" in msg.split("\n"):
                missing = ports_taken(udp, tcp)
                out.write("PORTS ok\n" if not missing else "PORTS missing: %s\n" % " ".join(missing))


if __name__ == "__main__":
    main()
