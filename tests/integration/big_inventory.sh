#!/bin/bash
# A 100,000-machine inventory: imported in one call (the CSV is parsed as
# it arrives and written in one transaction), with the same per-line
# errors as a small file; and a list call costs what it returns:
# pxed_store_rows_read_total moves by the rows of the page, not by the
# size of the table, for GET /api/v1/devices?limit=1 and for events.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3; do command -v $c >/dev/null || skip "needs $c"; done
# BIG_INVENTORY_N: fewer devices (the PostgreSQL run, whose bulk load
# takes a savepoint per row, uses 20,000 to keep the suite short).
N=${BIG_INVENTORY_N:-100000}

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
CONF
loopback_sections; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
python3 - "$N" "$TMP" <<'PY'
import sys
n, tmp = int(sys.argv[1]), sys.argv[2]
def line(i):
    return "m-%06d,02:00:%02x:%02x:%02x:%02x,8a3c1f2e-0000-4000-8000-%012x\n" % (
        i, i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255, i)
with open(tmp + "/inv.csv", "w") as f:
    f.write("name,mac,guid\n")
    for i in range(n):
        f.write(line(i))
# the same, with line N (the 2nd to last device) naming the first's MAC
with open(tmp + "/bad.csv", "w") as f:
    for i in range(n):
        f.write(line(i) if i != n - 2 else "late,02:00:00:00:00:00\n")
PY
rows_read() { curl -s "$B/metrics" | sed -n 's/^pxed_store_rows_read_total //p'; }
# API reads need the token too.
api() { curl -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" "$@"; }

# ---- one bad line in 100,000: named, nothing imported -------------------------
"$PXECTL" device import "$TMP/bad.csv" >"$TMP/out" 2>"$TMP/err" && fail "the bad file was imported"
assert_grep "line $((N - 1)): mac is also on line 1" "$TMP/err"
[ "$(api -s -D - -o /dev/null "$B/api/v1/devices?limit=1" | tr -d '\r' | sed -n 's/^X-Total-Count: //p')" = 0 ] ||
	fail "a bad import left devices behind"
pass "$N lines with one bad: 'line $((N - 1)): mac is also on line 1', nothing imported"

# ---- the whole inventory in one call -------------------------------------------------
t0=$(date +%s%3N)
"$PXECTL" device import "$TMP/inv.csv" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "import"; }
T=$(($(date +%s%3N) - t0))
assert_grep "^$N device\(s\) imported$" "$TMP/out"
pass "$N devices ($(($(stat -c %s "$TMP/inv.csv") / 1024)) KiB) imported in one call in $T ms"

# ---- a page costs its rows ------------------------------------------------------------
r0=$(rows_read)
t0=$(date +%s%3N)
api -sf -D "$TMP/hdr" -o "$TMP/page" "$B/api/v1/devices?limit=1" || fail "GET devices?limit=1"
T=$(($(date +%s%3N) - t0))
r1=$(rows_read)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["name"] for x in d]==["m-000000"], d' "$TMP/page" ||
	fail "page: $(cat "$TMP/page")"
assert_grep "^X-Total-Count: $N" <(tr -d '\r' <"$TMP/hdr")
echo "   devices?limit=1: $((r1 - r0)) row(s) read, $T ms"
[ $((r1 - r0)) -le 2 ] || fail "devices?limit=1 read $((r1 - r0)) rows of $N"
api -sf -o "$TMP/page" "$B/api/v1/devices?limit=2&offset=$((N - 2))" || fail "last page"
python3 -c 'import json,sys; n=int(sys.argv[2]); d=json.load(open(sys.argv[1])); assert [x["name"] for x in d]==["m-%06d" % (n - 2), "m-%06d" % (n - 1)], d' "$TMP/page" "$N" ||
	fail "last page: $(cat "$TMP/page")"
# events name their devices: a page of 5 reads 5 events and their devices
for i in 1 2 3; do ipxe_url "$(printf '02:00:00:00:00:%02x' "$i")" >/dev/null; done
sleep 0.3
r0=$(rows_read)
"$PXECTL" events --limit 5 >"$TMP/ev" || fail "pxectl events"
r1=$(rows_read)
assert_grep "m-000001" "$TMP/ev"
echo "   events --limit 5: $((r1 - r0)) row(s) read"
[ $((r1 - r0)) -le 10 ] || fail "events --limit 5 read $((r1 - r0)) rows"
pass "a list call reads what it returns: devices?limit=1, the last page, events page of 5 with its devices"
