#!/bin/bash
# lab-seconds: 232 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: UEFI x64 with Secure Boot enforced (OVMF, Microsoft's keys) through
# pxed's GRUB family (BootLoaderUEFIx64 = grub): EDK2 PXE -> shim (signed by
# Microsoft) -> Debian's signed GRUB -> per-machine grub.cfg from pxed ->
# the signed kernel and initrd over TFTP.
#   1. a required deployment boots, with its command line;
#   2. booted again, the machine goes to its disk (local);
#   3. the seed scenario's step: a new required deployment right after a
#      local answer boots on the next boot (CacheExpire 3600);
#   4. a deployment whose kernel has no signature does not boot;
#   5. PXEPassword with PXEPasswordGRUB: GRUB shows the menu, a wrong
#      password hands nothing out, the right one (typed on the keyboard
#      through QEMU's monitor) boots the deployment, handed out once;
#   6. with the site DHCP server not naming pxed as next-server, GRUB gets
#      nothing and pxed says so (warning and event).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_require_sb
lab_assets
lab_assets_sb
# The working setup: the site DHCP server names pxed as next-server.
LAB_SITE_DHCP_OPTS=(--dhcp-option=option:server-ip-address,$LAB_PXE_ADDR)
lab_net_up
lab_pxed_up "BootLoaderUEFIx64=grub"
cp "$LAB_KERNEL_UNSIGNED" "$LAB_ROOT/lab/vmlinuz-unsigned"
t0=$SECONDS

mac=52:54:00:7a:0b:01
uuid=7a7a7a7a-0b01-4000-8000-000000000b01
tok1=sbone$$x$RANDOM
tok2=sbtwo$$x$RANDOM
pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$tok1" >/dev/null ||
	fail "pxectl image add deb"
pxectl image add deb2 --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$tok2" >/dev/null ||
	fail "pxectl image add deb2"
pxectl image add unsigned --kernel lab/vmlinuz-unsigned --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=unsigned" >/dev/null ||
	fail "pxectl image add unsigned"
pxectl device add sb1 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add"
pxectl deploy d1 --image deb --device sb1 --required >/dev/null || fail "pxectl deploy d1"

# 1. boot through shim and GRUB.
lab_boot_marker lab_vm_uefi_sb sb1 "$mac" "$uuid" "$TMP/sb1.log" "$tok1"
grep -qa "Secure boot enabled\|Kernel is locked down from EFI Secure Boot" "$TMP/sb1.log" ||
	{ tail -c 3000 "$TMP/sb1.log" >&2; fail "the kernel did not say it runs under Secure Boot"; }
[ "$(lab_pcap_tftp_reads 'shimx64.efi')" -ge 1 ] || { lab_dump; fail "no TFTP read of shimx64.efi"; }
[ "$(lab_pcap_tftp_reads 'grubx64.efi')" -ge 1 ] || { lab_dump; fail "no TFTP read of grubx64.efi"; }
[ "$(lab_pcap_tftp_reads "mac-$mac.cfg")" -ge 1 ] || { lab_dump; fail "GRUB did not read its per-machine configuration"; }
grep -aiE -- "$mac, [^ ]+: boot 'd1' .*tftp grub" "$TMP/pxed.log" >/dev/null ||
	{ lab_dump; fail "pxed logged no boot 'd1' decision from GRUB's request"; }
case " $LAB_BOOT_CMDLINE " in *" pxed.report=http://"*) ;; *) fail "no pxed.report URL on the command line: $LAB_BOOT_CMDLINE" ;; esac
# GRUB puts an argument holding a space in double quotes: each kernel
# parameter must be its own word, or they all become one.
case "$LAB_BOOT_CMDLINE" in *'"'*) fail "the kernel command line came out quoted: $LAB_BOOT_CMDLINE" ;; esac
pass "1. Secure Boot: shim -> GRUB -> d1 in ${LAB_BOOT_T}s: $LAB_BOOT_CMDLINE"

# 2. again: d1 was handed out -> local, the disk (shim + GRUB on the ESP).
kernels=$(lab_kernel_fetches)
# After pxed's local-boot menu, OVMF tries HTTP boot over IPv4 (pxed's 404
# ends it at once) and over IPv6 (a DHCPv6 timeout, most of the wait)
# before the disk.
LAB_BOOT_TIMEOUT=240 lab_boot_local lab_vm_uefi_sb sb1 "$mac" "$uuid" "$TMP/sb2.log"
assert_eq "kernel fetches on the second boot" "$kernels" "$(lab_kernel_fetches)"
pass "2. second boot: local, the disk booted at ${LAB_BOOT_T}s"

# 3. the seed scenario through GRUB: pxed's cache holds the local answer
# of boot 2 (CacheExpire 3600); a new required deployment right after it
# boots at the very next boot.
pxectl deploy d3 --image deb2 --device sb1 --required >/dev/null || fail "pxectl deploy d3"
lab_boot_marker lab_vm_uefi_sb sb1 "$mac" "$uuid" "$TMP/sb3.log" "$tok2"
pass "3. seed scenario: local, then new required d3 booted at once through GRUB in ${LAB_BOOT_T}s"

# 4. an unsigned kernel: GRUB refuses it; no deployment runs.
pxectl deploy d4 --image unsigned --device sb1 --required >/dev/null || fail "pxectl deploy d4"
lab_vm_uefi_sb sb1 "$mac" "$uuid" "$TMP/sb4.log"
lab_vm_wait "$TMP/sb4.log" "bad shim signature|$LAB_MARKER" "$LAB_BOOT_TIMEOUT" ||
	{ tail -c 2000 "$TMP/sb4.log" >&2; lab_dump; fail "no 'bad shim signature' from GRUB ($LAB_VM_WHY)"; }
grep -qa "bad shim signature" "$TMP/sb4.log" || fail "GRUB did not say 'bad shim signature'"
sleep 2
grep -qa "$LAB_MARKER" "$TMP/sb4.log" && fail "the unsigned kernel booted under Secure Boot"
lab_vm_kill
pass "4. unsigned kernel refused under Secure Boot (bad shim signature)"

# 5. PXEPassword through GRUB, on a machine of its own: GRUB asks it (the
# menu's protected entry, user pxe), checks it itself, and only then reads
# the file that hands the deployment out.
pw=labgrubpw$RANDOM$RANDOM
mac6=52:54:00:7a:0b:06
uuid6=7a7a7a7a-0b06-4000-8000-000000000b06
tok3=sbpw$$x$RANDOM
pxectl image add deb3 --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$tok3" >/dev/null ||
	fail "pxectl image add deb3"
pxectl device add sb6 --mac "$mac6" --guid "$uuid6" >/dev/null || fail "pxectl device add sb6"
pxectl deploy d6 --image deb3 --device sb6 --required >/dev/null || fail "pxectl deploy d6"
pxectl settings set PXEPassword "$pw" >/dev/null || fail "pxectl settings set PXEPassword"
pxectl settings set PXEPasswordGRUB yes >/dev/null || fail "pxectl settings set PXEPasswordGRUB"
handed6() { pxectl deployment show d6 | sed -n 's/^status *: handed out \([0-9]*\),.*/\1/p'; }
log6=$TMP/sb6.log
fetches=$(lab_kernel_fetches)
lab_vm_monitor "$TMP/mon.sock"
lab_vm_uefi_sb sb6 "$mac6" "$uuid6" "$log6"
lab_vm_wait "$log6" "Start required deployment d6" "$LAB_BOOT_TIMEOUT" ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "GRUB did not show the password menu ($LAB_VM_WHY)"; }
t_menu=$((SECONDS - LAB_VM_START))
wait_for 10 test -S "$LAB_MON" || fail "no QEMU monitor socket"
# stop the countdown to the local disk, then the protected entry
lab_vm_type "<down>" "<ret>"
lab_vm_wait "$log6" "Enter username" 30 ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "GRUB did not ask the user name"; }
lab_vm_type pxe "<ret>"
lab_vm_wait "$log6" "Enter password" 30 || { tail -c 2000 "$log6" | tr -d '\033' >&2; fail "GRUB did not ask the password"; }
# a wrong password: GRUB refuses it and nothing is read from pxed
lab_vm_type "wrong$pw" "<ret>"
lab_vm_wait "$log6" "access denied" 120 ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "GRUB did not refuse the wrong password"; }
sleep 2
assert_eq "reads of deploy-$mac6.cfg after the wrong password" 0 "$(lab_pcap_tftp_reads "deploy-$mac6.cfg")"
assert_eq "hand-outs of d6 after the wrong password" 0 "$(handed6)"
assert_eq "kernel fetches after the wrong password" "$fetches" "$(lab_kernel_fetches)"
grep -aqE -- "$mac6, [^ ]+: boot 'd6' .*tftp grub, asks PXE password" "$TMP/pxed.log" ||
	{ lab_dump; fail "pxed logged no password-menu decision for $mac6"; }
# the right one, from the menu again
lab_vm_type "<down>" "<ret>"
wait_for 30 eval '[ "$(grep -ac "Enter username" "$log6")" -ge 2 ]' ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "GRUB did not ask the user name again"; }
lab_vm_type pxe "<ret>"
wait_for 30 eval '[ "$(grep -ac "Enter password" "$log6")" -ge 2 ]' ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "GRUB did not ask the password again"; }
t_typed=$SECONDS
lab_vm_type "$pw" "<ret>"
wait_for 120 grep -aqE -- "$mac6, [^ ]+: boot 'd6' .*tftp grub choice=deploy" "$TMP/pxed.log" ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "GRUB did not read the start entry's file after the right password"; }
t_check=$((SECONDS - t_typed))
lab_vm_wait "$log6" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT" ||
	{ tail -c 2000 "$log6" | tr -d '\033' >&2; lab_dump; fail "sb6 did not boot its deployment after the right password ($LAB_VM_WHY)"; }
cl=$(lab_marker_cmdline "$log6")
case " $cl " in *" pxedtest=$tok3 "*) ;; *) lab_dump; fail "kernel cmdline lacks pxedtest=$tok3: '$cl'" ;; esac
lab_vm_kill
LAB_QEMU_EXTRA=()
assert_eq "hand-outs of d6 after the right password" 1 "$(handed6)"
grep -qaF -- "$pw" "$TMP/pxed.log" && fail "the password shows in pxed's log"
pass "5. PXEPassword through GRUB: menu at ${t_menu}s, wrong password refused by GRUB (nothing read), right one checked in ~${t_check}s, d6 booted: $cl"
pxectl settings set PXEPassword "" >/dev/null || fail "pxectl settings set PXEPassword ''"

# 6. the next-server trap: the site DHCP server no longer names pxed.
lab_site_dhcp
mac5=52:54:00:7a:0b:05
uuid5=7a7a7a7a-0b05-4000-8000-000000000b05
pxectl device add sb5 --mac "$mac5" --guid "$uuid5" >/dev/null || fail "pxectl device add sb5"
pxectl deploy d5 --image deb --device sb5 --required >/dev/null || fail "pxectl deploy d5"
LAB_VM_FATAL=
lab_vm_uefi_sb sb5 "$mac5" "$uuid5" "$TMP/sb5.log"
LAB_VM_FATAL=
wait_for 120 grep -q "asked pxed for no grub/ file" "$TMP/pxed.log" ||
	{ lab_dump; fail "pxed did not notice that GRUB never asked it for its configuration"; }
lab_vm_kill
grep -qa "$LAB_MARKER" "$TMP/sb5.log" && fail "the VM booted although its GRUB could not reach pxed"
pxectl events --mac "$mac5" --limit 20 >"$TMP/events5.txt" 2>&1 || fail "pxectl events"
grep -q "next-server" "$TMP/events5.txt" || { cat "$TMP/events5.txt" >&2; fail "no next-server event"; }
pass "6. site DHCP without next-server: pxed warned: $(grep -o 'GRUB was loaded.*' "$TMP/pxed.log" | head -c 160)"
pass "Secure Boot lab: $((SECONDS - t0))s"
