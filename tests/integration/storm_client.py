#!/usr/bin/env python3
"""Many PXE machines booting at once, for boot_storm.sh (standard library only).

Each machine is a thread with its own MAC, SMBIOS GUID and IPv4 address (the
address the site DHCP server would have leased it; the caller puts them on
IFACE).  All threads start together and each does what BIOS PXE firmware
and then iPXE do.  With --uefi K the last K machines are UEFI x64 (arch 7)
and do it as EDK2's own PXE stack, then iPXE's EFI build, do it; the steps
below say where the two differ:

  1. DHCPDISCOVER as plain PXE (arch 0) broadcast from 0.0.0.0:68 as an
     Ethernet frame with the machine's MAC  -> ProxyDHCP OFFER, file NBP;
     UEFI: arch 7, "PXEClient:Arch:00007:UNDI:003000" -> OFFER, file
     UEFI_NBP and no option 43;
  2. DHCPREQUEST to SERVER:4011 from ADDR:68        -> ACK, file NBP
     (UEFI: UEFI_NBP);
  3. TFTP RRQ of NBP (tsize, blksize) from ADDR     -> every byte, compared
     with --nbp-local;
     UEFI, as the capture tests/fixtures/edk2-uefi-pxe-proxydhcp-tftp.pcap
     shows: RRQ UEFI_NBP "tsize 0 blksize 1468 windowsize 4" -> OACK with
     tsize, answered by ERROR 8 "User aborted the transfer"; then from a
     new port RRQ UEFI_NBP "blksize 1468 windowsize 4" -> every byte,
     compared with --uefi-nbp-local (an ACK per full window, and at once
     for a block out of order, as EDK2's MTFTP does);
  4. DHCPDISCOVER as iPXE (user class "iPXE")       -> OFFER, file the
     http://SERVER:PORT/boot.ipxe?mac=..&t=TOKEN URL, the token (32 hex
     digits) standing for this exchange (UEFI: arch 7,
     "PXEClient:Arch:00007:UNDI:003010" as iPXE's EFI build sends it);
  5. HTTP GET of that URL from ADDR                 -> an iPXE script;
  6. HTTP GET of the script's kernel and initrd URLs, compared (size and
     SHA-256) with --kernel-local / --initrd-local.

With --expect local (machines with nothing to do), step 1's OFFER must
carry no boot file and the PXE boot menu that sends the firmware to its
local disk (boot server type 0, chosen at once), and the machine stops
there, as PXE firmware does.

Retries are those of real firmware: a DHCP request is sent again with the
same xid after 1 s, then 2 s (up to --dhcp-tries); a TFTP packet is sent
again after 1 s without progress (up to 5 times); an HTTP GET that fails
before its last byte is tried again (up to 3 times).  Replies to broadcast
DHCP all arrive on one AF_PACKET socket and are handed to the machine by
xid and chaddr.

Prints one JSON object: per machine its result, error, retries and step
timings, plus the wall time.  Exit status 0 when every machine finished,
1 otherwise, 2 on bad usage.
"""
import argparse
import ctypes
import hashlib
import http.client
import json
import os
import queue
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dhcp_client as dc  # noqa: E402  (frame, parse, checksum)

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
# tcpdump -dd 'ip and udp dst port 68 and udp src port 67': the raw socket
# sees only DHCP replies, not the storm's TFTP and HTTP traffic (which would
# overflow its buffer and look like DHCP replies lost by the server).
BPF_DHCP_REPLY = [
    (0x28, 0, 0, 0x0000000c), (0x15, 0, 10, 0x00000800), (0x30, 0, 0, 0x00000017),
    (0x15, 0, 8, 0x00000011), (0x28, 0, 0, 0x00000014), (0x45, 6, 0, 0x00001fff),
    (0xb1, 0, 0, 0x0000000e), (0x48, 0, 0, 0x00000010), (0x15, 0, 3, 0x00000044),
    (0x48, 0, 0, 0x0000000e), (0x15, 0, 1, 0x00000043), (0x06, 0, 0, 0x00040000),
    (0x06, 0, 0, 0x00000000),
]
DHCP_TIMEOUTS = (1.0, 2.0, 2.0, 2.0, 2.0)


class StepError(Exception):
    pass


class Dispatcher(threading.Thread):
    """Reads every DHCP reply on IFACE and hands it to the waiting machine."""

    def __init__(self, iface):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        prog = b"".join(struct.pack("HBBI", *i) for i in BPF_DHCP_REPLY)
        self._prog = ctypes.create_string_buffer(prog)
        fprog = struct.pack("HL", len(BPF_DHCP_REPLY), ctypes.addressof(self._prog))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        self.sock.bind((iface, ETH_P_IP))
        self.send_lock = threading.Lock()
        self.waiters = {}
        self.lock = threading.Lock()
        self.stray = 0
        self.stop = False

    def drops(self):
        """Frames the kernel dropped because this socket's buffer was full."""
        _, drops = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        return drops

    def register(self, xid):
        q = queue.Queue()
        with self.lock:
            self.waiters[xid] = q
        return q

    def unregister(self, xid):
        with self.lock:
            self.waiters.pop(xid, None)

    def send(self, frame):
        with self.send_lock:
            self.sock.send(frame)

    def run(self):
        while not self.stop:
            if not select.select([self.sock], [], [], 0.2)[0]:
                continue
            data, addr = self.sock.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING or len(data) < 42:
                continue
            if struct.unpack("!H", data[12:14])[0] != ETH_P_IP:
                continue
            ip = data[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 17:
                continue
            sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
            if dport != 68 or sport != 67:
                continue
            r = dc.parse(ip[ihl + 8:])
            if not r or r["op"] != 2:
                continue
            with self.lock:
                q = self.waiters.get(r["xid"])
            if q is None:
                self.stray += 1
            else:
                q.put(r)


def frame_from(mac, payload):
    """The Ethernet frame of a broadcast DHCP request from 0.0.0.0:68."""
    return dc.frame(mac, payload)


VC_EDK2 = "PXEClient:Arch:00007:UNDI:003000"   # EDK2 (OVMF) network stack
VC_IPXE_EFI = "PXEClient:Arch:00007:UNDI:003010"  # iPXE's EFI build


def build_dhcp(mac, guid, xid, kind, user_class=None, ciaddr=None, secs=0, arch=0,
               vendor_class=None):
    a = argparse.Namespace(mac=mac, ciaddr=ciaddr, giaddr=None, xid=xid, secs=secs,
                           broadcast_flag=False, type=kind, server_id=None, arch=arch,
                           guid=guid, vendor_class=vendor_class, user_class=user_class)
    return dc.build(a)


class Machine:
    def __init__(self, idx, mac, guid, addr, opts, disp, uefi=False):
        self.idx, self.mac, self.guid, self.addr = idx, mac, guid, addr
        self.uefi = uefi
        self.arch = 7 if uefi else 0
        self.opts, self.disp = opts, disp
        self.macb = dc.mac_bytes(mac)
        self.t = {}
        self.retries = {"dhcp": 0, "tftp": 0, "http": 0}
        self.error = None
        self.xid_seq = 0
        self.tftp_oack = None  # blksize and windowsize of the NBP download
        self.rng = random.Random(idx)

    def xid(self):
        self.xid_seq += 1
        return (0x5A000000 | (self.idx << 8) | self.xid_seq) & 0xFFFFFFFF

    def check_reply(self, r, want_type):
        if r.get("chaddr") != self.mac:
            raise StepError("%s: reply chaddr %s" % (want_type, r.get("chaddr")))
        if r.get("type") != want_type:
            raise StepError("expected %s, got %s" % (want_type, r.get("type")))
        if r.get("siaddr") != self.opts.server or r.get("opt54") != self.opts.server:
            raise StepError("%s: siaddr %s, option 54 %s" % (want_type, r.get("siaddr"), r.get("opt54")))

    def discover(self, user_class=None):
        xid = self.xid()
        q = self.disp.register(xid)
        try:
            secs = 0
            start = time.monotonic()
            for i, tmo in enumerate(DHCP_TIMEOUTS[:self.opts.dhcp_tries]):
                if i:
                    self.retries["dhcp"] += 1
                secs = int(time.monotonic() - start)
                vc = None
                if self.uefi:
                    vc = VC_IPXE_EFI if user_class else VC_EDK2
                pkt = build_dhcp(self.mac, self.guid, xid, "discover", user_class, secs=secs,
                                 arch=self.arch, vendor_class=vc)
                self.disp.send(frame_from(self.macb, pkt))
                deadline = time.monotonic() + tmo
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        r = q.get(timeout=left)
                    except queue.Empty:
                        break
                    if r.get("chaddr") == self.mac:
                        self.check_reply(r, "OFFER")
                        return r
            raise StepError("DISCOVER%s: no OFFER after %d tries" %
                            (" (iPXE)" if user_class else "", self.opts.dhcp_tries))
        finally:
            self.disp.unregister(xid)

    def request_4011(self):
        xid = self.xid()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((self.addr, 68))
            for i, tmo in enumerate(DHCP_TIMEOUTS[:self.opts.dhcp_tries]):
                if i:
                    self.retries["dhcp"] += 1
                pkt = build_dhcp(self.mac, self.guid, xid, "request", ciaddr=self.addr,
                                 arch=self.arch, vendor_class=VC_EDK2 if self.uefi else None)
                s.sendto(pkt, (self.opts.server, 4011))
                r = dc.recv_udp(s, xid, time.monotonic() + tmo)
                if r:
                    self.check_reply(r, "ACK")
                    return r
            raise StepError("REQUEST:4011: no ACK after %d tries" % self.opts.dhcp_tries)
        finally:
            s.close()

    def tftp_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((self.addr, 0))
        return s

    @staticmethod
    def rrq(name, opts):
        return (struct.pack("!H", 1) + name.encode() + b"\0octet\0" +
                b"".join(k.encode() + b"\0" + str(v).encode() + b"\0" for k, v in opts))

    @staticmethod
    def oack_opts(data):
        parts = data[2:].split(b"\0")
        return dict(zip([p.lower() for p in parts[0::2]], parts[1::2]))

    def tftp_probe(self, name, expect_size):
        """EDK2's size probe: RRQ with tsize 0, the OACK, then ERROR 8."""
        rrq = self.rrq(name, [("tsize", 0), ("blksize", self.opts.uefi_blksize),
                              ("windowsize", self.opts.uefi_windowsize)])
        s = self.tftp_socket()
        try:
            server = (self.opts.server, self.opts.tftp_port)
            for tries in range(6):
                if tries:
                    self.retries["tftp"] += 1
                s.sendto(rrq, server)
                deadline = time.monotonic() + 1.0
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([s], [], [], left)[0]:
                        break
                    data, src = s.recvfrom(65536)
                    if src[0] != self.opts.server:
                        continue
                    op = struct.unpack("!H", data[:2])[0]
                    if op == 5:
                        raise StepError("TFTP probe %s: error %r" % (name, data[2:]))
                    if op != 6:
                        raise StepError("TFTP probe %s: opcode %d, want OACK" % (name, op))
                    o = self.oack_opts(data)
                    if b"tsize" not in o or int(o[b"tsize"]) != expect_size:
                        raise StepError("TFTP probe %s: OACK %r, want tsize %d" %
                                        (name, o, expect_size))
                    # The bytes EDK2 sends: code 8, "User aborted the transfer".
                    s.sendto(struct.pack("!HH", 5, 8) + b"User aborted the transfer\0", src)
                    return int(o[b"tsize"])
            raise StepError("TFTP probe %s: no OACK after 6 tries" % name)
        finally:
            s.close()

    def tftp(self, name, expect, opts=None):
        """Download NAME with OPTS (default tsize and --blksize), ACKing per
        negotiated window (RFC 7440), and compare it with EXPECT."""
        if opts is None:
            opts = [("tsize", 0), ("blksize", self.opts.blksize)]
        rrq = self.rrq(name, opts)
        blksize = 512
        wsize = 1
        s = self.tftp_socket()
        try:
            server = (self.opts.server, self.opts.tftp_port)
            peer = None
            last = rrq
            last_to = server
            got = bytearray()
            block = 0
            since_ack = 0
            tsize = None
            tries = 0
            send = True
            # A transfer that crawls (a retry now and then, never five in a
            # row) is a failure too, not minutes of test time.
            give_up = time.monotonic() + self.opts.tftp_limit
            while True:
                if time.monotonic() > give_up:
                    raise StepError("TFTP %s: not done after %d s (block %d)" %
                                    (name, self.opts.tftp_limit, block))
                if send:
                    s.sendto(last, last_to)
                    send = False
                if not select.select([s], [], [], 1.0)[0]:
                    tries += 1
                    if tries > 5:
                        raise StepError("TFTP %s: timed out at block %d" % (name, block))
                    self.retries["tftp"] += 1
                    send = True
                    continue
                data, src = s.recvfrom(65536)
                if data[:2] == b"\0\3" and self.rng.random() < self.opts.tftp_drop:
                    continue  # --tftp-drop: as if lost on the way
                if peer is None:
                    if src[0] != self.opts.server:
                        continue
                    peer = src
                elif src != peer:
                    continue
                op = struct.unpack("!H", data[:2])[0]
                if op == 5:
                    raise StepError("TFTP %s: error %r" % (name, data[2:]))
                if op == 6:  # OACK
                    if block != 0 or got:
                        continue
                    o = self.oack_opts(data)
                    if b"blksize" in o:
                        blksize = int(o[b"blksize"])
                    if b"windowsize" in o:
                        wsize = int(o[b"windowsize"])
                    if b"tsize" in o:
                        tsize = int(o[b"tsize"])
                    last, last_to, tries, send = struct.pack("!HH", 4, 0), peer, 0, True
                    continue
                if op != 3:
                    raise StepError("TFTP %s: unexpected opcode %d" % (name, op))
                n = struct.unpack("!H", data[2:4])[0]
                if n == ((block + 1) & 0xFFFF):
                    got += data[4:]
                    block += 1
                    since_ack += 1
                    tries = 0
                    last, last_to = struct.pack("!HH", 4, n), peer
                    if len(data) - 4 < blksize:
                        s.sendto(last, last_to)
                        break
                    if since_ack >= wsize:
                        since_ack, send = 0, True
                else:
                    # Any other block (a duplicate, or one after a gap) is
                    # answered at once by the ACK of the last block in order,
                    # and the window count starts again, as EDK2's
                    # Mtftp4RrqHandleData does.
                    since_ack, send = 0, True
            if tsize is not None and tsize != len(got):
                raise StepError("TFTP %s: tsize %d but %d bytes" % (name, tsize, len(got)))
            self.tftp_oack = {"blksize": blksize, "windowsize": wsize}
            if bytes(got) != expect:
                raise StepError("TFTP %s: %d bytes differ from the local copy (%d bytes)" %
                                (name, len(got), len(expect)))
            return len(got)
        finally:
            s.close()

    def http_get(self, url, want_len=None, want_sha=None, keep=False):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or u.hostname != self.opts.server:
            raise StepError("unexpected URL %s" % url)
        path = u.path + ("?" + u.query if u.query else "")
        err = None
        for attempt in range(3):
            if attempt:
                self.retries["http"] += 1
                time.sleep(0.5)
            c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20,
                                           source_address=(self.addr, 0))
            try:
                c.request("GET", path, headers={"User-Agent": "iPXE/1.0.0+ (storm)"})
                resp = c.getresponse()
                if resp.status != 200:
                    raise StepError("GET %s: HTTP %d" % (path, resp.status))
                h = hashlib.sha256()
                n = 0
                body = bytearray() if keep else None
                while True:
                    chunk = resp.read(1 << 16)
                    if not chunk:
                        break
                    n += len(chunk)
                    h.update(chunk)
                    if keep:
                        body += chunk
                if want_len is not None and n != want_len:
                    raise OSError("GET %s: %d bytes, want %d" % (path, n, want_len))
                if want_sha is not None and h.hexdigest() != want_sha:
                    raise StepError("GET %s: SHA-256 differs" % path)
                return bytes(body) if keep else n
            except (OSError, http.client.HTTPException) as e:
                err = e
            finally:
                c.close()
        raise StepError("GET %s failed 3 times: %s" % (path, err))

    def step(self, name, fn, *a, **kw):
        t0 = time.monotonic()
        r = fn(*a, **kw)
        self.t[name] = time.monotonic() - t0
        return r

    def run(self, barrier):
        o = self.opts
        barrier.wait()
        t0 = time.monotonic()
        try:
            nbp = o.uefi_nbp if self.uefi else o.nbp
            r = self.step("discover", self.discover)
            if o.expect == "local":
                # A machine with nothing to do: no boot file, and a PXE
                # boot menu whose one item, chosen at once, is the local
                # disk.  The firmware stops network boot there.
                if r["file"] or r.get("opt43") != LOCAL_MENU_43:
                    raise StepError("second boot not sent to local disk: OFFER file %r, option 43 %s"
                                    % (r["file"], r.get("opt43")))
                return
            if r["file"] != nbp:
                raise StepError("OFFER file %r, want %r" % (r["file"], nbp))
            if self.uefi and "opt43" in r:
                raise StepError("UEFI OFFER carries option 43: %s" % r["opt43"])
            r = self.step("request", self.request_4011)
            if r["file"] != nbp:
                raise StepError("ACK file %r, want %r" % (r["file"], nbp))
            if self.uefi:
                self.step("tftp_probe", self.tftp_probe, r["file"], len(o.uefi_nbp_bytes))
                self.step("tftp", self.tftp, r["file"], o.uefi_nbp_bytes,
                          [("blksize", o.uefi_blksize), ("windowsize", o.uefi_windowsize)])
            else:
                self.step("tftp", self.tftp, r["file"], o.nbp_bytes)
            r = self.step("ipxe_discover", self.discover, "iPXE")
            want = r"http://%s:%d/boot\.ipxe\?mac=%s&t=[0-9a-f]{32}" % (
                re.escape(o.server), o.http_port, self.mac)
            if not re.fullmatch(want, r["file"]):
                raise StepError("iPXE OFFER file %r, want %r" % (r["file"], want))
            script = self.step("script", self.http_get, r["file"], keep=True).decode()
            if not script.startswith("#!ipxe"):
                raise StepError("not an iPXE script: %r" % script[:80])
            kern = re.search(r"^kernel (\S+)", script, re.M)
            init = re.search(r"^initrd (\S+)", script, re.M)
            if not kern or not init:
                raise StepError("script without kernel/initrd: %r" % script)
            self.step("kernel", self.http_get, kern.group(1), o.kernel_len, o.kernel_sha)
            self.step("initrd", self.http_get, init.group(1), o.initrd_len, o.initrd_sha)
        except StepError as e:
            self.error = str(e)
        except Exception as e:  # a bug in this client is a failure too
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.t["total"] = time.monotonic() - t0


# Option 43 of pxed's "local" reply: discovery control 7, boot menu
# [type 0, "Boot from local disk"], menu prompt [timeout 0, "pxed"], END.
LOCAL_MENU_43 = (bytes([6, 1, 7, 9, 23, 0, 0, 20]) + b"Boot from local disk" +
                 bytes([10, 5, 0]) + b"pxed" + bytes([255])).hex()


def file_facts(path):
    with open(path, "rb") as f:
        data = f.read()
    return len(data), hashlib.sha256(data).hexdigest(), data


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--tftp-port", type=int, default=69)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--mac-prefix", default="52:54:00:99", help="MACs PREFIX:HH:LL, from 0")
    p.add_argument("--addr-prefix", default="10.79.1.", help="machine i gets PREFIX<i+10>")
    p.add_argument("--addr-start", help="machine i gets this IPv4 address + i (instead of"
                   " --addr-prefix: for more than 245 machines)")
    p.add_argument("--nbp", default="undionly.kpxe")
    p.add_argument("--nbp-local", required=True)
    p.add_argument("--kernel-local")
    p.add_argument("--initrd-local")
    p.add_argument("--blksize", type=int, default=1432)
    p.add_argument("--uefi", type=int, default=0, metavar="K",
                   help="the last K machines are UEFI x64 with EDK2's PXE")
    p.add_argument("--uefi-nbp", default="snponly.efi")
    p.add_argument("--uefi-nbp-local", help="required with --uefi")
    p.add_argument("--uefi-blksize", type=int, default=1468)
    p.add_argument("--uefi-windowsize", type=int, default=4)
    p.add_argument("--dhcp-tries", type=int, default=5)
    p.add_argument("--tftp-limit", type=int, default=30, help="seconds for one TFTP download")
    p.add_argument("--tftp-drop", type=float, default=0.0, metavar="P",
                   help="drop this fraction of received TFTP DATA packets (a lossy link)")
    p.add_argument("--expect", choices=("boot", "local"), default="boot")
    args = p.parse_args()
    if args.expect == "boot" and not (args.kernel_local and args.initrd_local):
        p.error("--expect boot needs --kernel-local and --initrd-local")
    if not 0 <= args.uefi <= args.count:
        p.error("--uefi must be 0..--count")
    if args.uefi and not args.uefi_nbp_local:
        p.error("--uefi needs --uefi-nbp-local")
    _, _, args.nbp_bytes = file_facts(args.nbp_local)
    if args.uefi:
        _, _, args.uefi_nbp_bytes = file_facts(args.uefi_nbp_local)
    if args.expect == "boot":
        args.kernel_len, args.kernel_sha, _ = file_facts(args.kernel_local)
        args.initrd_len, args.initrd_sha, _ = file_facts(args.initrd_local)

    disp = Dispatcher(args.iface)
    disp.start()
    machines = []
    for i in range(args.count):
        mac = "%s:%02x:%02x" % (args.mac_prefix, i >> 8, i & 0xFF)
        guid = str(uuid.UUID(int=(0x5354_4F52_4D00_4000_8000 << 48) | i))
        if args.addr_start:
            addr = socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", socket.inet_aton(args.addr_start))[0] + i))
        else:
            addr = "%s%d" % (args.addr_prefix, i + 10)
        machines.append(Machine(i, mac, guid, addr, args, disp,
                                uefi=i >= args.count - args.uefi))
    barrier = threading.Barrier(args.count + 1)
    threads = [threading.Thread(target=m.run, args=(barrier,)) for m in machines]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    disp.stop = True
    out = {"wall": wall, "stray_replies": disp.stray, "client_drops": disp.drops(), "machines": [
        {"mac": m.mac, "guid": m.guid, "addr": m.addr, "arch": m.arch, "error": m.error,
         "retries": m.retries, "tftp_oack": m.tftp_oack,
         "t": m.t} for m in machines]}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0 if all(m.error is None for m in machines) else 1


if __name__ == "__main__":
    sys.exit(main())
