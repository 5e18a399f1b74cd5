#!/bin/bash
# Wake-on-LAN, captured by a python receiver on the other end of a veth
# pair, in two network namespaces this test creates:
#   - `pxectl wake DEVICE`: 3 magic packets (6 x 0xFF + 16 x the MAC, UDP
#     port 9) to the broadcast address of WakeInterfaces, about 100 ms
#     apart, sent from the event loop; event and log line;
#   - `pxectl wake --collection NAME`: the same for every member;
#   - `pxectl deploy ... --wake`: the deployment is made, its device woken;
#     refused before anything is made for unknown machines;
#   - a device whose PXE request came through a relay (giaddr 10.88.5.1)
#     also gets the directed broadcast 10.88.5.255 (WakeRelayPrefix 24);
#   - a collection above the limit (WOL_MAX_DEVICES) is refused;
#   - an unknown interface in WakeInterfaces sends nothing and says so.
source "$(dirname "$0")/../lib.sh"
need_root
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3 ip; do command -v $c >/dev/null || skip "needs $c"; done

NS_S=pxwol-s-$$ NS_C=pxwol-c-$$
ip netns add $NS_S && on_exit "ip netns del $NS_S"
ip netns add $NS_C && on_exit "ip netns del $NS_C"
ip link add wols$$ netns $NS_S type veth peer name wolc$$ netns $NS_C
ip -n $NS_S link set lo up
ip -n $NS_S addr add 10.77.0.1/24 brd + dev wols$$
ip -n $NS_S link set wols$$ up
ip -n $NS_C addr add 10.77.0.2/24 brd + dev wolc$$
ip -n $NS_C link set wolc$$ up
# A "relayed subnet" behind NS_C: pxed routes to it through 10.77.0.2, and
# NS_C takes its directed broadcast 10.88.5.255 as its own.
ip -n $NS_C addr add 10.88.5.1/24 brd + dev wolc$$
ip -n $NS_S route add 10.88.5.0/24 via 10.77.0.2

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
WakeInterfaces = wols$$
CONF
loopback_sections
printf '\n[log]\nLevel = info\n'; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf" $NS_S
use_pxed_api
ctl() { ip netns exec $NS_S "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }

# recv N FILE: up to N packets (or 3 s of quiet) on UDP 9 in NS_C, one line
# each: monotonic time, source, destination address, payload hex.
recv() {
	rm -f "$2" "$2.ready"
	ip netns exec $NS_C python3 - "$1" "$2" <<'PY' &
import socket, sys, time
n, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
IP_PKTINFO = 8  # linux/in.h; not in every python
s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.bind(("0.0.0.0", 9))
s.settimeout(3)
out = open(path, "w")
open(path + ".ready", "w").close()
try:
    for _ in range(n):
        data, anc, _, peer = s.recvmsg(2048, 256)
        dst = "?"
        for level, typ, d in anc:
            if level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                dst = socket.inet_ntoa(d[8:12])
        out.write("%.3f %s %s %s\n" % (time.monotonic(), peer[0], dst, data.hex()))
        out.flush()
except socket.timeout:
    pass
PY
	RX=$!
	on_exit "kill $RX 2>/dev/null"
	wait_for 5 test -e "$2.ready" || fail "receiver did not start"
}
magic() { printf 'ffffffffffff'; for i in $(seq 16); do printf '%s' "${1//:/}"; done; }
# gaps FILE HEX: the packets with payload HEX are 3, 80..500 ms apart
gaps() {
	python3 - "$1" "$2" <<'PY' || fail "packets for one MAC not 3 about 100 ms apart: $(cat "$1")"
import sys
t = [float(l.split()[0]) for l in open(sys.argv[1]) if l.split()[3] == sys.argv[2]]
assert len(t) == 3, t
gaps = [b - a for a, b in zip(t, t[1:])]
assert all(0.08 <= g <= 0.5 for g in gaps), gaps
PY
}

MAC=52:54:00:77:00:09
ctl device add sleeper --mac $MAC
recv 3 "$TMP/got"
ctl wake sleeper
assert_grep "device 'sleeper': Wake-on-LAN sent on wols$$" "$TMP/ctl.out"
wait $RX
[ "$(wc -l <"$TMP/got")" = 3 ] || { cat "$TMP/got" >&2; fail "expected 3 magic packets"; }
want=$(magic $MAC)
while read -r t src dst hex; do
	assert_eq "source" 10.77.0.1 "$src"
	assert_eq "destination" 10.77.0.255 "$dst"
	assert_eq "magic packet" "$want" "$hex"
done <"$TMP/got"
gaps "$TMP/got" "$want"
ctl events --device sleeper
assert_grep 'wol.*wake.*Wake-on-LAN magic packet sent on wols' "$TMP/ctl.out"
assert_grep "device 'sleeper': Wake-on-LAN for 1 device\(s\), 3 times on wols$$" "$TMP/pxed.log"
pass "pxectl wake: 3 magic packets for the MAC, 100 ms apart, out of WakeInterfaces; event and log"

# ---- a collection ---------------------------------------------------------------
M2=52:54:00:77:00:0a M3=52:54:00:77:00:0b
ctl device add rack-a --mac $M2
ctl device add rack-b --mac $M3
ctl collection add rack
ctl collection add-device rack rack-a
ctl collection add-device rack rack-b
recv 6 "$TMP/got"
ctl wake --collection rack
assert_grep "collection 'rack': Wake-on-LAN sent for 2 device\(s\) on wols$$" "$TMP/ctl.out"
wait $RX
[ "$(wc -l <"$TMP/got")" = 6 ] || { cat "$TMP/got" >&2; fail "expected 6 magic packets (3 per member)"; }
gaps "$TMP/got" "$(magic $M2)"
gaps "$TMP/got" "$(magic $M3)"
! grep -q "$(magic $MAC)" "$TMP/got" || fail "a device outside the collection was woken"
ctl events --device rack-b
assert_grep "wol.*wake.*for collection 'rack'" "$TMP/ctl.out"
assert_eq "API: no such collection" 404 "$(ip netns exec $NS_S curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $(cat "$TMP/api.token")" "$B/api/v1/collections/nope/wake")"
pass "wake --collection: 3 packets 100 ms apart for each member, none for others; events"

# ---- deploy --wake ----------------------------------------------------------------
mkdir -p "$TMP/root/img" && echo k >"$TMP/root/img/vmlinuz"
ctl image add inst --kernel img/vmlinuz
recv 3 "$TMP/got"
ctl deploy d1 --image inst --device rack-a --required --wake
assert_grep "deployment 'd1' added" "$TMP/ctl.out"
assert_grep "device 'rack-a': Wake-on-LAN sent for 1 device\(s\) on wols$$" "$TMP/ctl.out"
wait $RX
[ "$(wc -l <"$TMP/got")" = 3 ] || { cat "$TMP/got" >&2; fail "deploy --wake: expected 3 magic packets"; }
gaps "$TMP/got" "$(magic $M2)"
ctl deployment show d1
! ip netns exec $NS_S "$PXECTL" deploy d2 --image inst --unknown bios --required --wake >"$TMP/ctl.out" 2>&1 ||
	fail "deploy --unknown --wake worked"
assert_eq "API: wake for unknown machines" 400 "$(ip netns exec $NS_S curl -s -o "$TMP/api.out" -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $(cat "$TMP/api.token")" \
	-d '{"name":"d2","image":"inst","unknown_arch":"bios","purpose":"required","wake":true}' "$B/api/v1/deployments")"
! ip netns exec $NS_S "$PXECTL" deployment show d2 >/dev/null 2>&1 || fail "refused deploy --wake made d2"
pass "deploy --wake: deployment made, then its device woken; refused for unknown machines, nothing made"

# ---- directed broadcast to a relayed subnet ----------------------------------------
MR=52:54:00:77:00:0c
ctl device add far --mac $MR
# A PXE request relayed from 10.88.5.0/24 (its answer goes to the relay,
# which is not there: only the giaddr pxed saw matters).
ip netns exec $NS_S python3 "$ROOT/tests/integration/dhcp_client.py" --unicast 127.0.0.1 \
	--port "$PXE_PORT" --source 127.0.0.1:0 --type request --ciaddr 10.88.5.20 \
	--giaddr 10.88.5.1 --user-class iPXE --mac $MR --timeout 1 >/dev/null 2>&1 || true
recv 6 "$TMP/got"
ctl wake far
assert_grep "and to 1 relayed subnet" "$TMP/ctl.out"
wait $RX
[ "$(grep -c ' 10.88.5.255 ' "$TMP/got")" = 3 ] || { cat "$TMP/got" >&2; tail -5 "$TMP/pxed.log" >&2; ip netns exec $NS_S curl -s "$B/metrics" | grep wake >&2; fail "expected 3 packets to 10.88.5.255"; }
[ "$(grep -c ' 10.77.0.255 ' "$TMP/got")" = 3 ] || { cat "$TMP/got" >&2; fail "expected 3 packets to 10.77.0.255"; }
ip netns exec $NS_S curl -s "$B/metrics" >"$TMP/metrics"
assert_grep '^pxed_wake_packets_total\{to="directed"\} 3$' "$TMP/metrics"
pass "a device last seen through a relay also gets its subnet's directed broadcast"

# ---- the limit ----------------------------------------------------------------
ctl settings set WakeMaxDevices 1
! ip netns exec $NS_S "$PXECTL" wake --collection rack >"$TMP/ctl.out" 2>&1 || fail "waking 2 devices above WakeMaxDevices 1 worked"
assert_grep 'at most 1 at once' "$TMP/ctl.out"
! ip netns exec $NS_S "$PXECTL" deploy d3 --image inst --collection rack --required --wake >"$TMP/ctl.out" 2>&1 ||
	fail "deploy --wake above WakeMaxDevices worked"
! ip netns exec $NS_S "$PXECTL" deployment show d3 >/dev/null 2>&1 || fail "refused deploy --wake made d3"
ctl settings set WakeMaxDevices 10000
pass "a collection above WakeMaxDevices is refused, also with deploy --wake (nothing made)"

ctl settings set WakeInterfaces nosuch0
! ip netns exec $NS_S "$PXECTL" wake sleeper >"$TMP/ctl.out" 2>&1 || fail "wake with no interface worked"
assert_grep 'no interface matches WakeInterfaces' "$TMP/ctl.out"
pass "no matching interface: refused with the reason"
