#!/bin/bash
# A slow database never stalls service for other clients.  Another process
# holds the SQLite write lock (BEGIN EXCLUSIVE, as an admin's sqlite3 or a
# second pxed on the same file can) for 6 s -- longer than the store's 5 s
# busy timeout -- and meanwhile:
#   - a 4 MiB TFTP download completes at full speed, byte-identical;
#   - /healthz answers at once, with an API call waiting for the database;
#   - a DHCP request whose decision is cached is answered at once;
#   - a DHCP request that needs the database is answered once the worker
#     gets through, and the log says why it was late;
#   - an installer report (a store write) waits for the lock on the worker
#     while /metrics and /healthz answer at once, and is recorded once the
#     lock is released;
# and afterwards pxed still answers and stops cleanly.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3 cmp; do command -v $c >/dev/null || skip "needs $c"; done
CLIENT="$(cd "$(dirname "$0")" && pwd)/dhcp_client.py"

PORT=$(free_port)
read -r DHCP_PORT PXE_PORT TFTP_PORT C1 C2 <<<"$(free_ports 5)"
mkdir -p "$TMP/root/img"
echo kernel >"$TMP/root/img/vmlinuz"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/root/img/big.bin"

{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
CacheExpire = 3600
SupportUnknownMachines = no
CONF
loopback_sections
# Every decision its own event (the count below), not a repeat's summary.
echo "DecisionRepeatWindow = 0"; } >"$TMP/pxed.conf"

start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
MAC_A=52:54:00:5a:00:01   # decided before the lock: cached
MAC_B=52:54:00:5a:00:02   # first seen during the lock: needs the database
ctl image add img --kernel img/vmlinuz --cmdline quiet
ctl device add slow-a --mac $MAC_A
ctl device add slow-b --mac $MAC_B
ctl deploy dep-a --image img --device slow-a --available
ctl deploy dep-b --image img --device slow-b --available
# A deployment boot with its installer's report token, before the warm-up
# (the hand-out bumps the generation, which would empty the cache).
MAC_R=52:54:00:5a:00:03
ctl device add slow-r --mac $MAC_R
ctl deploy dep-r --image img --device slow-r --required
curl -sf --max-time 5 -o "$TMP/r.ipxe" "$(ipxe_url $MAC_R)" || fail "/boot.ipxe for $MAC_R"
REPORT=$(grep -oE 'pxed.report=[^ ]+' "$TMP/r.ipxe" | cut -d= -f2-)
[ -n "$REPORT" ] || { cat "$TMP/r.ipxe" >&2; fail "no report URL in the hand-out"; }

ms() { date +%s%3N; }
# pxe_request MAC CLIENT_PORT TIMEOUT OUT: a PXE boot server request to
# pxed's 4011 port on loopback; OUT gets the reply ("none" if silent).
pxe_request() {
	python3 "$CLIENT" --unicast 127.0.0.1 --port $PXE_PORT --source 127.0.0.1:$2 \
		--type request --ciaddr 127.0.0.1 --mac "$1" --arch 0 --timeout "$3" >"$4" 2>&1
}
answered() { grep -q '^type=ACK' "$1"; }

pxe_request $MAC_A $C1 2 "$TMP/a0" || fail "dhcp_client.py"
answered "$TMP/a0" || { cat "$TMP/a0" >&2; fail "no answer for the warm-up request"; }
sleep 0.3 # its event and last-seen time written: nothing for A is left to write
pass "warm-up: $MAC_A decided and cached"

# ---- hold the write lock --------------------------------------------------
python3 - "$TMP/pxed.db" "$TMP/locked" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(6)
db.execute("COMMIT")
PY
LOCKER=$!
on_exit "kill $LOCKER"
wait_for 5 test -e "$TMP/locked" || fail "could not take the SQLite write lock"
T_LOCK=$(ms)

# Needs the database: decided on the worker, answered when it gets through.
pxe_request $MAC_B $C2 15 "$TMP/b" &
B_PID=$!
# An API call that waits for the worker meanwhile.
curl -s -o "$TMP/api.out" --max-time 20 -H "Authorization: Bearer $(cat "$TMP/api.token")" \
	"$B/api/v1/devices" &
API_PID=$!
sleep 0.2

t0=$(ms)
curl -sf --max-time 2 "$B/healthz" >/dev/null || fail "/healthz did not answer during the lock"
t1=$(ms)
pass "/healthz answered in $((t1 - t0)) ms with the database locked and an API call waiting"

t0=$(ms)
pxe_request $MAC_A $C1 2 "$TMP/a1" || fail "dhcp_client.py"
t1=$(ms)
answered "$TMP/a1" || { cat "$TMP/a1" >&2; tail -n 20 "$TMP/pxed.log" >&2; fail "cached client not answered during the lock"; }
[ $((t1 - t0)) -lt 1000 ] || fail "cached client answered only after $((t1 - t0)) ms"
pass "cached client $MAC_A answered in $((t1 - t0)) ms with the database locked"

t0=$(ms)
curl -sf --max-time 5 -o "$TMP/big.out" "tftp://127.0.0.1:$TFTP_PORT/img/big.bin" ||
	fail "TFTP download during the lock"
t1=$(ms)
cmp -s "$TMP/root/img/big.bin" "$TMP/big.out" || fail "TFTP download differs"
[ $((t1 - t0)) -lt 3000 ] || fail "TFTP download of 4 MiB took $((t1 - t0)) ms"
[ $((t1 - T_LOCK)) -lt 5000 ] || fail "checks ran past the lock; timings mean nothing"
pass "4 MiB TFTP download in $((t1 - t0)) ms, byte-identical, with the database locked"

# An installer report is a store write: it waits on the worker.  Sent 2 s
# into the lock, so that its wait (the 5 s busy timeout) outlasts the lock.
t0=$(ms)
[ $((t0 - T_LOCK)) -lt 2000 ] && sleep "$(awk "BEGIN { print (2000 - ($t0 - $T_LOCK)) / 1000 }")"
curl -s -o "$TMP/report.out" -w '%{http_code}' --max-time 20 -X POST \
	"$REPORT&state=started" >"$TMP/report.code" &
REPORT_PID=$!
sleep 0.3
t0=$(ms)
curl -sf --max-time 2 -o "$TMP/metrics.out" "$B/metrics" || fail "/metrics did not answer during the lock"
curl -sf --max-time 2 "$B/healthz" >/dev/null || fail "/healthz did not answer during the lock"
t1=$(ms)
[ $((t1 - t0)) -lt 1000 ] || fail "/metrics and /healthz took $((t1 - t0)) ms during the lock"
assert_grep "^pxed_http_requests_total" "$TMP/metrics.out"
kill -0 $REPORT_PID 2>/dev/null || { cat "$TMP/report.out" >&2; fail "the report did not wait for the lock"; }
[ $((t1 - T_LOCK)) -lt 5500 ] || fail "checks ran past the lock; timings mean nothing"
pass "/metrics and /healthz answered in $((t1 - t0)) ms with a report waiting for the lock"

wait $B_PID || fail "dhcp_client.py (B)"
t1=$(ms)
answered "$TMP/b" || { cat "$TMP/b" >&2; tail -n 30 "$TMP/pxed.log" >&2; fail "client $MAC_B never answered"; }
assert_grep "decide: $MAC_B, -: boot 'dep-b'" "$TMP/pxed.log"
pass "client $MAC_B (needs the database) answered $((t1 - T_LOCK)) ms after the lock was taken"

wait $API_PID || fail "API call during the lock"
grep -q slow-b "$TMP/api.out" || { cat "$TMP/api.out" >&2; fail "API call answered wrong"; }
wait $LOCKER
pass "API call answered"
wait $REPORT_PID || fail "report during the lock"
assert_eq "report after the lock" 200 "$(cat "$TMP/report.code")"
assert_grep '"state":"started"' "$TMP/report.out"
curl -sf --max-time 10 -H "Authorization: Bearer $(cat "$TMP/api.token")" \
	"$B/api/v1/deployments/dep-r" >"$TMP/dep-r.json" || fail "GET deployment dep-r"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]["started"]==1, d' \
	"$TMP/dep-r.json" || fail "report not recorded: $(cat "$TMP/dep-r.json")"
assert_grep "$MAC_R: device 'slow-r' deployment 'dep-r' reports started" "$TMP/pxed.log"
pass "the report waited for the lock on the worker and was recorded after it"
# The writes behind those answers (events, last seen) waited for the lock,
# on the worker, and the log says so.
assert_grep "could not record .* yet: .*database is busy.*; kept for the next try" "$TMP/pxed.log" \
	"the log does not say the database was busy"
pass "the log says the database was busy and the writes were kept"

# ---- afterwards ---------------------------------------------------------
# Every decision made during the lock is an event in the table (the
# cached answer's was queued in memory and written after the lock).
events_for() {
	curl -sf --max-time 10 -H "Authorization: Bearer $(cat "$TMP/api.token")" \
		"$B/api/v1/events?mac=$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
assert_eq "events for $MAC_A (warm-up, during the lock)" 2 "$(events_for $MAC_A)"
assert_eq "events for $MAC_B (during the lock)" 1 "$(events_for $MAC_B)"
pass "no boot event lost to the lock"
pxe_request $MAC_B $C2 2 "$TMP/b2" || fail "dhcp_client.py"
answered "$TMP/b2" || fail "client $MAC_B not answered after the lock"
curl -sf --max-time 2 "$B/healthz" >/dev/null || fail "/healthz after the lock"
kill -TERM $PXED_PID
wait_for 10 bash -c "! kill -0 $PXED_PID" || fail "pxed did not stop on SIGTERM"
assert_grep "stopped" "$TMP/pxed.log"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error" "$TMP/pxed.log"; then
	fail "sanitizer report in the log"
fi
pass "pxed still answers after the lock and stops cleanly"
