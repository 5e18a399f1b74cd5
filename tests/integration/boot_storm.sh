#!/bin/bash
# A hundred machines boot at once without a lost transfer.
#
# pxed runs in one network namespace, a hundred simulated machines
# (storm_client.py, one thread each, its own MAC, SMBIOS GUID and address)
# in another, joined by a veth pair.  The hundred devices are one
# collection with one required deployment (a 2 MiB kernel and a 4 MiB
# initrd of random bytes).  With pxed's caches cold, every machine at the
# same moment does the whole network boot: PXE DISCOVER -> OFFER
# (undionly.kpxe), REQUEST to 4011 -> ACK, TFTP of undionly.kpxe, iPXE
# DISCOVER -> OFFER (boot.ipxe URL), GET of the script, GET of the kernel
# and the initrd.  Checked: every machine got every answer and every byte
# (retries allowed, as firmware makes them), the hand-out is recorded once
# per machine (deployment status and boot events), and a second boot of all
# hundred goes to the local disk: the OFFER alone does it (no boot file, a
# PXE boot menu whose one item is the local disk).  Step timings are printed.
#
# Half the machines are UEFI x64 booting as EDK2's own PXE stack does
# (tests/fixtures/edk2-uefi-pxe-proxydhcp-tftp.pcap): DISCOVER with arch 7
# and "PXEClient:Arch:00007:UNDI:003000" -> OFFER snponly.efi without option
# 43, REQUEST to 4011 -> ACK snponly.efi, a TFTP size probe (RRQ with tsize 0,
# blksize 1468 and windowsize 4, the OACK, ERROR 8) and then the download
# with blksize 1468 (snponly.efi from pxed's boot program directory, where
# Debian links it to /boot), the iPXE DISCOVER with arch 7 -> the
# boot.ipxe URL with arch=7, then script, kernel and initrd as for BIOS.
# Checked per architecture, and that pxed counts each probe as an aborted
# transfer, not a failed one.
#
# STORM_COUNT=N changes the number of machines (at most 250), STORM_UEFI=K
# how many of them are UEFI (default half), STORM_TFTP_DROP=P makes every
# machine drop that fraction of the TFTP DATA packets it receives (default
# 0.01: a lossy link, so every run tries pxed's retransmission against
# each client's way of acknowledging -- EDK2 acknowledges only full
# windows; 0 for a clean link).
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
need_root
command -v ip >/dev/null || skip "needs iproute2"
command -v curl >/dev/null || skip "needs curl"
command -v python3 >/dev/null || skip "needs python3"
NBP_LOCAL=/usr/lib/ipxe/undionly.kpxe
[ -r "$NBP_LOCAL" ] || skip "needs $NBP_LOCAL (Debian package ipxe)"
HERE="$(cd "$(dirname "$0")" && pwd)"
CLIENT=$HERE/storm_client.py
N=${STORM_COUNT:-100}
[ "$N" -ge 1 ] && [ "$N" -le 250 ] || fail "STORM_COUNT must be 1..250"
UEFI_NBP_LOCAL=/usr/lib/ipxe/snponly.efi
U=${STORM_UEFI:-$((N / 2))}
[ "$U" -ge 0 ] && [ "$U" -le "$N" ] || fail "STORM_UEFI must be 0..STORM_COUNT"
[ "$U" = 0 ] || [ -r "$UEFI_NBP_LOCAL" ] || skip "needs $UEFI_NBP_LOCAL (Debian package ipxe)"
B=$((N - U))

# ---- two namespaces, a veth, one address per machine ----------------------
NS_S=pxed-st-s-$$
NS_C=pxed-st-c-$$
IF_S=pss$$
IF_C=psc$$
SRV=10.79.0.1
ip netns add "$NS_S" || skip "cannot create network namespaces"
on_exit "ip netns del $NS_S"
ip netns add "$NS_C" || fail "cannot create namespace $NS_C"
on_exit "ip netns del $NS_C"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" ||
	fail "cannot create the veth pair"
ip -n "$NS_S" addr add $SRV/16 dev "$IF_S"
# The leases the site's DHCP server would have given: 10.79.1.10 and up.
for ((i = 0; i < N; i++)); do echo "addr add 10.79.1.$((i + 10))/16 dev $IF_C"; done >"$TMP/addrs"
ip -n "$NS_C" -batch "$TMP/addrs" || fail "cannot add the machines' addresses"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up
link_up() { ip -n "$NS_S" link show "$IF_S" | grep -q "state UP" && ip -n "$NS_C" link show "$IF_C" | grep -q "state UP"; }
wait_for 5 link_up || fail "veth link did not come up"

# ---- pxed, the deployment, the hundred devices -----------------------------
HTTP_PORT=8080
ROOT_DIR=$TMP/root
mkdir -p "$ROOT_DIR/storm"
head -c $((2 << 20)) /dev/urandom >"$ROOT_DIR/storm/vmlinuz"
head -c $((4 << 20)) /dev/urandom >"$ROOT_DIR/storm/initrd.img"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
IsActive = yes
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
URL = $(store_url)

[log]
Level = info
CONF
start_pxed "$TMP/pxed.conf" "$NS_S"

ctl() { PXED_TOKEN_FILE="$API_TOKEN_FILE" ip netns exec "$NS_S" "$PXECTL" --server "http://127.0.0.1:$HTTP_PORT" "$@" >"$TMP/ctl.out" 2>&1 ||
	{ cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
mac_of() { printf '52:54:00:99:%02x:%02x' $(($1 >> 8)) $(($1 & 255)); }
# The GUIDs storm_client.py sends (option 97).
guid_of() { python3 -c 'import sys,uuid;print(uuid.UUID(int=(0x53544F524D0040008000 << 48) | int(sys.argv[1])))' "$1"; }
{
	echo "name,mac,guid"
	for ((i = 0; i < N; i++)); do echo "storm-$i,$(mac_of $i),$(guid_of $i)"; done
} >"$TMP/devices.csv"
ctl image add storm-img --kernel storm/vmlinuz --initrd storm/initrd.img --cmdline "storm=1"
ctl device import "$TMP/devices.csv"
assert_grep "^$N device\(s\) imported" "$TMP/ctl.out"
ctl collection add storm
for ((i = 0; i < N; i++)); do ctl collection add-device storm "storm-$i"; done
ctl deploy storm --image storm-img --collection storm --required
ctl collection list
assert_grep "^storm +$N " "$TMP/ctl.out"
pass "$N devices in collection 'storm' with the required deployment 'storm'"

# Cold start: no cached decision, and the files not in the page cache.
ctl cache flush
cold() {
	sync
	python3 - "$@" <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
}
cold "$ROOT_DIR/storm/vmlinuz" "$ROOT_DIR/storm/initrd.img" "$NBP_LOCAL" $([ "$U" = 0 ] || echo "$UEFI_NBP_LOCAL")

# summary FILE TITLE: per-architecture, per-step median and p99, retries,
# failures.
summary() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ms = d["machines"]
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]
print("%s: %d machines, wall %.2f s, stray DHCP replies %d, DHCP replies dropped by the client's socket %d" %
      (sys.argv[2], len(ms), d["wall"], d["stray_replies"], d["client_drops"]))
steps = ["discover", "request", "tftp_probe", "tftp", "ipxe_discover", "script", "kernel", "initrd", "total"]
for arch, label in ((0, "BIOS (arch 0)"), (7, "UEFI x64 (arch 7, EDK2)")):
    am = [m for m in ms if m["arch"] == arch]
    if not am:
        continue
    print(" %s: %d machines" % (label, len(am)))
    for s in steps:
        v = [m["t"][s] for m in am if s in m["t"]]
        if v:
            print("  %-14s n=%3d  median %7.1f ms  p99 %7.1f ms  max %7.1f ms" %
                  (s, len(v), 1000 * pct(v, 50), 1000 * pct(v, 99), 1000 * max(v)))
    r = {k: sum(m["retries"][k] for m in am) for k in ("dhcp", "tftp", "http")}
    print("  retries: dhcp %(dhcp)d, tftp %(tftp)d, http %(http)d" % r)
bad = [m for m in ms if m["error"]]
for m in bad[:20]:
    print("  FAILED %s (%s): %s" % (m["mac"], m["addr"], m["error"]))
if len(bad) > 20:
    print("  ... and %d more" % (len(bad) - 20))
PY
}

# dhcp_all_answered: pxed answered every DHCP datagram it received (none
# dropped as busy, none failed to send): a machine's retry is then never
# pxed's doing.
metric() { ip netns exec "$NS_S" curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
dhcp_all_answered() {
	local rcv ans
	rcv=$(metric pxed_dhcp_received_total)
	ans=$(metric pxed_dhcp_answered_total)
	assert_eq "$1: DHCP datagrams answered of $rcv received" "$rcv" "$ans"
	assert_eq "$1: DHCP requests dropped as busy" 0 "$(metric pxed_dhcp_busy_total)"
	assert_eq "$1: DHCP replies that failed to send" 0 "$(metric pxed_dhcp_send_errors_total)"
	assert_eq "$1: TFTP requests refused or busy" "0 0" "$(metric pxed_tftp_requests_refused_total) $(metric pxed_tftp_requests_busy_total)"
}
# tftp_results BOOTS: after BOOTS storms, pxed's TFTP transfers ended
# completed (one download per machine), aborted (EDK2's size probe, one
# per UEFI machine) and failed (none).
tftp_results() {
	local t='pxed_tftp_transfers_total{result="'
	assert_eq "$2: TFTP transfers completed aborted failed" "$(($1 * N)) $(($1 * U)) 0" \
		"$(metric "${t}completed\"}") $(metric "${t}aborted\"}") $(metric "${t}failed\"}")"
}
# per_arch FILE EXPECT: every machine of each architecture is there, with no
# error and a time for every step of its kind of boot.
per_arch() {
	python3 - "$1" "$2" "$B" "$U" <<'PY' || fail "$2 boot: not every machine of each architecture did every step"
import json, sys
ms = json.load(open(sys.argv[1]))["machines"]
expect, want = sys.argv[2], {0: int(sys.argv[3]), 7: int(sys.argv[4])}
common = ["discover", "request", "tftp", "ipxe_discover", "script", "kernel", "initrd", "total"]
ok = True
for arch, n in want.items():
    am = [m for m in ms if m["arch"] == arch]
    if expect == "local":
        # Sent to the local disk by the OFFER: nothing else to do.
        bad = [m["mac"] for m in am if m["error"] or set(m["t"]) != {"discover", "total"}]
        print("  arch %d: %d of %d machines sent to their disk by the OFFER alone" % (arch, len(am) - len(bad), n))
        ok &= len(am) == n and not bad
        continue
    steps = common + (["tftp_probe"] if arch == 7 else [])
    bad = [m["mac"] for m in am if m["error"] or any(s not in m["t"] for s in steps)]
    extra = [m["mac"] for m in am if "tftp_probe" in m["t"]] if arch == 0 else []
    # EDK2 asks for blksize 1468 and windowsize 4 (the capture): pxed grants both.
    oack = {"blksize": 1468, "windowsize": 4} if arch == 7 else {"blksize": 1432, "windowsize": 1}
    badw = [m["mac"] for m in am if not m["error"] and m["tftp_oack"] != oack]
    print("  arch %d: %d of %d machines did every step, NBP at %s%s%s" % (
          arch, len(am) - len(bad), n, oack, "" if not extra else "; %d BIOS machines probed" % len(extra),
          "" if not badw else "; %d with other TFTP options, e.g. %s" % (len(badw), badw[:3])))
    ok &= len(am) == n and not bad and not extra and not badw
sys.exit(0 if ok else 1)
PY
}

# ---- the storm ---------------------------------------------------------------
storm() {
	local expect=$1 out=$2 rc=0
	ip netns exec "$NS_C" python3 "$CLIENT" --iface "$IF_C" --server $SRV --http-port $HTTP_PORT \
		--count "$N" --nbp-local "$NBP_LOCAL" --expect "$expect" \
		--uefi "$U" --uefi-nbp snponly.efi --uefi-nbp-local "$UEFI_NBP_LOCAL" --tftp-drop "${STORM_TFTP_DROP:-0.01}" \
		--kernel-local "$ROOT_DIR/storm/vmlinuz" --initrd-local "$ROOT_DIR/storm/initrd.img" \
		>"$out" 2>"$TMP/client.err" || rc=$?
	[ -s "$out" ] || { cat "$TMP/client.err" >&2; fail "storm_client.py gave no result (exit $rc)"; }
	return $rc
}
# server_stats: pxed's DHCP/TFTP counters and the kernel's UDP drops in
# pxed's namespace (a lost datagram is a retry for some machine).
server_stats() {
	ip netns exec "$NS_S" curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
		grep -E '^pxed_(dhcp|tftp)_[a-z_]+_total[ {]' | awk '{printf "%s=%s ", $1, $2} END {print ""}' |
		sed 's/_total{result="\([a-z]*\)"}/_\1/g' |
		sed 's/pxed_//g; s/_total//g' | fold -s -w 100 | sed 's/^/  pxed: /'
	ip netns exec "$NS_S" awk '/^Udp:/ { if (!h) { split($0, k); h = 1 } else { split($0, v);
		for (i = 2; i <= NF; i++) if (k[i] ~ /RcvbufErrors|SndbufErrors|InErrors/) printf "%s=%s ", k[i], v[i] } }
		END { print "" }' /proc/net/snmp | sed 's/^/  server kernel UDP: /'
}
rc=0
storm boot "$TMP/storm1.json" || rc=$?
summary "$TMP/storm1.json" "first boot"
server_stats
kill -0 "$PXED_PID" || fail "pxed died during the storm"
[ $rc = 0 ] || { grep -E " (warn|error) " "$TMP/pxed.log" | tail -n 20 >&2; fail "not every machine booted (see FAILED above)"; }
dhcp_all_answered "first boot"
per_arch "$TMP/storm1.json" boot
tftp_results 1 "first boot"
pass "$N machines at once: every OFFER, ACK, undionly.kpxe byte, iPXE OFFER, script, kernel and initrd"
[ "$U" = 0 ] || pass "of them $U UEFI x64 as EDK2: OFFER/ACK snponly.efi without option 43, tsize probe aborted with ERROR 8 (pxed: $U aborted, 0 failed), every snponly.efi byte at blksize 1468, iPXE OFFER with arch=7"

# ---- the hand-out is recorded exactly once per machine --------------------
sleep 0.5 # boot events are written in batches
ctl --json deployment show storm
cp "$TMP/ctl.out" "$TMP/deployment.json"
handed=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["status"]["handed_out"])' "$TMP/deployment.json")
assert_eq "deployment storm: handed out" "$N" "$handed"
# check_events LOCALS: per machine exactly one HTTP "boot" event (the
# hand-out), no HTTP "local" event, and at least LOCALS DHCP "local"
# events (the OFFER that sent it to its disk; a retried DISCOVER counts
# again).
check_events() {
	sleep 0.5 # boot events are written in batches
	ip netns exec "$NS_S" curl -sf -H "Authorization: Bearer $(cat "$API_TOKEN_FILE")" "http://127.0.0.1:$HTTP_PORT/api/v1/events?limit=10000" >"$TMP/events.json" ||
		fail "GET /api/v1/events"
	python3 - "$TMP/events.json" "$N" "$1" <<'PY' || fail "boot events: not one hand-out and $1 local answers per machine"
import json, sys
ev = json.load(open(sys.argv[1]))
if isinstance(ev, dict):
    ev = ev.get("events", ev.get("items", []))
n = int(sys.argv[2])
want = {"52:54:00:99:%02x:%02x" % (i >> 8, i & 255) for i in range(n)}
locals_ = int(sys.argv[3])
boots, loc = {}, {}
for e in ev:
    if e["via"] == "http" and e["outcome"] == "boot":
        boots[e["mac"]] = boots.get(e["mac"], 0) + 1
    if e["outcome"] == "local":
        loc.setdefault(e["mac"], {}).setdefault(e["via"], 0)
        loc[e["mac"]][e["via"]] += 1
bad = {m: boots.get(m, 0) for m in want if boots.get(m, 0) != 1}
badl = {m: loc.get(m, {}) for m in want
        if loc.get(m, {}).get("http", 0) or (loc.get(m, {}).get("dhcp", 0) >= 1) != (locals_ >= 1)}
extra = (set(boots) | set(loc)) - want
if bad or badl or extra:
    print("hand-outs per MAC not 1: %s; local answers not as expected (%d via dhcp, none via http): %s; unexpected MACs: %s" %
          (dict(list(bad.items())[:10]), locals_, dict(list(badl.items())[:10]), sorted(extra)[:10]), file=sys.stderr)
    sys.exit(1)
PY
}
check_events 0
pass "hand-out recorded once per machine: deployment status handed out $handed, one HTTP boot event each"

# ---- second boot: everyone goes to the local disk ----------------------------
rc=0
storm local "$TMP/storm2.json" || rc=$?
summary "$TMP/storm2.json" "second boot"
server_stats
[ $rc = 0 ] || fail "second boot: not every machine was sent to its local disk"
dhcp_all_answered "second boot"
per_arch "$TMP/storm2.json" local
tftp_results 1 "second boot (no download)"
ctl --json deployment show storm
handed=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["status"]["handed_out"])' "$TMP/ctl.out")
assert_eq "deployment storm: handed out after the second boot" "$N" "$handed"
check_events 1
pass "second boot of all $N ($B BIOS, $U UEFI): the OFFER sends each to its local disk (no TFTP, no script), still handed out $N, a DHCP 'local' event each"

kill -0 "$PXED_PID" || fail "pxed is not running at the end"
kill -TERM "$PXED_PID"
wait "$PXED_PID" || fail "pxed exited with status $? on SIGTERM"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/pxed.log"; then
	grep -E -A20 "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/pxed.log" | head -n 40 >&2
	fail "sanitizer report in pxed's log"
fi
pass "pxed stops cleanly on SIGTERM"
exit 0
