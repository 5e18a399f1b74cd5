#!/bin/bash
# HTTP under connection load: more idle connections than the limit, from
# several addresses (keep-alive iPXE clients, a room of machines fetching
# kernels).  While above the limit, new connections are refused and
# counted; once they close, /healthz, a file and the API answer again, with
# no restart.  Also the per-address limit.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
command -v curl >/dev/null || skip "needs curl"

PORT=$(free_port)
TFTP_PORT=$(free_port)
mkdir -p "$TMP/root"
head -c 200000 /dev/urandom >"$TMP/root/kernel"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
DHCPPort = $(free_port)
PXEPort = $(free_port)
$(loopback_sections)

[log]
Level = info
CONF
start_pxed "$TMP/pxed.conf"
use_pxed_api
TOKEN=$(cat "$TMP/api.token")

# hold N_PER_ADDR FIRST_ADDR N_ADDR: open idle connections from 127.0.0.X
# (X = FIRST_ADDR ..), report how many the server kept open, then wait
# for "close" on stdin.  A refused connection is one the server closed
# at once (EOF or reset) or could not be made.
cat >"$TMP/hold.py" <<'PY'
import socket, sys, time
port, per, first, naddr = (int(a) for a in sys.argv[1:5])
socks = []
for a in range(first, first + naddr):
    for _ in range(per):
        s = socket.socket()
        s.bind(("127.0.0.%d" % a, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)
time.sleep(1.0)
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(1)
        if d == b"":
            continue  # closed by the server
        alive += 1
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(alive, flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
PY

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1==m{print $2}'; }

# 1. More than the limit (256) from 6 addresses, 55 each (each under the
# per-address limit of 64): 330 connections asked, at most 256 kept.
coproc HOLD { python3 "$TMP/hold.py" "$PORT" 55 2 6; }
on_exit "kill $HOLD_PID"
read -r -t 60 alive <&"${HOLD[0]}" || fail "the connection holder did not report"
# While full: a new connection is refused at once, not left hanging
# (checked after the recovery below, which matters most).
start=$SECONDS
above=served
curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT/healthz" || above=refused
above_s=$((SECONDS - start))

# Close them all: HTTP recovers without a restart.
echo close >&"${HOLD[1]}"
wait "$HOLD_PID" 2>/dev/null
ok=0
for _ in $(seq 50); do
	if curl -s -m 2 -o /dev/null "http://127.0.0.1:$PORT/healthz"; then ok=1; break; fi
	sleep 0.1
done
[ $ok = 1 ] || { tail -20 "$TMP/pxed.log" >&2; fail "HTTP never answered again after the connections closed"; }
assert_eq "/healthz after the load" ok "$(curl -s -m 5 "http://127.0.0.1:$PORT/healthz")"
curl -s -m 5 -o "$TMP/k" "http://127.0.0.1:$PORT/files/kernel" || fail "file after the load"
cmp -s "$TMP/k" "$TMP/root/kernel" || fail "file after the load differs"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$B/api/v1/devices")
assert_eq "API after the load" 200 "$code"
pass "after the connections closed: /healthz, a file and the API answer"

[ "$alive" -le 256 ] || fail "$alive connections held open, over the limit of 256"
[ "$alive" -ge 200 ] || fail "only $alive connections held open"
pass "$alive of 330 idle connections held (limit 256)"
[ $above = refused ] || fail "a connection above the limit was served"
[ $above_s -le 3 ] || fail "a connection above the limit hung ${above_s} s instead of being refused"
pass "a connection above the limit is refused at once"

refused=$(metric 'pxed_http_connections_refused_total{reason="limit"}')
[ "${refused:-0}" -ge 70 ] || fail "refusals at the limit not counted: '${refused:-}'"
pass "refusals at the limit counted in /metrics ($refused)"

# Again, twice: the limit can be reached and left any number of times.
for round in 1 2; do
	coproc HOLD { python3 "$TMP/hold.py" "$PORT" 60 2 5; }
	read -r -t 60 alive <&"${HOLD[0]}" || fail "round $round: holder did not report"
	echo close >&"${HOLD[1]}"
	wait "$HOLD_PID" 2>/dev/null
	wait_for 5 curl -sf -m 2 "http://127.0.0.1:$PORT/healthz" || fail "round $round: HTTP did not recover"
done
pass "the limit reached and left three times; HTTP still serves"

# 2. One address: at most 64 of 100.
coproc HOLD { python3 "$TMP/hold.py" "$PORT" 100 9 1; }
read -r -t 60 alive <&"${HOLD[0]}" || fail "per-address holder did not report"
[ "$alive" -le 64 ] || fail "$alive connections from one address held, over 64"
# Another address is still served meanwhile.
curl -sf -m 5 --interface 127.0.0.20 -o /dev/null "http://127.0.0.1:$PORT/healthz" ||
	fail "another address is not served while one address is at its limit"
echo close >&"${HOLD[1]}"
wait "$HOLD_PID" 2>/dev/null
per=$(metric 'pxed_http_connections_refused_total{reason="per_address"}')
[ "${per:-0}" -ge 30 ] || fail "per-address refusals not counted: '${per:-}'"
pass "one address holds at most 64 connections ($alive held, $per refused); others still served"
kill -0 "$PXED_PID" || fail "pxed died"
