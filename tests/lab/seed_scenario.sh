#!/bin/bash
# lab-seconds: 87 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: the seed's scenario (ConfigMgr 2007 SP2, KB 969113's one-hour PXE cache)
# with real firmware and pxed's default CacheExpire = 3600.
#   1. required deployment d1 to a SeaBIOS+iPXE VM: the VM boots d1;
#   2. it boots again: pxed sends it to its disk (local, no kernel fetched);
#   3. within a minute, required deployment d2 to the same VM: the next boot
#      runs d2 -- no pxed restart, no cache flush, CacheExpire still 3600;
#   4. `pxectl device clear`: the next boot runs d2 again.
# One network and one pxed for the whole run; only QEMU restarts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up
lab_pxed_up   # no CacheExpire line: pxed's default
t0=$SECONDS

# pxed's settings block says the seed's CacheExpire: 3600.
grep -qE 'conf: +CacheExpire: 3600$' "$TMP/pxed.log" ||
	{ sed -n '/PXE Settings/,/PXEPassword/p' "$TMP/pxed.log" >&2; fail "pxed's settings block does not say CacheExpire: 3600"; }
pxed_pid=$PXED_PID
if "$PXECTL" --help 2>&1 | grep -q 'settings get'; then
	pxectl settings get CacheExpire >"$TMP/cacheexpire.txt" 2>&1 || fail "pxectl settings get CacheExpire"
	grep -qw 3600 "$TMP/cacheexpire.txt" || { cat "$TMP/cacheexpire.txt" >&2; fail "pxectl settings get CacheExpire does not say 3600"; }
fi

mac=52:54:00:7a:05:01
uuid=7a7a7a7a-0501-4000-8000-000000000501
tok1=seedone$$x$RANDOM
tok2=seedtwo$$x$RANDOM
pxectl image add img1 --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$tok1" >/dev/null ||
	fail "pxectl image add img1"
pxectl image add img2 --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$tok2" >/dev/null ||
	fail "pxectl image add img2"
pxectl device add vm1 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add"
pxectl deploy d1 --image img1 --device vm1 --required >/dev/null || fail "pxectl deploy d1"

# boot_decisions DEPLOYMENT: pxed's `boot 'DEPLOYMENT'` decision lines for $mac.
boot_decisions() { grep -aciE -- "$mac, [^ ]+: boot '$1'" "$TMP/pxed.log"; }

# 1. d1 boots.
lab_boot_marker lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot1.log" "$tok1"
[ "$(boot_decisions d1)" -ge 1 ] || { lab_dump; fail "pxed logged no boot 'd1' decision for $mac"; }
pass "1. d1 booted in ${LAB_BOOT_T}s: $LAB_BOOT_CMDLINE"

# 2. reboot: the required deployment already ran -> local disk, no kernel.
fetches=$(lab_kernel_fetches)
d1_boots=$(boot_decisions d1)
lab_boot_local lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot2.log"
# when pxed last answered local (its log's UTC timestamp)
local_at=$(date -ud "$(grep -aiE -- "$mac, [^ ]+: local" "$TMP/pxed.log" | tail -n1 | cut -d' ' -f1)" +%s) ||
	fail "no timestamp on pxed's local line"
assert_eq "boot 'd1' decisions after the second boot" "$d1_boots" "$(boot_decisions d1)"
assert_eq "kernel fetches during the second boot" "$fetches" "$(lab_kernel_fetches)"
grep -aiE -- "$mac, [^ ]+: local" "$TMP/pxed.log" | tail -n1 | grep -q "d1" ||
	{ lab_dump; fail "the local decision does not name d1 as already handed out"; }
pass "2. second boot: pxed said local (d1 already handed out), on to the disk after ${LAB_BOOT_T}s, no kernel fetched"

# Where pxectl can show pxed's cache: the local answer is held there now.
if "$PXECTL" --help 2>&1 | grep -q 'cache list'; then
	pxectl cache list >"$TMP/cache.txt" 2>&1 || fail "pxectl cache list"
	grep -qi "$mac" "$TMP/cache.txt" || { cat "$TMP/cache.txt" >&2; fail "pxectl cache list does not hold $mac's answer"; }
	pass "2b. pxed's cache holds $mac's answer: $(grep -i "$mac" "$TMP/cache.txt" | head -n1 | tr -s ' ')"
fi

# 3. within a minute of that local answer (the seed's cache would still hold
# it for the best part of an hour): deploy d2; the next boot runs it.
pxectl deploy d2 --image img2 --device vm1 --required >/dev/null || fail "pxectl deploy d2"
since=$(($(date -u +%s) - local_at))
[ "$since" -lt 60 ] || fail "harness: d2 deployed ${since}s after the local answer, not within a minute"
lab_boot_marker lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot3.log" "$tok2"
[ "$(boot_decisions d2)" -ge 1 ] || { lab_dump; fail "pxed logged no boot 'd2' decision for $mac"; }
kill -0 "$pxed_pid" || fail "pxed is no longer running"
assert_eq "pxed start-ups (settings blocks) in its log" 1 "$(grep -c 'conf: PXE Settings:' "$TMP/pxed.log")"
pass "3. d2 deployed ${since}s after the local answer; next boot ran d2 in ${LAB_BOOT_T}s (same pxed, no flush)"

# 4. clear the device's required deployments: the next boot runs d2 again.
d2_boots=$(boot_decisions d2)
pxectl device clear vm1 >/dev/null || fail "pxectl device clear vm1"
lab_boot_marker lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot4.log" "$tok2"
[ "$(boot_decisions d2)" -gt "$d2_boots" ] || { lab_dump; fail "pxed logged no new boot 'd2' decision after clear"; }
kill -0 "$pxed_pid" || fail "pxed is no longer running"
assert_eq "pxed start-ups (settings blocks) in its log" 1 "$(grep -c 'conf: PXE Settings:' "$TMP/pxed.log")"

# The same story in pxed's events: d1 boot, local, d2 boot, d2 boot.
pxectl events --device vm1 --limit 50 >"$TMP/events.txt" 2>&1 || fail "pxectl events"
grep -q "d2" "$TMP/events.txt" && grep -q "d1" "$TMP/events.txt" && grep -qi "local" "$TMP/events.txt" ||
	{ cat "$TMP/events.txt" >&2; fail "pxectl events lacks the d1 boot, the local answer or the d2 boots"; }
pass "4. after device clear, the next boot ran d2 again in ${LAB_BOOT_T}s"
pass "seed scenario with CacheExpire 3600: $((SECONDS - t0))s for four boots"
