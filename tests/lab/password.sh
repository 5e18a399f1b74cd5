#!/bin/bash
# lab-seconds: 99 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: PXEPassword with real firmware (SeaBIOS + iPXE ROM).  pxed's boot
# script runs iPXE's `login`; the keys are typed on the VM's keyboard through
# QEMU's monitor.  A wrong password: pxed logs a failure (without the typed
# text), nothing is fetched, iPXE asks again.  The right one: the required
# deployment boots.  The password shows up nowhere: pxed's log, events,
# status, metrics.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
command -v python3 >/dev/null || skip "lab needs python3"
lab_assets
lab_net_up
pw=labpw$RANDOM$RANDOM
wrong=wrongpw$RANDOM
lab_pxed_up "PXEPassword = $pw"
t0=$SECONDS
grep -qE 'conf: +PXEPassword: <non empty>$' "$TMP/pxed.log" || fail "pxed's settings block does not say PXEPassword: <non empty>"

mac=52:54:00:7a:06:01
uuid=7a7a7a7a-0601-4000-8000-000000000601
token=pw$$x$RANDOM
pxectl image add deb --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$token" >/dev/null ||
	fail "pxectl image add"
pxectl device add vm1 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add"
pxectl deploy d1 --image deb --device vm1 --required >/dev/null || fail "pxectl deploy"

log=$TMP/pw-boot.log
lab_vm_monitor "$TMP/mon.sock"
lab_vm_bios vm1 "$mac" "$uuid" "$log"
# The script's echo, then login's form (iPXE draws it on the console, which
# SeaBIOS mirrors to the serial port).
lab_vm_wait "$log" "needs the PXE password" "$LAB_BOOT_TIMEOUT" ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "the VM did not run the password script ($LAB_VM_WHY)"; }
lab_vm_wait "$log" "Password" 30 ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "iPXE's login form did not show ($LAB_VM_WHY)"; }
t_prompt=$((SECONDS - LAB_VM_START))
wait_for 10 test -S "$LAB_MON" || fail "no QEMU monitor socket"
sleep 1
fetches=$(lab_kernel_fetches)

# 1. a wrong password.
lab_vm_type anyuser "<ret>" "$wrong" "<ret>"
wait_for 30 grep -q "$mac: wrong PXE password" "$TMP/pxed.log" ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "pxed logged no wrong-password line for $mac"; }
lab_vm_wait "$log" "wrong password, try again" 30 ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "iPXE did not say 'wrong password, try again'"; }
# login's form again
wait_for 30 eval '[ "$(grep -ao "Password:" "$log" | wc -l)" -ge 2 ]' ||
	{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "iPXE's login form did not come back after the wrong password"; }
sleep 1
assert_eq "kernel fetches after the wrong password" "$fetches" "$(lab_kernel_fetches)"
assert_eq "accepted passwords after the wrong one" 0 "$(grep -ac "PXE password accepted" "$TMP/pxed.log")"
grep -q "$LAB_MARKER" "$log" && fail "the deployment started after a wrong password"
pass "1. wrong password: pxed logged the failure, no kernel fetched, iPXE asks again (form after ${t_prompt}s)"

# 2. the right password.  iPXE's form comes back holding what was typed
# before (${username}, ${password}): erase it first.
bs=(); for i in $(seq 24); do bs+=("<bs>"); done
lab_vm_type "${bs[@]}" anyuser "<ret>" "${bs[@]}" "$pw" "<ret>"
if ! lab_vm_wait "$log" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT"; then
	tail -c 1500 "$log" | tr -d '\033' >&2
	lab_dump
	fail "the VM did not boot the deployment after the right password ($LAB_VM_WHY)"
fi
cl=$(lab_marker_cmdline "$log")
case " $cl " in *" pxedtest=$token "*) ;; *) lab_dump; fail "kernel cmdline lacks pxedtest=$token: '$cl'" ;; esac
grep -q "$mac: PXE password accepted" "$TMP/pxed.log" || { lab_dump; fail "pxed did not log the accepted password"; }
[ "$(lab_kernel_fetches)" -gt "$fetches" ] || fail "no kernel fetch seen on the wire"
wait_for 30 eval "! kill -0 $LAB_VM_PID" || fail "VM did not power off after the marker"
pass "2. right password: deployment d1 booted, cmdline: $cl"

# 3. neither password anywhere pxed tells.
pxectl events --limit 100 >"$TMP/events.txt" 2>&1 || fail "pxectl events"
pxectl status --json >"$TMP/status.json" 2>&1 || fail "pxectl status --json"
pxectl metrics >"$TMP/metrics.txt" 2>&1 || fail "pxectl metrics"
for f in pxed.log events.txt status.json metrics.txt pxectl.log; do
	for p in "$pw" "$wrong"; do
		grep -qaF -- "$p" "$TMP/$f" && fail "a typed password shows in $f"
	done
done
grep -qE '^pxed_pxe_password_failures_total(\{[^}]*\})? 1$' "$TMP/metrics.txt" ||
	{ grep password "$TMP/metrics.txt" >&2; fail "metrics do not count one password failure"; }
pass "3. neither password in pxed's log, events, status, metrics ($((SECONDS - t0))s)"

# 4. nobody knows the password: Esc at the form leaves for the local disk.
pxectl device clear vm1 >/dev/null || fail "pxectl device clear vm1"
log4=$TMP/pw-esc.log
lab_vm_bios vm1 "$mac" "$uuid" "$log4"
lab_vm_wait "$log4" "Password" "$LAB_BOOT_TIMEOUT" ||
	{ tail -c 1500 "$log4" | tr -d '\033' >&2; lab_dump; fail "iPXE's login form did not show on the second boot ($LAB_VM_WHY)"; }
sleep 1
fetches=$(lab_kernel_fetches)
lab_vm_type "<esc>"
lab_wait_disk vm1 "$log4"
assert_eq "kernel fetches after Esc" "$fetches" "$(lab_kernel_fetches)"
pass "4. Esc at the password form: no deployment, SeaBIOS booted the disk at ${LAB_BOOT_T}s"
