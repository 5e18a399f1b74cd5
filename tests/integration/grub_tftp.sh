#!/bin/bash
# The GRUB family over the wire, with a scripted PXE client and curl's TFTP
# against the real daemon (pxed in one namespace, the client in another):
#   - BootLoaderUEFIx64 = grub: UEFI x64 gets shimx64.efi, BIOS keeps iPXE;
#   - shim, GRUB and GRUB's module lists come from ShimDir/GrubDir under
#     the names they ask for; shim's optional files are a quiet "not found";
#   - /grub/grub.cfg hands over to /grub/mac-MAC.cfg, which pxed decides
#     (logged "tftp grub", a committed hand-out) only for the address that
#     did the port-4011 exchange; anyone else gets "not serviced";
#   - a per-image --loader ipxe wins over the setting;
#   - machine variables in the image's command line are rendered into the
#     linux line, as for iPXE (one hand-out, the report token's ${answers}
#     the same as pxed.report's); one that does not render sends the
#     machine to its disk with the reason, nothing handed out;
#   - without the packages, UEFI x64 is not serviced, with the reason.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] && [ -x "$PXECTL" ] || skip "build pxed and pxectl first"
need_root
command -v curl >/dev/null || skip "needs curl"
CLIENT="$(cd "$(dirname "$0")" && pwd)/dhcp_client.py"

SRV=10.79.0.1
CLI=10.79.0.2
netns_pair gt $SRV/24 $CLI/24

# Stand-ins for Debian's packages, laid out as they install.
mkdir -p "$TMP/shim" "$TMP/grub/x86_64-efi-signed" "$TMP/grub/x86_64-efi" "$TMP/root/d1"
echo "shim signed" >"$TMP/shim/shimx64.efi.signed"
echo "grub net signed" >"$TMP/grub/x86_64-efi-signed/grubnetx64.efi.signed"
echo "normal" >"$TMP/grub/x86_64-efi/command.lst"
echo "kernel" >"$TMP/root/d1/vmlinuz"
write_conf() { # SHIMDIR
	cat >"$TMP/pxed.conf" <<CONF
[pxe]
SupportUnknownMachines = no
BootLoaderUEFIx64 = grub
ShimDir = $1
GrubDir = $TMP/grub
[tftp]
Root = $TMP/root
Port = 69
[http]
Port = 8080
Address =
[store]
StateDir = $TMP/state
URL = sqlite:$TMP/pxed.db
[log]
Level = debug
CONF
}
write_conf "$TMP/shim"
start_pxed "$TMP/pxed.conf" "$NS_S"
ctl() { PXED_TOKEN_FILE="$TMP/api.token" ip netns exec "$NS_S" "$PXECTL" --server "http://127.0.0.1:8080" "$@" >"$TMP/ctl.out" 2>&1 ||
	{ cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
MAC=52:54:00:79:00:01
MAC2=52:54:00:79:00:02
ctl image add img1 --kernel d1/vmlinuz --cmdline "console=ttyS0 deploy=d1"
ctl image add img-ipxe --loader ipxe --kernel d1/vmlinuz
ctl device add g1 --mac "$MAC"
ctl device add g2 --mac "$MAC2"
ctl deploy d1 --image img1 --device g1 --required
ctl deploy d2 --image img-ipxe --device g2 --required

REPLY=$TMP/reply
bcast() { ip netns exec "$NS_C" python3 "$CLIENT" --broadcast gtc$$ "$@" >"$REPLY" 2>"$TMP/client.err" || fail "dhcp_client.py"; }
ucast() { ip netns exec "$NS_C" python3 "$CLIENT" --unicast $SRV --port 4011 --source $CLI:68 "$@" >"$REPLY" 2>"$TMP/client.err" || fail "dhcp_client.py"; }
field() { sed -n "s/^$1=//p" "$REPLY"; }
# has TEXT FILE: FILE holds TEXT (fixed string).
has() { grep -qF -- "$1" "$2" || { echo "--- $2:" >&2; tail -n 20 "$2" >&2; fail "$2 lacks '$1'"; }; }
# tftp NS NAME: the file's content over TFTP from namespace NS ("" + rc 1 when refused)
tftp() { ip netns exec "$1" curl -sf --max-time 5 "tftp://$SRV/$2"; }

# 1. the boot file per architecture and loader
bcast --mac "$MAC" --arch 7
assert_eq "UEFI x64 boot file with BootLoaderUEFIx64 = grub" "shimx64.efi" "$(field file)"
bcast --mac "$MAC" --arch 0
assert_eq "BIOS boot file" "undionly.kpxe" "$(field file)"
bcast --mac "$MAC2" --arch 7
assert_eq "UEFI x64 boot file for an image with --loader ipxe" "snponly.efi" "$(field file)"
ucast --type request --mac "$MAC" --arch 7
assert_eq "UEFI x64 boot file on 4011" "shimx64.efi" "$(field file)"
pass "boot files: shim for UEFI x64 (grub), iPXE for BIOS and for an image with --loader ipxe"

# 2. the package files under the names shim and GRUB ask for
assert_eq "shimx64.efi" "shim signed" "$(tftp "$NS_C" shimx64.efi)"
assert_eq "grubx64.efi" "grub net signed" "$(tftp "$NS_C" grubx64.efi)"
assert_eq "/grub/x86_64-efi/command.lst" "normal" "$(tftp "$NS_C" /grub/x86_64-efi/command.lst)"
tftp "$NS_C" /grub/x86_64-efi/../../shim/shimx64.efi.signed >/dev/null && fail "a path out of GrubDir was served"
tftp "$NS_C" revocations_sbat.efi >/dev/null && fail "revocations_sbat.efi was served"
wait_for 3 grep -q '"revocations_sbat.efi" not found (optional file)' "$TMP/pxed.log" || fail "no debug line for shim's optional file"
grep '"revocations_sbat.efi"' "$TMP/pxed.log" | grep -q "info " && fail "shim's optional file was logged at info"
pass "shim, GRUB and its module lists served from ShimDir/GrubDir; shim's optional files quietly not found"

# 3. GRUB's configuration
tftp "$NS_C" /grub/grub.cfg >"$TMP/grub.cfg" || fail "no /grub/grub.cfg"
has 'source "$prefix/mac-$net_default_mac.cfg"' "$TMP/grub.cfg"
# someone else (pxed's own namespace) asking for the machine's file: nothing committed
tftp "$NS_S" "/grub/mac-$MAC.cfg" >"$TMP/other.cfg" || fail "no answer to another address"
has "not serviced" "$TMP/other.cfg"
grep -q "linux" "$TMP/other.cfg" && fail "another address got the deployment"
has "without a DHCP exchange" "$TMP/pxed.log"
tftp "$NS_C" "/grub/mac-$MAC.cfg" >"$TMP/mac.cfg" || fail "no per-machine configuration"
has "linux '(tftp,$SRV)/d1/vmlinuz' 'console=ttyS0' 'deploy=d1' 'pxed.report=http://$SRV:8080/api/v1/report?token=" "$TMP/mac.cfg"
assert_grep "$MAC, [^ ]*: boot 'd1' .*\\[tftp grub, arch uefi-x64\\(7\\)" "$TMP/pxed.log"
# committed: the next answer is local, and GRUB restarts the machine
tftp "$NS_C" "/grub/mac-$MAC.cfg" >"$TMP/mac2.cfg" || fail "no second configuration"
has "booting from local disk" "$TMP/mac2.cfg"
has "reboot" "$TMP/mac2.cfg"
# a MAC that did no DHCP exchange
tftp "$NS_C" "/grub/mac-52:54:00:79:00:99.cfg" >"$TMP/none.cfg" || fail "no answer for an unseen MAC"
has "not serviced" "$TMP/none.cfg"
pass "grub.cfg -> mac-MAC.cfg: decided and committed only for the machine's own address"

# 4. an available deployment: a menu whose default is the disk; its
# entries record the choice
MAC3=52:54:00:79:00:03
ctl device add g3 --mac "$MAC3"
ctl deploy d3 --image img1 --device g3 --available
ucast --type request --mac "$MAC3" --arch 7
assert_eq "available deployment: shim" "shimx64.efi" "$(field file)"
tftp "$NS_C" "/grub/mac-$MAC3.cfg" >"$TMP/avail.cfg" || fail "no configuration for g3"
has "set default=0" "$TMP/avail.cfg"
has "menuentry 'Boot from local disk' {" "$TMP/avail.cfg"
has "/grub/local-$MAC3.cfg'" "$TMP/avail.cfg"
has "/grub/deploy-$MAC3.cfg'" "$TMP/avail.cfg"
grep -q "^linux" "$TMP/avail.cfg" && fail "an available deployment started without a choice"
tftp "$NS_C" "/grub/local-$MAC3.cfg" >"$TMP/local3.cfg" || fail "no local choice file"
has "booting from local disk" "$TMP/local3.cfg"
assert_grep "$MAC3, [^ ]*: local .*tftp grub choice=local" "$TMP/pxed.log"
# GRUB restarts the machine: its next DHCP request is sent to the disk
ucast --type request --mac "$MAC3" --arch 7
assert_eq "after the local choice: no boot file (local-boot menu)" "" "$(field file)"
assert_grep "$MAC3, [^ ]*: local \\(GRUB sent it to its local disk moments ago" "$TMP/pxed.log"
tftp "$NS_C" "/grub/deploy-$MAC3.cfg" >"$TMP/deploy3.cfg" || fail "no deploy choice file"
has "linux '(tftp,$SRV)/d1/vmlinuz'" "$TMP/deploy3.cfg"
assert_grep "$MAC3, [^ ]*: boot 'd3' .*tftp grub choice=deploy" "$TMP/pxed.log"
pass "available deployment: GRUB menu, local by default, choices recorded"

# 4b. machine variables in the command line (docs/unattended.md)
MAC4=52:54:00:79:00:04
MAC5=52:54:00:79:00:05
# handed_out DEPLOYMENT: how many hand-outs the API counts for it.
handed_out() {
	ip netns exec "$NS_S" curl -sf -H "Authorization: Bearer $(cat "$TMP/api.token")" \
		"http://127.0.0.1:8080/api/v1/deployments/$1" >"$TMP/dep.json" || fail "GET /api/v1/deployments/$1"
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"]["handed_out"])' "$TMP/dep.json"
}
ctl image add img-var --kernel d1/vmlinuz --cmdline 'quiet hostname=${hostname} role=${role:-none} url=${answers}'
ctl image add img-unset --kernel d1/vmlinuz --cmdline 'quiet site=${site}'
ctl device add g4 --mac "$MAC4"
ctl device add g5 --mac "$MAC5"
ctl var set device g4 hostname=gv-host-04
ctl deploy d4 --image img-var --device g4 --required
ctl deploy d5 --image img-unset --device g5 --required
ucast --type request --mac "$MAC4" --arch 7
assert_eq "templated command line: shim" "shimx64.efi" "$(field file)"
tftp "$NS_C" "/grub/mac-$MAC4.cfg" >"$TMP/var.cfg" || fail "no configuration for g4"
has "linux '(tftp,$SRV)/d1/vmlinuz' 'quiet' 'hostname=gv-host-04' 'role=none' 'url=http://$SRV:8080/answers/" "$TMP/var.cfg"
grep -qF '${' "$TMP/var.cfg" && { cat "$TMP/var.cfg" >&2; fail "an unrendered variable in the GRUB configuration"; }
# ${answers} carries the boot's real report token, the one pxed.report has
token=$(sed -n "s|.*'pxed.report=http://$SRV:8080/api/v1/report?token=\([0-9a-f]*\)'.*|\1|p" "$TMP/var.cfg")
[ -n "$token" ] || { cat "$TMP/var.cfg" >&2; fail "no report token on the linux line"; }
has "'url=http://$SRV:8080/answers/$token/'" "$TMP/var.cfg"
assert_grep "$MAC4, [^ ]*: boot 'd4' .*tftp grub" "$TMP/pxed.log"
assert_eq "hand-outs of d4" 1 "$(handed_out d4)"
# a variable that is set nowhere and has no default: local, nothing handed out
ucast --type request --mac "$MAC5" --arch 7
assert_eq "unrenderable command line: shim" "shimx64.efi" "$(field file)"
tftp "$NS_C" "/grub/mac-$MAC5.cfg" >"$TMP/unset.cfg" || fail "no configuration for g5"
has "booting from local disk (deployment d5 not started: image img-unset command line: undefined variable site" "$TMP/unset.cfg"
grep -q "^linux" "$TMP/unset.cfg" && fail "GRUB got a command line that did not render"
assert_grep "$MAC5, [^ ]*: local \\(deployment 'd5' not started: image 'img-unset' command line: undefined variable 'site'" "$TMP/pxed.log"
has "$MAC5: GRUB configuration: deployment 'd5' not started" "$TMP/pxed.log"
assert_eq "hand-outs of d5" 0 "$(handed_out d5)"
pass "GRUB: machine variables rendered into the linux line; one that does not render sends the machine local"

# 5. over HTTP too, and counted in /metrics
ip netns exec "$NS_S" curl -sf "http://127.0.0.1:8080/grub/grub.cfg" >"$TMP/http.cfg" || fail "GET /grub/grub.cfg"
has 'source "$prefix/mac-$net_default_mac.cfg"' "$TMP/http.cfg"
ip netns exec "$NS_S" curl -sf "http://127.0.0.1:8080/metrics" >"$TMP/metrics" || fail "GET /metrics"
has "pxed_grub_configs_refused_total 2" "$TMP/metrics"
has "pxed_cmdline_render_failures_total 1" "$TMP/metrics"
pass "/grub/grub.cfg over HTTP; refused GRUB configurations and command lines that did not render counted"

# 6. the packages missing: not serviced, with the reason
kill "$PXED_PID"; wait "$PXED_PID" 2>/dev/null
write_conf "$TMP/no-such-dir"
start_pxed "$TMP/pxed.conf" "$NS_S"
has "BootLoaderUEFIx64 is grub but shimx64.efi or grubx64.efi is missing" "$TMP/pxed.log"
bcast --mac "$MAC" --arch 7
[ "$(cat "$REPLY")" = none ] || fail "pxed answered UEFI x64 without shim"
wait_for 3 grep -q "not serviced: GRUB boot loader not installed" "$TMP/pxed.log" || fail "no reason 'GRUB boot loader not installed'"
pass "without shim: UEFI x64 not serviced, start-up warning and reason"
