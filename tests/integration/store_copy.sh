#!/bin/bash
# pxectl store copy: a database filled by a running pxed on SQLite (images,
# devices, a collection, deployments, a hand-out, boot events, a report,
# and variables, an ARM64 image with its loader) is copied into
# PostgreSQL and verified table by table; a second copy into
# the now non-empty database is refused; pxed started on the copy knows the
# hand-out (the machine goes to its disk); the copy back into a new SQLite
# file is verified as well.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
command -v curl >/dev/null || skip "needs curl"
command -v psql >/dev/null || skip "needs psql"
start_postgres || fail "PostgreSQL did not start"

PORT=$(free_port)
read -r DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 3)"
mkdir -p "$TMP/root/deb"
: >"$TMP/root/deb/linux"
pxe_conf() {
	cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
CONF
	loopback_sections
}
pxe_conf >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
OUT=$TMP/out
ctl() { "$PXECTL" "$@" >"$OUT" 2>&1 || { cat "$OUT" >&2; fail "pxectl $*"; }; }

M1=52:54:00:cc:00:01
ctl image add deb --kernel deb/linux --cmdline "quiet"
ctl device add pc-01 --mac $M1
ctl device add pc-02 --mac 52:54:00:cc:00:02 --guid 11111111-2222-4333-8444-555555555555
ctl collection add lab
ctl collection add-device lab pc-02
ctl deploy req --image deb --device pc-01 --required
ctl deploy avail --image deb --collection lab --available --expires 2099-01-01T00:00:00Z
ctl image add arm --kernel deb/linux --arch uefi-arm64 --loader grub
ctl var set global tz=UTC
ctl var set device pc-01 role=web
ctl var set collection lab role=lab
ctl var set deployment req disk=sda
# /boot.ipxe commits a hand-out only with the token of a DHCP exchange.
curl -s "$(ipxe_url $M1)" | grep -q '^kernel ' || fail "pc-01 did not get its deployment"
curl -s "$(ipxe_url $M1)" | grep -qx 'exit 1' || fail "pc-01 not local after the hand-out"
kill "$PXED_PID"
wait "$PXED_PID" 2>/dev/null

"$PXECTL" store copy "sqlite:$TMP/pxed.db" "$PG_URL" >"$OUT" 2>&1 || { cat "$OUT"; fail "store copy to PostgreSQL"; }
cat "$OUT"
assert_grep '^copied and verified' "$OUT"
assert_grep '^devices +2 rows .* same$' "$OUT"
assert_grep '^hand-outs +1 rows .* same$' "$OUT"
assert_grep '^reports +1 rows .* same$' "$OUT"
assert_grep '^images +2 rows .* same$' "$OUT"
assert_grep '^variables +4 rows .* same$' "$OUT"
grep -qE '^events +[1-9][0-9]* rows .* same$' "$OUT" || fail "no events copied"
grep -q DIFFERENT "$OUT" && fail "a table differs"
pass "SQLite to PostgreSQL: copied and verified table by table"

"$PXECTL" store copy "sqlite:$TMP/pxed.db" "$PG_URL" >"$OUT" 2>&1 && fail "a copy into a non-empty target went through"
assert_grep "is not empty" "$OUT"
pass "a non-empty target is refused without --force"

# pxed on the copy: the hand-out is there, pc-01 goes to its disk.
PXED_STORE=pg pxe_conf >"$TMP/pxed-pg.conf"
start_pxed "$TMP/pxed-pg.conf"
curl -s "$(ipxe_url $M1)" | grep -qx 'exit 1' || fail "pc-01 boots again from the copy"
PXED_TOKEN_FILE=$TMP/state/api.token "$PXECTL" var list device pc-01 >"$OUT" || fail "var list on the copy"
assert_grep 'role.*web' "$OUT"
assert_eq "the ARM64 image's arch and loader in PostgreSQL" "uefi-arm64|grub" \
	"$(psql -tAq "$PG_URL" -c "SELECT arch, loader FROM images WHERE name = 'arm'")"
PXED_TOKEN_FILE=$TMP/state/api.token "$PXECTL" deployment list >"$OUT" || fail "deployment list on the copy"
assert_grep '^avail +deb +collection:lab +available +yes +until 2099' "$OUT"
kill "$PXED_PID"
wait "$PXED_PID" 2>/dev/null
pass "pxed on the copy: the hand-out and the deployments are there"

"$PXECTL" store copy "$PG_URL" "sqlite:$TMP/back.db" >"$OUT" 2>&1 || { cat "$OUT"; fail "store copy back to SQLite"; }
assert_grep '^copied and verified' "$OUT"
pass "PostgreSQL back to SQLite: verified"
