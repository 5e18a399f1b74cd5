#!/bin/bash
# A storm of cold PXE DISCOVERs loses none: pxed answers every one of
# 10,000 DISCOVERs sent with 256 outstanding, each from a machine it has
# not seen since it started and which is in its database (20,000 devices,
# all in a collection with a required deployment, so each answer is a full
# decision read from SQLite).
#
# pxed runs in one network namespace, build/bench/dhcp_load in another,
# joined by a veth pair; the DISCOVERs are broadcasts from port 68 as PXE
# firmware sends them, and a DISCOVER with no OFFER within 2 s counts as
# lost (firmware would retry 4 s later).  Four rounds of 2,500, each
# opening with a burst of 256: what the socket cannot hold while pxed is
# busy deciding is lost.  Checked: no request lost, pxed's counters say it
# answered all it received and shed nothing (socket drops, busy,
# coalesced), and the log has one decision line per request.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
LOAD=$ROOT/build/bench/dhcp_load
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$LOAD" ] || skip "no $LOAD (make first)"
need_root
for c in ip curl python3; do command -v $c >/dev/null || skip "needs $c"; done
[ -r /usr/lib/ipxe/undionly.kpxe ] || skip "needs /usr/lib/ipxe/undionly.kpxe (Debian package ipxe)"
DEVICES=20000
ROUNDS=4
PER_ROUND=2500

netns_pair ds 10.83.0.1/24 10.83.0.2/24

HTTP_PORT=8080
mkdir -p "$TMP/root" "$TMP/state"
chmod 700 "$TMP/state"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
SupportUnknownMachines = no
ResponseDelay = 0
CacheExpire = 3600
DHCPPort = 67
PXEPort = 4011

[tftp]
Root = $TMP/root
Port = 69

[http]
Port = $HTTP_PORT
Address = 127.0.0.1

[store]
StateDir = $TMP/state
URL = sqlite:$TMP/pxed.db

[log]
Level = info
CONF

# pxed creates its schema at the first start; the devices go straight into
# that schema in one transaction (the API's import takes longer), with the
# MACs and GUIDs dhcp_load's machines 0..N-1 send.
start_pxed "$TMP/pxed.conf" "$NS_S"
kill "$PXED_PID"
wait "$PXED_PID" 2>/dev/null
python3 - "$TMP/pxed.db" "$DEVICES" <<'PY' || fail "seeding the database"
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
n, now = int(sys.argv[2]), int(time.time())
def mac(m): return "52:54:%02x:%02x:%02x:%02x" % (m >> 24 & 255, m >> 16 & 255, m >> 8 & 255, m & 255)
with db:
    db.executemany("INSERT INTO devices (name, mac, guid, created) VALUES (?, ?, ?, ?)",
                   (("storm-%d" % m, mac(m), "8a3c9e1f-0000-4c1d-9a5e-0000%08x" % m, now) for m in range(n)))
    db.execute("INSERT INTO collections (id, name, created) VALUES (1, 'storm', ?)", (now,))
    db.execute("INSERT INTO collection_members (collection_id, device_id) SELECT 1, id FROM devices")
    db.execute("INSERT INTO images (id, name, kernel, created) VALUES (1, 'img', 'img/vmlinuz', ?)", (now,))
    db.execute("INSERT INTO deployments (name, image_id, purpose, created, collection_id)"
               " VALUES ('storm', 1, 1, ?, 1)", (now,))
    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
PY
: >"$TMP/pxed.log"
start_pxed "$TMP/pxed.conf" "$NS_S"

lost=0
for ((r = 0; r < ROUNDS; r++)); do
	line=$(ip netns exec "$NS_C" "$LOAD" -i "$IF_C" -o 256 -n $PER_ROUND -s $((r * PER_ROUND)) -k 0 -d 60) || true
	echo "  round $((r + 1)): $line"
	[[ $line == *answered=* ]] || fail "dhcp_load gave no result"
	l=$(echo "$line" | sed -n 's/.*lost=\([0-9]*\).*/\1/p')
	lost=$((lost + l))
done
kill -0 "$PXED_PID" || fail "pxed died during the storm"
N=$((ROUNDS * PER_ROUND))

metric() { ip netns exec "$NS_S" curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
echo "  pxed: received $(metric pxed_dhcp_received_total) answered $(metric pxed_dhcp_answered_total)" \
	"deferred $(metric pxed_dhcp_deferred_total) socket drops $(metric pxed_dhcp_socket_drops_total)" \
	"busy $(metric pxed_dhcp_busy_total) coalesced $(metric pxed_dhcp_coalesced_total)"
ip netns exec "$NS_S" awk '/^Udp:/ { if (!h) { split($0, k); h = 1 } else { split($0, v);
	for (i = 2; i <= NF; i++) if (k[i] ~ /RcvbufErrors/) print "  server kernel UDP " k[i] "=" v[i] } }' /proc/net/snmp
assert_eq "DISCOVERs lost of $N sent with 256 outstanding" 0 "$lost"
pass "$N cold DISCOVERs, 256 outstanding, $DEVICES devices in the store: every one answered"

assert_eq "DHCP datagrams pxed received" "$N" "$(metric pxed_dhcp_received_total)"
assert_eq "OFFERs pxed sent" "$N" "$(metric pxed_dhcp_answered_total)"
assert_eq "requests decided on the worker (none from the cache)" "$N" "$(metric pxed_dhcp_deferred_total)"
for m in pxed_dhcp_socket_drops_total pxed_dhcp_busy_total pxed_dhcp_coalesced_total; do
	assert_eq "$m" 0 "$(metric $m)"
done
pass "pxed counted $N received, $N answered, nothing dropped by the socket or shed as busy"

got=$(grep -c "decide: 52:54:.*: boot 'storm' (required deployment 'storm'.*\[dhcp DISCOVER on $IF_S" "$TMP/pxed.log")
assert_eq "decision log lines" "$N" "$got"
pass "one decision line per request in the log"

kill -TERM "$PXED_PID"
wait "$PXED_PID" || fail "pxed exited with status $? on SIGTERM"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/pxed.log"; then
	grep -E -A20 "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/pxed.log" | head -n 40 >&2
	fail "sanitizer report in pxed's log"
fi
pass "pxed stops cleanly on SIGTERM"
exit 0
