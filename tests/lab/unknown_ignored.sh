#!/bin/bash
# lab-seconds: 210 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: machines pxed does not service end on their local disk, with pxed
# silent and only the firmware's own timeouts between power-on and the disk:
#   1. SupportUnknownMachines off, a machine pxed does not know (SeaBIOS +
#      iPXE ROM, and OVMF with EDK2's PXE at the same time): pxed logs
#      `ignore` (not serviced) for its MAC, sends it no ProxyDHCP offer, the
#      machine fetches nothing from pxed, gets its address from the site
#      DHCP server, and boots its disk;
#   2. IsActive off (set at run time): a known machine with a required
#      deployment gets no answer either and boots its disk; the deployment
#      is not handed out.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up
lab_pxed_up

# A known machine with a deployment exists, so there is something to hand out.
pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=known" >/dev/null ||
	fail "pxectl image add"
pxectl device add known1 --mac 52:54:00:7a:03:01 --guid 7a7a7a7a-0301-4000-8000-000000000301 >/dev/null || fail "pxectl device add"
pxectl deploy d3 --image deb --device known1 --required >/dev/null || fail "pxectl deploy"

# nothing_for MAC WHAT: pxed decided nothing but ignore for MAC.
nothing_for() {
	assert_eq "boot/local decisions for $1 ($2)" 0 "$(($(lab_decisions "$1" boot) + $(lab_decisions "$1" local)))"
}

# ---- 1. unknown machines, BIOS and UEFI at once --------------------------
# EDK2 waits through its DHCP retries for a PXE offer (about a minute), then
# tries HTTP boot, then the disk: it runs beside the BIOS machine.
umac=52:54:00:7a:03:98
uuuid=7a7a7a7a-0398-4000-8000-000000000398
ulog=$TMP/unknown-uefi.log
lab_vm_uefi stranger-u "$umac" "$uuuid" "$ulog"
upid=$LAB_VM_PID ustart=$LAB_VM_START udisk=$LAB_VM_DISK

mac=52:54:00:7a:03:99
uuid=7a7a7a7a-0399-4000-8000-000000000399
log=$TMP/unknown.log
lab_vm_bios stranger "$mac" "$uuid" "$log"
wait_for 90 eval '[ "$(lab_decisions "$mac" ignore)" -ge 1 ]' ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "pxed logged no ignore decision for unknown $mac"; }
grep -aiE "$mac, [^ ]+: ignore" "$TMP/pxed.log" | grep -qi "not serviced" ||
	{ lab_dump; fail "the ignore line for $mac does not say 'not serviced'"; }
# iPXE gets a site lease, no boot file: "Nothing to boot", then SeaBIOS
# boots the disk.
lab_wait_disk stranger "$log"
t_bios=$LAB_BOOT_T
grep -qa "10\.77\.0\.[0-9]*/" "$log" || { lab_dump; fail "unknown VM got no address from the site DHCP server (harness problem)"; }
nothing_for "$mac" "unknown BIOS"
pass "unknown BIOS machine $mac not serviced: pxed logged ignore; the VM booted its disk at ${t_bios}s"

LAB_VM_PID=$upid LAB_VM_START=$ustart LAB_VM_DISK=$udisk
lab_wait_disk stranger-u "$ulog" 360
t_uefi=$LAB_BOOT_T
[ "$(lab_decisions "$umac" ignore)" -ge 1 ] || { lab_dump; fail "pxed logged no ignore decision for unknown $umac"; }
nothing_for "$umac" "unknown UEFI"
pass "unknown UEFI (EDK2) machine $umac not serviced: pxed logged ignore; the VM booted its disk at ${t_uefi}s after the firmware's timeouts"

assert_eq "ProxyDHCP replies from pxed" 0 "$(lab_pcap_count "src host $LAB_PXE_ADDR and udp src port 67")"
assert_eq "packets to pxed's PXE/TFTP/HTTP ports" 0 \
	"$(lab_pcap_count "dst host $LAB_PXE_ADDR and (udp port 4011 or udp port 69 or tcp port $LAB_PXED_PORT)")"
pass "pxed sent the unknown machines nothing and nothing was fetched from it"

# ---- 2. IsActive off: a known machine with a required deployment ----------
pxectl settings set IsActive no >/dev/null || fail "pxectl settings set IsActive no"
kmac=52:54:00:7a:03:01
lab_vm_bios known1 "$kmac" 7a7a7a7a-0301-4000-8000-000000000301 "$TMP/inactive.log"
lab_wait_disk known1 "$TMP/inactive.log"
t_inactive=$LAB_BOOT_T
nothing_for "$kmac" "IsActive off"
grep -aiE "$kmac, [^ ]+: ignore" "$TMP/pxed.log" | grep -q "IsActive" ||
	{ lab_dump; fail "no 'ignore (... IsActive ...)' line for $kmac"; }
assert_eq "ProxyDHCP replies from pxed with IsActive off" 0 "$(lab_pcap_count "src host $LAB_PXE_ADDR and udp src port 67")"
pxectl --json deployment show d3 >"$TMP/d3.json" || fail "pxectl deployment show d3"
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["status"]["handed_out"] != 0)' "$TMP/d3.json" ||
	{ cat "$TMP/d3.json" >&2; fail "d3 was handed out while IsActive was off"; }
pass "IsActive off: known machine $kmac with a required deployment got no answer, booted its disk at ${t_inactive}s, d3 not handed out"
