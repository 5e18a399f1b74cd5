#!/bin/bash
# lab-seconds: 183 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: pxed's "local" boots the machine's own disk on UEFI firmware (BIOS:
# boot_bios.sh, seed_scenario.sh, unknown_deploy.sh).  Each VM has a GPT
# disk whose EFI system partition prints a marker; the NIC comes first in
# the boot order.
#   1. OVMF + EDK2's own PXE, a known machine with nothing to do: pxed's
#      ProxyDHCP offer carries a PXE boot menu whose one item is the local
#      disk; EDK2 cancels network boot (PXE-E21) without fetching anything,
#      and its boot manager goes on to the disk;
#   2. OVMF + iPXE's EFI ROM (e1000): iPXE runs pxed's script, which ends
#      in `exit 1`; the firmware goes on to the disk rather than opening
#      its setup menu (what a plain `exit` does);
#   3. OVMF + EDK2's PXE, an available deployment nobody accepts: EDK2 loads
#      snponly.efi, iPXE shows the prompt, it times out, pxed records
#      choice=local, the script's `exit 1` returns to the firmware, which
#      boots the disk.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up
lab_pxed_up
t0=$SECONDS

pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=local" >/dev/null ||
	fail "pxectl image add"

# ---- 1. EDK2 PXE, nothing to do ---------------------------------------------
mac=52:54:00:7a:0a:01
uuid=7a7a7a7a-0a01-4000-8000-000000000a01
pxectl device add edk2 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add edk2"
rrq=$(lab_pcap_count 'udp dst port 69')
gets=$(lab_pcap_gets '(GET|HEAD) /[^l]')
lab_boot_local lab_vm_uefi edk2 "$mac" "$uuid" "$TMP/edk2.log"
t1=$LAB_BOOT_T
grep -qa "PXE-E21: Remote boot cancelled" "$TMP/edk2.log" ||
	{ tail -c 2000 "$TMP/edk2.log" | tr -d '\033' >&2; fail "EDK2 did not cancel network boot at pxed's local-boot menu"; }
assert_eq "TFTP requests during the EDK2 local boot" "$rrq" "$(lab_pcap_count 'udp dst port 69')"
grep -aiE -- "$mac, [^ ]+: local .*\[dhcp DISCOVER" "$TMP/pxed.log" | grep -q "arch uefi-x64(7), pxe" ||
	{ lab_dump; fail "no 'local ... [dhcp DISCOVER ..., arch uefi-x64(7), pxe]' line for $mac"; }
# The firmware's HTTPv4 attempt after PXEv4 is answered with a URI that
# fails at once (404; EDK2 asks HEAD, then GET): the only HTTP requests.
assert_eq "HTTP requests other than /local-disk during the EDK2 local boot" \
	"$gets" "$(lab_pcap_gets '(GET|HEAD) /[^l]')"
[ "$(lab_pcap_gets 'HEAD /local-disk')" -ge 1 ] || { lab_dump; fail "no HEAD /local-disk from the VM's HTTP boot"; }
pass "1. EDK2 PXE, nothing to do: local-boot menu, PXE-E21, nothing downloaded, disk booted at ${t1}s"

# ---- 2. iPXE EFI ROM, nothing to do -------------------------------------------
mac=52:54:00:7a:0a:02
uuid=7a7a7a7a-0a02-4000-8000-000000000a02
pxectl device add ipxerom --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add ipxerom"
lab_boot_local lab_vm_uefi_ipxe ipxerom "$mac" "$uuid" "$TMP/ipxerom.log"
t2=$LAB_BOOT_T
grep -qa "pxed: booting from local disk" "$TMP/ipxerom.log" || fail "iPXE did not run pxed's local-disk script"
grep -qaE 'starting Boot[0-9A-F]+ "UiApp"' "$TMP/ipxerom.log" && fail "the firmware opened its setup menu"
pass "2. OVMF + iPXE EFI ROM, nothing to do: script 'exit 1', disk booted at ${t2}s"

# ---- 3. EDK2 PXE, an available deployment, the prompt times out -------------
mac=52:54:00:7a:0a:03
uuid=7a7a7a7a-0a03-4000-8000-000000000a03
pxectl device add avail --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add avail"
pxectl deploy av --image deb --device avail --available >/dev/null || fail "pxectl deploy av"
lab_vm_uefi avail "$mac" "$uuid" "$TMP/avail.log"
lab_vm_wait "$TMP/avail.log" "is available" "$LAB_BOOT_TIMEOUT" ||
	{ tail -c 2000 "$TMP/avail.log" | tr -d '\033' >&2; lab_dump; fail "the VM did not show the available deployment's prompt ($LAB_VM_WHY)"; }
# After PXE, OVMF tries HTTP boot, where the deployment is offered (and
# declined) once more before the disk: allow for two prompts.
lab_wait_disk avail "$TMP/avail.log" 300
t3=$LAB_BOOT_T
grep -aiE -- "$mac, [^ ]+: local .*choice=local" "$TMP/pxed.log" >/dev/null ||
	{ lab_dump; fail "pxed did not record the timed-out prompt as choice=local"; }
assert_eq "boot decisions for $mac" 0 "$(grep -aciE -- "$mac, [^ ]+: boot 'av'.*choice=deploy" "$TMP/pxed.log")"
pass "3. EDK2 PXE, available deployment declined by timeout: snponly.efi returned to the firmware, disk booted at ${t3}s"

pass "local_disk: $((SECONDS - t0))s"
