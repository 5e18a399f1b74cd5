#!/bin/bash
# PXEPassword attempts never stall service for other clients.  The hash of
# a typed password (yescrypt) is deliberately slow; it runs on the worker,
# so while 20 clients type wrong passwords at once, twice each (below the
# lockout):
#   - a 4 MiB TFTP download completes, byte-identical, in well under the
#     sum of the hash times (the log says each one at debug);
#   - /healthz answers at once;
#   - every attempt is still answered "wrong password", none boots, and
#     none of the typed text reaches the log;
# and afterwards the right password boots, and pxed stops cleanly.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3 cmp; do command -v $c >/dev/null || skip "needs $c"; done

PASSWORD='c0rrect-h0rse'
N=20
ROUNDS=2
PORT=$(free_port)
TFTP_PORT=$(free_port)
mkdir -p "$TMP/root/img"
echo kernel >"$TMP/root/img/vmlinuz"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/root/img/big.bin"

{ cat <<CONF
[pxe]
DHCPPort = $(free_port)
PXEPort = $(free_port)
PXEPassword = $PASSWORD
CONF
loopback_sections
printf '\n[log]\nLevel = debug\n'; } >"$TMP/pxed.conf"

start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
mac() { printf '52:54:00:77:00:%02x' "$1"; }

# Every client has a required deployment: its boot script asks for the
# password.
{
	echo "name,mac,guid"
	for i in $(seq 1 $N); do echo "pw-$i,$(mac "$i"),"; done
} >"$TMP/devices.csv"
ctl device import "$TMP/devices.csv"
ctl image add img --kernel img/vmlinuz --cmdline quiet
ctl collection add lab
for i in $(seq 1 $N); do ctl collection add-device lab "pw-$i"; done
ctl deploy dep --image img --collection lab --required
curl -sf --max-time 5 -o "$TMP/ask.ipxe" "$B/boot.ipxe?mac=$(mac 1)" || fail "/boot.ipxe"
grep -q '^login' "$TMP/ask.ipxe" || { cat "$TMP/ask.ipxe" >&2; fail "no password prompt"; }
pass "$N devices with a required deployment behind PXEPassword"

ms() { date +%s%3N; }
# The download alone, for comparison.
t0=$(ms)
curl -sf --max-time 10 -o "$TMP/big0.out" "tftp://127.0.0.1:$TFTP_PORT/img/big.bin" ||
	fail "TFTP download"
T_ALONE=$(($(ms) - t0))

# ---- 2 x 20 wrong passwords at once, a download meanwhile -------------------
L0=$(wc -l <"$TMP/pxed.log")
T_LOAD=$(ms)
PIDS=()
for k in $(seq 1 $ROUNDS); do
	for i in $(seq 1 $N); do
		curl -s --max-time 30 -o "$TMP/wrong-$i-$k.ipxe" -G --data-urlencode "mac=$(mac "$i")" \
			--data-urlencode "password=guess-$i-$k-xyzzy" "$B/boot.ipxe" &
		PIDS+=($!)
	done
done
sleep 0.05
t0=$(ms)
curl -sf --max-time 2 "$B/healthz" >/dev/null || fail "/healthz did not answer during the password checks"
t1=$(ms)
[ $((t1 - t0)) -lt 500 ] || fail "/healthz took $((t1 - t0)) ms during the password checks"
t0=$(ms)
curl -sf --max-time 10 -o "$TMP/big.out" "tftp://127.0.0.1:$TFTP_PORT/img/big.bin" ||
	fail "TFTP download during the password checks"
T_TFTP=$(($(ms) - t0))
cmp -s "$TMP/root/img/big.bin" "$TMP/big.out" || fail "TFTP download differs"
for p in "${PIDS[@]}"; do wait "$p" || fail "a password attempt failed"; done
T_ALL=$(($(ms) - T_LOAD))
for f in "$TMP"/wrong-*.ipxe; do
	grep -q 'wrong password' "$f" || { cat "$f" >&2; fail "$f not answered 'wrong password'"; }
	grep -q '^kernel' "$f" && fail "a wrong password booted"
done
tail -n +$((L0 + 1)) "$TMP/pxed.log" >"$TMP/load.log"
HASHES=$(grep -c 'PXE password hashed in' "$TMP/load.log")
assert_eq "hashes logged" $((N * ROUNDS)) "$HASHES"
SUM=$(grep -o 'PXE password hashed in [0-9]* ms' "$TMP/load.log" | awk '{ s += $5 } END { print s }')
echo "   $((N * ROUNDS)) hashes: $SUM ms in all, answered in $T_ALL ms; 4 MiB TFTP: $T_TFTP ms" \
	"(alone: $T_ALONE ms)"
[ "$SUM" -ge 300 ] || fail "the hashes took only $SUM ms in all; the timings mean nothing"
[ $((T_TFTP * 2)) -lt "$SUM" ] ||
	fail "the 4 MiB TFTP download took $T_TFTP ms, the hashes $SUM ms: it waited for them"
pass "4 MiB TFTP download in $T_TFTP ms while $((N * ROUNDS)) wrong passwords were hashed ($SUM ms in all)"
grep -q 'xyzzy' "$TMP/pxed.log" && fail "a typed password is in the log"
pass "every attempt answered 'wrong password', none booted, none in the log"

# ---- afterwards -------------------------------------------------------------
curl -sf --max-time 10 -o "$TMP/right.ipxe" -G --data-urlencode "mac=$(mac 1)" \
	--data-urlencode "password=$PASSWORD" "$B/boot.ipxe" || fail "/boot.ipxe with the password"
assert_grep '^kernel ' "$TMP/right.ipxe"
assert_grep "$(mac 1): PXE password accepted" "$TMP/pxed.log"
pass "the right password still boots"
kill -TERM $PXED_PID
wait_for 10 bash -c "! kill -0 $PXED_PID" || fail "pxed did not stop on SIGTERM"
assert_grep "stopped" "$TMP/pxed.log"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error" "$TMP/pxed.log"; then
	fail "sanitizer report in the log"
fi
pass "pxed stops cleanly"
