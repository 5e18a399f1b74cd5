#!/bin/bash
# tftp_bench.sh: pxed's TFTP server against atftpd, tftpd-hpa and dnsmasq.
#
#   bench/tftp_bench.sh [--quick] [--runs N] [--scenarios LIST] [--servers LIST]
#                       [--out FILE] [--no-install] [--timeout S] [--retries N]
#
# Each server runs in a network namespace of its own (only lo, up), on
# loopback, and build/bench/tftp_load runs inside the same namespace: no
# traffic leaves the machine, and dnsmasq, whose TFTP port is fixed at 69,
# needs no special treatment.  Every scenario is run --runs times against a
# freshly started server; the table shows medians.  Server CPU is read
# before and after a run from a cpuacct cgroup holding the server, so
# children that tftpd-hpa forks per transfer count too (without cgroups:
# utime+stime+cutime+cstime from /proc/PID/stat of the server and its live
# children).  Clients retransmit after --timeout seconds (1) without
# progress and give up after --retries (5) retransmits of one packet, about
# 6 s: a server that drops requests past its limit shows as failures.
#
# Prints the table and writes it as Markdown to bench/results.md (or --out).
# Everything started here is stopped on exit; temporary files are removed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
LOAD=$TOP/build/bench/tftp_load
OUT=$HERE/results.md
CACHE=${PXED_BENCH_CACHE:-/var/cache/pxed-bench}
RUNS=3
QUICK=0
INSTALL=1
SERVERS="pxed atftpd tftpd-hpa dnsmasq"
SCENARIOS=""
PEER_PORT=69	# atftpd and tftpd-hpa could move, dnsmasq cannot; all alike
PXED_PORT=6969
TIMEOUT=1
RETRIES=5

usage() {
	sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	cat <<EOF
Scenarios (name:clients:size_MiB:blksize:windowsize; 0 = option not asked):
  full:  $(full_scenarios)
  quick: $(quick_scenarios)
--runs defaults to 3 (1 with --quick).  --servers takes a subset of:
  $SERVERS
EOF
}

full_scenarios() {
	echo "1x64M-b512:1:64:512:0 1x64M-b1468:1:64:1468:0 1x64M-b1468-w16:1:64:1468:16" \
	     "64x16M-b1468-w8:64:16:1468:8 400x4M-b1468:400:4:1468:0 1000x1M-b1468:1000:1:1468:0"
}
quick_scenarios() {
	echo "1x16M-b512:1:16:512:0 1x16M-b1468:1:16:1468:0 1x16M-b1468-w16:1:16:1468:16" \
	     "16x4M-b1468-w8:16:4:1468:8 100x1M-b1468:100:1:1468:0 250x1M-b1468:250:1:1468:0"
}

RUNS_SET=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--runs) RUNS=$2; RUNS_SET=1; shift ;;
	--scenarios) SCENARIOS=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--timeout) TIMEOUT=$2; shift ;;
	--retries) RETRIES=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "tftp_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$SCENARIOS" ]; then
	if [ $QUICK = 1 ]; then SCENARIOS=$(quick_scenarios); else SCENARIOS=$(full_scenarios); fi
fi
[ $QUICK = 1 ] && [ $RUNS_SET = 0 ] && RUNS=1
if [ $QUICK = 1 ]; then DEADLINE=60; else DEADLINE=180; fi

if [ "$(id -u)" != 0 ]; then
	echo "tftp_bench: needs root (network namespaces, package installs)" >&2
	exit 2
fi

# ---- cleanup: everything we start is recorded and stopped ------------------
WORK=$(mktemp -d /tmp/pxed-bench.XXXXXX)
PIDS=()
NSS=()	# namespace holders
POLICY_ADDED=0
cleanup() {
	local p
	for p in "${NSS[@]:-}"; do
		[ -n "$p" ] && drop_netns "$p"
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	sleep 0.2
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
	done
	[ $POLICY_ADDED = 1 ] && rm -f /usr/sbin/policy-rc.d
	rm -rf "$WORK"
	[ -n "$CG" ] && rmdir "$CG" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "tftp_bench: $*" >&2; }

# ---- peers -----------------------------------------------------------------
# Debian's atftpd and tftpd-hpa packages start a service on port 69 when
# installed.  A policy-rc.d that refuses (exit 101) keeps them from starting;
# any that did start anyway are stopped and disabled.
stop_services() {
	local s
	for s in atftpd tftpd-hpa; do
		if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
			systemctl disable --now "$s" >/dev/null 2>&1 || true
		fi
		service "$s" stop >/dev/null 2>&1 || true
		update-rc.d "$s" disable >/dev/null 2>&1 || true
	done
}

HPA=""
find_hpa() {
	if [ -x /usr/sbin/in.tftpd ] && dpkg-query -W -f='${Status}' tftpd-hpa 2>/dev/null | grep -q installed; then
		HPA=/usr/sbin/in.tftpd
	elif [ -x "$CACHE/tftpd-hpa/usr/sbin/in.tftpd" ]; then
		HPA=$CACHE/tftpd-hpa/usr/sbin/in.tftpd
	fi
}

install_peers() {
	local need=()
	command -v atftpd >/dev/null || need+=(atftpd)
	command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
	find_hpa
	[ -z "$HPA" ] && need+=(libwrap0)
	[ ${#need[@]} = 0 ] && [ -n "$HPA" ] && return 0
	[ $INSTALL = 1 ] || { log "missing peers and --no-install given"; return 0; }
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY_ADDED=1
	fi
	log "installing ${need[*]}"
	apt-get update -qq >/dev/null 2>&1 || true
	if [ ${#need[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$WORK/apt.log" 2>&1 ||
			{ log "apt-get install failed, see below"; tail -5 "$WORK/apt.log" >&2; }
	fi
	# tftpd-hpa conflicts with atftpd in Debian, so it is not installed but
	# unpacked into a cache folder and run from there.
	if [ -z "$HPA" ]; then
		mkdir -p "$CACHE/tftpd-hpa"
		(cd "$WORK" && apt-get download tftpd-hpa >/dev/null 2>&1 &&
			dpkg-deb -x tftpd-hpa_*.deb "$CACHE/tftpd-hpa") || log "could not unpack tftpd-hpa"
		find_hpa
	fi
	[ $POLICY_ADDED = 1 ] && { rm -f /usr/sbin/policy-rc.d; POLICY_ADDED=0; }
	stop_services
}

# ---- namespaces and servers ------------------------------------------------
NS=""	# pid of the process holding the current namespace
new_netns() {
	unshare -n sleep 100000 >/dev/null 2>&1 &
	NS=$!
	NSS+=("$NS")
	sleep 0.1
	nsenter -t "$NS" -n ip link set lo up
}
in_ns() { nsenter -t "$NS" -n "$@"; }

# Stop every process left in the namespace held by $1, then the holder: a
# server that forked or ignored SIGTERM does not outlive the script.
drop_netns() {
	local ns p
	ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = "$1" ] && continue
		[ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$ns" ] && kill -9 "$p" 2>/dev/null
	done
	kill "$1" 2>/dev/null || true
}

SRV=""	# server pid
PORT=""
# Servers are started through in_cg, which execs nsenter, which execs the
# server: $! is the server itself, its /proc/PID/stat is the one to read and
# SIGTERM reaches it.  in_cg puts it in the benchmark's cpuacct cgroup, which
# also counts children that exit unreaped (tftpd-hpa ignores SIGCHLD, so its
# per-transfer children never show in its cutime).
start_server() { # name root
	local name=$1 root=$2
	case "$name" in
	atftpd)
		PORT=$PEER_PORT
		in_cg nsenter -t "$NS" -n atftpd --daemon --no-fork --port "$PORT" --bind-address 127.0.0.1 \
			--user root --group root --logfile /dev/null "$root" >>"$WORK/$name.log" 2>&1 &
		;;
	tftpd-hpa)
		PORT=$PEER_PORT
		# An explicit 127.0.0.1 makes this build exit (66); the
		# namespace has only lo, so the wildcard is loopback anyway.
		in_cg nsenter -t "$NS" -n "$HPA" --foreground --listen -4 --address ":$PORT" --secure \
			--user root "$root" >>"$WORK/$name.log" 2>&1 &
		;;
	dnsmasq)
		PORT=69
		in_cg nsenter -t "$NS" -n dnsmasq --no-daemon --conf-file=/dev/null --port=0 --enable-tftp \
			--tftp-root="$root" --interface=lo --bind-interfaces --user=root \
			--group=root --pid-file= --quiet-tftp >>"$WORK/$name.log" 2>&1 &
		;;
	pxed)
		PORT=$PXED_PORT
		# pxed refuses a StateDir other users can read (it holds the
		# database and the API tokens).
		mkdir -p -m 0750 "$WORK/pxed-state"
		cat >"$WORK/pxed.ini" <<EOF
[tftp]
Root=$root
Port=$PORT
# Every client of the benchmark comes from 127.0.0.1.
MaxTransfersPerAddress=0
[http]
Port=18080
Address=127.0.0.1
[pxe]
DHCPPort=16767
PXEPort=14011
[store]
StateDir=$WORK/pxed-state
EOF
		in_cg nsenter -t "$NS" -n "$TOP/build/pxed" -c "$WORK/pxed.ini" >>"$WORK/$name.log" 2>&1 &
		;;
	esac
	SRV=$!
	PIDS+=("$SRV")
	sleep 0.4
	kill -0 "$SRV" 2>/dev/null
}
stop_server() {
	kill "$SRV" 2>/dev/null || true
	wait "$SRV" 2>/dev/null || true
}

CG=""
setup_cgroup() {
	local d=/sys/fs/cgroup/cpuacct/pxed-bench-$$
	if [ -d /sys/fs/cgroup/cpuacct ] && mkdir "$d" 2>/dev/null; then
		CG=$d
	else
		log "no cpuacct cgroup: server CPU from /proc/PID/stat (misses unreaped children)"
	fi
}
in_cg() {
	if [ -n "$CG" ]; then
		exec_in_cg() { echo "$BASHPID" >"$CG/tasks" && exec "$@"; }
		exec_in_cg "$@"
	else
		exec "$@"
	fi
}

# CPU ticks of the server: from the cgroup when there is one (all its
# processes, exited or not), else from /proc: the process, its reaped
# children and its live children.
cpu_ticks() {
	local t=0 p line rest
	if [ -n "$CG" ]; then
		echo $(( $(cat "$CG/cpuacct.usage") * HZ / 1000000000 ))
		return
	fi
	for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
		line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		rest=${line##*) }
		# shellcheck disable=SC2086
		set -- $rest	# $1 is field 3 (state): utime=14 -> $12
		t=$((t + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)

# ---- files -----------------------------------------------------------------
ROOT=$WORK/root
make_files() {
	local s sz
	mkdir -p "$ROOT"
	chmod 755 "$WORK" "$ROOT"
	for s in $SCENARIOS; do
		sz=$(echo "$s" | cut -d: -f3)
		[ -e "$ROOT/f${sz}M" ] || head -c "$((sz * 1048576))" /dev/urandom >"$ROOT/f${sz}M"
	done
	chmod 644 "$ROOT"/*
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

# ---- main ------------------------------------------------------------------
install_peers
if [ ! -x "$LOAD" ] || [ ! -x "$TOP/build/pxed" ] || [ "$LOAD" -ot "$TOP/bench/tftp_load.c" ]; then
	log "building (make)"
	make -C "$TOP" -j2 >"$WORK/make.log" 2>&1 || { tail -20 "$WORK/make.log" >&2; exit 1; }
fi
make_files
setup_cgroup

# Keep only the servers that can run here.
avail=""
for srv in $SERVERS; do
	case "$srv" in
	atftpd) command -v atftpd >/dev/null || { log "atftpd missing: skipped"; continue; } ;;
	dnsmasq) command -v dnsmasq >/dev/null || { log "dnsmasq missing: skipped"; continue; } ;;
	tftpd-hpa) find_hpa; [ -n "$HPA" ] || { log "tftpd-hpa missing: skipped"; continue; } ;;
	pxed)
		if [ ! -d "$TOP/src/tftp" ] || ! ls "$TOP"/src/tftp/*.c >/dev/null 2>&1; then
			log "pxed skipped: this tree has no TFTP server (src/tftp/)"
			continue
		fi
		new_netns
		ok=0
		if start_server pxed "$ROOT"; then
			first=$(echo "$SCENARIOS" | awk '{print $1}' | cut -d: -f3)
			in_ns "$LOAD" -t 0.5 -r 3 -d 10 -V "$ROOT/f${first}M" \
				"127.0.0.1:$PORT" "f${first}M" >/dev/null 2>"$WORK/probe.err" && ok=1
		fi
		stop_server
		drop_netns "$NS"
		if [ $ok = 0 ]; then
			log "pxed skipped: build/pxed does not serve TFTP here ($(tail -1 "$WORK/probe.err" 2>/dev/null; tail -1 "$WORK/pxed.log" 2>/dev/null))"
			continue
		fi
		;;
	*) log "unknown server $srv: skipped"; continue ;;
	esac
	avail="$avail $srv"
done

RES=$WORK/results.tsv	# scenario server mbps failed total cpu_s cpu_per_gb
: >"$RES"
: >"$WORK/reasons.tsv"
for srv in $avail; do
	new_netns
	for sc in $SCENARIOS; do
		IFS=: read -r name clients size blk win <<<"$sc"
		: >"$WORK/runs"
		for run in $(seq "$RUNS"); do
			if ! start_server "$srv" "$ROOT"; then
				log "$srv did not start; see its log:"; tail -3 "$WORK/$srv.log" >&2
				echo "0 $clients $clients 0 0" >>"$WORK/runs"
				continue
			fi
			c0=$(cpu_ticks "$SRV")
			line=$(in_ns "$LOAD" -c "$clients" -b "$blk" -w "$win" -d "$DEADLINE" \
				-t "$TIMEOUT" -r "$RETRIES" \
				-V "$ROOT/f${size}M" "127.0.0.1:$PORT" "f${size}M" \
				2>>"$WORK/$srv.$name.err" || true)
			sleep 0.3	# let forked children finish and be reaped
			if kill -0 "$SRV" 2>/dev/null; then
				c1=$(cpu_ticks "$SRV")
			else
				log "$srv died during $name run $run"; c1=$c0
			fi
			stop_server
			mbps=$(echo "$line" | sed -n 's/.*mbps=\([0-9.]*\).*/\1/p')
			failed=$(echo "$line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
			bytes=$(echo "$line" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
			cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')
			echo "${mbps:-0} ${failed:-$clients} $clients $cpu ${bytes:-0}" >>"$WORK/runs"
			printf '  %-10s %-18s run %d: %s  cpu=%ss\n' "$srv" "$name" "$run" "${line:-no output}" "$cpu" >&2
		done
		m_mbps=$(awk '{print $1}' "$WORK/runs" | median)
		m_fail=$(awk '{print $2}' "$WORK/runs" | median)
		m_cpu=$(awk '{print $4}' "$WORK/runs" | median)
		m_cpg=$(awk '{ if ($5 > 0) print $4 / ($5 / 1e9); else print "inf" }' "$WORK/runs" | median)
 		if [ -s "$WORK/$srv.$name.err" ]; then
			sed -n 's/.*failed after [0-9]* bytes: //p; s/.*transfers not started.*/not started before the deadline/p' \
				"$WORK/$srv.$name.err" | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -5 |
				while read -r n why; do
					printf '%s\t%s\t%s\t%s\n' "$name" "$srv" "$n" "$why" >>"$WORK/reasons.tsv"
				done
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$srv" "$m_mbps" "$m_fail" "$clients" "$m_cpu" "$m_cpg" >>"$RES"
	done
	drop_netns "$NS"
done

# ---- table -----------------------------------------------------------------
peer_versions=$(for p in atftpd tftpd-hpa dnsmasq-base; do
	v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
	[ -z "$v" ] && [ "$p" = tftpd-hpa ] && [ -n "$HPA" ] && v="(Debian package unpacked, not installed: it conflicts with atftpd)"
	printf '%s %s; ' "$p" "${v:-absent}"
done)
{
	echo "# TFTP benchmark results"
	echo
	echo "Generated by \`bench/tftp_bench.sh$([ $QUICK = 1 ] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC'):"
	echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r), loopback inside one network namespace per server."
	echo "Medians of $RUNS run(s). Peers: ${peer_versions% }"
	echo "Clients retransmit after $TIMEOUT s without progress, at most $RETRIES times per packet."
	echo
	echo "These figures come from one shared, noisy machine: compare servers within"
	echo "one table, not across tables, and regenerate rather than quote them."
	echo
	echo "MB/s is 10^6 bytes of complete, verified transfers per second. Failed"
	echo "transfers (timeouts, error packets, size or content mismatch) are counted,"
	echo "not hidden. Server CPU is user+system time of the server and its children."
	echo "Ratios are pxed's: MB/s of pxed / MB/s of the peer, and CPU efficiency ="
	echo "peer CPU s per GB / pxed CPU s per GB (above 1: pxed does better)."
	echo
	echo "| scenario | server | MB/s | failed/total | server CPU s | CPU s per GB | pxed MB/s ratio | pxed CPU-efficiency ratio |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' '
	{ key[NR] = $1; srv[NR] = $2; mb[NR] = $3; fl[NR] = $4; tot[NR] = $5; cpu[NR] = $6; cpg[NR] = $7
	  if ($2 == "pxed") { pmb[$1] = $3; pcpg[$1] = $7; has[$1] = 1 } }
	END {
	  for (i = 1; i <= NR; i++) {
	    r1 = "-"; r2 = "-"
	    if (srv[i] != "pxed" && has[key[i]]) {
	      r1 = (mb[i] > 0) ? sprintf("%.2f", pmb[key[i]] / mb[i]) : "n/a"
	      r2 = (cpg[i] != "inf" && pcpg[key[i]] != "inf" && pcpg[key[i]] > 0) ? sprintf("%.2f", cpg[i] / pcpg[key[i]]) : "n/a"
	    }
	    c = (cpg[i] == "inf") ? "n/a" : sprintf("%.2f", cpg[i])
	    printf "| %s | %s | %.1f | %d/%d | %.2f | %s | %s | %s |\n", key[i], srv[i], mb[i], fl[i], tot[i], cpu[i], c, r1, r2
	  }
	}' "$RES"
	if [ -s "$WORK/reasons.tsv" ]; then
		echo
		echo "Failure reasons (all runs, numbers replaced by N):"
		echo
		echo "| scenario | server | count | reason |"
		echo "|---|---|---:|---|"
		awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$WORK/reasons.tsv"
	fi
	case " $avail " in
	*" pxed "*) ;;
	*) echo; echo "pxed was not measured: this tree's build/pxed does not serve TFTP." ;;
	esac
} >"$WORK/table.md"
cp "$WORK/table.md" "$OUT"
cat "$WORK/table.md"
log "written to $OUT"
