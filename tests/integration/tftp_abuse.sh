#!/bin/bash
# TFTP against what a LAN attacker or a careless admin can do, with raw
# UDP clients (python) against the real daemon:
#   1. a file truncated in place under a running transfer, and a sparse
#      file on tmpfs: each transfer ends (error or complete) within its
#      bound, pxed's CPU time stays low, other transfers still work;
#   2. reflection: one forged RRQ (never acknowledged), with and without
#      options, makes pxed send at most 3 small packets within ~6 s;
#   3. one address cannot take every slot: MaxTransfersPerAddress, an
#      ERROR (not silence) when full, counted in /metrics, and slots held
#      by never-acknowledged requests (timeout 255) free within seconds.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
need_root
command -v python3 >/dev/null || skip "needs python3"

PORT=$(free_port)
TFTP_PORT=$(free_port)
mkdir -p "$TMP/root/tmpfs"
mount -t tmpfs -o size=64m pxed-test "$TMP/root/tmpfs" || skip "cannot mount a tmpfs"
on_exit "umount -l '$TMP/root/tmpfs'"
head -c 100000 /dev/urandom >"$TMP/root/small"
# 48 MiB of random bytes: long enough to truncate mid-transfer.
head -c $((48 << 20)) /dev/urandom >"$TMP/root/big"
truncate -s 32M "$TMP/root/tmpfs/sparse"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
DHCPPort = $(free_port)
PXEPort = $(free_port)
$(loopback_sections | sed "/^Port = $TFTP_PORT\$/a MaxTransfers = 100")
CONF
grep -q "MaxTransfers = 100" "$TMP/pxed.conf" || fail "config"
start_pxed "$TMP/pxed.conf"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PXED_PID/stat"; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1==m{print $2}'; }

cat >"$TMP/tftp.py" <<'PY'
import os, socket, struct, sys, time

def rrq(name, opts=None):
    p = struct.pack("!H", 1) + name.encode() + b"\0octet\0"
    for k, v in (opts or {}).items():
        p += k.encode() + b"\0" + str(v).encode() + b"\0"
    return p

def get(port, name, opts=None, src="127.0.0.1", on_block=None, limit=40.0):
    """Download; returns (result, bytes, seconds): result 'done', 'error:CODE:MSG' or 'timeout'."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(1.0)
    s.sendto(rrq(name, opts), ("127.0.0.1", port))
    blksize = int((opts or {}).get("blksize", 512))
    got, expect, t0, last = 0, 1, time.time(), time.time()
    while time.time() - t0 < limit:
        try:
            d, a = s.recvfrom(70000)
        except socket.timeout:
            if time.time() - last > limit:
                break
            continue
        last = time.time()
        op = struct.unpack("!H", d[:2])[0]
        if op == 5:
            code = struct.unpack("!H", d[2:4])[0]
            msg = d[4:].split(b"\0")[0].decode(errors="replace").replace(" ", "_")
            return "error:%d:%s" % (code, msg), got, time.time() - t0
        if op == 6:
            s.sendto(struct.pack("!HH", 4, 0), a)
            continue
        if op != 3:
            continue
        blk = struct.unpack("!H", d[2:4])[0]
        if blk == expect & 0xFFFF:
            got += len(d) - 4
            if on_block:
                on_block(expect)
            expect += 1
        s.sendto(struct.pack("!HH", 4, (expect - 1) & 0xFFFF), a)
        if blk == (expect - 1) & 0xFFFF and len(d) - 4 < blksize:
            return "done", got, time.time() - t0
    return "timeout", got, time.time() - t0

def listen_forged(port, name, opts, secs):
    """One RRQ, never answered: what comes back, and when."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    t0 = time.time()
    s.sendto(rrq(name, opts), ("127.0.0.1", port))
    pkts, nbytes, last = 0, 0, 0.0
    while time.time() - t0 < secs:
        try:
            d, a = s.recvfrom(70000)
        except socket.timeout:
            continue
        pkts += 1
        nbytes += len(d)
        last = time.time() - t0
    print("%d %d %.1f" % (pkts, nbytes, last))

cmd = sys.argv[1]
port = int(sys.argv[2])
if cmd == "get":
    opts = dict(a.split("=") for a in sys.argv[5:]) if len(sys.argv) > 5 else None
    r, n, t = get(port, sys.argv[3], opts, src=sys.argv[4])
    print(r, n, "%.1f" % t)
elif cmd == "truncate":
    path = sys.argv[4]
    def cut(k):
        if k == 200:
            os.truncate(path, 65536)
    r, n, t = get(port, sys.argv[3], {"blksize": 1468}, on_block=cut, limit=40.0)
    print(r, n, "%.1f" % t)
elif cmd == "forged":
    opts = dict(a.split("=") for a in sys.argv[4:]) if len(sys.argv) > 4 else None
    listen_forged(port, sys.argv[3], opts, 9.0)
elif cmd == "flood":
    # Groups of N never-acknowledged RRQs with timeout 255, N and SRC
    # address per group: per group, how many got an ERROR back and how
    # many an OACK; then the sockets stay open HOLD seconds (so pxed gets
    # no ICMP port unreachable and only its own limits free the slots).
    hold = float(sys.argv[3])
    groups = sys.argv[4:]
    allsocks = []
    for g in range(0, len(groups), 2):
        n, src = int(groups[g]), groups[g + 1]
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((src, 0))
            s.settimeout(2.0)
            s.sendto(rrq("small", {"timeout": 255, "blksize": 1468}), ("127.0.0.1", port))
            socks.append(s)
        errors = oacks = 0
        msg = ""
        for s in socks:
            try:
                d, a = s.recvfrom(70000)
            except socket.timeout:
                continue
            op = struct.unpack("!H", d[:2])[0]
            if op == 5:
                errors += 1
                msg = d[4:].split(b"\0")[0].decode()
            elif op == 6:
                oacks += 1
        print(errors, oacks, msg.replace(" ", "_") or "-", flush=True)
        allsocks += socks
    time.sleep(hold)
PY
T() { python3 "$TMP/tftp.py" "$@"; }

# ---- 1. truncated under a transfer; sparse on tmpfs -----------------------
c0=$(cpu_ticks)
read -r res n secs < <(T truncate "$TFTP_PORT" big "$TMP/root/big")
c1=$(cpu_ticks)
echo "truncated: $res $n bytes in $secs s, pxed CPU $((c1 - c0)) ticks"
[[ $res == error:* ]] || fail "transfer of a file truncated under it: $res (expected a TFTP error)"
python3 -c "import sys; sys.exit(0 if float('$secs') < 30 else 1)" || fail "the truncated transfer took $secs s"
sleep 2
c2=$(cpu_ticks)
[ $((c2 - c1)) -le 50 ] || fail "pxed busy after the truncated transfer: $((c2 - c1)) ticks in 2 s"
pass "a file truncated under its transfer ends it with '$res' in $secs s; pxed idle after ($((c2 - c1)) ticks in 2 s)"

c0=$(cpu_ticks)
read -r res n secs < <(T get "$TFTP_PORT" tmpfs/sparse 127.0.0.1 blksize=1468 windowsize=8)
c1=$(cpu_ticks)
echo "sparse: $res $n bytes in $secs s, pxed CPU $((c1 - c0)) ticks"
if [ "$res" = done ]; then
	assert_eq "sparse file size" $((32 << 20)) "$n"
else
	[[ $res == error:* ]] || fail "sparse file on tmpfs: $res"
fi
python3 -c "import sys; sys.exit(0 if float('$secs') < 30 else 1)" || fail "the sparse transfer took $secs s"
sleep 2
c2=$(cpu_ticks)
[ $((c2 - c1)) -le 50 ] || fail "pxed busy after the sparse transfer: $((c2 - c1)) ticks in 2 s"
pass "a sparse file on tmpfs: '$res' in $secs s; pxed idle after"

read -r res n secs < <(T get "$TFTP_PORT" small 127.0.0.1 blksize=1468)
assert_eq "another transfer after those" "done 100000" "$res $n"
assert_eq "transfers left running" 0 "$(metric pxed_tftp_transfers_active)"
pass "other transfers still work"

# ---- 2. reflection: one forged request, never acknowledged ---------------
read -r pkts bytes last < <(T forged "$TFTP_PORT" big)
echo "forged RRQ without options: $pkts packets, $bytes bytes, last at $last s"
[ "$pkts" -ge 1 ] && [ "$pkts" -le 3 ] || fail "a forged RRQ got $pkts packets sent to its victim (at most 3)"
[ "$bytes" -le $((3 * 516)) ] || fail "a forged RRQ got $bytes bytes sent to its victim"
python3 -c "import sys; sys.exit(0 if float('$last') <= 7 else 1)" || fail "packets sent until $last s after a forged RRQ"
read -r pkts2 bytes2 last2 < <(T forged "$TFTP_PORT" big blksize=65464 windowsize=64 tsize=0 timeout=255)
echo "forged RRQ with options: $pkts2 packets, $bytes2 bytes, last at $last2 s"
[ "$pkts2" -ge 1 ] && [ "$pkts2" -le 3 ] || fail "a forged RRQ with options got $pkts2 packets (at most 3)"
[ "$bytes2" -le 300 ] || fail "a forged RRQ with options got $bytes2 bytes (only OACKs expected)"
python3 -c "import sys; sys.exit(0 if float('$last2') <= 7 else 1)" || fail "packets until $last2 s after a forged RRQ with timeout 255"
pass "a forged RRQ costs its victim at most 3 packets within 6 s ($pkts/$bytes B; with options $pkts2/$bytes2 B)"

# ---- 3. slots: per address, when full, unacknowledged ------------------
T flood "$TFTP_PORT" 8 80 127.0.0.2 50 127.0.0.3 >"$TMP/flood.out"
read -r errs oacks msg < <(sed -n 1p "$TMP/flood.out")
read -r errs2 oacks2 msg2 < <(sed -n 2p "$TMP/flood.out")
echo "80 requests from 127.0.0.2: $oacks OACKs, $errs errors ($msg)"
echo "50 requests from 127.0.0.3: $oacks2 OACKs, $errs2 errors ($msg2)"
assert_eq "transfers one address may hold (MaxTransfersPerAddress 64)" 64 "$oacks"
assert_eq "requests over the per-address limit answered with an ERROR" 16 "$errs"
assert_eq "slots left for another address (MaxTransfers 100)" 36 "$oacks2"
assert_eq "requests over MaxTransfers answered with an ERROR" 14 "$errs2"
assert_eq "busy counted" 14 "$(metric pxed_tftp_requests_busy_total)"
assert_eq "per-address refusals counted" 16 "$(metric pxed_tftp_requests_busy_per_address_total)"
pass "one address holds at most 64 slots; when full, requests get an ERROR; both counted"
# timeout 255 does not keep a never-acknowledged slot: the clients kept
# their sockets open 8 s, and every slot was free by then.
assert_eq "transfers still running 8 s after never-acknowledged requests" 0 "$(metric pxed_tftp_transfers_active)"
u=$(metric pxed_tftp_transfers_unacknowledged_total)
[ "${u:-0}" -ge 100 ] || fail "never-acknowledged transfers not counted: ${u:-}"
read -r res n secs < <(T get "$TFTP_PORT" small 127.0.0.2)
assert_eq "the flooding address is served again" "done 100000" "$res $n"
pass "slots held by never-acknowledged requests free within seconds, whatever timeout they asked"
kill -0 "$PXED_PID" || fail "pxed died"
