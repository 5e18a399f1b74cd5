#!/bin/bash
# lab-seconds: 24 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: per-machine variables and answer files on real firmware.  A SeaBIOS
# machine with the iPXE e1000 ROM boots a required deployment whose image
# command line is a template:
#   - the initramfs's /proc/cmdline carries the device's and its
#     collection's variables rendered, and `ds=nocloud-net;s=...` intact
#     (a ';' inside an argument reaches the kernel: iPXE did not cut it);
#   - the answers URL printed there serves the boot's answer file
#     (Root/templates/ubuntu/user-data), rendered for this machine;
#   - a second device's tokens, from scripted iPXE exchanges against the
#     same pxed: its DHCP boot token opens no answer file (403), its
#     answers token gives its own answers only, and once its next boot
#     replaced that token, the old one is refused (403).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up
lab_pxed_up

mac=52:54:00:7a:05:01
uuid=7a7a7a7a-0501-4000-8000-000000000501
mac2=52:54:00:7a:05:02
token=vars$$x$RANDOM
mkdir -p "$LAB_ROOT/templates/ubuntu"
cat >"$LAB_ROOT/templates/ubuntu/user-data" <<'T'
#cloud-config
autoinstall:
  identity:
    hostname: "${hostname}"
  site: "${site}"
  mac: "${mac}"
T
pxectl image add ubu --kernel lab/vmlinuz --initrd lab/initrd.gz \
	--cmdline 'console=ttyS0 hostname=${hostname} site=${site} ds=nocloud-net;s=${answers}ubuntu/ pxedtest='"$token" >/dev/null ||
	fail "pxectl image add"
pxectl device add vm1 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add vm1"
pxectl device add vm2 --mac "$mac2" >/dev/null || fail "pxectl device add vm2"
pxectl collection add lab-east >/dev/null || fail "pxectl collection add"
pxectl collection add-device lab-east vm1 >/dev/null || fail "add-device vm1"
pxectl collection add-device lab-east vm2 >/dev/null || fail "add-device vm2"
pxectl var set collection lab-east site=east-1 >/dev/null || fail "var set site"
pxectl var set device vm1 hostname=web01 >/dev/null || fail "var set hostname vm1"
pxectl var set device vm2 hostname=db02 >/dev/null || fail "var set hostname vm2"
pxectl deploy inst --image ubu --collection lab-east --required >/dev/null || fail "pxectl deploy"

# ---- the real boot --------------------------------------------------------
log1=$TMP/vars-boot1.log
lab_vm_bios vm1 "$mac" "$uuid" "$log1"
if ! lab_vm_wait "$log1" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT"; then
	tail -c 1500 "$log1" | tr -d '\033' >&2
	lab_dump
	fail "BIOS VM did not reach the deployment's initramfs ($LAB_VM_WHY)"
fi
t1=$((SECONDS - LAB_VM_START))
cl=$(lab_marker_cmdline "$log1")
lab_vm_kill
# Exactly one of each, with exactly the rendered value.
words() { tr ' ' '\n' <<<"$cl" | grep -c "^$1="; }
for k in hostname site ds pxedtest; do
	assert_eq "'$k=' arguments in '$cl'" 1 "$(words $k)"
done
case " $cl " in *" hostname=web01 site=east-1 "*) ;; *) lab_dump; fail "device/collection variables not rendered: '$cl'" ;; esac
ds=$(tr ' ' '\n' <<<"$cl" | grep '^ds=')
answers=$(sed -n 's|^ds=nocloud-net;s=\(http://10\.77\.0\.2:8080/answers/[0-9a-f]\{32\}/\)ubuntu/$|\1|p' <<<"$ds")
[ -n "$answers" ] || { lab_dump; fail "ds= argument not intact on the kernel command line: '$ds'"; }
grep -q '\${' <<<"$cl" && fail "an unrendered \${...} reached the kernel: '$cl'"
pass "BIOS VM booted in ${t1}s; /proc/cmdline: hostname=web01 site=east-1 $ds"

# ---- its answer file, from the PXE server's namespace -----------------------
fetch() { ip netns exec "$LAB_NS_PXE" curl -s --max-time 5 -o "$TMP/ans.out" -w '%{http_code}' "$1"; }
assert_eq "answer file of the VM's boot" 200 "$(fetch "${answers}ubuntu/user-data")"
assert_grep '^    hostname: "web01"$' "$TMP/ans.out"
assert_grep '^  site: "east-1"$' "$TMP/ans.out"
assert_grep "^  mac: \"$mac\"\$" "$TMP/ans.out"
assert_eq "no such template" 404 "$(fetch "${answers}ubuntu/nope")"
pass "the boot's answers URL serves its rendered user-data"

# ---- a second machine's tokens ----------------------------------------------
# A scripted iPXE exchange in the PXE namespace (port 4011, unicast), as
# iPXE on vm2 would make it; prints the boot script URL with its token.
exchange() {
	ip netns exec "$LAB_NS_PXE" python3 "$ROOT/tests/integration/dhcp_client.py" \
		--unicast "$LAB_PXE_ADDR" --port 4011 --source "$LAB_PXE_ADDR:0" --type request \
		--ciaddr "$LAB_PXE_ADDR" --user-class iPXE --mac "$mac2" --timeout 2 | sed -n 's/^file=//p'
}
u2=$(exchange)
case "$u2" in *"t="*) ;; *) lab_dump; fail "no script URL with a token for vm2: '$u2'" ;; esac
assert_eq "vm2's DHCP boot token on /answers" 403 "$(fetch "http://$LAB_PXE_ADDR:8080/answers/${u2##*t=}/ubuntu/user-data")"
assert_eq "vm2's boot script" 200 "$(fetch "$u2")"
a2=$(grep -o 'ds=nocloud-net;s=http://[^ ]*/answers/[0-9a-f]\{32\}/' "$TMP/ans.out" | sed 's|.*;s=||')
[ -n "$a2" ] && [ "$a2" != "$answers" ] || { cat "$TMP/ans.out" >&2; fail "vm2's script has no answers URL of its own"; }
assert_eq "vm2's answers token" 200 "$(fetch "${a2}ubuntu/user-data")"
assert_grep '^    hostname: "db02"$' "$TMP/ans.out"
grep -q web01 "$TMP/ans.out" && fail "vm2's token gave vm1's answers"
# vm2 boots the deployment again: its old answers token is spent.
pxectl device clear vm2 >/dev/null || fail "pxectl device clear vm2"
u3=$(exchange)
assert_eq "vm2's second boot script" 200 "$(fetch "$u3")"
a3=$(grep -o 'ds=nocloud-net;s=http://[^ ]*/answers/[0-9a-f]\{32\}/' "$TMP/ans.out" | sed 's|.*;s=||')
[ -n "$a3" ] && [ "$a3" != "$a2" ] || fail "vm2's second boot has no new answers URL"
assert_eq "vm2's replaced answers token" 403 "$(fetch "${a2}ubuntu/user-data")"
assert_eq "vm1's token still" 200 "$(fetch "${answers}ubuntu/user-data")"
assert_grep '^    hostname: "web01"$' "$TMP/ans.out"
pass "another machine's DHCP token and replaced answers token are refused (403); its own token gives only its answers"
