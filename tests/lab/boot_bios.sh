#!/bin/bash
# lab-seconds: 44 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: a SeaBIOS machine with the iPXE e1000 ROM, known to pxed with a
# required deployment, (a) boots the deployment's kernel with its command
# line, then (c) on its next PXE boot is sent to the local disk at once: pxed
# logs `local`, no kernel is fetched, the deployment does not start again,
# and the VM's disk boots (its boot sector prints a marker).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up
lab_pxed_up

mac=52:54:00:7a:01:01
uuid=7a7a7a7a-0101-4000-8000-000000000101
token=bios$$x$RANDOM
pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$token" >/dev/null ||
	fail "pxectl image add"
pxectl device add vm1 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add"
pxectl deploy d1 --image deb --device vm1 --required >/dev/null || fail "pxectl deploy"

# (a) first boot: the required deployment.
log1=$TMP/bios-boot1.log
lab_vm_bios vm1 "$mac" "$uuid" "$log1"
if ! lab_vm_wait "$log1" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT"; then
	tail -c 1500 "$log1" | tr -d '\033' >&2
	lab_dump
	fail "BIOS VM did not reach the deployment's initramfs ($LAB_VM_WHY)"
fi
t1=$((SECONDS - LAB_VM_START))
cl=$(lab_marker_cmdline "$log1")
case " $cl " in *" pxedtest=$token "*) ;; *) lab_dump; fail "kernel cmdline lacks pxedtest=$token: '$cl'" ;; esac
[ "$(lab_decisions "$mac" boot)" -ge 1 ] || { lab_dump; fail "pxed logged no boot decision for $mac"; }
wait_for 30 eval "! kill -0 $LAB_VM_PID" || fail "VM did not power off after the marker"
kernel_gets=$(lab_pcap_gets 'GET /files/lab/vmlinuz')
[ "$kernel_gets" -ge 1 ] || { lab_dump; fail "no HTTP GET of the kernel seen on the wire"; }
pass "(a) BIOS VM booted deployment d1 in ${t1}s, cmdline: $cl"

# (c) second boot of the same machine: the required deployment already ran.
boots=$(lab_decisions "$mac" boot)
locals=$(lab_decisions "$mac" local)
kernel_tftp=$(lab_pcap_tftp_reads 'vmlinuz')
log2=$TMP/bios-boot2.log
lab_boot_local lab_vm_bios vm1 "$mac" "$uuid" "$log2"
t2=$LAB_BOOT_T
assert_eq "boot decisions for $mac after the second boot" "$boots" "$(lab_decisions "$mac" boot)"
assert_eq "HTTP kernel fetches after the second boot" "$kernel_gets" "$(lab_pcap_gets 'GET /files/lab/vmlinuz')"
assert_eq "TFTP kernel fetches after the second boot" "$kernel_tftp" "$(lab_pcap_tftp_reads 'vmlinuz')"
pxectl events >"$TMP/events.txt" 2>&1 || fail "pxectl events"
grep -qi local "$TMP/events.txt" || { cat "$TMP/events.txt" >&2; fail "pxectl events shows no local decision"; }
grep -q "pxed: booting from local disk" "$log2" || fail "iPXE did not run pxed's local-disk script"
pass "(c) second boot: pxed said local, iPXE left with exit 1, SeaBIOS booted the disk at ${t2}s; no kernel fetched, deployment not restarted"
