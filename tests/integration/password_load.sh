#!/bin/bash
# PXEPassword attempts never stall service for other clients, and a client
# cannot guess faster by naming a new MAC in each attempt.  The hash of a
# typed password (yescrypt) is deliberately slow; it runs on a thread of
# its own with a small queue.  While 50 clients (each with its own MAC and
# the token of its own scripted iPXE exchange, all from 127.0.0.1) type
# wrong passwords at once, twice each:
#   - a DHCP request that needs the database (not in the decision cache)
#     is answered at once, and so are the API and /healthz;
#   - a 4 MiB TFTP download completes, byte-identical;
#   - every attempt is answered "wrong password", "busy, try again" or
#     "too many wrong passwords", none boots, and none of the typed text
#     reaches the log;
#   - the source address is locked out after HTTP_PW_SOURCE_MAX_FAILURES
#     wrong passwords whatever MACs they named: at most that many hashes
#     (and those already queued) are computed;
# and afterwards the right password from another address boots, and pxed
# stops cleanly.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3 cmp; do command -v $c >/dev/null || skip "needs $c"; done

PASSWORD='c0rrect-h0rse'
N=50
ROUNDS=2
SOURCE_MAX=20   # HTTP_PW_SOURCE_MAX_FAILURES
QUEUE=5         # hashes in flight at most: HTTP_PW_QUEUE waiting + 1 running
read -r PORT TFTP_PORT DHCP_PORT PXE_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img"
echo kernel >"$TMP/root/img/vmlinuz"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/root/img/big.bin"

{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
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
# Each client's script URL, with the token of its own iPXE exchange.
for i in $(seq 1 $N); do
	U[$i]=$(ipxe_url "$(mac "$i")")
	[ -n "${U[$i]}" ] || fail "no iPXE answer for $(mac "$i")"
done
curl -sf --max-time 5 -o "$TMP/ask.ipxe" "${U[1]}" || fail "/boot.ipxe"
grep -q '^login' "$TMP/ask.ipxe" || { cat "$TMP/ask.ipxe" >&2; fail "no password prompt"; }
pass "$N devices with a required deployment behind PXEPassword"

ms() { date +%s%3N; }
# The download alone, for comparison.
t0=$(ms)
curl -sf --max-time 10 -o "$TMP/big0.out" "tftp://127.0.0.1:$TFTP_PORT/img/big.bin" ||
	fail "TFTP download"
T_ALONE=$(($(ms) - t0))

# ---- 50 clients x 2 wrong passwords at once ----------------------------------
# One more device, never decided: its DHCP request needs the worker.
ctl device add pw-late --mac 52:54:00:77:01:00
L0=$(wc -l <"$TMP/pxed.log")
T_LOAD=$(ms)
PIDS=()
for k in $(seq 1 $ROUNDS); do
	for i in $(seq 1 $N); do
		curl -s --max-time 30 -o "$TMP/wrong-$i-$k.ipxe" -G \
			--data-urlencode "password=guess-$i-$k-xyzzy" "${U[$i]}" &
		PIDS+=($!)
	done
done
sleep 0.05
t0=$(ms)
curl -sf --max-time 2 "$B/healthz" >/dev/null || fail "/healthz did not answer during the password checks"
t1=$(ms)
[ $((t1 - t0)) -lt 500 ] || fail "/healthz took $((t1 - t0)) ms during the password checks"
t0=$(ms)
"$PXECTL" device list >"$TMP/list.out" 2>&1 || fail "pxectl device list during the password checks"
T_API=$(($(ms) - t0))
[ "$T_API" -lt 1000 ] || fail "pxectl device list took $T_API ms during the password checks"
t0=$(ms)
LATE=$(ipxe_url 52:54:00:77:01:00)
T_DHCP=$(($(ms) - t0))
[ -n "$LATE" ] || fail "no DHCP answer for an undecided machine during the password checks"
[ "$T_DHCP" -lt 1000 ] || fail "an uncached DHCP decision took $T_DHCP ms during the password checks"
t0=$(ms)
curl -sf --max-time 10 -o "$TMP/big.out" "tftp://127.0.0.1:$TFTP_PORT/img/big.bin" ||
	fail "TFTP download during the password checks"
T_TFTP=$(($(ms) - t0))
cmp -s "$TMP/root/img/big.bin" "$TMP/big.out" || fail "TFTP download differs"
for p in "${PIDS[@]}"; do wait "$p" || fail "a password attempt failed"; done
T_ALL=$(($(ms) - T_LOAD))
WRONG=0 BUSY=0 LOCKED=0
for f in "$TMP"/wrong-*.ipxe; do
	grep -q '^kernel' "$f" && fail "a wrong password booted"
	if grep -q 'wrong password' "$f"; then WRONG=$((WRONG + 1))
	elif grep -q 'busy checking passwords' "$f"; then BUSY=$((BUSY + 1))
	elif grep -q 'too many wrong PXE passwords' "$f"; then LOCKED=$((LOCKED + 1))
	else cat "$f" >&2; fail "$f: not answered wrong, busy or locked out"
	fi
done
tail -n +$((L0 + 1)) "$TMP/pxed.log" >"$TMP/load.log"
HASHES=$(grep -c 'PXE password hashed in' "$TMP/load.log")
SUM=$(grep -o 'PXE password hashed in [0-9]* ms' "$TMP/load.log" | awk '{ s += $5 } END { print s + 0 }')
echo "   $((N * ROUNDS)) attempts in $T_ALL ms: $HASHES hashed ($SUM ms in all), $WRONG wrong," \
	"$BUSY busy, $LOCKED locked out; during them: DHCP (uncached) $T_DHCP ms," \
	"device list $T_API ms, 4 MiB TFTP $T_TFTP ms (alone: $T_ALONE ms)"
[ "$HASHES" -ge 1 ] || fail "no password was hashed: the test proves nothing"
[ "$HASHES" -le $((SOURCE_MAX + QUEUE)) ] ||
	fail "$HASHES hashes for one source address naming $N MACs (at most $((SOURCE_MAX + QUEUE)))"
assert_grep "^pxed_pxe_password_busy_total $BUSY$" <(curl -s "$B/metrics")
pass "$((N * ROUNDS)) attempts at once: $HASHES hashed, the rest refused unhashed; DHCP, API and TFTP answered meanwhile"

# ---- one address, a new MAC for each guess, one after another ---------------
# Each MAC stays below its own lockout; the address does not.
L0=$(wc -l <"$TMP/pxed.log")
LOCKED=0
for i in $(seq 1 $((SOURCE_MAX + 5))); do
	curl -s --max-time 10 -o "$TMP/seq.ipxe" -G --data-urlencode "password=seq-$i-xyzzy" "${U[$i]}" ||
		fail "attempt $i"
	grep -q '^kernel' "$TMP/seq.ipxe" && fail "a wrong password booted"
	grep -q 'too many wrong PXE passwords' "$TMP/seq.ipxe" && LOCKED=$((LOCKED + 1))
done
tail -n +$((L0 + 1)) "$TMP/pxed.log" >"$TMP/seq.log"
SEQ_HASHES=$(grep -c 'PXE password hashed in' "$TMP/seq.log")
echo "   $((SOURCE_MAX + 5)) guesses naming as many MACs: $SEQ_HASHES hashed, $LOCKED locked out"
[ "$SEQ_HASHES" -le "$SOURCE_MAX" ] ||
	fail "$SEQ_HASHES guesses hashed from one address: rotating MACs is not limited"
[ "$LOCKED" -ge 5 ] || fail "only $LOCKED guesses refused as locked out"
assert_grep "127.0.0.1 locked out for 300 s after $SOURCE_MAX failures" "$TMP/pxed.log"
pass "a new MAC for each guess: the address is locked out after at most $SOURCE_MAX failures"
grep -q 'xyzzy' "$TMP/pxed.log" && fail "a typed password is in the log"
pass "no attempt booted, none of the typed text in the log"

# ---- afterwards -------------------------------------------------------------
# From another address (the whole of 127/8 is loopback): not locked out.
curl -sf --max-time 10 --interface 127.0.0.2 -o "$TMP/right.ipxe" -G \
	--data-urlencode "password=$PASSWORD" "$(ipxe_url "$(mac 1)")" || fail "/boot.ipxe with the password"
assert_grep '^kernel ' "$TMP/right.ipxe"
assert_grep "$(mac 1): PXE password accepted" "$TMP/pxed.log"
pass "the right password from another address still boots"
kill -TERM $PXED_PID
wait_for 10 bash -c "! kill -0 $PXED_PID" || fail "pxed did not stop on SIGTERM"
assert_grep "stopped" "$TMP/pxed.log"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error" "$TMP/pxed.log"; then
	fail "sanitizer report in the log"
fi
pass "pxed stops cleanly"
