#!/bin/bash
# The deployment life cycle through pxectl against a running pxed with the
# decision cache on (CacheExpire = 3600): collections and membership, a
# required deployment to a collection, the cache warmed by DHCP-path
# decisions and made stale by a membership change (no restart), collection
# clear, deployments to unknown machines, SupportUnknownMachines and
# CacheExpire changed at run time through `pxectl settings set`, and the
# event filters.
#
# DHCP-path decisions (commit = false, the ones the cache answers) are
# driven by a DHCPDISCOVER sent to pxed's ProxyDHCP port on 127.0.0.1.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
command -v curl >/dev/null || skip "needs curl"
command -v python3 >/dev/null || skip "needs python3"

PORT=$(free_port)
read -r DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 3)"
mkdir -p "$TMP/root/deb"
: >"$TMP/root/deb/linux"

{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
CacheExpire = 3600
SupportUnknownMachines = no
CONF
loopback_sections; } >"$TMP/pxed.conf"

start_pxed "$TMP/pxed.conf"
use_pxed_api
OUT=$TMP/out
ERR=$TMP/err

ctl() {
	local want=$1; shift
	local rc=0
	"$PXECTL" "$@" >"$OUT" 2>"$ERR" || rc=$?
	[ "$rc" = "$want" ] || { cat "$OUT" "$ERR" >&2; fail "pxectl $*: exit $rc, expected $want"; }
}
http_code() { curl -s -o "$OUT" -w '%{http_code}' "$@"; }
# boot MAC [ARCH]: the script iPXE gets, through the URL (with its
# exchange's token) that pxed gives it over DHCP.
boot() { curl -s "$(ipxe_url "$1" "${2:-}")"; }

# discover MAC [ARCH]: one PXE DHCPDISCOVER to pxed's ProxyDHCP port; the
# decision is the DHCP path's (commit = false, answered through the cache).
discover() {
	python3 - "$DHCP_PORT" "$1" "${2:-0}" <<'PY'
import socket, struct, sys
port, mac, arch = int(sys.argv[1]), bytes.fromhex(sys.argv[2].replace(':', '')), int(sys.argv[3])
hdr = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, 0x2a2a2a2a, 4, 0x8000,
                  bytes(4), bytes(4), bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128))
opt = b'\x63\x82\x53\x63' + bytes([53, 1, 1])
opt += bytes([60, 32]) + b'PXEClient:Arch:%05d:UNDI:002001' % arch
opt += bytes([93, 2]) + struct.pack('!H', arch) + bytes([94, 3, 1, 2, 1, 255])
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(hdr + opt, ('127.0.0.1', port))
PY
	sleep 0.2
}
# metric NAME: its value in /metrics
metric() { curl -s "$B/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# last_dhcp MAC: outcome and deployment of MAC's newest DHCP-path event
last_dhcp() {
	"$PXECTL" --json events --mac "$1" |
		python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x["via"]=="dhcp"]; print(e[-1]["outcome"], e[-1]["deployment"] or "-")'
}

M1=52:54:00:aa:00:01
M2=52:54:00:aa:00:02
MU=52:54:00:aa:00:99

# ---- collections ---------------------------------------------------------
ctl 0 image add deb --kernel deb/linux
ctl 0 device add pc-01 --mac $M1
ctl 0 device add pc-02 --mac $M2
ctl 0 collection add lab
assert_grep "collection 'lab' added" "$OUT"
ctl 1 collection add lab
assert_grep "already exists" "$ERR"
ctl 0 collection add-device lab pc-01
assert_grep "device 'pc-01' added to collection 'lab'" "$OUT"
ctl 0 collection add-device lab pc-02
ctl 1 collection add-device lab pc-02
assert_grep "already in collection 'lab'" "$ERR"
ctl 1 collection add-device lab nobody
assert_grep "device 'nobody' does not exist" "$ERR"
ctl 1 collection add-device nolab pc-01
assert_grep "collection 'nolab' does not exist" "$ERR"
ctl 0 collection list
assert_grep '^NAME +MEMBERS' "$OUT"
assert_grep '^lab +2 ' "$OUT"
ctl 0 collection show lab
assert_grep '^pc-01 +52:54:00:aa:00:01' "$OUT"
assert_grep '^pc-02 +52:54:00:aa:00:02' "$OUT"
ctl 1 collection show nolab
ctl 2 collection add-device lab
assert_eq "API duplicate collection" 409 "$(http_code -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" -d '{"name":"lab"}' "$B/api/v1/collections")"
assert_grep '"error":"exists"' "$OUT"
assert_eq "API collection without token" 401 "$(http_code -d '{"name":"x"}' "$B/api/v1/collections")"
assert_eq "API unknown collection" 404 "$(http_code -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" "$B/api/v1/collections/nolab")"
pass "collections: add, add-device, list with member counts, show, 404/409"

# ---- deploy to a collection ------------------------------------------------
ctl 2 deploy lab-deb --image deb --required
ctl 2 deploy lab-deb --image deb --collection lab --device pc-01 --required
ctl 2 deploy lab-deb --image deb --unknown sparc --available
ctl 1 deploy lab-deb --image deb --collection nolab --required
assert_grep "collection 'nolab' does not exist" "$ERR"
ctl 1 deploy lab-deb --image deb --collection lab --required --expires soon
assert_grep "field 'expires'" "$ERR"
ctl 0 deploy lab-deb --image deb --collection lab --required --expires 2099-01-01T00:00:00Z
assert_grep "for collection 'lab'" "$OUT"
ctl 0 deployment list
assert_grep '^NAME +IMAGE +TARGET +PURPOSE +ENABLED +WINDOW' "$OUT"
assert_grep '^lab-deb +deb +collection:lab +required +yes +until 2099-01-01T00:00:00.000Z' "$OUT"
pass "deploy --collection, target and window in deployment list, bad targets refused"

# The DHCP path warms the cache; the answer for pc-01 is the deployment.
discover $M1
discover $M1
assert_eq "dhcp pc-01" "boot lab-deb" "$(last_dhcp $M1)"
hits=$(metric pxed_decision_cache_hits_total)
[ "${hits:-0}" -ge 1 ] || fail "no cache hit after two DHCP decisions (hits=$hits)"
ctl 0 cache list
assert_grep '^MAC +GUID +ARCH +OUTCOME +AGE +VALID +REASON' "$OUT"
assert_grep "^$M1 +- +bios +boot +[0-9]+s +yes +" "$OUT"
ctl 0 status
assert_grep '^cache hits +: [1-9]' "$OUT"
pass "DHCP decisions cached: cache list, metrics, status"

# Leaving the collection: the cached answer is stale at once, no restart.
ctl 0 collection remove-device lab pc-01
assert_grep "device 'pc-01' removed from collection 'lab'" "$OUT"
ctl 1 collection remove-device lab pc-01
assert_grep "not in collection 'lab'" "$ERR"
discover $M1
assert_eq "dhcp pc-01 after leaving lab" "local -" "$(last_dhcp $M1)"
inv=$(metric pxed_decision_cache_invalidations_total)
[ "${inv:-0}" -ge 1 ] || fail "no cache invalidation counted (invalidations=$inv)"
boot $M1 | grep -q '^exit 1$' || fail "/boot.ipxe for pc-01 after leaving lab is not local"
pass "device leaves the collection: next DHCP and HTTP answers are local, with CacheExpire = 3600"

# The hand-out (HTTP, commit) and collection clear.
boot $M2 | grep -q '^kernel .*/files/deb/linux' || fail "pc-02 does not boot lab-deb"
boot $M2 | grep -q 'already handed out' || fail "pc-02 boots lab-deb twice"
discover $M2
assert_eq "dhcp pc-02 after hand-out" "local lab-deb" "$(last_dhcp $M2)"
ctl 0 collection clear lab
assert_grep "collection 'lab': 1 required deployment hand-out\(s\) cleared" "$OUT"
discover $M2
assert_eq "dhcp pc-02 after clear" "boot lab-deb" "$(last_dhcp $M2)"
boot $M2 | grep -q '^kernel .*/files/deb/linux' || fail "pc-02 does not boot lab-deb after clear"
ctl 1 collection clear nolab
pass "collection clear: the required deployment runs again"

ctl 0 cache flush
assert_grep "decision cache flushed: [0-9]+ entr" "$OUT"
ctl 0 cache list
[ "$(wc -l <"$OUT")" = 1 ] || fail "cache not empty after flush: $(cat "$OUT")"
assert_eq "cache flush without token" 401 "$(http_code -X POST "$B/api/v1/cache/flush")"
pass "cache flush"

# ---- unknown machines, SupportUnknownMachines at run time -------------------
ctl 0 deploy unk-x64 --image deb --unknown uefi-x64 --available
ctl 0 deployment list
assert_grep '^unk-x64 +deb +unknown:uefi-x64 +available +yes +-' "$OUT"
discover $MU 7
assert_eq "dhcp unknown, support off" "ignore -" "$(last_dhcp $MU)"
[ -z "$(ipxe_url $MU 7)" ] || fail "unknown machine's iPXE answered with SupportUnknownMachines off"
curl -s "$B/boot.ipxe?mac=$MU&arch=7" | grep -q '^exit 1$' || fail "unknown machine serviced with SupportUnknownMachines off"
ctl 0 settings set SupportUnknownMachines yes
assert_grep '^SupportUnknownMachines: Yes \(was No\)' "$OUT"
discover $MU 7
assert_eq "dhcp unknown, support on" "boot unk-x64" "$(last_dhcp $MU)"
discover $MU 0
assert_eq "dhcp unknown bios, support on" "local -" "$(last_dhcp $MU)"
ctl 0 settings set pxe.SupportUnknownMachines no
discover $MU 7
assert_eq "dhcp unknown, support off again" "ignore -" "$(last_dhcp $MU)"
ctl 0 settings set SupportUnknownMachines on
# The hand-out records the machine as a discovered device.
boot $MU 7 | grep -q 'prompt' || fail "unknown uefi-x64 machine not offered unk-x64"
ctl 0 device list
assert_grep "^[^ ]+ +$MU " "$OUT"
assert_grep "settings: SupportUnknownMachines changed from No to Yes by API" "$TMP/pxed.log"
pass "deploy --unknown; SupportUnknownMachines changes the answer at once"

# ---- settings get / set ------------------------------------------------------
ctl 0 settings get
assert_grep '^SETTING +VALUE +CHANGE' "$OUT"
assert_grep '^pxe.CacheExpire +3600 +at once' "$OUT"
assert_grep '^http.Port +[0-9]+ +restart' "$OUT"
assert_grep '^pxe.PXEPassword +<empty> ' "$OUT"
ctl 0 settings set cacheexpire 60
assert_grep '^CacheExpire: 60 \(was 3600\)' "$OUT"
ctl 0 settings get CacheExpire
assert_grep '^pxe.CacheExpire +60 ' "$OUT"
assert_grep "settings: CacheExpire changed from 3600 to 60 by API" "$TMP/pxed.log"
assert_grep "conf:     CacheExpire: 60" "$TMP/pxed.log" "settings block not logged again"
ctl 1 settings set CacheExpire soon
assert_grep "CacheExpire: 'soon' is not a whole number \(0 to 86400\)" "$ERR"
ctl 1 settings set CacheExpire 100000
assert_grep "CacheExpire: '100000' is out of range" "$ERR"
ctl 0 settings get CacheExpire
assert_grep '^pxe.CacheExpire +60 ' "$OUT"
ctl 1 settings set http.Port 1
assert_grep "HTTP Port needs a restart" "$ERR"
ctl 1 settings set Port 1
assert_grep "ambiguous" "$ERR"
ctl 1 settings set Colour blue
assert_grep "unknown setting 'Colour'" "$ERR"
ctl 1 settings set BindPolicy include
assert_grep "BindPolicy include with no BindInterfaces" "$ERR"
ctl 2 settings set CacheExpire
PXED_TOKEN=wrong "$PXECTL" settings set CacheExpire 5 >"$OUT" 2>"$ERR" && fail "settings set with a wrong token worked"
assert_grep "token is wrong" "$ERR"
assert_eq "settings PUT without token" 401 "$(http_code -X PUT -d '{"CacheExpire":"5"}' "$B/api/v1/settings")"
ctl 0 settings get CacheExpire
assert_grep '^pxe.CacheExpire +60 ' "$OUT"
ctl 0 settings set PXEPassword s3cret-Pw
grep -q 's3cret-Pw' "$OUT" "$TMP/pxed.log" && fail "PXEPassword echoed"
ctl 0 settings get PXEPassword
assert_grep '^pxe.PXEPassword +<non empty> ' "$OUT"
curl -s -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" "$B/api/v1/settings" "$B/api/v1/status" | grep -q 's3cret-Pw\|\$y\$' && fail "PXEPassword or its hash in the API"
pass "settings get/set: applied and logged, bad values and restart-only keys refused, token needed, password hidden"

# A SIGHUP re-reads the file: the API's changes are undone.
kill -HUP "$PXED_PID"
wait_for 5 sh -c "'$PXECTL' settings get CacheExpire | grep -q '^pxe.CacheExpire  *3600 '" ||
	fail "SIGHUP did not restore CacheExpire from the file"
pass "SIGHUP goes back to the file's settings"

# ---- events filters ----------------------------------------------------------
ctl 0 events --mac $M2
assert_grep "^[0-9T:.-]+Z +$M2 +pc-02 " "$OUT"
grep -q "$M1\|$MU" "$OUT" && fail "events --mac shows other MACs"
ctl 0 events --device pc-01 --limit 2
[ "$(wc -l <"$OUT")" = 3 ] || fail "events --limit 2 gave $(($(wc -l <"$OUT") - 1)) rows"
grep -q "$M2" "$OUT" && fail "events --device pc-01 shows pc-02"
ctl 0 events --mac $MU --since 1h
assert_grep "$MU" "$OUT"
ctl 0 events --mac $MU --since 2099-01-01T00:00:00Z
[ "$(wc -l <"$OUT")" = 1 ] || fail "events --since the future is not empty"
ctl 2 events --mac zz
ctl 1 events --device nobody
assert_eq "events bad mac" 400 "$(http_code -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" "$B/api/v1/events?mac=zz")"
pass "events --mac, --device, --since, --limit"

# ---- clean up: rm while in use, then not ------------------------------------
ctl 1 collection rm lab
assert_grep "target of a deployment" "$ERR"
ctl 0 deployment rm lab-deb
ctl 0 collection rm lab
ctl 0 collection list
grep -q '^lab ' "$OUT" && fail "collection lab still listed"
pass "collection rm: 409 while a deployment targets it"
