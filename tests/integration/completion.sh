#!/bin/bash
# pxectl's bash completion (dist/pxectl.bash-completion) against a running
# pxed: `complete -p` registers it; driven the way bash drives it
# (COMP_WORDS, COMP_CWORD) it completes commands, verbs and options, and
# device, image, collection and deployment names asked of the server with
# `pxectl NOUN list --names`, which prints only names and leaves the table
# of `pxectl NOUN list` as it was.
. "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] && [ -x "$PXECTL" ] || skip "no pxed or pxectl (make first)"
COMPLETION=$ROOT/dist/pxectl.bash-completion

read -r PORT TFTP_PORT DP PP < <(free_ports 4)
mkdir -p "$TMP/root"
{ printf '[pxe]\nDHCPPort = %s\nPXEPort = %s\n' "$DP" "$PP"; loopback_sections; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
use_pxed_api
ctl() { "$PXECTL" "$@" >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
ctl image add deb12 --kernel d/vmlinuz
ctl image add deb13 --kernel d/vmlinuz
ctl image add win11 --nbp w/boot.efi
ctl device add lab-01 --mac 52:54:00:00:01:01
ctl device add lab-02 --mac 52:54:00:00:01:02
ctl device add office-1 --mac 52:54:00:00:01:03
ctl collection add lab-a
ctl deploy reimage-lab --image deb12 --device lab-01 --required

# --names: names only, one a line, the table unchanged.
assert_eq "device list --names" "$(printf 'lab-01\nlab-02\noffice-1')" "$("$PXECTL" device list --names | sort)"
assert_eq "image list --names" "$(printf 'deb12\ndeb13\nwin11')" "$("$PXECTL" image list --names | sort)"
assert_eq "collection list --names" "lab-a" "$("$PXECTL" collection list --names)"
assert_eq "deployment list --names" "reimage-lab" "$("$PXECTL" deployment list --names)"
"$PXECTL" device list >"$TMP/table"
assert_grep '^NAME +MAC +GUID +ARCH +LAST SEEN' "$TMP/table" "device list lost its header"
assert_eq "device list rows" 4 "$(wc -l <"$TMP/table")"
"$PXECTL" device list --bogus >/dev/null 2>&1; assert_eq "unknown option exit status" 2 $?
pass "NOUN list --names prints the names only; NOUN list is unchanged"

# shellcheck source=/dev/null
. "$COMPLETION"
complete -p pxectl | grep -q -- '-F _pxectl pxectl' || fail "complete -p: $(complete -p pxectl 2>&1)"
_PXECTL=$PXECTL
# comp WORDS...: complete the last word (may be "") of "pxectl WORDS...".
comp() {
	COMP_WORDS=(pxectl "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_pxectl pxectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() { # EXPECTED WORDS...
	local want=$1 got
	shift
	got=$(comp "$@")
	assert_eq "completion of 'pxectl $*'" "$want" "$got"
}
expect "deploy deployment device" de
expect "cache collection" c
expect "--cacert --help --json --server --token-file" --
expect "add clear import list rm set show" device ""
expect "add-device" collection add-
expect "lab-01 lab-02" device show lab
expect "office-1" device rm o
expect "deb12 deb13" image show deb
expect "lab-a" collection clear ""
expect "lab-01 lab-02 office-1" collection add-device lab-a ""
expect "reimage-lab" deployment disable r
expect "deb12 deb13 win11" deploy x --image ""
expect "lab-01 lab-02" deploy x --image deb12 --device lab-
expect "--required" deploy x --image deb12 --re
expect "uefi-arm64 uefi-x64 uefi-x86" deploy x --unknown uefi
expect "--names" image list --n
# Global options before the command, with their values, are skipped, and
# --server on the line is the one asked.
expect "lab-01 lab-02" --json --server "$B" device show lab
expect "" --server http://127.0.0.1:1 device show lab
expect "CacheExpire" settings set Cache
pass "commands, verbs, options, and names from the server (the --server on the line)"

# A server that takes the connection and never answers costs about 2 s
# and offers nothing.
HANG=$(free_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(8); time.sleep(60)' "$HANG" &
on_exit "kill $!"
wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HANG" || fail "hanging server did not start"
start=$SECONDS
PXED_SERVER=http://127.0.0.1:$HANG expect "" device show ""
[ $((SECONDS - start)) -le 4 ] || fail "completion waited $((SECONDS - start)) s for a silent server"
pass "a silent server: no names after at most about 2 s"
