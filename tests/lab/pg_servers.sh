#!/bin/bash
# lab-seconds: 90 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab: two pxed servers (A 10.77.0.2, B 10.77.0.3, each in its own network
# namespace on the lab segment) sharing one PostgreSQL database (a
# throw-away cluster, Unix socket only), and one SeaBIOS + iPXE machine
# with a disk.  Four boots:
#  1. both servers answer: the required deployment d1 boots once; both
#     servers logged a decision for the machine, d1 has exactly one
#     hand-out (read through either server's API);
#  2. both answer: the reboot goes to the local disk;
#  3. B cut off the segment: d2 made through B's API makes A's cached
#     "local" answer stale; A alone answers and d2 boots, A never
#     restarted;
#  4. B back; PostgreSQL restarted: both servers go degraded and recover
#     by themselves (/healthz ok); d3 made through A's API, then A
#     stopped: B alone answers and d3 boots.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
command -v psql >/dev/null || skip "lab needs psql (postgresql-client)"
[ -x "$PXED" ] && [ -x "$PXECTL" ] || skip "build/pxed and build/pxectl are not built"
lab_assets
start_postgres || fail "PostgreSQL did not start"
lab_net_up
NS_A=$LAB_NS_PXE
NS_B=pxedlab-$$-pxe2
lab_ns_add "$NS_B" vpxe2 10.77.0.3

LAB_ROOT=$TMP/root
mkdir -p "$LAB_ROOT/lab"
cp "$LAB_KERNEL" "$LAB_ROOT/lab/vmlinuz"
cp "$LAB_INITRD" "$LAB_ROOT/lab/initrd.gz"

ns_of() { [ "$1" = a ] && echo "$NS_A" || echo "$NS_B"; }

# srv_up a|b: that server in its namespace, on the shared database, its own
# StateDir ($TMP/a, $TMP/b) and log ($TMP/pxed-a.log); sets PID_a/PID_b.
srv_up() {
	local n=$1 ns pid
	ns=$(ns_of "$n")
	cat >"$TMP/$n.conf" <<-CONF
	[pxe]
	IsActive=yes
	SupportUnknownMachines=no
	[tftp]
	Root=$LAB_ROOT
	Port=69
	[http]
	Port=$LAB_PXED_PORT
	Address=
	[store]
	StateDir=$TMP/$n
	URL=$PG_URL
	[log]
	Level=debug
	CONF
	ip netns exec "$ns" "$PXED" -c "$TMP/$n.conf" >>"$TMP/pxed-$n.log" 2>&1 &
	pid=$!
	on_exit "kill $pid; sleep 0.2; kill -9 $pid"
	eval "PID_$n=$pid"
	wait_for 10 ip netns exec "$ns" curl -sf "http://127.0.0.1:$LAB_PXED_PORT/healthz" ||
		{ cat "$TMP/pxed-$n.log" >&2; fail "pxed $n did not start"; }
}

# ctl a|b ARGS...: pxectl against that server (output also in $TMP/pxectl.log).
ctl() {
	local n=$1
	shift
	echo "+ pxectl ($n) $*" >>"$TMP/pxectl.log"
	PXED_TOKEN_FILE=$TMP/$n/api.token ip netns exec "$(ns_of "$n")" "$PXECTL" \
		--server "http://127.0.0.1:$LAB_PXED_PORT" "$@" 2>&1 | tee -a "$TMP/pxectl.log"
	return "${PIPESTATUS[0]}"
}

# api a|b PATH PYEXPR: GET PATH from that server's API, print PYEXPR of the JSON (j).
api() {
	ip netns exec "$(ns_of "$1")" curl -sf -H "Authorization: Bearer $(cat "$TMP/$1/api.token")" \
		"http://127.0.0.1:$LAB_PXED_PORT$2" |
		python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$3" 2>/dev/null ||
		echo error
}

# health a|b: that server's /healthz body.
health() { ip netns exec "$(ns_of "$1")" curl -s "http://127.0.0.1:$LAB_PXED_PORT/healthz"; }

# decisions a|b MAC [OUTCOME]: decisions that server logged for MAC (not
# counting the log's "(repeated N times ...)" summaries of earlier ones).
decisions() { grep -aiE -- "$2, [^ ]+: ${3:-[a-z]+}( |$)" "$TMP/pxed-$1.log" | grep -cv '(repeated '; }

# cache_valid a|b MAC: yes/no/none, whether that server holds a valid answer for MAC.
cache_valid() {
	api "$1" /api/v1/cache "(lambda e: 'none' if not e else ('yes' if any(x['valid'] for x in e) else 'no'))([x for x in j if x['mac'] == '$2'])"
}

# What to look at when it fails (lablib's helpers call it).
lab_dump() {
	{
		local n
		for n in a b; do
			echo "--- pxed-$n.log (last 30):"
			tail -n 30 "$TMP/pxed-$n.log" 2>/dev/null
		done
		echo "--- DHCP/TFTP/HTTP on the bridge:"
		tcpdump -nr "$LAB_PCAP" 'udp port 67 or udp port 68 or udp port 4011 or (tcp port 8080 and tcp[tcpflags] & tcp-syn != 0)' 2>/dev/null | tail -n 30
	} >&2
}

srv_up a
srv_up b
pid_a0=$PID_a

mac=52:54:00:7a:05:01
uuid=7a7a7a7a-0501-4000-8000-000000000501
tok=pg$$x$RANDOM
image() { # NAME TOKEN
	ctl a image add "$1" --kernel lab/vmlinuz --initrd lab/initrd.gz --cmdline "console=ttyS0 pxedtest=$2" >/dev/null ||
		fail "pxectl image add $1"
}
image deb1 "${tok}a"
image deb2 "${tok}b"
image deb3 "${tok}c"
ctl a device add vm1 --mac "$mac" --guid "$uuid" >/dev/null || fail "pxectl device add"
ctl b deploy d1 --image deb1 --device vm1 --required >/dev/null || fail "pxectl deploy d1"

# ---- 1. both servers answer: the required deployment boots once ----------------
lab_boot_marker lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot1.log" "${tok}a"
t1=$LAB_BOOT_T
for n in a b; do
	[ "$(decisions $n "$mac" boot)" -ge 1 ] || { lab_dump; fail "server $n logged no boot decision for $mac"; }
done
assert_eq "d1's hand-outs through A's API" 1 "$(api a /api/v1/deployments/d1 "j['status']['handed_out']")"
assert_eq "d1's hand-outs through B's API" 1 "$(api b /api/v1/deployments/d1 "j['status']['handed_out']")"
assert_eq "d1's hand-out rows" 1 "$(psql -tAq "$PG_URL" -c "SELECT count(*) FROM pxe_history h JOIN deployments d ON d.id = h.deployment_id WHERE d.name = 'd1'")"
pass "1. both servers answered vm1; d1 booted in ${t1}s and was handed out once"

# ---- 2. both answer: the reboot goes to the disk --------------------------------
la=$(decisions a "$mac" local)
lb=$(decisions b "$mac" local)
lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot2.log"
lab_wait_disk vm1 "$TMP/boot2.log"
t2=$LAB_BOOT_T
for n in a b; do
	l0=la
	[ $n = b ] && l0=lb
	[ "$(decisions $n "$mac" local)" -gt "${!l0}" ] || { lab_dump; fail "server $n logged no local decision for $mac"; }
done
assert_eq "d1's hand-outs after the reboot" 1 "$(api a /api/v1/deployments/d1 "j['status']['handed_out']")"
pass "2. the reboot: both servers said local, the disk booted in ${t2}s"

# ---- 3. B off the segment; d2 through B's API; A alone boots it -------------------
assert_eq "A's cached answer for vm1 before d2" yes "$(cache_valid a "$mac")"
ip -n "$NS_B" link set eth0 down
ctl b deploy d2 --image deb2 --device vm1 --required >/dev/null || fail "pxectl deploy d2 (B)"
wait_for 3 eval '[ "$(cache_valid a "$mac")" = no ]' ||
	fail "A's cached answer for vm1 still valid 3 s after d2 through B: $(cache_valid a "$mac")"
db=$(decisions b "$mac")
lab_boot_marker lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot3.log" "${tok}b"
t3=$LAB_BOOT_T
assert_eq "decisions B logged for vm1 while cut off" "$db" "$(decisions b "$mac")"
kill -0 "$PID_a" && [ "$PID_a" = "$pid_a0" ] || fail "server A is not the process started first"
assert_eq "A's start-up lines" 1 "$(grep -c 'Loaded PXE settings' "$TMP/pxed-a.log")"
assert_eq "d2's hand-outs through A's API" 1 "$(api a /api/v1/deployments/d2 "j['status']['handed_out']")"
pass "3. d2 made through B reached A's cache; A alone booted it in ${t3}s, never restarted"

# ---- 4. PostgreSQL restarted; A stopped; B alone boots d3 -------------------------
ip -n "$NS_B" link set eth0 up
pg_ctl_as "$PG_DIR" -m fast stop >/dev/null || fail "could not stop PostgreSQL"
for n in a b; do
	wait_for 10 eval 'health '$n' | grep -q "degraded: database unreachable"' ||
		fail "server $n not degraded with PostgreSQL down: $(health $n)"
done
pg_ctl_as "$PG_DIR" start >/dev/null || fail "could not start PostgreSQL again"
for n in a b; do
	wait_for 15 eval '[ "$(health '$n')" = ok ]' || fail "server $n not ok after PostgreSQL came back: $(health $n)"
done
ctl a deploy d3 --image deb3 --device vm1 --required >/dev/null || fail "pxectl deploy d3 (A)"
kill "$PID_a"
wait "$PID_a" 2>/dev/null
ip netns exec "$NS_A" curl -s -o /dev/null "http://127.0.0.1:$LAB_PXED_PORT/healthz" && fail "server A still answers"
bb=$(decisions b "$mac" boot)
lab_boot_marker lab_vm_bios vm1 "$mac" "$uuid" "$TMP/boot4.log" "${tok}c"
t4=$LAB_BOOT_T
[ "$(decisions b "$mac" boot)" -gt "$bb" ] || { lab_dump; fail "server B logged no boot decision for $mac"; }
assert_eq "d3's hand-outs through B's API" 1 "$(api b /api/v1/deployments/d3 "j['status']['handed_out']")"
assert_eq "B's health after the boot" ok "$(health b)"
pass "4. PostgreSQL restarted: both servers recovered; with A stopped B alone booted d3 in ${t4}s"
