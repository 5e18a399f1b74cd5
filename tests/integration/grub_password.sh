#!/bin/bash
# PXEPassword for GRUB machines, over the wire: a scripted PXE client does
# the DHCP exchange, curl's TFTP client reads what GRUB would read from the
# real daemon (pxed in one namespace, the client in another):
#   - PXEPasswordGRUB = no: the machine is sent to its disk, and the reason
#     names the setting to add;
#   - PXEPasswordGRUB = yes (changed at run time): mac-MAC.cfg is a menu
#     whose start entry only GRUB's superuser pxe may run, with the PBKDF2
#     hash of PXEPassword, which checks against the password (and not
#     another); nothing is handed out however often it is read;
#   - the start entry's file, deploy-MAC.cfg, hands the deployment out
#     once (report token, kernel and initrd); the machine goes local then;
#   - neither the password nor its GRUB hash shows in pxed's log;
#   - a person at the menu may take longer than the DHCP exchange vouches
#     for (60 s): the menu's files are still answered to the address that
#     read the menu, and to no other.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] && [ -x "$PXECTL" ] || skip "build pxed and pxectl first"
need_root
command -v curl >/dev/null || skip "needs curl"
command -v python3 >/dev/null || skip "needs python3"
CLIENT="$(cd "$(dirname "$0")" && pwd)/dhcp_client.py"

SRV=10.79.1.1
CLI=10.79.1.2
netns_pair gp $SRV/24 $CLI/24

# Stand-ins for Debian's packages, laid out as they install.
mkdir -p "$TMP/shim" "$TMP/grub/x86_64-efi-signed" "$TMP/root/d1"
echo "shim signed" >"$TMP/shim/shimx64.efi.signed"
echo "grub net signed" >"$TMP/grub/x86_64-efi-signed/grubnetx64.efi.signed"
echo "kernel" >"$TMP/root/d1/vmlinuz"
echo "initrd" >"$TMP/root/d1/initrd.gz"
PW="correct-horse-$RANDOM$RANDOM"
cat >"$TMP/pxed.conf" <<CONF
[pxe]
SupportUnknownMachines = no
BootLoaderUEFIx64 = grub
ShimDir = $TMP/shim
GrubDir = $TMP/grub
PXEPassword = $PW
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
start_pxed "$TMP/pxed.conf" "$NS_S"
ctl() { PXED_TOKEN_FILE="$TMP/api.token" ip netns exec "$NS_S" "$PXECTL" --server "http://127.0.0.1:8080" "$@" >"$TMP/ctl.out" 2>&1 ||
	{ cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
MAC=52:54:00:79:01:01
ctl image add img1 --kernel d1/vmlinuz --initrd d1/initrd.gz --cmdline "console=ttyS0 deploy=d1"
ctl device add g1 --mac "$MAC"
ctl deploy d1 --image img1 --device g1 --required

REPLY=$TMP/reply
ucast() { ip netns exec "$NS_C" python3 "$CLIENT" --unicast $SRV --port 4011 --source $CLI:68 "$@" >"$REPLY" 2>"$TMP/client.err" || fail "dhcp_client.py"; }
field() { sed -n "s/^$1=//p" "$REPLY"; }
has() { grep -qF -- "$1" "$2" || { echo "--- $2:" >&2; tail -n 30 "$2" >&2; fail "$2 lacks '$1'"; }; }
tftp() { ip netns exec "$1" curl -sf --max-time 5 "tftp://$SRV/$2"; }
handed_out() { ctl deployment show d1; sed -n 's/^status *: handed out \([0-9]*\),.*/\1/p' "$TMP/ctl.out"; }

# 1. PXEPasswordGRUB = no (the default): GRUB machines are not asked; the
# reason says what to set.
ucast --type request --mac "$MAC" --arch 7
assert_eq "boot file with PXEPasswordGRUB = no" "" "$(field file)"
assert_grep "$MAC, [^ ]*: local \\(deployment 'd1' needs PXEPassword, which GRUB machines are asked only with PXEPasswordGRUB = yes: local\\)" "$TMP/pxed.log"
tftp "$NS_C" "/grub/mac-$MAC.cfg" >"$TMP/off.cfg" || fail "no answer for mac-MAC.cfg"
grep -q "linux\|password_pbkdf2" "$TMP/off.cfg" && fail "GRUB got the deployment or a hash with PXEPasswordGRUB = no"
assert_eq "hand-outs with PXEPasswordGRUB = no" 0 "$(handed_out)"
pass "PXEPasswordGRUB = no: local, with the setting to add in the reason"

# 2. turned on at run time (the hash was made when the file was read)
ctl settings set PXEPasswordGRUB yes
ucast --type request --mac "$MAC" --arch 7
assert_eq "boot file with PXEPasswordGRUB = yes" "shimx64.efi" "$(field file)"
tftp "$NS_C" "/grub/mac-$MAC.cfg" >"$TMP/menu.cfg" || fail "no per-machine configuration"
has "set superusers=pxe" "$TMP/menu.cfg"
has "password_pbkdf2 pxe 'grub.pbkdf2.sha512.100000." "$TMP/menu.cfg"
has "set default=0" "$TMP/menu.cfg"
has "menuentry 'Boot from local disk' --unrestricted {" "$TMP/menu.cfg"
has "source '(tftp,$SRV)/grub/local-$MAC.cfg'" "$TMP/menu.cfg"
has "menuentry 'Start required deployment d1 (image img1): user pxe, then the PXE password' --users pxe {" "$TMP/menu.cfg"
has "source '(tftp,$SRV)/grub/deploy-$MAC.cfg'" "$TMP/menu.cfg"
grep -q "linux\|initrd\|pxed.report" "$TMP/menu.cfg" && fail "the menu holds the deployment"
# the hash is PBKDF2-HMAC-SHA512 of the password, as GRUB checks it
hash=$(sed -n "s/^password_pbkdf2 pxe '\\(.*\\)'\$/\\1/p" "$TMP/menu.cfg")
python3 - "$hash" "$PW" <<'PY' || fail "the GRUB hash does not check out against PXEPassword"
import hashlib, sys
_, _, alg, n, salt, h = sys.argv[1].split(".")
def check(pw):
    dk = hashlib.pbkdf2_hmac(alg, pw.encode(), bytes.fromhex(salt), int(n), len(h) // 2)
    return dk.hex().upper() == h
assert alg == "sha512" and len(salt) == 128 and len(h) == 128, sys.argv[1]
assert check(sys.argv[2]), "right password refused"
assert not check(sys.argv[2] + "x"), "wrong password accepted"
PY
assert_grep "$MAC, [^ ]*: boot 'd1' .*\\[tftp grub, asks PXE password, arch uefi-x64\\(7\\)" "$TMP/pxed.log"
# read again: still the menu, nothing handed out
tftp "$NS_C" "/grub/mac-$MAC.cfg" >"$TMP/menu2.cfg" || fail "no second configuration"
has "--users pxe" "$TMP/menu2.cfg"
assert_eq "hand-outs before the start entry's file" 0 "$(handed_out)"
grep -q "tftp grub choice=deploy" "$TMP/pxed.log" && fail "a choice was recorded before the start entry's file was read"
pass "PXEPasswordGRUB = yes: a menu with the protected start entry and the hash of PXEPassword; nothing handed out"

# 3. another address reading the start entry's file: nothing
tftp "$NS_S" "/grub/deploy-$MAC.cfg" >"$TMP/other.cfg" || fail "no answer to another address"
has "not serviced" "$TMP/other.cfg"
assert_eq "hand-outs after another address's read" 0 "$(handed_out)"

# 4. the start entry's file (GRUB reads it only after the right password):
# one hand-out, with its report token
tftp "$NS_C" "/grub/deploy-$MAC.cfg" >"$TMP/deploy.cfg" || fail "no start entry file"
has "linux '(tftp,$SRV)/d1/vmlinuz' 'console=ttyS0' 'deploy=d1' 'pxed.report=http://$SRV:8080/api/v1/report?token=" "$TMP/deploy.cfg"
has "initrd '(tftp,$SRV)/d1/initrd.gz'" "$TMP/deploy.cfg"
grep -q "password_pbkdf2" "$TMP/deploy.cfg" && fail "the start entry's file holds the hash again"
assert_grep "$MAC, [^ ]*: boot 'd1' .*tftp grub choice=deploy" "$TMP/pxed.log"
assert_eq "hand-outs after the start entry's file" 1 "$(handed_out)"
# committed: the machine's next configuration is local
tftp "$NS_C" "/grub/mac-$MAC.cfg" >"$TMP/after.cfg" || fail "no configuration after the hand-out"
has "booting from local disk" "$TMP/after.cfg"
grep -q "password_pbkdf2" "$TMP/after.cfg" && fail "a local answer holds the hash"
assert_eq "hand-outs in all" 1 "$(handed_out)"
ip netns exec "$NS_S" curl -sf "http://127.0.0.1:8080/metrics" >"$TMP/metrics" || fail "GET /metrics"
has "pxed_grub_configs_total 1" "$TMP/metrics"
pass "deploy-MAC.cfg: one hand-out with its report token; then local"

# 5. the password and its GRUB hash are nowhere in the log
grep -qF -- "$PW" "$TMP/pxed.log" && fail "the password shows in pxed's log"
grep -qF -- "${hash##*.}" "$TMP/pxed.log" && fail "the GRUB hash shows in pxed's log"
pass "neither the password nor its GRUB hash in pxed's log"

# 6. longer at the menu than the DHCP exchange vouches for (60 s): the
# start entry's file is still answered, to the address that read the menu
MAC2=52:54:00:79:01:02
ctl device add g2 --mac "$MAC2"
ctl deploy d2 --image img1 --device g2 --required
ucast --type request --mac "$MAC2" --arch 7
assert_eq "boot file for g2" "shimx64.efi" "$(field file)"
tftp "$NS_C" "/grub/mac-$MAC2.cfg" >"$TMP/menu-g2.cfg" || fail "no configuration for g2"
has "--users pxe" "$TMP/menu-g2.cfg"
sleep 62
tftp "$NS_S" "/grub/deploy-$MAC2.cfg" >"$TMP/late-other.cfg" || fail "no answer to another address"
has "not serviced" "$TMP/late-other.cfg"
tftp "$NS_C" "/grub/deploy-$MAC2.cfg" >"$TMP/late.cfg" || fail "no start entry file after 62 s"
has "linux '(tftp,$SRV)/d1/vmlinuz'" "$TMP/late.cfg"
assert_grep "$MAC2, [^ ]*: boot 'd2' .*tftp grub choice=deploy" "$TMP/pxed.log"
# used up by the choice
tftp "$NS_C" "/grub/deploy-$MAC2.cfg" >"$TMP/late2.cfg" || fail "no answer to a second read"
has "not serviced" "$TMP/late2.cfg"
pass "62 s at the menu: the start entry's file answered to the menu's address only, once"
