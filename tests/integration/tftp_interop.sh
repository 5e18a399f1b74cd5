#!/bin/bash
# TFTP interoperability: real clients (atftp, curl, busybox tftp, tftp-hpa)
# download files of edge sizes from pxed and every byte is compared; a
# file past the 65535-block rollover at blksize 512; netascii; hostile
# names and write requests are refused and serve nothing; a scripted client
# checks the protocol rules no stock client exercises (EDK2's tsize probe
# abort, window resend after a lost block, no Sorcerer's Apprentice).
#
# Runs pxed on 127.0.0.1 with high ports, no root needed.  Set
# PXED_TFTP_CMD to a program taking "ROOT PORT" to test another build of
# the TFTP server instead of build/pxed (with MaxTransfers 2, as here).
. "$(dirname "$0")/../lib.sh"

for c in atftp curl busybox tftp cmp python3; do
	command -v $c >/dev/null || skip "$c not installed"
done

root=$TMP/root
mkdir -p "$root/boot" "$TMP/out"
for n in 0 511 512 513 $((1024 * 1024 + 1)); do
	head -c $n /dev/urandom >"$root/f$n"
done
head -c $((32 * 1024 * 1024 + 700)) /dev/urandom >"$root/big" # 65538 blocks of 512
printf 'line one\nline two\r\nbare\rcr\n' >"$root/text.txt"
echo SECRET >"$TMP/secret"
ln -s ../secret "$root/out"
ln -s ../f513 "$root/boot/inside"

tport=$(free_port)
hport=$(free_port)
if [ -n "${PXED_TFTP_CMD:-}" ]; then
	$PXED_TFTP_CMD "$root" "$tport" >>"$TMP/pxed.log" 2>&1 &
	pid=$!
	on_exit "kill $pid"
	sleep 0.3
else
	[ -x "$PXED" ] || skip "build/pxed not built"
	cat >"$TMP/pxed.conf" <<CONF
[tftp]
Root=$root
Port=$tport
MaxTransfers=2
MaxBlockSize=8192
[http]
Port=$hport
[store]
URL=sqlite:$TMP/pxed.db
CONF
	start_pxed "$TMP/pxed.conf"
fi
log=$TMP/pxed.log
[ -n "${KEEP_LOG:-}" ] && on_exit "cp $TMP/pxed.log $KEEP_LOG"

# fetch CLIENT FILE [BLKSIZE]: download FILE with CLIENT into $TMP/out
fetch() {
	local client=$1 f=$2 bs=${3:-1468} out=$TMP/out/$1.$2
	rm -f "$out"
	case $client in
	atftp) timeout 30 atftp --option "blksize $bs" --option "tsize 0" --option "windowsize 16" \
		-g -r "$f" -l "$out" 127.0.0.1 "$tport" >/dev/null 2>&1 ;;
	curl) timeout 30 curl -sf --tftp-blksize "$bs" -o "$out" "tftp://127.0.0.1:$tport/$f" ;;
	busybox) timeout 30 busybox tftp -g -b "$bs" -r "$f" -l "$out" 127.0.0.1 "$tport" 2>/dev/null ;;
	hpa) timeout 30 tftp 127.0.0.1 "$tport" -m binary -c get "$f" "$out" >"$out.msg" 2>&1 &&
		! grep -q . "$out.msg" ;; # tftp-hpa prints errors but exits 0
	esac
}

for client in atftp curl busybox hpa; do
	for n in 0 511 512 513 $((1024 * 1024 + 1)); do
		fetch $client f$n || fail "$client f$n: client failed"
		cmp -s "$root/f$n" "$TMP/out/$client.f$n" || fail "$client f$n: content differs"
	done
	pass "$client: 0, 511, 512, 513, 1 MiB + 1 bytes"
done

# Past 65535 blocks at blksize 512: block numbers roll over to 0.
# (tftp-hpa sends no options: 512 by RFC 1350.)
for client in atftp curl busybox hpa; do
	fetch $client big 512 || fail "$client big: client failed"
	cmp -s "$root/big" "$TMP/out/$client.big" || fail "$client big: content differs"
done
pass "block number rollover (32 MiB + 700 at blksize 512) with all four clients"

# Big windows of big blocks overrun atftp's default receive buffer (each
# window of 16 x 8 KiB was lost, 185 s for a few MiB before the window
# became adaptive): now well within the time limit.
fetch atftp big 8192 || fail "atftp big at blksize 8192 windowsize 16: client failed"
cmp -s "$root/big" "$TMP/out/atftp.big" || fail "atftp big at blksize 8192: content differs"
pass "atftp blksize 8192 windowsize 16 (adaptive window)"

timeout 10 tftp 127.0.0.1 "$tport" -m binary -c get boot/inside "$TMP/out/inside" >/dev/null 2>&1
cmp -s "$root/f513" "$TMP/out/inside" || fail "symlink inside the root not served"
pass "symlink inside the root"

# netascii: tftp-hpa converts back, so the round trip gives the file.
timeout 10 tftp 127.0.0.1 "$tport" -m netascii -c get text.txt "$TMP/out/text.txt" >/dev/null 2>&1
cmp -s "$root/text.txt" "$TMP/out/text.txt" || fail "netascii round trip differs"
pass "netascii"

# Hostile names: an error comes back and nothing is served.
for name in ../secret /../secret boot/../../secret out 'boot\inside' //etc/passwd; do
	out=$TMP/out/hostile
	rm -f "$out"
	timeout 10 tftp 127.0.0.1 "$tport" -m binary -c get "$name" "$out" >"$out.msg" 2>&1
	grep -q "Error code [12]" "$out.msg" || fail "hostile '$name': no error 1/2 ($(cat "$out.msg"))"
	[ ! -s "$out" ] || fail "hostile '$name': data served"
	rm -f "$out"
	timeout 10 curl -sf -o "$out" "tftp://127.0.0.1:$tport/$name" && fail "curl hostile '$name' succeeded"
	[ ! -s "$out" ] || fail "curl hostile '$name': data served"
done
timeout 10 tftp 127.0.0.1 "$tport" -m binary -c get no-such-file "$TMP/out/x" >"$TMP/out/x.msg" 2>&1
grep -q "Error code 1" "$TMP/out/x.msg" || fail "missing file: not error 1"
pass "hostile names refused (error 2), missing file error 1"

# Write requests are refused with error 4 and nothing is written.
echo data >"$TMP/up.txt"
timeout 10 tftp 127.0.0.1 "$tport" -m binary -c put "$TMP/up.txt" uploaded >"$TMP/out/put.msg" 2>&1
grep -q "Error code 4" "$TMP/out/put.msg" || fail "WRQ: no error 4 ($(cat "$TMP/out/put.msg"))"
timeout 10 atftp -p -l "$TMP/up.txt" -r uploaded2 127.0.0.1 "$tport" >/dev/null 2>&1 && fail "atftp put succeeded"
[ ! -e "$root/uploaded" ] && [ ! -e "$root/uploaded2" ] || fail "WRQ wrote a file"
pass "write requests refused (error 4)"

# Protocol rules checked with a scripted client.
python3 - "$tport" "$root" <<'PY' || fail "scripted client checks"
import socket, struct, sys
port = int(sys.argv[1])
root = sys.argv[2]
def rrq(name, *opts):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    p = struct.pack("!H", 1) + name.encode() + b"\0octet\0"
    for o in opts:
        p += o.encode() + b"\0"
    s.sendto(p, ("127.0.0.1", port))
    return s
def recv(s, timeout=3):
    s.settimeout(timeout)
    d, a = s.recvfrom(70000)
    return struct.unpack("!H", d[:2])[0], d, a
def quiet(s, t):
    s.settimeout(t)
    try:
        d, a = s.recvfrom(70000)
        return d
    except socket.timeout:
        return None

# EDK2 tsize probe: OACK carries the size, ERROR 8 ends the transfer.
s = rrq("f513", "tsize", "0", "blksize", "1468")
op, d, a = recv(s)
assert op == 6, d
assert b"tsize\x00513\x00" in d and b"blksize\x001468\x00" in d, d
s.sendto(struct.pack("!HH", 5, 8) + b"User aborted the transfer\0", a)
assert quiet(s, 1.5) is None, "server sent more after ERROR 8"

# Window of 4 at blksize 8 over 513 bytes (65 blocks), timeout 1 (fixed,
# RFC 2349, so the timer's resends are predictable).  A lost block: ACK 2
# in a window 1..4 must resend a whole window from 3 (RFC 7440 receivers
# such as EDK2 acknowledge only full windows; after a loss the window goes
# out in smaller paced bursts instead).  Duplicate ACKs must not resend.
def burst(s, t=0.3):
    """Blocks received until the line is quiet for t seconds."""
    got = []
    while True:
        d = quiet(s, t)
        if d is None:
            return got
        assert struct.unpack("!H", d[:2])[0] == 3, d
        got.append((struct.unpack("!H", d[2:4])[0], d[4:]))
s = rrq("f513", "blksize", "8", "windowsize", "4", "timeout", "1")
op, d, a = recv(s)
assert op == 6 and b"windowsize\x004\x00" in d and b"timeout\x001\x00" in d, d
s.sendto(struct.pack("!HH", 4, 0), a)
got = [struct.unpack("!HH", recv(s)[1][:4])[1] for _ in range(4)]
assert got == [1, 2, 3, 4], got
s.sendto(struct.pack("!HH", 4, 2), a)            # client lost block 3
got = [b for b, _ in burst(s, 0.2)]
assert got == [3, 4, 5, 6], got                    # a whole window from 3
s.sendto(struct.pack("!HH", 4, 6), a)
got = [b for b, _ in burst(s, 0.2)]
assert got == [7, 8, 9, 10], got
s.sendto(struct.pack("!HH", 4, 6), a)            # late duplicate ACKs
s.sendto(struct.pack("!HH", 4, 6), a)
assert quiet(s, 0.4) is None, "duplicate ACK caused a resend (Sorcerer's Apprentice)"
# No ACK: after the timeout the whole window after the last ACK comes
# again.
got = burst(s, 1.0)
nums = [b for b, _ in got]
assert nums == [7, 8, 9, 10], nums
# Read the rest window by window, acknowledging the last block of each;
# the data must be the file's.
data = b""
blk = 6
while True:
    if blk < got[-1][0]:
        for b, payload in got:
            if b == blk + 1:
                data += payload
                blk = b
    s.sendto(struct.pack("!HH", 4, blk), a)
    if len(got) and len(got[-1][1]) < 8 and blk == got[-1][0]:
        break
    got = burst(s, 0.3)
    assert got, "transfer stalled"
assert data == open(root + "/f513", "rb").read()[48:], "window transfer content"
assert quiet(s, 0.3) is None
s.close()

# IP_PKTINFO: a request sent to another local address (127.0.0.2 on lo)
# is answered from that address, not from 127.0.0.1.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(struct.pack("!H", 1) + b"f511\x00octet\x00", ("127.0.0.2", port))
op, d, a = recv(s)
assert op == 3 and a[0] == "127.0.0.2", (op, a)
s.sendto(struct.pack("!HH", 4, 1), a)
assert quiet(s, 0.3) is None
s.close()

# MaxTransfers (2): a third request is answered with an ERROR (code 0)
# while two run, and served when the client repeats it after a slot frees.
held = [rrq("f513", "blksize", "512") for _ in range(2)]
peers = []
for h in held:
    op, d, a = recv(h)
    assert op == 6, d
    peers.append(a)
third = rrq("f513", "blksize", "512")
op, d, a = recv(third)
assert op == 5 and d[2:4] == b"\x00\x00" and b"busy" in d, ("request over MaxTransfers", op, d)
for h, a in zip(held, peers):
    h.sendto(struct.pack("!HH", 5, 8) + b"done\0", a)
    h.close()
quiet(third, 0.2)
third.sendto(struct.pack("!H", 1) + b"f513\x00octet\x00blksize\x00512\x00", ("127.0.0.1", port))
op, d, a = recv(third)
assert op == 6, d
third.sendto(struct.pack("!HH", 5, 8) + b"done\0", a)
print("ok: scripted checks (EDK2 probe abort, window resend, no duplicate sends, timeout resend, reply from the requested address, MaxTransfers answered with an ERROR)")
PY

# Conformance table: each request, raw, and the answer it must get
# (opcode 6 = OACK with these options, 3 = DATA, 5 = ERROR with this code).
python3 - "$tport" <<'PY' || fail "conformance table"
import socket, struct, sys, time
port = int(sys.argv[1])
O = lambda *kv: b"".join(x.encode() + b"\0" for x in kv)
rrq = lambda name, mode="octet", *kv: struct.pack("!H", 1) + name.encode() + b"\0" + mode.encode() + b"\0" + O(*kv)
table = [
    # (what, packet, want opcode, error code or OACK substrings)
    ("blksize 7 (RFC 2348: 8..65464)", rrq("f513", "octet", "blksize", "7"), 5, 8),
    ("blksize 65465", rrq("f513", "octet", "blksize", "65465"), 5, 8),
    ("blksize not a number", rrq("f513", "octet", "blksize", "1k"), 5, 8),
    ("blksize 65464 answered at the cap", rrq("f513", "octet", "blksize", "65464"), 6, [b"blksize\x008192\x00"]),
    ("blksize 8", rrq("f513", "octet", "blksize", "8"), 6, [b"blksize\x008\x00"]),
    ("timeout 0 (RFC 2349: 1..255)", rrq("f513", "octet", "timeout", "0"), 5, 8),
    ("timeout 256", rrq("f513", "octet", "timeout", "256"), 5, 8),
    ("timeout 255", rrq("f513", "octet", "timeout", "255"), 6, [b"timeout\x00255\x00"]),
    ("tsize 5 in a RRQ (RFC 2349: 0)", rrq("f513", "octet", "tsize", "5"), 5, 8),
    ("tsize 0", rrq("f513", "octet", "tsize", "0"), 6, [b"tsize\x00513\x00"]),
    ("windowsize 0 (RFC 7440: 1..65535)", rrq("f513", "octet", "windowsize", "0"), 5, 8),
    ("windowsize 65536", rrq("f513", "octet", "windowsize", "65536"), 5, 8),
    ("windowsize 65535 answered at the cap", rrq("f513", "octet", "windowsize", "65535"), 6, [b"windowsize\x0064\x00"]),
    ("option names in any case", rrq("f513", "octet", "BLKSIZE", "1024", "WindowSize", "2"), 6, [b"blksize\x001024\x00", b"windowsize\x002\x00"]),
    ("unknown option ignored, no OACK", rrq("f513", "octet", "multicast", ""), 3, []),
    ("unknown option beside a known one", rrq("f513", "octet", "rollover", "0", "blksize", "1024"), 6, [b"blksize\x001024\x00"]),
    ("mode in any case", rrq("f511", "OcTeT"), 3, []),
    ("netascii mode", rrq("text.txt", "netascii"), 3, []),
    ("mail mode (obsolete)", rrq("f511", "mail"), 5, 4),
    ("missing file: error 1", rrq("nope"), 5, 1),
    ("hostile name: error 2", rrq("../secret"), 5, 2),
    ("WRQ: error 4", struct.pack("!H", 2) + b"up\0octet\0", 5, 4),
    ("no NUL after the mode: error 4", struct.pack("!H", 1) + b"f511\0octet", 5, 4),
]
for what, pkt, want, extra in table:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    # Repeated like a client's RRQ: with MaxTransfers 2 a request can
    # be refused as busy while earlier transfers are still being torn
    # down.
    for attempt in range(5):
        s.sendto(pkt, ("127.0.0.1", port))
        try:
            d, a = s.recvfrom(70000)
            if d[:4] == b"\x00\x05\x00\x00" and b"busy" in d:
                time.sleep(0.3)
                continue
            break
        except socket.timeout:
            pass
    else:
        raise AssertionError("no answer: " + what)
    op = struct.unpack("!H", d[:2])[0]
    assert op == want, (what, d)
    if op == 5:
        code = struct.unpack("!H", d[2:4])[0]
        assert code == extra and d.endswith(b"\0") and len(d) > 5, (what, d)
    elif op == 6:
        for sub in extra:
            assert sub in d, (what, d)
    if op in (3, 6):   # end the transfer politely
        s.sendto(struct.pack("!HH", 5, 0) + b"done\0", a)
    s.close()
print("ok: conformance table: %d requests (invalid option values, error codes 1 2 4 8, modes)" % len(table))
PY

# A file replaced while it is being served: a running transfer finishes
# the version it started, new requests get the new one (no stale cache).
head -c 200000 /dev/urandom >"$root/rep"
cp "$root/rep" "$TMP/rep.old"
head -c 150000 /dev/urandom >"$TMP/rep.new"
python3 - "$tport" "$root" "$TMP" <<'PY' || fail "file replaced during service"
import os, shutil, socket, struct, subprocess, sys
port, root, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(struct.pack("!H", 1) + b"rep\0octet\0", ("127.0.0.1", port))
d, a = s.recvfrom(70000)
assert struct.unpack("!HH", d[:4]) == (3, 1), d
old = d[4:]
# Replaced the way boot images should be: write aside, rename over.
shutil.copy(tmp + "/rep.new", root + "/rep.tmp")
os.rename(root + "/rep.tmp", root + "/rep")
r = subprocess.run(["curl", "-sf", "-o", tmp + "/rep.got", "tftp://127.0.0.1:%d/rep" % port], timeout=20)
assert r.returncode == 0, "new request failed"
assert open(tmp + "/rep.got", "rb").read() == open(tmp + "/rep.new", "rb").read(), "new request got stale data"
blk = 1
while True:
    s.sendto(struct.pack("!HH", 4, blk), a)
    if blk > 1 and len(d) < 516:
        break
    d, _ = s.recvfrom(70000)
    n = struct.unpack("!H", d[2:4])[0]
    if n == blk:
        continue
    assert n == blk + 1, (n, blk)
    blk = n
    old += d[4:]
assert old == open(tmp + "/rep.old", "rb").read(), "running transfer did not finish its version"
print("ok: file replaced during service: running transfer kept the old version, new request got the new one")
PY

# 1,000 concurrent transfers of 1 MiB with pxed's default settings
# (MaxTransfers 2000), every byte checked by the bench load generator.
# Every client is on 127.0.0.1: no per-address limit here.
if [ -z "${PXED_TFTP_CMD:-}" ] && [ -x "$ROOT/build/bench/tftp_load" ]; then
	head -c $((1024 * 1024)) /dev/urandom >"$root/m1"
	cport=$(free_port)
	cat >"$TMP/pxed2.conf" <<CONF
[tftp]
Root=$root
Port=$cport
MaxTransfersPerAddress=0
[http]
Port=$(free_port)
[store]
URL=sqlite:$TMP/pxed2.db
CONF
	start_pxed "$TMP/pxed2.conf"
	for w in 0 8; do
		out=$("$ROOT/build/bench/tftp_load" -c 1000 -b 1468 -w $w -d 60 -V "$root/m1" \
			-p "$cport" 127.0.0.1 m1 2>"$TMP/load.err") ||
			{ head "$TMP/load.err" >&2; fail "1000 concurrent (windowsize $w): $out"; }
		echo "$out" | grep -q "ok=1000 failed=0" || fail "1000 concurrent (windowsize $w): $out"
	done
	pass "1000 concurrent transfers of 1 MiB, windowsize 1 and 8, no failure"
fi

# One line per transfer in the log; the probe abort is not a failure.
sleep 0.5
assert_grep '"f1048577" done' "$log"
assert_grep '"big" done: 33555132 bytes sent of 33555132, blksize 512' "$log"
assert_grep '"f513" aborted: client sent error 8' "$log"
assert_grep 'refused: hostile name' "$log"
assert_grep 'refused: path leads out of the root' "$log"
assert_grep 'refused: write request' "$log"
assert_grep 'MaxTransfers \(2\) reached' "$log"
# (The conformance table ends each transfer it opened with ERROR 0 "done".)
if grep -E 'tftp: .*failed' "$log" | grep -v '"f513"' | grep -v 'client sent error 0 "done"' | grep -q .; then
	grep 'failed' "$log" >&2
	fail "transfers failed"
fi
pass "log lines"
