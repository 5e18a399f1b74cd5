#!/bin/bash
# Variables, rendered command lines and answer files, against the real
# daemon on loopback (scripted iPXE exchanges from dhcp_client.py):
#   - variables at every level through pxectl and the API; the device's
#     JSON and `pxectl device show` give the winner and where it is from
#     (device > deployment > collection > image > global; two collections:
#     the name that sorts first); bad names, built-ins, big values refused;
#   - the kernel line of a hand-out carries the rendered variables and the
#     boot's answers URL; a hostile value (space, ${...}, ||) is not
#     rendered into it: the machine goes local, with the reason in the
#     event, and the required deployment stays due;
#   - /answers/TOKEN/NAME renders the template for that boot (YAML escaped,
#     preseed refused on a newline); another machine's token gets its own
#     answers, a made-up or malformed token 403 whether the file exists or
#     not, a missing template 404 with a good token; templates are never
#     served raw by /files/; every fetch is an event and counted.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
for c in curl python3; do command -v $c >/dev/null || skip "needs $c"; done

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img" "$TMP/root/templates/ubuntu"
echo kernel >"$TMP/root/img/vmlinuz"
cat >"$TMP/root/templates/preseed.cfg" <<'T'
d-i netcfg/get_hostname string ${hostname}
d-i netcfg/get_domain string ${domain:-lab.example}
d-i preseed/late_command string echo ${mac} > /target/etc/pxed-mac
T
cat >"$TMP/root/templates/ubuntu/user-data" <<'T'
#cloud-config
autoinstall:
  version: 1
  identity:
    hostname: "${hostname}"
    realname: "${realname}"
T
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
CONF
loopback_sections
printf '\n[log]\nLevel = info\n'; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
ctl_fails() { ! "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $* worked"; }; }
TOK=$(cat "$API_TOKEN_FILE")
api() { curl -s --max-time 5 -o "$TMP/api.out" -w '%{http_code}' -H "Authorization: Bearer $TOK" "$@"; }
get() { curl -s --max-time 5 -o "$TMP/s.out" -w '%{http_code}' "$1"; }

M1=52:54:00:71:00:01 M2=52:54:00:71:00:02
ctl image add deb --kernel img/vmlinuz \
	--cmdline 'auto=true priority=critical url=${answers}preseed.cfg hostname=${hostname} role=${role} ds=nocloud-net;s=${answers}ubuntu/ tz=${tz:-UTC}'
ctl device add v-1 --mac $M1
ctl device add v-2 --mac $M2
ctl collection add b-servers
ctl collection add a-web
ctl collection add-device b-servers v-1
ctl collection add-device a-web v-1
ctl collection add-device b-servers v-2
ctl deploy inst --image deb --collection b-servers --required

# ---- precedence -------------------------------------------------------------
ctl var set global role=global
ctl var set global hostname=nobody
ctl var set global realname='Lab "Admin"'
ctl var set image deb role=image
ctl var set collection b-servers role=servers
ctl var set collection a-web role=web
ctl var set deployment inst domain=corp.example
ctl var set device v-1 hostname=web01
ctl var set device v-2 hostname=db01
ctl var list collection a-web
assert_grep '^role=web$' "$TMP/ctl.out"
ctl device show v-1
assert_grep '^  role=web  \(collection a-web\)$' "$TMP/ctl.out" "two collections: a-web sorts first"
assert_grep '^  hostname=web01  \(device v-1\)$' "$TMP/ctl.out"
assert_grep '^  domain=corp.example  \(deployment inst\)$' "$TMP/ctl.out"
assert_grep '^  realname=Lab "Admin"  \(global\)$' "$TMP/ctl.out"
assert_eq "device JSON" 200 "$(api "$B/api/v1/devices/v-2")"
python3 - "$TMP/api.out" <<'PY' || fail "device JSON vars"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["vars"]
assert d["vars_deployment"] == "inst", d
assert v["role"] == {"value": "servers", "from": "collection b-servers"}, v
assert v["hostname"]["from"] == "device v-2", v
PY
ctl var unset collection a-web role
ctl device show v-1
assert_grep '^  role=servers  \(collection b-servers\)$' "$TMP/ctl.out"
ctl var set collection a-web role=web
# the API: PUT, GET one, DELETE, errors
assert_eq "PUT" 200 "$(api -X PUT -d '{"value":"x y"}' "$B/api/v1/vars/device/v-2/note")"
assert_eq "GET one" 200 "$(api "$B/api/v1/vars/device/v-2/note")"
assert_grep '"note":"x y"' "$TMP/api.out"
assert_eq "DELETE" 200 "$(api -X DELETE "$B/api/v1/vars/device/v-2/note")"
assert_eq "DELETE again" 404 "$(api -X DELETE "$B/api/v1/vars/device/v-2/note")"
assert_eq "no such device" 404 "$(api -X PUT -d '{"value":"x"}' "$B/api/v1/vars/device/nope/a")"
assert_eq "bad key" 404 "$(api -X PUT -d '{"value":"x"}' "$B/api/v1/vars/global/a-b")"
assert_eq "built-in" 400 "$(api -X PUT -d '{"value":"x"}' "$B/api/v1/vars/global/answers")"
assert_eq "bad level" 404 "$(api "$B/api/v1/vars/planet/x")"
assert_eq "no token" 401 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d '{"value":"x"}' "$B/api/v1/vars/global/a")"
big=$(head -c 1025 /dev/zero | tr '\0' v)
assert_eq "too big" 400 "$(api -X PUT -d "{\"value\":\"$big\"}" "$B/api/v1/vars/global/big")"
ctl_fails var set global 9x=1
ctl_fails var set device v-1
pass "variables: precedence device > deployment > collection (by name) > image > global, via pxectl and the API"

# ---- the kernel line ---------------------------------------------------------
U1=$(ipxe_url $M1)
[ -n "$U1" ] || fail "no answer to the iPXE request for $M1"
assert_eq "script" 200 "$(get "$U1")"
cp "$TMP/s.out" "$TMP/s1.ipxe"
assert_grep "^kernel .* auto=true priority=critical url=http://127.0.0.1:$PORT/answers/[0-9a-f]{32}/preseed.cfg hostname=web01 role=web ds=nocloud-net;s=http://127.0.0.1:$PORT/answers/[0-9a-f]{32}/ubuntu/ tz=UTC pxed.report=" "$TMP/s1.ipxe"
T1=$(sed -n 's|.*url=http://127.0.0.1:[0-9]*/answers/\([0-9a-f]*\)/preseed.cfg.*|\1|p' "$TMP/s1.ipxe")
assert_grep "pxed.report=http://127.0.0.1:$PORT/api/v1/report\?token=$T1\$" "$TMP/s1.ipxe"
U2=$(ipxe_url $M2)
assert_eq "script 2" 200 "$(get "$U2")"
T2=$(sed -n 's|.*url=http://127.0.0.1:[0-9]*/answers/\([0-9a-f]*\)/preseed.cfg.*|\1|p' "$TMP/s.out")
[ -n "$T2" ] && [ "$T2" != "$T1" ] || fail "second machine's answer token"
pass "the kernel line carries the rendered variables and the boot's answers URL"

# ---- answer files --------------------------------------------------------------
assert_eq "preseed" 200 "$(get "$B/answers/$T1/preseed.cfg")"
assert_grep '^d-i netcfg/get_hostname string web01$' "$TMP/s.out"
assert_grep '^d-i netcfg/get_domain string corp.example$' "$TMP/s.out"
assert_grep "^d-i preseed/late_command string echo $M1 > /target/etc/pxed-mac\$" "$TMP/s.out"
assert_eq "user-data" 200 "$(get "$B/answers/$T1/ubuntu/user-data")"
assert_grep '^    realname: "Lab \\"Admin\\""$' "$TMP/s.out" "YAML escaping"
assert_eq "other machine's token" 200 "$(get "$B/answers/$T2/preseed.cfg")"
assert_grep '^d-i netcfg/get_hostname string db01$' "$TMP/s.out"
! grep -q web01 "$TMP/s.out" || fail "machine 2 got machine 1's answers"
made=0123456789abcdef0123456789abcdef
assert_eq "made-up token, file exists" 403 "$(get "$B/answers/$made/preseed.cfg")"
assert_eq "made-up token, no file" 403 "$(get "$B/answers/$made/nope.cfg")"
assert_eq "malformed token" 403 "$(get "$B/answers/xyz/preseed.cfg")"
assert_eq "DHCP boot token" 403 "$(get "$B/answers/${U1##*t=}/preseed.cfg")"
assert_eq "good token, no file" 404 "$(get "$B/answers/$T1/nope.cfg")"
assert_eq "good token, traversal" 404 "$(get "$B/answers/$T1/..%2Fpxed.conf")"
assert_eq "two levels" 404 "$(get "$B/answers/$T1/a/b/c")"
assert_eq "raw template by /files/" 404 "$(get "$B/files/templates/preseed.cfg")"
# a value with a newline cannot reach a preseed line; YAML escapes it
ctl var set device v-2 realname="$(printf 'x\nroot: y')"
ctl var set device v-2 hostname="$(printf 'db01\nd-i passwd/root-password password x')"
assert_eq "preseed, newline" 500 "$(get "$B/answers/$T2/preseed.cfg")"
! grep -q 'root-password' "$TMP/s.out" || fail "newline injected into the preseed"
assert_eq "user-data, newline" 200 "$(get "$B/answers/$T2/ubuntu/user-data")"
assert_grep '^    realname: "x\\nroot: y"$' "$TMP/s.out"
curl -sf "$B/metrics" >"$TMP/m"
assert_grep '^pxed_answer_files_total\{result="served"\} 4$' "$TMP/m"
assert_grep '^pxed_answer_files_total\{result="refused"\} 8$' "$TMP/m"
ctl events --device v-1
assert_grep 'answer.*answer file preseed.cfg: served' "$TMP/ctl.out"
assert_grep 'answer file nope.cfg' "$TMP/ctl.out"
assert_grep "answer file preseed.cfg refused: no boot has this token" "$TMP/pxed.log"
pass "answer files: rendered per boot, bound to its token, 403 without one, 404 for no file"

# ---- a value that would inject into the kernel line ---------------------------
ctl deploy inst2 --image deb --device v-2 --required
for bad in 'a b' '${root-path}' 'x||reboot' "x'y"; do
	ctl var set device v-2 hostname="$bad"
	U=$(ipxe_url $M2)
	assert_eq "script, hostile '$bad'" 200 "$(get "$U")"
	! grep -q '^kernel' "$TMP/s.out" || { cat "$TMP/s.out" >&2; fail "hostile value '$bad' rendered into the kernel line"; }
	assert_grep '^exit 1$' "$TMP/s.out"
done
assert_grep "deployment 'inst2' not started: image 'deb' command line: variable 'hostname'" "$TMP/pxed.log"
ctl events --device v-2
assert_grep "local.*not started: image 'deb' command line" "$TMP/ctl.out"
# fixed: the required deployment is still due
ctl var set device v-2 hostname=db01
U=$(ipxe_url $M2)
assert_eq "script, fixed" 200 "$(get "$U")"
assert_grep "^kernel .* hostname=db01 " "$TMP/s.out"
ctl var unset device v-2 hostname
ctl var unset global hostname
ctl deploy inst3 --image deb --device v-2 --required
U=$(ipxe_url $M2)
assert_eq "script, undefined" 200 "$(get "$U")"
! grep -q '^kernel' "$TMP/s.out" || fail "undefined variable rendered"
assert_grep "undefined variable 'hostname'" "$TMP/pxed.log"
pass "a hostile or undefined value sends the machine local, recorded; the deployment stays due"

# ---- refused fetches: one log line and one event per source per 10 s -------------
refused() { curl -sf "$B/metrics" | sed -n 's/^pxed_answer_files_total{result="refused"} //p'; }
from_lines() { grep -c "(from $1)" "$TMP/pxed.log"; }
r0=$(refused)
for i in $(seq 40); do
	curl -s --interface 127.0.0.3 -o /dev/null --max-time 5 "$B/answers/$made/preseed.cfg"
	curl -s --interface 127.0.0.3 -o /dev/null --max-time 5 "$B/answers/not-a-token/x"
done
assert_eq "refusals counted" $((r0 + 80)) "$(refused)"
assert_eq "log lines for 80 refusals from 127.0.0.3" 1 "$(from_lines 127.0.0.3)"
assert_eq "another source's refusal" 403 "$(curl -s --interface 127.0.0.4 -o /dev/null -w '%{http_code}' "$B/answers/$made/preseed.cfg")"
assert_eq "log lines for 127.0.0.4" 1 "$(from_lines 127.0.0.4)"
evs() { assert_eq "events" 200 "$(api "$B/api/v1/events?limit=1000")"; grep -o "[^\"]*(from $1)[^\"]*" "$TMP/api.out"; }
assert_eq "events for the 80 refusals from 127.0.0.3" 1 "$(evs 127.0.0.3 | wc -l)"
# a valid token's refusal is not thinned out
assert_eq "good token, no file, from 127.0.0.3" 404 "$(curl -s --interface 127.0.0.3 -o /dev/null -w '%{http_code}' "$B/answers/$T1/none.cfg")"
assert_eq "log lines for 127.0.0.3 with a good token" 2 "$(from_lines 127.0.0.3)"
sleep 10.2 # HTTP_ANSWER_REFUSE_LOG_MS
assert_eq "after the interval" 403 "$(curl -s --interface 127.0.0.3 -o /dev/null -w '%{http_code}' "$B/answers/$made/preseed.cfg")"
assert_grep "\(from 127.0.0.3\); 79 more refused from 127.0.0.3 in the last 1[0-9] s not logged" "$TMP/pxed.log"
evs 127.0.0.3 >"$TMP/evs"
assert_grep 'refused: no boot has this token.*\(from 127.0.0.3\) \(\+79 more\)$' "$TMP/evs"
pass "refused answer fetches: one log line and event per source per 10 s, with the count; all counted"
