#!/usr/bin/env python3
"""A PXE client's DHCP side, for the integration tests (standard library only).

Builds a DHCPDISCOVER or DHCPREQUEST the way PXE firmware and iPXE do and
sends it one of two ways:

  --broadcast IFACE   as firmware does before it has an address: an Ethernet
                      frame from 0.0.0.0:68 to 255.255.255.255:67, sent and
                      received on an AF_PACKET socket (so the interface needs
                      no address and replies are seen whatever their routing);
  --unicast SERVER    to SERVER:PORT (4011) from --source ADDR:68 on an
                      ordinary UDP socket bound to that address, so only a
                      reply unicast back to it is received.

Prints the first reply with the request's xid as key=value lines (op, type,
yiaddr, siaddr, ciaddr, file, opt54, opt60, opt97 as hex, opt43 as hex,
dst_ip and dst_port of the reply datagram), or "none" when nothing came
before --timeout.  --raw sends bytes given in hex instead of a built
packet (malformed input); --print-hex prints the built one.  Exit status 0 either way; 2 on bad usage.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time
import uuid

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
COOKIE = b"\x63\x82\x53\x63"
TYPES = {"discover": 1, "request": 3, "inform": 8}
TYPE_NAMES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 5: "ACK", 6: "NAK", 8: "INFORM"}


def mac_bytes(text):
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError("not a MAC: " + text)
    return bytes(int(p, 16) for p in parts)


def guid_wire(text):
    # Option 97 carries the SMBIOS UUID with its first three fields
    # little-endian, like the GUID structure (RFC 4578 §2.3, SMBIOS 2.6).
    return uuid.UUID(text).bytes_le


def build(args):
    mac = mac_bytes(args.mac)
    ciaddr = socket.inet_aton(args.ciaddr or "0.0.0.0")
    giaddr = socket.inet_aton(args.giaddr or "0.0.0.0")
    hdr = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1 if args.giaddr else 0, args.xid,
                      args.secs, 0x8000 if args.broadcast_flag else 0, ciaddr, b"\0" * 4,
                      b"\0" * 4, giaddr, mac + b"\0" * 10, b"", b"")
    opts = bytearray()

    def opt(code, data):
        opts.extend(bytes([code, len(data)]) + data)

    opt(53, bytes([TYPES[args.type]]))
    if args.server_id:
        opt(54, socket.inet_aton(args.server_id))
    # Callers that import build() (boot_storm) pass their own Namespace.
    http = getattr(args, "http", False)
    if http and args.arch is None:
        args.arch = 16  # x64 UEFI HTTP
    if args.arch is not None:
        opt(93, struct.pack("!H", args.arch))
        opt(94, b"\x01\x02\x01")
    if args.guid:
        opt(97, b"\0" + guid_wire(args.guid))
    if args.vendor_class is None:
        arch = args.arch if args.arch is not None else 0
        # UEFI HTTP boot firmware (EDK2 HttpBootDxe) says HTTPClient.
        vc = ("HTTPClient:Arch:%05d:UNDI:003000" if http
              else "PXEClient:Arch:%05d:UNDI:002001") % arch
    else:
        vc = args.vendor_class
    if vc:
        opt(60, vc.encode())
    if args.user_class:
        opt(77, args.user_class.encode())
    opt(255, b"")
    pkt = hdr + COOKIE + bytes(opts)
    return pkt + b"\0" * max(0, 300 - len(pkt))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src_mac, payload):
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    src, dst = socket.inet_aton("0.0.0.0"), socket.inet_aton("255.255.255.255")
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\xff" * 6 + src_mac + struct.pack("!H", ETH_P_IP) + ip + udp


def parse(pkt):
    if len(pkt) < 240 or pkt[236:240] != COOKIE:
        return None
    op, _, _, _, xid, _, _, ciaddr, yiaddr, siaddr, _, chaddr, _, bootfile = struct.unpack(
        "!BBBBIHH4s4s4s4s16s64s128s", pkt[:236])
    r = {"op": op, "xid": xid, "ciaddr": socket.inet_ntoa(ciaddr),
         "yiaddr": socket.inet_ntoa(yiaddr), "siaddr": socket.inet_ntoa(siaddr),
         "chaddr": ":".join("%02x" % b for b in chaddr[:6]),
         "file": bootfile.split(b"\0", 1)[0].decode("ascii", "replace")}
    i = 240
    while i < len(pkt):
        code = pkt[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(pkt):
            break
        n = pkt[i + 1]
        val = pkt[i + 2:i + 2 + n]
        i += 2 + n
        if code == 53 and n == 1:
            r["type"] = TYPE_NAMES.get(val[0], str(val[0]))
        elif code == 54 and n == 4:
            r["opt54"] = socket.inet_ntoa(val)
        elif code == 60:
            r["opt60"] = val.decode("ascii", "replace")
        elif code == 97:
            r["opt97"] = val.hex()
        elif code == 43:
            r["opt43"] = val.hex()
    return r


def recv_raw(sock, xid, deadline):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if not select.select([sock], [], [], left)[0]:
            return None
        data, addr = sock.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING or len(data) < 14 + 20 + 8:
            continue
        if struct.unpack("!H", data[12:14])[0] != ETH_P_IP:
            continue
        ip = data[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        if dport != 68:
            continue
        r = parse(ip[ihl + 8:])
        if r and r["op"] == 2 and r["xid"] == xid:
            r["dst_ip"] = socket.inet_ntoa(ip[16:20])
            r["dst_port"] = dport
            r["src_ip"] = socket.inet_ntoa(ip[12:16])
            r["src_port"] = sport
            r["eth_dst"] = ":".join("%02x" % b for b in data[0:6])
            return r


def recv_udp(sock, xid, deadline):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if not select.select([sock], [], [], left)[0]:
            return None
        data, addr = sock.recvfrom(65535)
        r = parse(data)
        if r and r["op"] == 2 and r["xid"] == xid:
            r["src_ip"], r["src_port"] = addr
            r["dst_ip"], r["dst_port"] = sock.getsockname()
            return r


def mutate(args, pkt):
    """Flip bytes, cut, and lengthen options of a good packet: hostile input."""
    import random
    rnd = random.Random(1)
    host, _, port = args.source.partition(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port or 0)))
    for i in range(args.mutate):
        b = bytearray(pkt)
        for _ in range(rnd.randint(1, 8)):
            pos = rnd.randrange(236, len(b)) if rnd.random() < 0.8 else rnd.randrange(len(b))
            b[pos] = rnd.randrange(256)
        if rnd.random() < 0.3:
            b = b[:rnd.randrange(len(b))]
        elif rnd.random() < 0.2:
            b += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 1400)))
        s.sendto(bytes(b), (args.unicast, args.port))
    print("sent=%d" % args.mutate)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--broadcast", metavar="IFACE")
    how.add_argument("--unicast", metavar="SERVER")
    how.add_argument("--print-hex", action="store_true",
                     help="print the built packet in hex and exit (to corrupt it)")
    p.add_argument("--port", type=int, default=4011, help="server port for --unicast")
    p.add_argument("--source", default="0.0.0.0:68", help="ADDR[:PORT] for --unicast")
    p.add_argument("--type", choices=sorted(TYPES), default="discover")
    p.add_argument("--mac", default="52:54:00:12:34:56")
    p.add_argument("--arch", type=int, help="option 93; also names the arch in option 60")
    p.add_argument("--guid", help="option 97 (SMBIOS UUID text)")
    p.add_argument("--user-class", help="option 77, e.g. iPXE")
    p.add_argument("--vendor-class", help="option 60; '' = none (a non-PXE client)")
    p.add_argument("--http", action="store_true",
                   help="as UEFI HTTP boot firmware: option 60 HTTPClient:Arch:..., "
                        "option 93 16 (x64 UEFI HTTP) unless --arch says otherwise")
    p.add_argument("--server-id", help="option 54")
    p.add_argument("--ciaddr")
    p.add_argument("--giaddr", help="as a BOOTP relay agent forwarding the request")
    p.add_argument("--secs", type=int, default=0)
    p.add_argument("--xid", type=lambda s: int(s, 0), default=None)
    p.add_argument("--broadcast-flag", action="store_true")
    p.add_argument("--raw", metavar="HEX", help="send these bytes instead")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--mutate", type=int, metavar="N",
                   help="with --unicast: send N randomly corrupted copies (seed 1) and exit")
    args = p.parse_args()
    if args.xid is None:
        args.xid = int.from_bytes(os.urandom(4), "big")

    pkt = bytes.fromhex(args.raw) if args.raw is not None else build(args)
    if args.print_hex:
        print(pkt.hex())
        return 0
    if args.mutate:
        return mutate(args, pkt)
    deadline = time.monotonic() + args.timeout
    if args.broadcast:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        s.bind((args.broadcast, ETH_P_IP))
        src_mac = s.getsockname()[4]
        s.send(frame(src_mac, pkt))
        r = recv_raw(s, args.xid, deadline)
    else:
        host, _, port = args.source.partition(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port or 68)))
        s.sendto(pkt, (args.unicast, args.port))
        r = recv_udp(s, args.xid, deadline)
    if r is None:
        print("none")
        return 0
    for k in ("type", "xid", "yiaddr", "siaddr", "ciaddr", "chaddr", "file", "opt54", "opt60",
              "opt97", "opt43", "src_ip", "src_port", "dst_ip", "dst_port", "eth_dst"):
        if k in r:
            print("%s=%s" % (k, r[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
