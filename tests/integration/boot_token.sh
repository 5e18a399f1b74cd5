#!/bin/bash
# /boot.ipxe commits a hand-out only for the boot pxed answered over DHCP:
# the script URL in pxed's answer to iPXE carries a one-time token bound to
# the MAC (and the GUID and arch pxed saw).  Checked with a scripted PXE
# boot server exchange (dhcp_client.py, user class iPXE) on loopback:
#   - a bare GET /boot.ipxe?mac=... (anything on the LAN, a web page's
#     <img>) gets the local disk, no kernel, no report token, and does not
#     spend the required deployment; it is counted in /metrics;
#   - a token issued for another MAC, a made-up or malformed one: refused;
#   - the exchange's URL hands the deployment out once, with its report
#     token; the same URL again does not;
#   - an expired token is refused, the next exchange's works;
#   - the available deployment's prompt chains with the token, and its
#     choice=deploy follow-up hands out;
#   - 300 bare GETs with random MACs and SupportUnknownMachines on record
#     no machine and write at most a few log lines.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3; do command -v $c >/dev/null || skip "needs $c"; done

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img"
echo kernel >"$TMP/root/img/vmlinuz"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
SupportUnknownMachines = yes
CONF
loopback_sections
printf '\n[log]\nLevel = info\n'; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }

M1=52:54:00:70:00:01 M2=52:54:00:70:00:02 M3=52:54:00:70:00:03
GUID1=8a3c1f2e-0000-4000-8000-525400700001
ctl image add img --kernel img/vmlinuz --cmdline quiet
ctl device add tok-1 --mac $M1
ctl device add tok-2 --mac $M2
ctl device add tok-3 --mac $M3
ctl deploy dep-1 --image img --device tok-1 --required
ctl deploy dep-2 --image img --device tok-2 --required
ctl deploy dep-3 --image img --device tok-3 --available
get() { curl -s --max-time 5 -o "$TMP/s.ipxe" -w '%{http_code}' "$1"; }
handed_out() { grep -q '^kernel' "$TMP/s.ipxe"; }
no_handout() {
	! handed_out || { cat "$TMP/s.ipxe" >&2; fail "$1: handed out"; }
	! grep -q 'report' "$TMP/s.ipxe" || { cat "$TMP/s.ipxe" >&2; fail "$1: report token revealed"; }
	assert_grep '^exit 1$' "$TMP/s.ipxe"
}
refused() { sed -n "s/^pxed_boot_tokens_refused_total{reason=\"$1\"} //p" "$TMP/m"; }
metrics() { curl -sf --max-time 5 -o "$TMP/m" "$B/metrics" || fail "/metrics"; }

# ---- a bare GET: no hand-out ----------------------------------------------
assert_eq "bare GET" 200 "$(get "$B/boot.ipxe?mac=$M1")"
no_handout "bare GET"
assert_grep 'boot token missing' "$TMP/s.ipxe"
assert_eq "bare GET with guid and arch" 200 "$(get "$B/boot.ipxe?mac=$M1&guid=$GUID1&arch=7")"
no_handout "bare GET with guid and arch"
assert_eq "made-up token" 200 "$(get "$B/boot.ipxe?mac=$M1&t=00112233445566778899aabbccddeeff")"
no_handout "made-up token"
assert_eq "malformed token" 200 "$(get "$B/boot.ipxe?mac=$M1&t=xyz")"
no_handout "malformed token"
metrics
assert_eq "refused, missing" 2 "$(refused missing)"
assert_eq "refused, unknown" 1 "$(refused unknown)"
assert_eq "refused, malformed" 1 "$(refused malformed)"
pass "bare or made-up GET /boot.ipxe: local disk, no kernel, no report token, counted"

# ---- a token for another machine ------------------------------------------
U2=$(ipxe_url $M2)
[ -n "$U2" ] || fail "no answer to the iPXE request for $M2"
assert_grep "t=[0-9a-f]{32}$" <(echo "$U2")
assert_eq "foreign token" 200 "$(get "${U2/$M2/$M1}")"
no_handout "token of $M2 with mac=$M1"
U1=$(ipxe_url $M1 7 $GUID1)
assert_eq "URL" "http://127.0.0.1:$PORT/boot.ipxe?mac=$M1&t=" "${U1%t=*}t="
assert_eq "token, other arch" 200 "$(get "$U1&arch=0")"
no_handout "token with another arch"
metrics
assert_eq "refused, other machine" 2 "$(refused other_machine)"
pass "a token is bound to its MAC and arch"

# ---- the exchange's URL hands out once --------------------------------------
assert_eq "tokened GET" 200 "$(get "$U1")"
handed_out || { cat "$TMP/s.ipxe" >&2; fail "the exchange's URL did not hand out"; }
assert_grep 'pxed.report=http://127.0.0.1:[0-9]+/api/v1/report\?token=[0-9a-f]{32}' "$TMP/s.ipxe"
assert_eq "replay" 200 "$(get "$U1")"
no_handout "replayed token"
assert_grep 'boot token already used' "$TMP/s.ipxe"
ctl events --device tok-1
[ "$(grep -c 'http.*boot.*dep-1' "$TMP/ctl.out")" = 1 ] || { cat "$TMP/ctl.out" >&2; fail "dep-1 not handed out exactly once"; }
# M2's token from before still works for M2: the bare GETs spent nothing
assert_eq "M2's token" 200 "$(get "$U2")"
handed_out || { cat "$TMP/s.ipxe" >&2; fail "M2's exchange did not hand out"; }
pass "the exchange's URL hands out once, with a report token; a replay does not"

# ---- expiry -------------------------------------------------------------------
ctl deploy dep-1b --image img --device tok-1 --required
ctl settings set BootTokenLifetime 1
U1=$(ipxe_url $M1)
sleep 1.5
assert_eq "expired" 200 "$(get "$U1")"
no_handout "expired token"
assert_grep 'boot token expired' "$TMP/s.ipxe"
ctl settings set BootTokenLifetime 300
U1=$(ipxe_url $M1)
assert_eq "fresh" 200 "$(get "$U1")"
handed_out || { cat "$TMP/s.ipxe" >&2; fail "a fresh token after an expired one did not hand out"; }
pass "an expired token is refused; the next exchange's hands out"

# ---- the available deployment's prompt carries the token ----------------------
U3=$(ipxe_url $M3 7)
T3=${U3##*t=}
assert_eq "prompt" 200 "$(get "$U3")"
assert_grep "^chain http://127.0.0.1:$PORT/boot.ipxe\?mac=$M3&t=$T3&choice=deploy \|\| goto local$" "$TMP/s.ipxe"
assert_eq "bare choice=deploy" 200 "$(get "$B/boot.ipxe?mac=$M3&choice=deploy")"
no_handout "choice=deploy without the token"
assert_eq "choice=deploy" 200 "$(get "$U3&choice=deploy")"
handed_out || { cat "$TMP/s.ipxe" >&2; fail "choice=deploy with the token did not hand out"; }
assert_eq "choice=deploy again" 200 "$(get "$U3&choice=deploy")"
no_handout "choice=deploy replayed"
pass "available deployment: the prompt's follow-up carries the token, hands out once"

# ---- a flood of bare GETs with random MACs -------------------------------------
ctl device list
before=$(wc -l <"$TMP/ctl.out")
lines0=$(grep -c 'boot.ipxe refused' "$TMP/pxed.log")
python3 - "$PORT" <<'PY' || fail "flood"
import http.client, os, sys
for i in range(300):
    mac = "02:" + ":".join("%02x" % b for b in os.urandom(5))
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", "/boot.ipxe?mac=" + mac)
    r = c.getresponse()
    body = r.read().decode()
    assert r.status == 200 and "kernel" not in body, body
    c.close()
PY
ctl device list
assert_eq "devices after the flood" "$before" "$(wc -l <"$TMP/ctl.out")"
lines=$(( $(grep -c 'boot.ipxe refused' "$TMP/pxed.log") - lines0 ))
[ "$lines" -le 3 ] || fail "$lines log lines for 300 refused requests"
pass "300 bare GETs with random MACs: no machine recorded, $lines log lines"
