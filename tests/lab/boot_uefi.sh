#!/bin/bash
# lab-seconds: 106 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: an OVMF (EDK2) machine with EDK2's own PXE stack (virtio-net, no iPXE
# ROM), known to pxed with a required deployment, boots it: ProxyDHCP +
# port 4011 -> iPXE over TFTP -> iPXE DHCP -> HTTP boot script -> kernel and
# initrd over HTTP -> the initramfs prints the deployment's command line;
# booted again, it goes to its local disk.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up
lab_pxed_up

mac=52:54:00:7a:02:01
uuid=7a7a7a7a-0201-4000-8000-000000000201
token=uefi$$x$RANDOM
pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$token" >/dev/null ||
	fail "pxectl image add"
pxectl device add vm2 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add"
pxectl deploy d2 --image deb --device vm2 --required >/dev/null || fail "pxectl deploy"

log=$TMP/uefi.log
lab_vm_uefi vm2 "$mac" "$uuid" "$log"
if ! lab_vm_wait "$log" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT"; then
	tail -c 2500 "$log" | tr -d '\033' >&2
	lab_dump
	if [ "$LAB_VM_WHY" = "kernel panic" ] && grep -qa "Unable to mount root fs" "$log"; then
		echo "hint: the kernel started without its initramfs; under UEFI, iPXE 1.0.0 hands the initrd to the kernel's EFI stub only when the kernel command line names it (initrd=<image name>)" >&2
	fi
	fail "UEFI VM did not reach the deployment's initramfs ($LAB_VM_WHY)"
fi
t=$((SECONDS - LAB_VM_START))
cl=$(lab_marker_cmdline "$log")
case " $cl " in *" pxedtest=$token "*) ;; *) lab_dump; fail "kernel cmdline lacks pxedtest=$token: '$cl'" ;; esac
[ "$(lab_pcap_count 'udp dst port 69 and src net 10.77.0.0/24')" -ge 1 ] || { lab_dump; fail "no TFTP request seen: the NBP did not come over TFTP"; }
[ "$(lab_pcap_gets 'GET /files/lab/vmlinuz')" -ge 1 ] || { lab_dump; fail "no HTTP GET of the kernel seen"; }
[ "$(lab_decisions "$mac" boot)" -ge 1 ] || { lab_dump; fail "pxed logged no boot decision for $mac"; }
wait_for 30 eval "! kill -0 $LAB_VM_PID" || fail "VM did not power off after the marker"
pass "UEFI (EDK2 PXE) VM booted deployment d2 in ${t}s, cmdline: $cl"

# The same machine again: d2 already handed out, so pxed answers local and
# the firmware boots its disk (EDK2 cancels network boot at pxed's menu).
kernels=$(lab_kernel_fetches)
lab_boot_local lab_vm_uefi vm2 "$mac" "$uuid" "$TMP/uefi-boot2.log"
grep -qa "PXE-E21: Remote boot cancelled" "$TMP/uefi-boot2.log" || fail "EDK2 did not cancel network boot at pxed's local-boot menu"
assert_eq "kernel fetches on the second boot" "$kernels" "$(lab_kernel_fetches)"
grep -aiE -- "$mac, [^ ]+: local" "$TMP/pxed.log" | tail -n1 | grep -q "d2" ||
	{ lab_dump; fail "the local decision does not name d2 as already handed out"; }
pass "second boot: d2 already handed out, local, the disk booted at ${LAB_BOOT_T}s"
