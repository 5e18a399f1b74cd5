#!/bin/bash
# lab-seconds: 45 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: SupportUnknownMachines=yes and a required deployment for unknown
# machines of arch bios.  A SeaBIOS+iPXE VM pxed has never seen boots it once
# (initramfs marker), pxed records it as a discovered device (`pxectl device
# list` shows its MAC), and its next boot goes to its disk (local, no kernel).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
[ -x "$PXECTL" ] || skip "build/pxectl is not built"
"$PXECTL" deploy --help 2>&1 | grep -q -- '--unknown' ||
	skip "this pxectl has no 'deploy ... --unknown ARCH' (deployments for unknown machines)"
lab_assets
lab_net_up
lab_pxed_up "SupportUnknownMachines=yes"
t0=$SECONDS

grep -qE 'conf: +SupportUnknownMachines: Yes$' "$TMP/pxed.log" ||
	{ sed -n '/PXE Settings/,/PXEPassword/p' "$TMP/pxed.log" >&2; fail "pxed's settings block does not say SupportUnknownMachines: Yes"; }

mac=52:54:00:7a:07:01
uuid=7a7a7a7a-0701-4000-8000-000000000701
token=unk$$x$RANDOM
pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$token" >/dev/null ||
	fail "pxectl image add"
pxectl deploy du --image deb --unknown bios --required >/dev/null || fail "pxectl deploy du --unknown bios --required"
pxectl device list >"$TMP/devices0.txt" 2>&1 || fail "pxectl device list"
grep -qi "$mac" "$TMP/devices0.txt" && fail "harness: $mac is a device before it ever booted"

# 1. first boot: the deployment for unknown machines.
lab_boot_marker lab_vm_bios stranger "$mac" "$uuid" "$TMP/boot1.log" "$token"
grep -aiE -- "$mac, [^ ]+: boot 'du'" "$TMP/pxed.log" >/dev/null || { lab_dump; fail "pxed logged no boot 'du' decision for $mac"; }
pass "1. unknown VM booted du in ${LAB_BOOT_T}s: $LAB_BOOT_CMDLINE"

# 2. pxed recorded it.
grep -qa "unknown machine recorded as device" "$TMP/pxed.log" || { lab_dump; fail "pxed did not log recording the unknown machine"; }
pxectl device list >"$TMP/devices1.txt" 2>&1 || fail "pxectl device list"
grep -qi "$mac" "$TMP/devices1.txt" || { cat "$TMP/devices1.txt" >&2; fail "pxectl device list does not show $mac"; }
pass "2. pxed recorded it: $(grep -i "$mac" "$TMP/devices1.txt" | tr -s ' ')"

# 3. next boot: the required deployment already ran -> its disk.
fetches=$(lab_kernel_fetches)
boots=$(grep -aciE -- "$mac, [^ ]+: boot 'du'" "$TMP/pxed.log")
lab_boot_local lab_vm_bios stranger "$mac" "$uuid" "$TMP/boot2.log"
assert_eq "boot 'du' decisions on the second boot" "$boots" "$(grep -aciE -- "$mac, [^ ]+: boot 'du'" "$TMP/pxed.log")"
assert_eq "kernel fetches on the second boot" "$fetches" "$(lab_kernel_fetches)"
pxectl device list >"$TMP/devices2.txt" 2>&1 || fail "pxectl device list"
assert_eq "devices with $mac" 1 "$(grep -ci "$mac" "$TMP/devices2.txt")"
pass "3. second boot: local, on to the disk after ${LAB_BOOT_T}s, no kernel fetched ($((SECONDS - t0))s in all)"
