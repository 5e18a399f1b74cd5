#!/bin/bash
# soak.sh: pxed under repeated boot storms and API traffic for a long
# while, checking that nothing fails and nothing grows.
#
#   tests/soak/soak.sh [SECONDS]        (default 600; at least two storms run)
#
# Not part of scripts/test.sh (it takes ten minutes).  One pxed runs in a
# network namespace for the whole soak; storm after storm, SOAK_COUNT (400)
# simulated machines (tests/integration/storm_client.py, half of them UEFI
# x64 booting as EDK2, each dropping SOAK_TFTP_DROP (1%) of the TFTP data it
# receives) do the whole network boot at once from a second namespace over
# a veth pair: ProxyDHCP, TFTP of the boot program, the iPXE DISCOVER, the
# script, kernel and initrd over HTTP.  Before each storm the collection's
# required deployment is cleared ("Clear Required PXE Deployments"), so
# every storm is a full deployment boot.  Meanwhile an API client lists
# devices, deployments, events and the decision cache, reads /metrics and
# adds and removes a device, without pause.
#
# Checked after every storm: every machine booted (no failed boot); and
# against the figures after the first storm (caches and pools warm):
#   - pxed's resident memory (VmRSS) grew by at most SOAK_RSS_KB (8192);
#   - its open files (/proc/PID/fd) by at most SOAK_FDS (4);
#   - the database (its pages in use) by no more than the boot events written since, at
#     SOAK_EVENT_BYTES (512) bytes an event, plus 1 MiB: events are the
#     only rows a boot adds (they go at EventRetentionDays);
#   - and its write-ahead log stays under SOAK_WAL_KB (16384): SQLite
#     checkpoints it at about 4 MiB, unless a read transaction left open
#     holds it back, which is what this would show.
# Prints one line per storm and a summary; exit 0 (all held), 1, or 77.
#
# Environment: SOAK_SECONDS, SOAK_COUNT (2..1000), SOAK_UEFI (default half),
# SOAK_TFTP_DROP, SOAK_KERNEL_KB (512), SOAK_INITRD_KB (1024), and the
# bounds above.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
need_root
for c in ip curl python3; do command -v $c >/dev/null || skip "needs $c"; done
NBP_LOCAL=/usr/lib/ipxe/undionly.kpxe
UEFI_NBP_LOCAL=/usr/lib/ipxe/snponly.efi
[ -r "$NBP_LOCAL" ] && [ -r "$UEFI_NBP_LOCAL" ] || skip "needs Debian's ipxe package"
CLIENT=$ROOT/tests/integration/storm_client.py

DURATION=${1:-${SOAK_SECONDS:-600}}
N=${SOAK_COUNT:-400}
U=${SOAK_UEFI:-$((N / 2))}
DROP=${SOAK_TFTP_DROP:-0.01}
RSS_KB=${SOAK_RSS_KB:-8192}
FDS=${SOAK_FDS:-4}
EVENT_BYTES=${SOAK_EVENT_BYTES:-512}
WAL_KB=${SOAK_WAL_KB:-16384}
[ "$N" -ge 2 ] && [ "$N" -le 1000 ] || fail "SOAK_COUNT must be 2..1000"
[ "$U" -ge 0 ] && [ "$U" -le "$N" ] || fail "SOAK_UEFI must be 0..SOAK_COUNT"

# ---- two namespaces, a veth, one address per machine (10.79.1.10 and up) --
NS_S=pxed-soak-s-$$
NS_C=pxed-soak-c-$$
IF_S=pks$$
IF_C=pkc$$
SRV=10.79.0.1
ip netns add "$NS_S" || skip "cannot create network namespaces"
on_exit "ip netns del $NS_S"
ip netns add "$NS_C" || fail "cannot create namespace $NS_C"
on_exit "ip netns del $NS_C"
# Anything still running in the namespaces (a storm client, pxed) goes too.
on_exit "for p in \$(ip netns pids $NS_C) \$(ip netns pids $NS_S); do kill -9 \$p; done"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" ||
	fail "cannot create the veth pair"
ip -n "$NS_S" addr add $SRV/16 dev "$IF_S"
python3 - "$N" "$IF_C" >"$TMP/addrs" <<'PY'
import ipaddress, sys
base = int(ipaddress.IPv4Address("10.79.1.10"))
for i in range(int(sys.argv[1])):
    print("addr add %s/16 dev %s" % (ipaddress.IPv4Address(base + i), sys.argv[2]))
PY
ip -n "$NS_C" -batch "$TMP/addrs" || fail "cannot add the machines' addresses"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up
link_up() { ip -n "$NS_C" link show "$IF_C" | grep -q "state UP"; }
wait_for 5 link_up || fail "veth link did not come up"

# ---- pxed, the image, the machines ------------------------------------------
HTTP_PORT=8080
ROOT_DIR=$TMP/root
mkdir -p "$ROOT_DIR/soak"
head -c $((${SOAK_KERNEL_KB:-512} * 1024)) /dev/urandom >"$ROOT_DIR/soak/vmlinuz"
head -c $((${SOAK_INITRD_KB:-1024} * 1024)) /dev/urandom >"$ROOT_DIR/soak/initrd.img"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
SupportUnknownMachines = no
ResponseDelay = 0
CacheExpire = 3600
DHCPPort = 67
PXEPort = 4011

[tftp]
Root = $ROOT_DIR
Port = 69

[http]
Port = $HTTP_PORT
Address =

[store]
StateDir = $TMP/state
URL = sqlite:$TMP/pxed.db

[log]
Level = info
CONF
start_pxed "$TMP/pxed.conf" "$NS_S"

api() { ip netns exec "$NS_S" curl -sf --max-time 30 "$@"; }
ctl() { PXED_TOKEN_FILE="$TMP/api.token" ip netns exec "$NS_S" "$PXECTL" --server "http://127.0.0.1:$HTTP_PORT" "$@" >"$TMP/ctl.out" 2>&1 ||
	{ cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
# The MACs and SMBIOS GUIDs storm_client.py gives machine i.
python3 - "$N" >"$TMP/devices.csv" <<'PY'
import sys, uuid
print("name,mac,guid")
for i in range(int(sys.argv[1])):
    print("soak-%d,52:54:00:99:%02x:%02x,%s" % (i, i >> 8, i & 255, uuid.UUID(int=(0x53544F524D0040008000 << 48) | i)))
PY
ctl image add soak-img --kernel soak/vmlinuz --initrd soak/initrd.img --cmdline "soak=1"
ctl device import "$TMP/devices.csv"
assert_grep "^$N device\(s\) imported" "$TMP/ctl.out"
ctl collection add soak
for ((i = 0; i < N; i++)); do ctl collection add-device soak "soak-$i"; done
ctl deploy soak --image soak-img --collection soak --required
pass "$N devices ($U UEFI) in collection 'soak' with a required deployment"

# ---- API traffic, in the background while a storm runs -----------------------
# api_load STOPFILE: reads and writes without pause until STOPFILE exists;
# counts failed calls in $TMP/api.failed.
api_load() {
	local stop=$1 k=0 tok
	tok=$(cat "$TMP/api.token")
	: >"$TMP/api.failed"
	while [ ! -e "$stop" ]; do
		k=$((k + 1))
		for path in /api/v1/devices /api/v1/deployments "/api/v1/events?limit=200" /metrics \
			/api/v1/cache /api/v1/status /api/v1/settings /healthz; do
			api -o /dev/null -H "Authorization: Bearer $tok" "http://127.0.0.1:$HTTP_PORT$path" ||
				echo "GET $path" >>"$TMP/api.failed"
		done
		api -o /dev/null -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
			-d "{\"name\":\"soak-api-$k\",\"mac\":\"52:54:00:aa:00:01\"}" \
			"http://127.0.0.1:$HTTP_PORT/api/v1/devices" || echo "POST device" >>"$TMP/api.failed"
		api -o /dev/null -X DELETE -H "Authorization: Bearer $tok" \
			"http://127.0.0.1:$HTTP_PORT/api/v1/devices/soak-api-$k" || echo "DELETE device" >>"$TMP/api.failed"
		echo $k >"$TMP/api.count"
	done
}

# ---- storms ------------------------------------------------------------------
sample() { # -> "rss_kb fds db_bytes wal_bytes events"
	local rss fds db wal ev
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PXED_PID/status")
	fds=$(ls "/proc/$PXED_PID/fd" | wc -l)
	wal=$(stat -c %s "$TMP/pxed.db-wal" 2>/dev/null || echo 0)
	# The database as committed (pages in the file or still in the WAL),
	# whether or not a checkpoint has run yet.
	read -r db ev < <(python3 - "$TMP/pxed.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
pages = c.execute("PRAGMA page_count").fetchone()[0] - c.execute("PRAGMA freelist_count").fetchone()[0]
print(pages * c.execute("PRAGMA page_size").fetchone()[0], c.execute("SELECT COUNT(*) FROM events").fetchone()[0])
PY
)
	echo "$rss $fds $db $wal $ev"
}

start=$SECONDS
storm=0
failed_boots=0
api_failed=0
# A DHCP retry is a machine's, after 1 s without an answer: pxed's own
# drops (socket, busy) and the simulated machines' (client_drops: replies
# their shared socket dropped) tell whose doing it was.
metric() { api "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
echo "storm  wall_s  failed  dhcp_retries  tftp_retries  api_calls  rss_kb  fds  db_kb  wal_kb  events  pxed_dhcp_drops  client_drops"
wal_max=0
while [ $storm -lt 2 ] || [ $((SECONDS - start)) -lt "$DURATION" ]; do
	storm=$((storm + 1))
	ctl collection clear soak
	rm -f "$TMP/api.stop"
	api_load "$TMP/api.stop" &
	api_pid=$!
	rc=0
	ip netns exec "$NS_C" python3 "$CLIENT" --iface "$IF_C" --server $SRV --http-port $HTTP_PORT \
		--count "$N" --addr-start 10.79.1.10 --nbp-local "$NBP_LOCAL" --expect boot \
		--uefi "$U" --uefi-nbp snponly.efi --uefi-nbp-local "$UEFI_NBP_LOCAL" --tftp-drop "$DROP" \
		--kernel-local "$ROOT_DIR/soak/vmlinuz" --initrd-local "$ROOT_DIR/soak/initrd.img" \
		>"$TMP/storm.json" 2>"$TMP/client.err" || rc=$?
	touch "$TMP/api.stop"
	wait $api_pid
	kill -0 "$PXED_PID" || fail "pxed died during storm $storm"
	[ -s "$TMP/storm.json" ] || { cat "$TMP/client.err" >&2; fail "storm_client.py gave no result (exit $rc)"; }
	read -r wall bad dr tr cd < <(python3 - "$TMP/storm.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ms = d["machines"]
bad = [m for m in ms if m["error"]]
for m in bad[:5]:
    print("  FAILED %s (%s): %s" % (m["mac"], m["addr"], m["error"]), file=sys.stderr)
print("%.1f %d %d %d %d" % (d["wall"], len(bad), sum(m["retries"]["dhcp"] for m in ms),
                            sum(m["retries"]["tftp"] for m in ms), d["client_drops"]))
PY
)
	failed_boots=$((failed_boots + bad))
	api_failed=$((api_failed + $(wc -l <"$TMP/api.failed")))
	sleep 1 # boot events are written in batches; connections close
	read -r rss fds db wal ev <<<"$(sample)"
	[ "$wal" -gt $wal_max ] && wal_max=$wal
	[ $storm = 1 ] && { rss1=$rss; fds1=$fds; db1=$db; ev1=$ev; }
	drops=$(( $(metric pxed_dhcp_socket_drops_total) + $(metric pxed_dhcp_busy_total) ))
	printf '%5d  %6s  %6d  %12d  %12d  %9d  %6d  %3d  %5d  %6d  %6d  %15d  %12d\n' $storm "$wall" "$bad" \
		"$dr" "$tr" "$(cat "$TMP/api.count" 2>/dev/null || echo 0)" "$rss" "$fds" $((db / 1024)) \
		$((wal / 1024)) "$ev" "$drops" "$cd"
done

echo "after $storm storms in $((SECONDS - start)) s: RSS ${rss1} -> ${rss} KiB, open files $fds1 -> $fds," \
	"database $((db1 / 1024)) -> $((db / 1024)) KiB (WAL at most $((wal_max / 1024)) KiB), events $ev1 -> $ev"
assert_eq "failed boots in $storm storms of $N machines" 0 "$failed_boots"
pass "$storm storms of $N machines ($U UEFI, $DROP TFTP loss): every machine booted"
assert_eq "failed API calls" 0 "$api_failed"
pass "API traffic throughout: no call failed"
[ $((rss - rss1)) -le "$RSS_KB" ] || fail "pxed's RSS grew by $((rss - rss1)) KiB after the first storm (bound $RSS_KB)"
pass "RSS after the first storm: ${rss1} -> ${rss} KiB (bound +$RSS_KB)"
[ $((fds - fds1)) -le "$FDS" ] || { ls -l "/proc/$PXED_PID/fd" >&2; fail "pxed's open files grew from $fds1 to $fds"; }
pass "open files after the first storm: $fds1 -> $fds (bound +$FDS)"
allow=$(((ev - ev1) * EVENT_BYTES + 1048576))
[ $((db - db1)) -le $allow ] ||
	fail "database grew by $((db - db1)) bytes after the first storm; $((ev - ev1)) events explain at most $allow"
pass "database after the first storm: +$(((db - db1) / 1024)) KiB for $((ev - ev1)) events (bound $((allow / 1024)) KiB)"
[ $((wal_max / 1024)) -le "$WAL_KB" ] || fail "the WAL reached $((wal_max / 1024)) KiB (bound $WAL_KB): not checkpointed"
pass "WAL at most $((wal_max / 1024)) KiB (bound $WAL_KB)"

kill -TERM "$PXED_PID"
wait "$PXED_PID" || fail "pxed exited with status $? on SIGTERM"
pass "pxed stops cleanly on SIGTERM"
exit 0
