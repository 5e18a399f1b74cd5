#!/bin/bash
# Unauthenticated traffic does not grow pxed's database and log without
# bound.  Spoofed DHCP requests (dhcp_client.build(), sent as a relay
# agent would on loopback) and script fetches with made-up MACs:
#   - 2000 DISCOVERs for one known machine: one event and one log line,
#     then one summary "(repeated N times in the last S s)" when the
#     DecisionRepeatWindow is over;
#   - 2000 DISCOVERs with random MACs (unknown, SupportUnknownMachines
#     off): a handful of events and log lines, whatever the MACs;
#   - with DecisionRepeatWindow 0, 3000 distinct decisions: the events
#     table stays near EventMaxRows;
#   - 20 unknown machines through the real boot path (iPXE exchange, then
#     the script) with a required deployment for unknown machines: only
#     UnknownMachinesPerMinute of them become devices.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3; do command -v $c >/dev/null || skip "needs $c"; done

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img"
echo kernel >"$TMP/root/img/vmlinuz"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
UnknownMachinesPerMinute = 5
CONF
loopback_sections
printf 'DecisionRepeatWindow = 3\nEventMaxRows = 200\n\n[log]\nLevel = info\n'; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
M1=52:54:00:71:00:01
ctl image add img --kernel img/vmlinuz --cmdline quiet
ctl device add flood-1 --mac $M1
ctl deploy dep-1 --image img --device flood-1 --available

# flood N MAC|random: N DISCOVERs, paced a little, to the DHCP port as from a relay agent
# at 127.0.0.1 (the replies go to 127.0.0.1:67, where nobody listens).
flood() {
	python3 - "$ROOT/tests/integration" "$DHCP_PORT" "$1" "$2" <<'PY' || fail "flood"
import argparse, os, socket, sys, time
sys.path.insert(0, sys.argv[1])
import dhcp_client
port, n, mac = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    m = mac if mac != "random" else "02:" + ":".join("%02x" % b for b in os.urandom(5))
    a = argparse.Namespace(mac=m, ciaddr=None, giaddr="127.0.0.1", xid=i + 1, secs=4,
                           broadcast_flag=False, type="discover", server_id=None, arch=0,
                           guid=None, vendor_class=None, user_class=None, http=False)
    s.sendto(dhcp_client.build(a), ("127.0.0.1", port))
    if i % 50 == 49:
        time.sleep(0.01)  # within pxed's socket buffer: every datagram counts
PY
}
events() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$TMP/pxed.db" "$1"; }
received() { curl -s "$B/metrics" | sed -n 's/^pxed_dhcp_received_total //p'; }
wait_received() { wait_for 20 test "$(received)" -ge "$1" || fail "pxed received $(received) of $1 datagrams"; }

# ---- one known machine, 2000 times ------------------------------------------
L0=$(wc -l <"$TMP/pxed.log")
flood 2000 $M1
wait_received 2000
sleep 4 # the window (3 s) is over: the summary is written
wait_for 5 grep -qE "$M1, -: boot 'dep-1' .* \(repeated [0-9]+ times in the last [0-9]+ s\)$" "$TMP/pxed.log" ||
	{ tail -n 5 "$TMP/pxed.log" >&2; fail "no summary line for the repeats"; }
lines=$(tail -n +$((L0 + 1)) "$TMP/pxed.log" | grep -c "$M1")
n=$(tail -n +$((L0 + 1)) "$TMP/pxed.log" | grep -o "repeated [0-9]* times" | awk '{ s += $2 } END { print s + 0 }')
sleep 1.2 # the event batch
rows=$(events "SELECT COUNT(*) FROM events WHERE mac = '$M1'")
echo "   2000 DISCOVERs for $M1: $lines log lines, $rows events, $n repeats counted"
[ "$lines" -le 4 ] || fail "$lines log lines for 2000 identical decisions"
[ "$rows" -le 4 ] || fail "$rows events for 2000 identical decisions"
# (a few are dropped as retries while the first is decided on the worker)
[ "$n" -ge 1900 ] || fail "only $n repeats counted of 2000"
assert_grep "^pxed_decisions_repeated_total [0-9]{4}" <(curl -s "$B/metrics")
pass "2000 identical decisions: $lines log lines, $rows events, the repeats counted"

# ---- 2000 made-up MACs ----------------------------------------------------------
L0=$(wc -l <"$TMP/pxed.log")
r0=$(events "SELECT COUNT(*) FROM events")
before=$(received)
flood 2000 random
wait_received $((before + 2000))
sleep 4.5
lines=$(tail -n +$((L0 + 1)) "$TMP/pxed.log" | grep -c "unknown machine and SupportUnknownMachines is off")
rows=$(( $(events "SELECT COUNT(*) FROM events") - r0 ))
echo "   2000 DISCOVERs with random MACs: $lines log lines, $rows events"
[ "$lines" -le 6 ] || fail "$lines log lines for 2000 unknown machines"
[ "$rows" -le 6 ] || fail "$rows events for 2000 unknown machines"
pass "2000 made-up MACs: $lines log lines, $rows events"

# ---- EventMaxRows -------------------------------------------------------------------
ctl settings set DecisionRepeatWindow 0
before=$(received)
flood 3000 random
wait_received $((before + 3000))
wait_for 10 test "$(events "SELECT COUNT(*) FROM events")" -le 260 ||
	fail "$(events "SELECT COUNT(*) FROM events") events with EventMaxRows 200"
assert_grep "deleted the [0-9]+ oldest boot events: more than EventMaxRows 200" "$TMP/pxed.log"
pass "3000 distinct decisions: events kept near EventMaxRows ($(events "SELECT COUNT(*) FROM events"))"

# ---- UnknownMachinesPerMinute -----------------------------------------------------
ctl settings set SupportUnknownMachines yes
ctl deploy unk --image img --unknown bios --required
ctl device list
d0=$(wc -l <"$TMP/ctl.out")
for i in $(seq 1 20); do
	u=$(ipxe_url "$(printf '02:00:00:71:01:%02x' "$i")" 0)
	[ -n "$u" ] || fail "no iPXE answer for unknown machine $i"
	curl -s --max-time 5 -o /dev/null "$u" || fail "script for unknown machine $i"
done
ctl device list
added=$(( $(wc -l <"$TMP/ctl.out") - d0 ))
assert_eq "unknown machines recorded" 5 "$added"
assert_grep "more than 5 unknown machines recorded in the last minute" "$TMP/pxed.log"
assert_grep "^pxed_unknown_machines_refused_total 15$" <(curl -s "$B/metrics")
pass "20 unknown machines through the boot path: 5 recorded (UnknownMachinesPerMinute), 15 refused"
