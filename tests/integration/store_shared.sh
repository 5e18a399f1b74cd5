#!/bin/bash
# Two pxed servers on one PostgreSQL database (a throw-away cluster of the
# test's own, Unix socket only), each with its own ports on 127.0.0.1 and
# its own StateDir:
#  1. a change made through server A makes server B's cached answer stale
#     within a second (measured: A's API call returned -> B's cache says
#     stale), and B's next answer is the new one;
#  2. many /boot.ipxe hand-outs of one required deployment for one machine,
#     fired at both servers at once, hand it out exactly once (one boot
#     script with a kernel, the others local; one hand-out row);
#  3. PostgreSQL stopped: both keep serving files over HTTP and TFTP, say
#     degraded on /healthz, refuse API writes with 503, answer nothing from
#     the cache; started again: both recover by themselves, API writes work,
#     and the boot events made during the outage are all recorded.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
command -v curl >/dev/null || skip "needs curl"
command -v psql >/dev/null || skip "needs psql"
start_postgres || fail "PostgreSQL did not start"

read -r HA HB DA DB XA XB TA TB PA PB <<<"$(free_ports 10)"
mkdir -p "$TMP/root/deb"
echo "kernel bytes" >"$TMP/root/deb/linux"

conf() { # NAME HTTP DHCP TFTP PXE
	cat <<CONF
[pxe]
DHCPPort = $3
PXEPort = $5
CacheExpire = 3600
SupportUnknownMachines = no

[tftp]
Root = $TMP/root
Port = $4

[http]
Port = $2
Address = 127.0.0.1

[store]
StateDir = $TMP/$1
URL = $PG_URL
CONF
}
conf a "$HA" "$DA" "$TA" "$PA" >"$TMP/a.conf"
conf b "$HB" "$DB" "$TB" "$PB" >"$TMP/b.conf"
start_pxed "$TMP/a.conf"
start_pxed "$TMP/b.conf"
A=http://127.0.0.1:$HA
B=http://127.0.0.1:$HB
OUT=$TMP/out
ERR=$TMP/err

# ctl a|b WANT ARGS...: pxectl against server a or b
ctl() {
	local srv=$1 want=$2 rc=0 url
	shift 2
	[ "$srv" = a ] && url=$A || url=$B
	"$PXECTL" --server "$url" --token-file "$TMP/$srv/api.token" "$@" >"$OUT" 2>"$ERR" || rc=$?
	[ "$rc" = "$want" ] || { cat "$OUT" "$ERR" >&2; fail "pxectl ($srv) $*: exit $rc, expected $want"; }
}
# discover PORT MAC: one PXE DHCPDISCOVER (the DHCP path: the cache answers)
discover() {
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys
port, mac = int(sys.argv[1]), bytes.fromhex(sys.argv[2].replace(':', ''))
hdr = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, 0x2a2a2a2a, 4, 0x8000,
                  bytes(4), bytes(4), bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128))
opt = b'\x63\x82\x53\x63' + bytes([53, 1, 1])
opt += bytes([60, 32]) + b'PXEClient:Arch:00000:UNDI:002001'
opt += bytes([93, 2, 0, 0, 94, 3, 1, 2, 1, 255])
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(hdr + opt, ('127.0.0.1', port))
PY
	sleep 0.2
}
# cache_valid a|b MAC: "yes" when one of MAC's entries in that server's
# cache (one per architecture and GUID it asked with) is valid, "no" when
# none is, "none"
cache_valid() {
	local url
	[ "$1" = a ] && url=$A || url=$B
	curl -s -H "Authorization: Bearer $(cat "$TMP/$1/api.token")" "$url/api/v1/cache" |
		python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x["mac"] == sys.argv[1]]
print("none" if not e else ("yes" if any(x["valid"] for x in e) else "no"))' "$2" 2>/dev/null || echo error
}

M1=52:54:00:bb:00:01
M9=52:54:00:bb:00:99

# ---- 1. invalidation across servers -----------------------------------------
ctl a 0 image add deb --kernel deb/linux
ctl a 0 device add pc-01 --mac $M1
ctl a 0 deploy avail --image deb --device pc-01 --available
discover "$DB" $M1
discover "$DB" $M1
assert_eq "B's cache entry for pc-01" yes "$(cache_valid b $M1)"
# One process does both sides, so the figure is the invalidation's, not
# process start-ups': A's PATCH returns, then B's cache is polled.
delay=$(python3 - "$A" "$TMP/a/api.token" "$B" "$TMP/b/api.token" "$M1" <<'PY'
import json, sys, time, urllib.request
a, atok, b, btok, mac = sys.argv[1:]
def call(url, tok, method="GET", body=None):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": "Bearer " + open(tok).read().strip(),
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)
call(a + "/api/v1/deployments/avail", atok, "PATCH", b'{"enabled": false}')
t0 = time.monotonic()
while time.monotonic() - t0 < 3:
    e = [x for x in call(b + "/api/v1/cache", btok) if x["mac"] == mac]
    if e and not e[0]["valid"]:
        print(int((time.monotonic() - t0) * 1000))
        break
    time.sleep(0.005)
else:
    print("never")
PY
)
[ "$delay" != never ] || fail "B's cached answer still valid 3 s after A's change"
[ "$delay" -lt 1000 ] || fail "B's cache went stale $delay ms after A's change (want < 1000)"
assert_eq "B's cache entry after A's change" no "$(cache_valid b $M1)"
curl -s "$B/boot.ipxe?mac=$M1" | grep -q '^exit 1$' || fail "B still boots the disabled deployment"
pass "a change through A made B's cached answer stale in $delay ms; B answers anew"

# ---- 2. exactly once ------------------------------------------------------------
ctl a 0 deploy req --image deb --device pc-01 --required
# /boot.ipxe commits a hand-out only for the URL (with its one-time
# token) of a DHCP exchange with that server: 12 exchanges with each
# first, then all 24 scripts fetched at once.
urls=()
for i in $(seq 1 12); do
	urls+=("$(PXE_PORT=$PA ipxe_url $M1)" "$(PXE_PORT=$PB ipxe_url $M1)")
done
for u in "${urls[@]}"; do
	[ -n "$u" ] || fail "a server gave iPXE no script URL"
done
pids=()
for i in "${!urls[@]}"; do
	curl -s -o "$TMP/race.$i" "${urls[$i]}" &
	pids+=($!)
done
wait "${pids[@]}"
kernels=$(grep -l '^kernel ' "$TMP"/race.* | wc -l)
locals=$(grep -lx 'exit 1' "$TMP"/race.* | wc -l)
assert_eq "boot scripts that hand out 'req'" 1 "$kernels"
[ "$locals" -ge 1 ] || fail "no boot script answered local"
rows=$(psql -tAq "$PG_URL" -c "SELECT count(*) FROM pxe_history h JOIN deployments d ON d.id = h.deployment_id WHERE d.name = 'req'")
assert_eq "hand-out rows of 'req'" 1 "$rows"
pass "24 concurrent hand-outs over two servers: one boot script with the kernel, $locals local"

# ---- 3. PostgreSQL down and back ---------------------------------------------
# A valid entry in B's cache first.  Writes still in flight from the race
# (events, last-seen times) may make a fresh entry stale at once: ask again
# until one stays.
b_cached() { discover "$DB" $M1 >/dev/null; sleep 0.3; [ "$(cache_valid b $M1)" = yes ]; }
wait_for 10 b_cached || fail "B's cache entry before the outage: $(cache_valid b $M1)"
source "$ROOT/tests/pg.sh"
pg_ctl_as "$PG_DIR" -m fast stop >/dev/null || fail "could not stop PostgreSQL"
for s in "$A" "$B"; do
	wait_for 10 sh -c "curl -s '$s/healthz' | grep -q 'degraded: database unreachable'" ||
		fail "$s/healthz not degraded with PostgreSQL down: $(curl -s "$s/healthz")"
done
assert_eq "healthz status while down" 503 "$(curl -s -o /dev/null -w '%{http_code}' "$A/healthz")"
assert_eq "B's cache entry while down" no "$(cache_valid b $M1)"
code=$(curl -s -o "$OUT" -w '%{http_code}' -H "Authorization: Bearer $(cat "$TMP/a/api.token")" \
	-d '{"name":"pc-02","mac":"52:54:00:bb:00:02"}' "$A/api/v1/devices")
assert_eq "API write while down" 503 "$code"
assert_grep '"unavailable"' "$OUT"
curl -sf "$A/files/deb/linux" | grep -q "kernel bytes" || fail "HTTP file not served while down"
curl -sf "tftp://127.0.0.1:$TB/deb/linux" | grep -q "kernel bytes" || fail "TFTP file not served while down"
for i in 1 2 3; do discover "$DA" $M9; discover "$DB" $M9; done
pass "PostgreSQL down: files served, /healthz degraded, API writes 503, cache answers nothing"

pg_ctl_as "$PG_DIR" start >/dev/null || fail "could not start PostgreSQL again"
for s in "$A" "$B"; do
	wait_for 15 curl -sf "$s/healthz" || fail "$s/healthz not ok after PostgreSQL came back"
done
ctl a 0 device add pc-02 --mac 52:54:00:bb:00:02
ctl b 0 device show pc-02
wait_for 15 sh -c "[ \$(psql -tAq '$PG_URL' -c \"SELECT count(*) FROM events WHERE mac = '$M9'\") -ge 6 ]" ||
	fail "boot events made during the outage were lost: $(psql -tAq "$PG_URL" -c "SELECT count(*) FROM events WHERE mac = '$M9'") of 6 recorded"
grep -c "PostgreSQL unreachable" "$TMP/pxed.log" | grep -qx 2 ||
	fail "want one 'unreachable' line per server: $(grep -c 'PostgreSQL unreachable' "$TMP/pxed.log")"
pass "PostgreSQL back: both recover by themselves, writes work, the 6 events of the outage recorded"
