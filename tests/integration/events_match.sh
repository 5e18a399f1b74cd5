#!/bin/bash
# Every boot event says what the client was sent, also when something
# after the rules changed the answer.  Against the real daemon, with the
# scripted PXE client (tests/integration/dhcp_client.py), curl for the
# iPXE scripts and curl's TFTP for GRUB's configuration, each answer is
# compared with the event the API (/api/v1/events) recorded for it:
#   with PXEPassword set --
#   1. the password asked: the script runs `login`; one event, whose
#      reason says the password was asked;
#   2. a wrong password: the script says so and asks again; one event
#      saying so;
#   3. the right password: the image boots; one event, the hand-out (the
#      look before the password is not an event of its own);
#   3b. an image whose command line has a machine variable: the password
#      is asked (not "image cannot be served"), and the right one boots
#      the command line rendered for the machine; one hand-out;
#   4. wrong again and again: the MAC is locked out and the script boots
#      the local disk; the event says local, too many wrong passwords;
#   5. an image that cannot be written into a script: local; one event,
#      "local (image cannot be served ...)";
#   6. a GRUB machine (UEFI x64, BootLoaderUEFIx64 = grub) with a
#      deployment: the local boot menu; the event says local, PXEPassword;
#   7. an ARM64 machine without GRUB's files: no answer; the event says
#      ignore, GRUB not installed;
#   without PXEPassword --
#   8. a command line that does not render: the script boots the local
#      disk; one event, "local ... not started" (no "boot" beside it);
#   8b. an image that cannot be written into a script: local, and the
#      required deployment is not handed out (it stays due);
#   9. GRUB's configuration for an image it cannot write: local; the
#      event says local, and the deployment is not handed out;
#   10. a machine GRUB just sent to its disk asks again: the local boot
#      menu; the event says local, "GRUB sent it to its local disk".
#
# PXED_BIN=path runs another daemon binary (an ASan build, an older pxed).
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] && [ -x "$PXECTL" ] || skip "build pxed and pxectl first"
for c in curl python3 sqlite3; do command -v $c >/dev/null || skip "needs $c"; done
[ "${PXED_STORE:-sqlite}" = sqlite ] || skip "edits the SQLite file directly"
CLIENT=$ROOT/tests/integration/dhcp_client.py

PASSWORD='s3cret-events'
read -r PORT TFTP_PORT DHCP_PORT PXE_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root/img" "$TMP/shim" "$TMP/grub/x86_64-efi-signed" "$TMP/grub/x86_64-efi"
echo kernel >"$TMP/root/img/vmlinuz"
# GRUB for UEFI x64 as Debian installs it (stand-ins); none for ARM64.
echo "shim signed" >"$TMP/shim/shimx64.efi.signed"
echo "grub net signed" >"$TMP/grub/x86_64-efi-signed/grubnetx64.efi.signed"
echo "normal" >"$TMP/grub/x86_64-efi/command.lst"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
PXEPassword = $PASSWORD
BootLoaderUEFIx64 = grub
ShimDir = $TMP/shim
GrubDir = $TMP/grub
CONF
loopback_sections
printf '\n[log]\nLevel = debug\n'; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }

# events MAC: that machine's events in the order they were written, one "via|outcome|reason"
# line each, as the API gives them.
events() {
	curl -sf -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" \
		"$B/api/v1/events?mac=$1&limit=100" >"$TMP/events.json" || fail "GET /api/v1/events"
	python3 -c '
import json, sys
for e in sorted(json.load(open(sys.argv[1])), key=lambda e: e["id"]):
    print("%s|%s|%s" % (e["via"], e["outcome"], e["reason"]))' "$TMP/events.json"
}
# mark MAC / since MAC: the events recorded since the mark, in $TMP/new.
mark() { MARK=$(events "$1" | wc -l); }
since() { events "$1" | tail -n +$((MARK + 1)) >"$TMP/new"; }
# expect_events WHAT N: exactly N new events.
expect_events() {
	local n
	n=$(wc -l <"$TMP/new")
	[ "$n" -eq "$2" ] || { cat "$TMP/new" >&2; fail "$1: $n events for one answer, expected $2"; }
}
# expect_event WHAT REGEX: the newest event matches "via|outcome|reason".
expect_event() {
	tail -n 1 "$TMP/new" | grep -qE -- "$2" ||
		{ echo "--- events since the request:" >&2; cat "$TMP/new" >&2; fail "$1: the event does not say what the client got (/$2/)"; }
}
fetch() { curl -sf --max-time 10 -o "$TMP/script" "$@" || fail "GET $*"; }
dhcp() { # MAC ARCH [user class]: a port-4011 request from 127.0.0.1
	python3 "$CLIENT" --unicast 127.0.0.1 --port "$PXE_PORT" --source 127.0.0.1:0 \
		--type request --ciaddr 127.0.0.1 --mac "$1" --arch "$2" ${3:+--user-class "$3"} \
		--timeout 2 >"$TMP/reply" || fail "dhcp_client.py"
}

ctl image add img --kernel img/vmlinuz --cmdline quiet
ctl image add vimg --kernel img/vmlinuz --cmdline 'hostname=${hostname}'
ctl image add ubad --kernel img/vmlinuz --cmdline quiet
ctl image add gbad --kernel img/vmlinuz --cmdline quiet
ctl image add pvimg --kernel img/vmlinuz --cmdline 'quiet hostname=${hostname} role=${role:-none}'
# A command line no boot script may carry (the API refuses it; a database
# edited by hand, or by an older pxed, may hold it).
sqlite3 -cmd ".timeout 5000" "$TMP/pxed.db" \
	"UPDATE images SET cmdline = 'a\"b' WHERE name IN ('ubad', 'gbad')" || fail "sqlite3"
MAC_P=52:54:00:e7:00:01 MAC_R=52:54:00:e7:00:02 MAC_U=52:54:00:e7:00:03
MAC_G=52:54:00:e7:00:04 MAC_B=52:54:00:e7:00:05 MAC_L=52:54:00:e7:00:06
MAC_K=52:54:00:e7:00:07 MAC_V=52:54:00:e7:00:08
ctl device add pw --mac $MAC_P
ctl device add render --mac $MAC_R
ctl device add unservable --mac $MAC_U
ctl device add grub --mac $MAC_G
ctl device add grubbad --mac $MAC_B
ctl device add grublocal --mac $MAC_L
ctl device add locked --mac $MAC_K
ctl device add pwvar --mac $MAC_V
ctl var set device pwvar hostname=pv-host-01
ctl deploy dp --image img --device pw --required
ctl deploy dr --image vimg --device render --required
ctl deploy du --image ubad --device unservable --required
ctl deploy dg --image img --device grub --required
ctl deploy db --image gbad --device grubbad --required
ctl deploy dl --image img --device grublocal --available
ctl deploy dk --image img --device locked --required
ctl deploy dv --image pvimg --device pwvar --required
# handed_out DEPLOYMENT: how many hand-outs the API counts for it.
handed_out() {
	curl -sf -H "Authorization: Bearer $(cat "$PXED_TOKEN_FILE")" \
		"$B/api/v1/deployments/$1" >"$TMP/dep.json" || fail "GET /api/v1/deployments/$1"
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"]["handed_out"])' \
		"$TMP/dep.json"
}

# ---- 1-3. PXEPassword -------------------------------------------------------
URL=$(ipxe_url $MAC_P)
[ -n "$URL" ] || fail "no iPXE answer for $MAC_P"
mark $MAC_P
fetch "$URL"
grep -q '^login' "$TMP/script" || { cat "$TMP/script" >&2; fail "no password prompt"; }
since $MAC_P
expect_events "password asked" 1
expect_event "password asked" "^http\|boot\|required deployment 'dp' .*: PXEPassword asked$"
pass "1. the password asked: the event says so"

mark $MAC_P
fetch -G --data-urlencode "password=wrong-one" "$URL"
grep -q 'wrong password, try again' "$TMP/script" || { cat "$TMP/script" >&2; fail "no 'wrong password'"; }
grep -q '^kernel' "$TMP/script" && fail "a wrong password booted"
since $MAC_P
expect_events "wrong password" 1
expect_event "wrong password" "^http\|boot\|required deployment 'dp' .*: wrong PXE password, asked again$"
pass "2. a wrong password: the event says so"

mark $MAC_P
fetch -G --data-urlencode "password=$PASSWORD" "$URL"
grep -q '^kernel' "$TMP/script" || { cat "$TMP/script" >&2; fail "the right password did not boot"; }
since $MAC_P
expect_events "right password" 1
expect_event "right password" "^http\|boot\|required deployment 'dp' \(image 'img'\) for device 'pw', not yet handed out$"
pass "3. the right password: one event, the hand-out"

# ---- 3b. PXEPassword and a command line with a machine variable --------------
URL=$(ipxe_url $MAC_V)
[ -n "$URL" ] || fail "no iPXE answer for $MAC_V"
mark $MAC_V
fetch "$URL"
grep -q '^login' "$TMP/script" || { cat "$TMP/script" >&2; fail "no password prompt for a templated command line"; }
since $MAC_V
expect_events "templated, password asked" 1
expect_event "templated, password asked" "^http\|boot\|required deployment 'dv' .*: PXEPassword asked$"
mark $MAC_V
fetch -G --data-urlencode "password=$PASSWORD" "$URL"
grep -q '^kernel .* quiet hostname=pv-host-01 role=none' "$TMP/script" ||
	{ cat "$TMP/script" >&2; fail "the right password did not boot the rendered command line"; }
grep -qF '${' "$TMP/script" && { cat "$TMP/script" >&2; fail "an unrendered variable in the script"; }
since $MAC_V
expect_events "templated, right password" 1
expect_event "templated, right password" "^http\|boot\|required deployment 'dv' \(image 'pvimg'\) for device 'pwvar', not yet handed out$"
assert_eq "hand-outs of dv" 1 "$(handed_out dv)"
pass "3b. PXEPassword and a machine variable: asked, then the rendered command line boots"

# ---- 4. locked out ---------------------------------------------------------------
URL=$(ipxe_url $MAC_K)
[ -n "$URL" ] || fail "no iPXE answer for $MAC_K"
for i in 1 2 3 4; do fetch -G --data-urlencode "password=wrong-$i" "$URL"; done
grep -q 'wrong password, try again' "$TMP/script" || { cat "$TMP/script" >&2; fail "no 'wrong password'"; }
mark $MAC_K
fetch -G --data-urlencode "password=wrong-5" "$URL"
grep -q 'too many wrong PXE passwords' "$TMP/script" || { cat "$TMP/script" >&2; fail "not locked out"; }
since $MAC_K
expect_events "locked out" 1
expect_event "locked out" "^http\|local\|too many wrong PXE passwords, try later$"
pass "4. locked out after wrong passwords: the event says local"

# ---- 5. an image that cannot be written into a script --------------------------
URL=$(ipxe_url $MAC_U)
[ -n "$URL" ] || fail "no iPXE answer for $MAC_U"
mark $MAC_U
fetch "$URL"
grep -q 'booting from local disk' "$TMP/script" || { cat "$TMP/script" >&2; fail "not sent local"; }
since $MAC_U
expect_events "unservable image" 1
expect_event "unservable image" "^http\|local\|image cannot be served, see server log$"
pass "5. an image that cannot be served: the event says local"

# ---- 6-7. GRUB machines --------------------------------------------------------
mark $MAC_G
dhcp $MAC_G 7
grep -q '^file=shimx64.efi' "$TMP/reply" && fail "a GRUB machine got shim despite PXEPassword"
grep -q '^type=' "$TMP/reply" || { cat "$TMP/reply" >&2; fail "no answer for $MAC_G"; }
since $MAC_G
expect_events "GRUB and PXEPassword" 1
expect_event "GRUB and PXEPassword" "^dhcp\|local\|deployment 'dg' needs PXEPassword, which GRUB machines are asked only with PXEPasswordGRUB = yes: local$"
pass "6. a GRUB machine with PXEPassword: the event says local"

mark $MAC_G
dhcp $MAC_G 11
assert_eq "answer to ARM64 without GRUB's files" none "$(cat "$TMP/reply")"
since $MAC_G
expect_events "GRUB not installed" 1
expect_event "GRUB not installed" "^dhcp\|ignore\|not serviced: GRUB boot loader not installed \(Debian packages grub-efi-arm64-bin\)$"
pass "7. ARM64 without GRUB's files: the event says ignore"

# ---- without PXEPassword ---------------------------------------------------------
ctl settings set PXEPassword ''

# ---- 8. a command line that does not render ----------------------------------
URL=$(ipxe_url $MAC_R)
[ -n "$URL" ] || fail "no iPXE answer for $MAC_R"
mark $MAC_R
fetch "$URL"
grep -q '^kernel' "$TMP/script" && fail "a command line that does not render booted"
grep -q 'booting from local disk' "$TMP/script" || { cat "$TMP/script" >&2; fail "not sent local"; }
since $MAC_R
expect_events "render failure" 1
expect_event "render failure" "^http\|local\|deployment 'dr' not started: .*hostname"
pass "8. a command line that does not render: one event, local"

# ---- 8b. an unservable image without PXEPassword: the deployment stays due ----
URL=$(ipxe_url $MAC_U)
[ -n "$URL" ] || fail "no iPXE answer for $MAC_U"
mark $MAC_U
fetch "$URL"
grep -q 'booting from local disk' "$TMP/script" || { cat "$TMP/script" >&2; fail "not sent local"; }
since $MAC_U
expect_events "unservable, committed" 1
expect_event "unservable, committed" "^http\|local\|image cannot be served, see server log$"
assert_eq "hand-outs of du after local" 0 "$(handed_out du)"
# Fixed, it still runs.
sqlite3 -cmd ".timeout 5000" "$TMP/pxed.db" "UPDATE images SET cmdline = 'quiet' WHERE name = 'ubad'" ||
	fail "sqlite3"
URL=$(ipxe_url $MAC_U)
fetch "$URL"
grep -q '^kernel' "$TMP/script" || { cat "$TMP/script" >&2; fail "the fixed image did not boot"; }
assert_eq "hand-outs of du once fixed" 1 "$(handed_out du)"
pass "8b. an image that cannot be written: local, and the deployment stays due"

# ---- 9-10. GRUB's configuration -----------------------------------------------------
dhcp $MAC_B 7
assert_grep '^file=shimx64.efi' "$TMP/reply" "$MAC_B did not get shim"
mark $MAC_B
curl -sf --max-time 5 -o "$TMP/grub.cfg" "tftp://127.0.0.1:$TFTP_PORT/grub/mac-$MAC_B.cfg" ||
	fail "no GRUB configuration for $MAC_B"
grep -q '^ *linux' "$TMP/grub.cfg" && fail "GRUB got an image it cannot write"
since $MAC_B
expect_events "GRUB, unservable image" 1
expect_event "GRUB, unservable image" "^http\|local\|image cannot be served, see server log$"
assert_eq "hand-outs of db after local" 0 "$(handed_out db)"
pass "9. GRUB's configuration for an image it cannot write: local, the deployment stays due"

dhcp $MAC_L 7
assert_grep '^file=shimx64.efi' "$TMP/reply" "$MAC_L did not get shim"
# The menu's default: the user let it time out, GRUB goes to the disk.
curl -sf --max-time 5 -o "$TMP/grub.cfg" "tftp://127.0.0.1:$TFTP_PORT/grub/local-$MAC_L.cfg" ||
	fail "no GRUB local configuration for $MAC_L"
mark $MAC_L
dhcp $MAC_L 7
grep -q '^file=shimx64.efi' "$TMP/reply" && fail "a machine GRUB sent to its disk got shim again"
grep -q '^type=' "$TMP/reply" || { cat "$TMP/reply" >&2; fail "no answer for $MAC_L"; }
since $MAC_L
expect_events "GRUB went local" 1
expect_event "GRUB went local" "^dhcp\|local\|GRUB sent it to its local disk moments ago \(deployment 'dl'\)$"
pass "10. a machine GRUB just sent to its disk: the event says local"
