#!/bin/bash
# Lab: with SupportUnknownMachines off, a machine pxed does not know gets no
# answer: pxed logs `ignore` (not serviced) for its MAC, sends it no
# ProxyDHCP offer, and the machine fetches nothing from pxed; it gets its
# address from the site DHCP server and goes on to its local devices.
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

mac=52:54:00:7a:03:99
uuid=7a7a7a7a-0399-4000-8000-000000000399
log=$TMP/unknown.log
lab_vm_bios stranger "$mac" "$uuid" "$log"
wait_for 90 eval '[ "$(lab_decisions "$mac" ignore)" -ge 1 ]' ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "pxed logged no ignore decision for unknown $mac"; }
grep -aiE "$mac, [^ ]+: ignore" "$TMP/pxed.log" | grep -qi "not serviced" ||
	{ lab_dump; fail "the ignore line for $mac does not say 'not serviced'"; }
# iPXE gets a site lease, no boot file: "Nothing to boot", then SeaBIOS moves on.
lab_vm_wait "$log" "No bootable device|$LAB_MARKER" 90 ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "unknown VM did not give up network boot within 90 s ($LAB_VM_WHY)"; }
lab_vm_kill
grep -qa "$LAB_MARKER" "$log" && fail "unknown VM booted a deployment"
grep -qa "10\.77\.0\.[0-9]*/" "$log" || { lab_dump; fail "unknown VM got no address from the site DHCP server (harness problem)"; }
assert_eq "boot/local decisions for $mac" 0 "$(($(lab_decisions "$mac" boot) + $(lab_decisions "$mac" local)))"
assert_eq "ProxyDHCP replies from pxed" 0 "$(lab_pcap_count "src host $LAB_PXE_ADDR and udp src port 67")"
assert_eq "packets to pxed's PXE/TFTP/HTTP ports" 0 \
	"$(lab_pcap_count "dst host $LAB_PXE_ADDR and (udp port 4011 or udp port 69 or tcp port $LAB_PXED_PORT)")"
pass "unknown machine $mac not serviced: pxed logged ignore, sent nothing, nothing fetched"
