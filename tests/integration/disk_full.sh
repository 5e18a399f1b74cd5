#!/bin/bash
# A full disk under the state directory: pxed keeps answering what it
# needs no write for, refuses what it cannot record, says it is degraded,
# and recovers by itself once there is space again.  The state directory
# (with the database) is a 3 MiB tmpfs mounted under $TMP for this test,
# filled up with a file:
#   - a required deployment is not handed out (the script exits to the
#     local disk and says the hand-out could not be recorded), and the
#     machine's deployment is not spent;
#   - /healthz answers 503 "degraded: the database cannot be written";
#   - DHCP still answers, /files/ still serves, an API change is refused
#     with 507;
#   - with the filler gone, the same machine's next boot hands out, and
#     /healthz is "ok" again, with no restart.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
need_root
for c in curl python3 mount umount; do command -v $c >/dev/null || skip "needs $c"; done

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img" "$TMP/state"
echo kernel >"$TMP/root/img/vmlinuz"
mount -t tmpfs -o size=3m,mode=0700 pxed-test "$TMP/state" || skip "cannot mount a tmpfs"
on_exit "umount -l '$TMP/state'"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT

[tftp]
Root = $TMP/root
Port = $TFTP_PORT

[http]
Port = $PORT
Address = 127.0.0.1
TokenFile = $TMP/api.token

[store]
StateDir = $TMP/state
URL = sqlite:$TMP/state/pxed.db
CONF
start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
M1=52:54:00:72:00:01
ctl image add img --kernel img/vmlinuz --cmdline quiet
ctl device add full-1 --mac $M1
ctl deploy dep-1 --image img --device full-1 --required
assert_eq "healthz before" "ok" "$(curl -s "$B/healthz")"

# ---- fill the disk -------------------------------------------------------------
dd if=/dev/zero of="$TMP/state/filler" bs=64k 2>/dev/null
df -k "$TMP/state" | tail -n 1 | awk '{ exit !($4 == 0) }' || fail "the tmpfs is not full"
U=$(ipxe_url $M1)
[ -n "$U" ] || fail "no DHCP answer with the disk full"
curl -s --max-time 5 -o "$TMP/s.ipxe" "$U" || fail "GET the script with the disk full"
grep -q '^kernel' "$TMP/s.ipxe" && fail "a hand-out served that could not be recorded: $(cat "$TMP/s.ipxe")"
assert_grep '^exit 1$' "$TMP/s.ipxe"
# The client is told only that the server failed; the log says what.
assert_grep 'not serviced: server error, see the server log' "$TMP/s.ipxe"
assert_grep 'could not record hand-out' "$TMP/pxed.log"
code=$(curl -s -o "$TMP/h" -w '%{http_code}' "$B/healthz")
assert_eq "healthz while full" 503 "$code"
assert_grep '^degraded: the database cannot be written \(.*full.*\)$' "$TMP/h"
pass "disk full: the hand-out refused (script exits, says why), /healthz degraded"

assert_eq "files while full" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$B/files/img/vmlinuz")"
code=$(curl -s -o "$TMP/a" -w '%{http_code}' -H "Authorization: Bearer $(cat "$TMP/api.token")" \
	-d '{"name":"full-2","mac":"52:54:00:72:00:02"}' "$B/api/v1/devices")
assert_eq "API change while full" 507 "$code"
assert_grep '"insufficient_storage"' "$TMP/a"
ctl device list
assert_grep '^full-1 ' "$TMP/ctl.out"
[ -n "$(ipxe_url $M1)" ] || fail "no DHCP answer with the disk full"
pass "disk full: DHCP answers, files served, reads work, an API change refused with 507"

# ---- space again --------------------------------------------------------------------
rm -f "$TMP/state/filler"
U=$(ipxe_url $M1)
curl -s --max-time 5 -o "$TMP/s.ipxe" "$U" || fail "GET the script after the disk was freed"
assert_grep '^kernel ' "$TMP/s.ipxe"
healthy() { [ "$(curl -s "$B/healthz")" = ok ]; }
wait_for 10 healthy || fail "/healthz still: $(curl -s "$B/healthz")"
kill -0 "$PXED_PID" || fail "pxed is gone"
pass "space again: the deployment is handed out at the next boot, /healthz ok, no restart"
