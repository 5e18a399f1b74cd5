#!/bin/bash
# pxed under a service manager: the sd_notify(3) states systemd's
# Type=notify unit waits for, and the journal's priority prefixes.
#   - READY=1 comes once, and only when every port is bound (the listener
#     checks the ports the moment it reads READY=1);
#   - SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 once the new
#     settings are in force; a bad file: RELOADING=1 then READY=1 too;
#   - SIGTERM: STOPPING=1;
#   - with JOURNAL_STREAM naming stderr, lines are "<N>level module: text"
#     with no timestamp of pxed's own (N = 3 error, 4 warn, 6 info, 7
#     debug); naming another stream, lines keep their timestamp.
. "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
LISTENER="$(cd "$(dirname "$0")" && pwd)/notify_listener.py"

read -r PORT TFTP_PORT DP PP < <(free_ports 4)
mkdir -p "$TMP/root"
write_conf() { # LEVEL
	{
		printf '[pxe]\nDHCPPort = %s\nPXEPort = %s\n' "$DP" "$PP"
		loopback_sections
		printf '\n[log]\nLevel = %s\n' "$1"
	} >"$TMP/pxed.conf.new"
	mv "$TMP/pxed.conf.new" "$TMP/pxed.conf"
}
write_conf info

SOCK=$TMP/notify.sock
OUT=$TMP/notify.out
python3 "$LISTENER" "$SOCK" "$OUT" --udp "$DP,$PP,$TFTP_PORT" --tcp "$PORT" &
LPID=$!
on_exit "kill $LPID"
wait_for 5 grep -q LISTENING "$OUT" || fail "notify listener did not start"

# stderr is a file; JOURNAL_STREAM names that very file, as systemd names
# the stream it connected.
: >"$TMP/pxed.log"
JS=$(stat -c '%d:%i' "$TMP/pxed.log")
NOTIFY_SOCKET=$SOCK JOURNAL_STREAM=$JS "$PXED" -c "$TMP/pxed.conf" 2>>"$TMP/pxed.log" &
PXED_PID=$!
on_exit "kill $PXED_PID; sleep 0.2; kill -9 $PXED_PID"

n_ready() { grep -c '^READY=1$' "$OUT"; }
ready_at_least() { [ "$(n_ready)" -ge "$1" ]; }
wait_for 10 grep -q '^READY=1$' "$OUT" || { cat "$TMP/pxed.log" >&2; fail "no READY=1"; }
wait_for 5 grep -q '^PORTS' "$OUT"
assert_eq "ports at READY=1" "PORTS ok" "$(grep -m1 '^PORTS' "$OUT")"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "HTTP does not answer after READY=1"
sleep 0.3
assert_eq "READY=1 datagrams at start" 1 "$(n_ready)"
grep -q "^STATUS=ProxyDHCP on UDP $DP and $PP, TFTP on UDP $TFTP_PORT, HTTP on TCP $PORT\$" "$OUT" ||
	{ cat "$OUT" >&2; fail "no STATUS= line naming the ports"; }
pass "READY=1 once, with UDP $DP, $PP, $TFTP_PORT and TCP $PORT already bound"

# ---- reload ----
write_conf debug
kill -HUP "$PXED_PID"
wait_for 5 ready_at_least 2 || { cat "$OUT" >&2; fail "no READY=1 after SIGHUP"; }
grep -q 'settings reloaded' "$TMP/pxed.log" || fail "settings not reloaded"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null # an HTTP request: a debug line now
reloading=$(grep -n '^RELOADING=1|MONOTONIC_USEC=[0-9][0-9]*$' "$OUT" | tail -1 | cut -d: -f1)
ready=$(grep -n '^READY=1$' "$OUT" | tail -1 | cut -d: -f1)
[ -n "$reloading" ] || { cat "$OUT" >&2; fail "no RELOADING=1 with MONOTONIC_USEC"; }
[ "$reloading" -lt "$ready" ] || { cat "$OUT" >&2; fail "READY=1 did not follow RELOADING=1"; }
# MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds: within a minute of ours.
usec=$(grep -o 'MONOTONIC_USEC=[0-9]*' "$OUT" | tail -1 | cut -d= -f2)
now=$(python3 -c 'import time; print(int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))')
[ $((now - usec)) -ge 0 ] && [ $((now - usec)) -lt 60000000 ] || fail "MONOTONIC_USEC $usec is not CLOCK_MONOTONIC (now $now)"
pass "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 after the reload"

echo 'Nonsense = 1' >>"$TMP/pxed.conf"
kill -HUP "$PXED_PID"
wait_for 5 ready_at_least 3 || { cat "$OUT" >&2; fail "no READY=1 after a refused reload"; }
assert_grep "reload refused" "$TMP/pxed.log"
assert_eq "RELOADING=1 datagrams" 2 "$(grep -c '^RELOADING=1' "$OUT")"
pass "a refused reload also ends with READY=1"

# ---- journal priorities ----
# The start-up lines are info, the refused reload is an error, the HTTP
# request after the reload to debug level a debug line.
grep -q '^<6>info pxed: pxed .* starting$' "$TMP/pxed.log" || { head "$TMP/pxed.log" >&2; fail "no <6> start line"; }
grep -q '^<3>error conf: reload refused: ' "$TMP/pxed.log" || fail "no <3> error line"
grep -q '^<7>debug ' "$TMP/pxed.log" || fail "no <7> debug line"
bad=$(grep -cvE '^<[3467]>(error|warn|info|debug) [a-z]+: ' "$TMP/pxed.log")
assert_eq "lines without a priority prefix" 0 "$bad"
grep -qE '^<[0-9]>.*[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' "$TMP/pxed.log" && fail "a timestamp of pxed's own on the journal"
pass "journal stream: <N> priority prefixes, no timestamp of our own"

# ---- stop ----
kill -TERM "$PXED_PID"
wait_for 5 grep -q '^STOPPING=1$' "$OUT" || { cat "$OUT" >&2; fail "no STOPPING=1"; }
wait "$PXED_PID" 2>/dev/null
assert_eq "last datagram" STOPPING=1 "$(grep -v '^PORTS' "$OUT" | tail -n 1)"
pass "SIGTERM: STOPPING=1, and nothing after it"

# ---- not the journal ----
: >"$TMP/plain.log"
write_conf info
JOURNAL_STREAM=1:1 "$PXED" -c "$TMP/pxed.conf" 2>>"$TMP/plain.log" &
P2=$!
on_exit "kill $P2"
wait_for 10 curl -sf "http://127.0.0.1:$PORT/healthz" || { cat "$TMP/plain.log" >&2; fail "pxed did not start without a notify socket"; }
kill "$P2"; wait "$P2" 2>/dev/null
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z info  pxed: pxed .* starting$' "$TMP/plain.log" ||
	{ head -3 "$TMP/plain.log" >&2; fail "stderr that is not the journal lost its timestamps"; }
grep -q '^<' "$TMP/plain.log" && fail "priority prefixes on a stream that is not the journal"
pass "JOURNAL_STREAM naming another stream, no NOTIFY_SOCKET: timestamps, no prefixes, starts"

# A file pxed cannot start with: the reason at priority 3, so
# `journalctl -p err` shows why the service failed.
printf '[log]\nBogus = 1\n' >"$TMP/bad.conf"
: >"$TMP/bad.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/bad.log") "$PXED" -c "$TMP/bad.conf" 2>>"$TMP/bad.log" && fail "started with a bad file"
assert_eq "start-up refusal" "<3>error conf: $TMP/bad.conf:2: unknown setting 'Bogus' in [log]" "$(cat "$TMP/bad.log")"
pass "a bad file at start: the reason logged at priority 3"
