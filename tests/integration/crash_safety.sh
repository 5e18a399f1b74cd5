#!/bin/bash
# Crash safety: pxed is killed with SIGKILL at a random moment of a mixed
# workload, 30 times in a row:
#   - hand-outs through the real boot path: a scripted iPXE DHCP exchange
#     (unknown machines, a required deployment for them), then the GET of
#     the script URL with its token;
#   - API writes (POST /api/v1/devices);
#   - a flood of DISCOVERs with made-up MACs.
# After each kill the database passes PRAGMA integrity_check, every device
# the API acknowledged with 2xx is there, and every machine whose script
# was served (a kernel line) is recorded with its hand-out; pxed starts
# again on the same database.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3; do command -v $c >/dev/null || skip "needs $c"; done
ROUNDS=${CRASH_ROUNDS:-30}

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img"
echo kernel >"$TMP/root/img/vmlinuz"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
SupportUnknownMachines = yes
UnknownMachinesPerMinute = 0
CONF
loopback_sections
printf '\n[log]\nLevel = warn\n'; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
"$PXECTL" image add img --kernel img/vmlinuz --cmdline quiet >/dev/null || fail "image add"
"$PXECTL" deploy unk --image img --unknown bios --required >/dev/null || fail "deploy"

# The workload, one process for the whole test (until $TMP/stop exists),
# riding over the kills: what was acknowledged goes to $TMP/acked, one
# "D name" or "H mac" a line, written only after the 2xx or the served
# script arrived.
workload() {
	python3 - "$ROOT/tests/integration" "$PORT" "$DHCP_PORT" "$PXE_PORT" "$(cat "$TMP/api.token")" \
		"$TMP/acked" "$TMP/stop" <<'PY'
import argparse, http.client, json, os, socket, sys, threading, time
sys.path.insert(0, sys.argv[1])
import dhcp_client
port, dport, pport, token = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
acked, stopfile = sys.argv[6], sys.argv[7]
out = open(acked, "a")
lock = threading.Lock()
def running():
    return not os.path.exists(stopfile)
def ack(line):
    with lock:
        out.write(line + "\n")
        out.flush()
def rmac():
    return "02:" + ":".join("%02x" % b for b in os.urandom(5))
def pkt(mac, typ, uc=None):
    a = argparse.Namespace(mac=mac, ciaddr="127.0.0.1" if typ == "request" else None,
                           giaddr=None if typ == "request" else "127.0.0.1",
                           xid=int.from_bytes(os.urandom(4), "big"), secs=4, broadcast_flag=False,
                           type=typ, server_id=None, arch=0, guid=None, vendor_class=None,
                           user_class=uc, http=False)
    return a.xid, dhcp_client.build(a)
def handouts():
    while running():
        mac = rmac()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            xid, p = pkt(mac, "request", "iPXE")
            s.sendto(p, ("127.0.0.1", pport))
            r = dhcp_client.recv_udp(s, xid, time.monotonic() + 0.5)
            s.close()
            if not r:
                continue
            url = r["file"]
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", url[url.index("/boot.ipxe"):])
            resp = c.getresponse()
            body = resp.read().decode()
            c.close()
            if resp.status == 200 and "\nkernel " in body:
                ack("H " + mac)
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
def writes():
    i = 0
    while running():
        i += 1
        name = "crash-%d" % i
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("POST", "/api/v1/devices", json.dumps({"name": name, "mac": rmac()}),
                      {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            resp = c.getresponse()
            resp.read()
            c.close()
            if 200 <= resp.status < 300:
                ack("D " + name)
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
def flood():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    while running():
        _, p = pkt(rmac(), "discover")
        try:
            s.sendto(p, ("127.0.0.1", dport))
        except OSError:
            pass
        n += 1
        if n % 20 == 0:
            time.sleep(0.005)
ts = [threading.Thread(target=f) for f in (handouts, handouts, writes, flood)]
for t in ts: t.start()
for t in ts: t.join()
PY
}

check_db() {
	python3 - "$TMP/pxed.db" "$TMP/acked.round" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ok = db.execute("PRAGMA integrity_check").fetchone()[0]
if ok != "ok":
    sys.exit("integrity_check: " + ok)
missing = []
for line in open(sys.argv[2]):
    kind, what = line.split()
    if kind == "D":
        n = db.execute("SELECT COUNT(*) FROM devices WHERE name = ?", (what,)).fetchone()[0]
    else:
        n = db.execute("SELECT COUNT(*) FROM devices d JOIN pxe_history h ON h.device_id = d.id "
                       "WHERE lower(d.mac) = lower(?)", (what,)).fetchone()[0]
    if n != 1:
        missing.append(line.strip())
if missing:
    sys.exit("lost after the crash: " + ", ".join(missing[:10]) + " (%d)" % len(missing))
PY
}

: >"$TMP/acked"
workload &
WL=$!
on_exit "touch $TMP/stop; kill $WL"
seen=0
for round in $(seq 1 "$ROUNDS"); do
	sleep "$(python3 -c 'import random; print(random.uniform(0.3, 1.0))')"
	kill -KILL "$PXED_PID"
	wait "$PXED_PID" 2>/dev/null
	# What was acknowledged before the kill (a line written a moment
	# later is checked the next round: the database is the same).
	n=$(wc -l <"$TMP/acked")
	sed -n "$((seen + 1)),${n}p" "$TMP/acked" >"$TMP/acked.round"
	seen=$n
	t_chk=$(date +%s%3N)
	check_db || fail "round $round: the database after SIGKILL"
	t_start=$(date +%s%3N)
	start_pxed "$TMP/pxed.conf"
	[ -n "${CRASH_DEBUG:-}" ] && echo "round $round: $(wc -l <"$TMP/acked.round") acknowledged, check $((t_start - t_chk)) ms, start $(($(date +%s%3N) - t_start)) ms"
done
touch "$TMP/stop"
wait "$WL" || fail "the workload failed"
H=$(grep -c '^H ' "$TMP/acked")
D=$(grep -c '^D ' "$TMP/acked")
echo "   $ROUNDS kills: $H hand-outs served and $D devices acknowledged, none lost"
[ "$H" -ge "$ROUNDS" ] && [ "$D" -ge "$ROUNDS" ] || fail "too little work done to mean anything ($H hand-outs, $D writes)"
pass "$ROUNDS SIGKILLs during hand-outs, API writes and a DISCOVER flood: database intact, nothing acknowledged lost"
