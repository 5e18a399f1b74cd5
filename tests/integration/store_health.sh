#!/bin/bash
# The store fails to write (its file system is full): /healthz says so
# (503 "degraded: the database cannot be written ..."), a boot script shows the client
# a generic message while the log has the store's own text, and once there
# is room again pxed recovers by itself, with no restart.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
need_root
command -v curl >/dev/null || skip "needs curl"

PORT=$(free_port)
TFTP_PORT=$(free_port)
PXE_PORT=$(free_port)
mkdir -p "$TMP/root/img" "$TMP/dbfs"
head -c 1000 /dev/urandom >"$TMP/root/img/linux"
head -c 1000 /dev/urandom >"$TMP/root/img/initrd"
mount -t tmpfs -o size=4m,mode=0700 pxed-test "$TMP/dbfs" || skip "cannot mount a tmpfs"
on_exit "umount -l '$TMP/dbfs'"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
DHCPPort = $(free_port)
PXEPort = $PXE_PORT
$(loopback_sections | sed "s|^URL = .*|URL = sqlite:$TMP/dbfs/pxed.db|")
CONF
start_pxed "$TMP/pxed.conf"
export PXED_SERVER=http://127.0.0.1:$PORT PXED_TOKEN_FILE=$TMP/dbfs/api.token
B=$PXED_SERVER
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
ctl image add img --kernel img/linux --initrd img/initrd
ctl device add pc1 --mac 52:54:00:00:00:01
ctl device add pc2 --mac 52:54:00:00:00:02
ctl deploy d1 --image img --device pc1 --required
ctl deploy d2 --image img --device pc2 --required
assert_eq "/healthz before" ok "$(curl -s "$B/healthz")"

# Fill the file system that holds the database.
dd if=/dev/zero of="$TMP/dbfs/filler" bs=64k >/dev/null 2>&1
# Scripts are fetched as iPXE does: the URL (with its one-time token) from
# a DHCP exchange.  An unknown machine's request is one more event to write.
curl -s "$(ipxe_url 52:54:00:00:00:01)" >"$TMP/script1"
ipxe_url 52:54:00:00:00:09 >/dev/null
degraded() { [ "$(curl -s -o "$TMP/h" -w '%{http_code}' "$B/healthz")" = 503 ]; }
wait_for 10 degraded || { cat "$TMP/h"; tail "$TMP/pxed.log"; fail "/healthz does not report the store failing to write"; }
assert_grep "^degraded: the database cannot be written" "$TMP/h"
pass "/healthz: $(cat "$TMP/h")"

grep -qi "full\|sqlite\|disk\|$TMP" "$TMP/script1" && fail "the boot script shows the store's error: $(cat "$TMP/script1")"
assert_grep "server error, see the server log" "$TMP/script1"
assert_grep "boot.ipxe: decision failed.*full" "$TMP/pxed.log"
pass "the boot script says 'server error' while the log has the store's text"

# Room again: the next write goes through, /healthz is ok, no restart.
rm -f "$TMP/dbfs/filler"
curl -s "$(ipxe_url 52:54:00:00:00:02)" >"$TMP/script2"
healthy() { [ "$(curl -s "$B/healthz")" = ok ]; }
wait_for 10 healthy || fail "/healthz still degraded after room was made: $(curl -s "$B/healthz")"
assert_grep "^kernel " "$TMP/script2"
kill -0 "$PXED_PID" || fail "pxed died"
pass "recovered without a restart once the store could write again"
