#!/bin/bash
# lab-seconds: 57 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: the machines that are neither BIOS nor UEFI x64 PXE, against pxed:
#   1. an ARM64 UEFI machine (AAVMF, arch 11) boots a deployment for unknown
#      uefi-arm64 machines whose image is an arm64 kernel: EDK2 PXE -> GRUB
#      (grubaa64.efi) -> per-machine grub.cfg -> kernel and initrd over TFTP;
#   2. an x64 machine booting by UEFI HTTP boot (OVMF HTTPv4, PXE off) takes
#      pxed's HTTPClient offer, fetches iPXE over HTTP (HEAD, then GET, Host
#      without the port) and boots its deployment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_require_arm64
lab_assets
lab_assets_arm64
# GRUB needs the site DHCP server to name pxed as next-server.
LAB_SITE_DHCP_OPTS=(--dhcp-option=option:server-ip-address,$LAB_PXE_ADDR)
lab_net_up
# The arm64 GRUB files come from the unpacked package (GrubDir); UEFI HTTP
# boot gets ipxe.efi (a full iPXE with its own drivers) over HTTP.
lab_pxed_up "SupportUnknownMachines=yes
GrubDir=$LAB_ARM64/grub
BootProgramUEFIx64=ipxe.efi"
mkdir -p "$LAB_ROOT/arm64"
cp "$LAB_ARM64/vmlinuz" "$LAB_ARM64/initrd.gz" "$LAB_ROOT/arm64/"
t0=$SECONDS

# 1. ARM64.
tok1=arm$$x$RANDOM
pxectl image add deb-arm64 --arch uefi-arm64 --kernel arm64/vmlinuz --initrd arm64/initrd.gz \
	--cmdline "console=ttyAMA0 pxedtest=$tok1" >/dev/null || fail "pxectl image add deb-arm64"
pxectl image add deb-x86 --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=x86" >/dev/null ||
	fail "pxectl image add deb-x86"
pxectl deploy arm-unknown --image deb-arm64 --unknown uefi-arm64 --required >/dev/null || fail "pxectl deploy arm-unknown"
mac=52:54:00:7a:0c:01
uuid=7a7a7a7a-0c01-4000-8000-000000000c01
lab_boot_marker lab_vm_arm64 arm1 "$mac" "$uuid" "$TMP/arm1.log" "$tok1"
grep -aiE -- "$mac, [^ ]+: boot 'arm-unknown' .*tftp grub, arch uefi-arm64\(11\)" "$TMP/pxed.log" >/dev/null ||
	{ lab_dump; fail "no boot 'arm-unknown' decision from GRUB's request with arch uefi-arm64(11)"; }
[ "$(lab_pcap_tftp_reads 'grubaa64.efi')" -ge 1 ] || { lab_dump; fail "no TFTP read of grubaa64.efi"; }
pass "1. ARM64 UEFI booted arm-unknown through GRUB in ${LAB_BOOT_T}s: $LAB_BOOT_CMDLINE"

# 2. UEFI HTTP boot (x64).
tok2=http$$x$RANDOM
mac2=52:54:00:7a:0c:02
uuid2=7a7a7a7a-0c02-4000-8000-000000000c02
pxectl image add deb-http --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$tok2" >/dev/null ||
	fail "pxectl image add deb-http"
pxectl device add http1 --mac "$mac2" --guid "$uuid2" >/dev/null || fail "pxectl device add http1"
pxectl deploy dh --image deb-http --device http1 --required >/dev/null || fail "pxectl deploy dh"
lab_boot_marker lab_vm_uefi_http http1 "$mac2" "$uuid2" "$TMP/http1.log" "$tok2"
[ "$(lab_pcap_gets 'HEAD /files/ipxe.efi')" -ge 1 ] || { lab_dump; fail "no HEAD of the boot program: not UEFI HTTP boot"; }
[ "$(lab_pcap_gets 'GET /files/ipxe.efi')" -ge 1 ] || { lab_dump; fail "no GET of the boot program over HTTP"; }
[ "$(lab_pcap_tftp_reads 'ipxe.efi')" -eq 0 ] || { lab_dump; fail "the boot program came over TFTP, not HTTP boot"; }
grep -aiE -- "$mac2, [^ ]+: boot 'dh' .*arch uefi-http\(16\)" "$TMP/pxed.log" >/dev/null ||
	{ lab_dump; fail "no boot 'dh' decision for the HTTP boot request (arch uefi-http(16))"; }
pass "2. UEFI HTTP boot booted dh in ${LAB_BOOT_T}s: $LAB_BOOT_CMDLINE"
pass "ARM64 and UEFI HTTP boot lab: $((SECONDS - t0))s"
