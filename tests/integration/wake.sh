#!/bin/bash
# Wake-on-LAN: `pxectl wake DEVICE` makes pxed send 3 magic packets (6 x
# 0xFF + 16 x the MAC, UDP port 9) to the broadcast address of its
# WakeInterfaces, about 100 ms apart; captured by a python receiver on the
# other end of a veth pair, in two network namespaces this test creates.
# An unknown interface in WakeInterfaces sends nothing and says so.
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

MAC=52:54:00:77:00:09
ctl device add sleeper --mac $MAC
ip netns exec $NS_C python3 - "$TMP/got" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9))
s.settimeout(5)
out = open(sys.argv[1], "w")
open(sys.argv[1] + ".ready", "w").close()
try:
    for _ in range(3):
        data, peer = s.recvfrom(2048)
        out.write("%.3f %s %s\n" % (time.monotonic(), peer[0], data.hex()))
        out.flush()
except socket.timeout:
    pass
PY
RX=$!
on_exit "kill $RX 2>/dev/null"
wait_for 5 test -e "$TMP/got.ready" || fail "receiver did not start"
ctl wake sleeper
assert_grep "Wake-on-LAN sent on wols$$" "$TMP/ctl.out"
wait $RX
[ "$(wc -l <"$TMP/got")" = 3 ] || { cat "$TMP/got" >&2; fail "expected 3 magic packets"; }
want="ffffffffffff$(for i in $(seq 16); do printf '%s' "${MAC//:/}"; done)"
while read -r t src hex; do
	assert_eq "source" 10.77.0.1 "$src"
	assert_eq "magic packet" "$want" "$hex"
done <"$TMP/got"
python3 - "$TMP/got" <<'PY' || fail "packets not about 100 ms apart"
import sys
t = [float(l.split()[0]) for l in open(sys.argv[1])]
gaps = [b - a for a, b in zip(t, t[1:])]
assert all(0.08 <= g <= 0.5 for g in gaps), gaps
PY
ctl events --device sleeper
assert_grep 'wol.*wake.*Wake-on-LAN magic packet sent on wols' "$TMP/ctl.out"
assert_grep "device 'sleeper' \($MAC\): Wake-on-LAN sent 3 times on wols$$" "$TMP/pxed.log"
pass "pxectl wake: 3 magic packets for the MAC, 100 ms apart, out of WakeInterfaces; event and log"

ctl settings set WakeInterfaces nosuch0
! ip netns exec $NS_S "$PXECTL" wake sleeper >"$TMP/ctl.out" 2>&1 || fail "wake with no interface worked"
assert_grep 'no interface matches WakeInterfaces' "$TMP/ctl.out"
pass "no matching interface: refused with the reason"
