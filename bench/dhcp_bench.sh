#!/bin/bash
# dhcp_bench.sh: pxed's ProxyDHCP against dnsmasq's, under a storm of
# PXE DISCOVERs.
#
#   bench/dhcp_bench.sh [--quick] [--runs N] [--devices N] [--outstanding LIST]
#                       [--servers LIST] [--out FILE] [--no-install] [--pxed BIN]
#                       [--compare BIN]
#
# Each server runs in a network namespace of its own, joined by a veth pair
# to a client namespace where build/bench/dhcp_load sends the DISCOVERs as
# PXE firmware does (broadcast from port 68, PXEClient vendor class, option
# 93 BIOS, SMBIOS GUID) and keeps a fixed number outstanding (1, 16 and
# 256): answered or lost (no OFFER in 2 s), the next one goes out.  The
# addresses (10.81.0.1 and 10.81.0.2) exist only inside those namespaces.
#
# Servers:
#   pxed-uncached  every request a machine pxed has not seen since it
#                  started, and which is in its database: --devices (100,000)
#                  devices are seeded into pxed's SQLite file, all members of
#                  one collection with a required deployment, so each answer
#                  is a full decision (MAC, GUID, collection, deployment,
#                  image) read from the database;
#   pxed-cached    the same 2,000 machines over and over, after one pass to
#                  warm pxed's decision cache;
#   pxed-pg-uncached, pxed-pg-cached
#                  the same two with pxed's database on PostgreSQL (not in
#                  the default list): a throw-away cluster on a Unix socket
#                  (tests/pg.sh, but with every commit on disk, as
#                  SQLite's), seeded with the rows of the SQLite seed;
#                  each run on a fresh database (CREATE DATABASE ...
#                  TEMPLATE), dropped after it;
#   dnsmasq        dnsmasq in ProxyDHCP mode (dhcp-range=...,proxy, one
#                  pxe-service), which decides nothing per machine.
# Both log a line per answer to a file (pxed at its default level info,
# dnsmasq with log-facility).  Each scenario runs --runs times (3; 1 with
# --quick) against a freshly started server (pxed on a fresh copy of the
# seeded database), the servers taking turns run by run so that a busy
# moment of a shared machine does not fall on one server only; the table
# shows medians of answers per second, p99 latency, lost requests and the
# server's CPU time per answer, and pxed/dnsmasq ratios; with the
# PostgreSQL servers also the cluster's CPU time per answer and the
# pxed-on-PostgreSQL/pxed-on-SQLite ratios.  Written as Markdown to
# bench/dhcp_results.md, or with a PostgreSQL server to
# bench/dhcp_pg_results.md (or --out).  PostgreSQL against SQLite:
#   bench/dhcp_bench.sh --servers "pxed-uncached pxed-pg-uncached \
#       pxed-cached pxed-pg-cached dnsmasq"
# --pxed runs another build of pxed; --compare BIN adds base-uncached and
# base-cached (and base-pg-* with the PostgreSQL servers): the same runs
# against BIN (an older build), for a before and after under the same
# conditions.
# Everything started here is stopped on exit, also on failure or ctrl-c.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
LOAD=$TOP/build/bench/dhcp_load
PXED=$TOP/build/pxed
BASE=""
OUT=""
ARGS=""	# the command line, for the results file
for a in "$@"; do
	case "$a" in *[[:space:]]*) ARGS="$ARGS \"$a\"" ;; *) ARGS="$ARGS $a" ;; esac
done
RUNS=3
QUICK=0
INSTALL=1
DEVICES=100000
OUTSTANDING="1 16 256"
SERVERS="pxed-uncached pxed-cached dnsmasq"
CACHED_KEYS=2000
SRV_IP=10.81.0.1
CLI_IP=10.81.0.2

usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

RUNS_SET=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--runs) RUNS=$2; RUNS_SET=1; shift ;;
	--devices) DEVICES=$2; shift ;;
	--outstanding) OUTSTANDING=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--pxed) PXED=$2; shift ;;
	--compare) BASE=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "dhcp_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ $QUICK = 1 ] && [ $RUNS_SET = 0 ] && RUNS=1
if [ -n "$BASE" ]; then
	[ -x "$BASE" ] || { echo "dhcp_bench: --compare $BASE: not an executable" >&2; exit 2; }
	case " $SERVERS " in *" base-"*) ;; *)
		SERVERS="$SERVERS base-uncached base-cached"
		case " $SERVERS " in *" pxed-pg-"*) SERVERS="$SERVERS base-pg-uncached base-pg-cached" ;; esac
	esac
fi
PG=0	# 1: some server keeps its database on PostgreSQL
case " $SERVERS " in *-pg-*) PG=1 ;; esac
# PostgreSQL runs have a results file of their own.
[ -n "$OUT" ] || { [ $PG = 1 ] && OUT=$HERE/dhcp_pg_results.md || OUT=$HERE/dhcp_results.md; }
# Requests per run for a given number outstanding: enough to last a few
# seconds at the rates seen here.
requests_for() {
	if [ $QUICK = 1 ]; then
		case "$1" in 1) echo 1000 ;; *) echo 5000 ;; esac
	else
		case "$1" in 1) echo 3000 ;; *) echo 20000 ;; esac
	fi
}

if [ "$(id -u)" != 0 ]; then
	echo "dhcp_bench: needs root (network namespaces, package installs)" >&2
	exit 2
fi

# ---- cleanup: everything we start is recorded and stopped ------------------
WORK=$(mktemp -d /tmp/pxed-dhcp-bench.XXXXXX)
NS_S=pxed-db-s-$$
NS_C=pxed-db-c-$$
SRV=""
# The PostgreSQL cluster lives outside WORK: it runs as nobody, who may
# not enter WORK (mode 0700).
PGDIR=""
cleanup() {
	# every step, whatever the one before it did
	set +e
	[ -n "$SRV" ] && { kill "$SRV" 2>/dev/null; sleep 0.2; kill -9 "$SRV" 2>/dev/null; }
	[ -n "$PGDIR" ] && pg_stop "$PGDIR"
	local ns p
	for ns in "$NS_S" "$NS_C"; do
		# whatever still runs in our namespaces goes with them
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$WORK"
	return 0
}
trap cleanup EXIT
# PIPE too: with the output piped into a pager that quits, the next
# write must still leave through the cleanup.
trap 'exit 130' INT TERM HUP PIPE

log() { echo "dhcp_bench: $*" >&2; }

# ---- peers -----------------------------------------------------------------
if ! command -v dnsmasq >/dev/null && [ $INSTALL = 1 ]; then
	log "installing dnsmasq-base"
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsmasq-base >"$WORK/apt.log" 2>&1 ||
		{ log "apt-get install failed"; tail -5 "$WORK/apt.log" >&2; }
fi
command -v python3 >/dev/null || { log "needs python3 (seeding the database)"; exit 2; }
NBP=/usr/lib/ipxe/undionly.kpxe
[ -r $NBP ] || { log "needs $NBP (Debian package ipxe)"; exit 2; }
if [ $PG = 1 ]; then
	source "$TOP/tests/pg.sh"
	if ! pg_bin >/dev/null && [ $INSTALL = 1 ]; then
		log "installing postgresql"
		apt-get update -qq >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >"$WORK/apt.log" 2>&1 ||
			{ log "apt-get install failed"; tail -5 "$WORK/apt.log" >&2; }
	fi
	{ pg_bin >/dev/null && command -v psql >/dev/null; } ||
		{ log "needs PostgreSQL for the pxed-pg-* servers (Debian package postgresql)"; exit 2; }
fi

if [ ! -x "$LOAD" ] || [ ! -x "$TOP/build/pxed" ] || [ "$LOAD" -ot "$TOP/bench/dhcp_load.c" ]; then
	log "building (make)"
	make -C "$TOP" -j2 >"$WORK/make.log" 2>&1 || { tail -20 "$WORK/make.log" >&2; exit 1; }
fi

# ---- namespaces --------------------------------------------------------------
ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add pdbs$$ netns "$NS_S" type veth peer name pdbc$$ netns "$NS_C"
IF_S=pdbs$$
IF_C=pdbc$$
ip -n "$NS_S" addr add $SRV_IP/24 dev "$IF_S"
ip -n "$NS_C" addr add $CLI_IP/24 dev "$IF_C"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up
for _ in $(seq 50); do
	ip -n "$NS_C" link show "$IF_C" | grep -q "state UP" && break
	sleep 0.1
done

# ---- pxed and its database ---------------------------------------------------
mkdir -p "$WORK/root"
# pxed refuses a StateDir other users can read (it holds the tokens).
mkdir -p -m 0750 "$WORK/state"
write_conf() { # FILE STATEDIR URL
	cat >"$1" <<EOF
[pxe]
IsActive = yes
SupportUnknownMachines = no
ResponseDelay = 0
CacheExpire = 3600
DHCPPort = 67
PXEPort = 4011

[tftp]
Root = $WORK/root
Port = 69

[http]
Port = 18080
Address = 127.0.0.1

[store]
StateDir = $2
URL = $3

[log]
Level = info
EOF
}
write_conf "$WORK/pxed.conf" "$WORK/state" "sqlite:$WORK/pxed.db"

# PostgreSQL: the same settings but the URL, and a StateDir of its own
# (there pxed keeps the API tokens); the database "run" is a fresh copy
# of "seeded" for each run.  pxed in the server namespace reaches the
# cluster by its Unix socket: the file system is the same in every
# network namespace.
if [ $PG = 1 ]; then
	PGDIR=$(mktemp -u /tmp/pxed-dhcp-pg.XXXXXX)
	log "starting a PostgreSQL cluster in $PGDIR"
	pg_start "$PGDIR" || exit 1
	# tests/pg.sh turns durability off; pxed's SQLite syncs every commit
	# (synchronous = FULL), so the cluster gets PostgreSQL's defaults back:
	# every commit on disk, as a real deployment database.
	psql -qX -v ON_ERROR_STOP=1 "$PG_URL" -c "ALTER SYSTEM SET fsync = on" \
		-c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET full_page_writes = on" \
		-c "SELECT pg_reload_conf()" >/dev/null || exit 1
	pg_url() { echo "postgresql:///$1?host=$PGDIR&user=postgres"; }
	mkdir -p -m 0750 "$WORK/state-pg"
	write_conf "$WORK/pxed-pg.conf" "$WORK/state-pg" "$(pg_url run)"
fi
psql_q() { psql -qX -v ON_ERROR_STOP=1 "$PG_URL" "$@" >>"$WORK/psql.log" 2>&1; }
PG_RUN=0	# 1: the database "run" exists

start_pxed() { # [BIN [sqlite|pg]]
	local conf=$WORK/pxed.conf log=$WORK/pxed.log
	if [ "${2:-sqlite}" = pg ]; then
		conf=$WORK/pxed-pg.conf
		log=$WORK/pxed-pg.log
		PG_RUN=1
		psql_q -c "DROP DATABASE IF EXISTS run WITH (FORCE)" -c "CREATE DATABASE run TEMPLATE seeded" ||
			{ log "cannot copy database seeded to run:"; tail -3 "$WORK/psql.log" >&2; return 1; }
	elif [ -s "$WORK/seeded.db" ]; then
		rm -f "$WORK/pxed.db-wal" "$WORK/pxed.db-shm"
		cp "$WORK/seeded.db" "$WORK/pxed.db"
	fi
	ip netns exec "$NS_S" "${1:-$PXED}" -c "$conf" >>"$log" 2>&1 &
	SRV=$!
	for _ in $(seq 100); do
		ip netns exec "$NS_S" curl -sf http://127.0.0.1:18080/healthz >/dev/null 2>&1 && return 0
		kill -0 "$SRV" 2>/dev/null || break
		sleep 0.1
	done
	log "pxed did not start:"; tail -5 "$log" >&2
	return 1
}
stop_server() {
	[ -n "$SRV" ] || return 0
	kill "$SRV" 2>/dev/null || true
	wait "$SRV" 2>/dev/null || true
	SRV=""
	if [ $PG_RUN = 1 ]; then
		psql_q -c "DROP DATABASE run WITH (FORCE)" || log "cannot drop database run (see $WORK/psql.log)"
		PG_RUN=0
	fi
}

# The devices dhcp_load's machines are (MAC 52:54 + machine number, GUID
# 8a3c9e1f-0000-4c1d-9a5e-0000 + machine number), all in collection
# 'bench' with the required deployment 'bench'.  pxed creates the schema
# at its first start; the rows go in with one transaction.
seed() {
	start_pxed || exit 1
	stop_server
	python3 - "$WORK/pxed.db" "$DEVICES" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
now = int(time.time())
def mac(m): return "52:54:%02x:%02x:%02x:%02x" % (m >> 24 & 255, m >> 16 & 255, m >> 8 & 255, m & 255)
def guid(m): return "8a3c9e1f-0000-4c1d-9a5e-0000%08x" % m
with db:
    db.executemany("INSERT INTO devices (name, mac, guid, created) VALUES (?, ?, ?, ?)",
                   (("bench-%d" % m, mac(m), guid(m), now) for m in range(n)))
    db.execute("INSERT INTO collections (name, created) VALUES ('bench', ?)", (now,))
    cid = db.execute("SELECT id FROM collections WHERE name = 'bench'").fetchone()[0]
    db.execute("INSERT INTO collection_members (collection_id, device_id) SELECT ?, id FROM devices", (cid,))
    db.execute("INSERT INTO images (name, kernel, initrd, cmdline, created) VALUES"
               " ('bench', 'bench/vmlinuz', 'bench/initrd', 'bench=1', ?)", (now,))
    iid = db.execute("SELECT id FROM images WHERE name = 'bench'").fetchone()[0]
    db.execute("INSERT INTO deployments (name, image_id, purpose, created, collection_id)"
               " VALUES ('bench', ?, 1, ?, ?)", (iid, now, cid))
    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
print(db.execute("SELECT COUNT(*) FROM devices").fetchone()[0])
db.close()
PY
	cp "$WORK/pxed.db" "$WORK/seeded.db"
}

# The SQLite seed copied into the database "seeded" on PostgreSQL, the
# template of every run's database: pxed creates the schema, the seed's
# rows go in with their ids by COPY (pxectl store copy would do, but it
# writes row by row through pxed's store: about 40 s for 100,000 devices
# here, where COPY takes seconds), and the planner's statistics are made
# (ANALYZE), which the copies inherit.
SEED_TABLES="images:id,name,kernel,initrd,cmdline,created
devices:id,name,mac,guid,created
collections:id,name,created
collection_members:collection_id,device_id
deployments:id,name,image_id,purpose,created,collection_id"
seed_pg() {
	local t n
	psql_q -c "CREATE DATABASE seeded" || { tail -3 "$WORK/psql.log" >&2; return 1; }
	write_conf "$WORK/pxed-seed.conf" "$WORK/state-pg" "$(pg_url seeded)"
	ip netns exec "$NS_S" "$PXED" -c "$WORK/pxed-seed.conf" >>"$WORK/pxed-pg.log" 2>&1 &
	SRV=$!
	for _ in $(seq 100); do
		ip netns exec "$NS_S" curl -sf http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break
		kill -0 "$SRV" 2>/dev/null || { log "pxed did not start:"; tail -5 "$WORK/pxed-pg.log" >&2; return 1; }
		sleep 0.1
	done
	stop_server
	python3 -c '
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for spec in sys.argv[3].split():
    table, cols = spec.split(":")
    with open("%s/%s.csv" % (sys.argv[2], table), "w", newline="") as f:
        csv.writer(f).writerows(db.execute("SELECT %s FROM %s" % (cols, table)))
' "$WORK/seeded.db" "$WORK" "$SEED_TABLES" || return 1
	{
		echo "BEGIN;"
		for t in $SEED_TABLES; do
			echo "\\copy ${t%%:*} (${t#*:}) FROM '$WORK/${t%%:*}.csv' WITH (FORMAT csv)"
			case "${t#*:}" in id,*)
				echo "SELECT setval(pg_get_serial_sequence('${t%%:*}', 'id'), max(id))" \
					"FROM ${t%%:*} HAVING count(*) > 0;" ;;
			esac
		done
		echo "UPDATE meta SET value = value + 1 WHERE key = 'generation';"
		echo "COMMIT;"
		echo "ANALYZE;"
	} | psql -qX -v ON_ERROR_STOP=1 "$(pg_url seeded)" >>"$WORK/psql.log" 2>&1 ||
		{ log "cannot copy the seed to PostgreSQL:"; tail -3 "$WORK/psql.log" >&2; return 1; }
	n=$(psql -qXtA "$(pg_url seeded)" -c "SELECT count(*) FROM collection_members") || n=0
	[ "$n" = "$DEVICES" ] || { log "PostgreSQL holds $n collection members, wanted $DEVICES"; return 1; }
}

# ---- dnsmasq -------------------------------------------------------------------
start_dnsmasq() {
	ip netns exec "$NS_S" dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
		--interface="$IF_S" --bind-interfaces --user=root --group=root --pid-file= \
		--dhcp-range=$SRV_IP,proxy --pxe-service=x86PC,"pxed bench",undionly \
		--log-facility="$WORK/dnsmasq.events" >>"$WORK/dnsmasq.log" 2>&1 &
	SRV=$!
	sleep 0.5
	kill -0 "$SRV" 2>/dev/null || { log "dnsmasq did not start:"; tail -5 "$WORK/dnsmasq.log" >&2; return 1; }
}

load() { # outstanding requests first keys
	ip netns exec "$NS_C" "$LOAD" -i "$IF_C" -o "$1" -n "$2" -s "$3" -k "$4" -d 60 2>>"$WORK/load.err" || true
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

# ---- main ----------------------------------------------------------------------
case " $SERVERS " in
*" pxed-"* | *" base-"*)
	log "seeding $DEVICES devices into pxed's database"
	seeded=$(seed)
	[ "$seeded" = "$DEVICES" ] || { log "seeded $seeded devices, wanted $DEVICES"; exit 1; }
	;;
esac
if [ $PG = 1 ]; then
	log "copying them to PostgreSQL"
	seed_pg || exit 1
fi

# server outstanding requests rate p99 lost cpu_us_per_answer
# pg_cpu_us_per_answer ("-" but for the PostgreSQL servers)
RES=$WORK/results.tsv
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
: >"$RES"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The PostgreSQL cluster's: the postmaster and its children (the backends
# serving pxed's connections, which live as long as pxed, and the
# background workers).
pg_ticks() {
	local pm p t=0
	[ -n "$PGDIR" ] && pm=$(head -1 "$PGDIR/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
	for p in $pm $(pgrep -P "$pm"); do t=$((t + $(cpu_ticks "$p"))); done
	echo $t
}
per_answer() { # ticks0 ticks1 answers: microseconds of CPU per answer
	awk -v a="$1" -v b="$2" -v hz="$HZ" -v n="$3" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print 0 }'
}
HZ=$(getconf CLK_TCK)
for o in $OUTSTANDING; do
	req=$(requests_for "$o")
	for srv in $SERVERS; do : >"$WORK/runs.$srv"; done
	for run in $(seq "$RUNS"); do
		for srv in $SERVERS; do
			bin=$PXED
			case "$srv" in base-*) bin=$BASE ;; esac
			store=sqlite
			case "$srv" in *-pg-*) store=pg ;; esac
			case "$srv" in
			pxed-uncached|base-uncached|pxed-pg-uncached|base-pg-uncached)
				start_pxed "$bin" $store || exit 1
				c0=$(cpu_ticks "$SRV"); g0=$(pg_ticks)
				# machines pxed has not seen: a fresh range each run
				line=$(load "$o" "$req" $(( (run - 1) * req % (DEVICES - req + 1) )) 0) ;;
			pxed-cached|base-cached|pxed-pg-cached|base-pg-cached)
				start_pxed "$bin" $store || exit 1
				load 64 "$CACHED_KEYS" 0 "$CACHED_KEYS" >/dev/null
				c0=$(cpu_ticks "$SRV"); g0=$(pg_ticks)
				line=$(load "$o" "$req" 0 "$CACHED_KEYS") ;;
			dnsmasq)
				command -v dnsmasq >/dev/null || { log "no dnsmasq: skipped"; continue; }
				start_dnsmasq || exit 1
				c0=$(cpu_ticks "$SRV"); g0=$(pg_ticks)
				line=$(load "$o" "$req" 0 0) ;;
			*) log "unknown server $srv"; exit 2 ;;
			esac
			c1=$(cpu_ticks "$SRV"); g1=$(pg_ticks)
			kill -0 "$SRV" 2>/dev/null || log "$srv died during its run"
			stop_server
			if [ "$run" = 1 ] && ! echo "$line" | grep -q 'answered=[1-9]'; then
				log "$srv answered nothing (${line:-no output}); see its log:"
				case "$srv" in dnsmasq) tail -3 "$WORK/dnsmasq.log" ;; *-pg-*) tail -3 "$WORK/pxed-pg.log" ;;
				*) tail -3 "$WORK/pxed.log" ;; esac >&2
				exit 1
			fi
			rate=$(echo "$line" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
			p99=$(echo "$line" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
			lost=$(echo "$line" | sed -n 's/.*lost=\([0-9]*\).*/\1/p')
			ans=$(echo "$line" | sed -n 's/.*answered=\([0-9]*\).*/\1/p')
			cpu=$(per_answer "$c0" "$c1" "${ans:-0}")
			dbcpu=-
			[ $store = pg ] && dbcpu=$(per_answer "$g0" "$g1" "${ans:-0}")
			echo "${rate:-0} ${p99:-0} ${lost:-$req} $cpu $dbcpu" >>"$WORK/runs.$srv"
			printf '  %-16s %3s outstanding run %d: %s cpu_us=%s%s\n' "$srv" "$o" "$run" "${line:-no output}" \
				"$cpu" "$([ $store = pg ] && echo " pg_cpu_us=$dbcpu")" >&2
		done
	done
	for srv in $SERVERS; do
		[ -s "$WORK/runs.$srv" ] || continue
		dbcpu=-
		case "$srv" in *-pg-*) dbcpu=$(awk '{print $5}' "$WORK/runs.$srv" | median) ;; esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$o" "$req" \
			"$(awk '{print $1}' "$WORK/runs.$srv" | median)" \
			"$(awk '{print $2}' "$WORK/runs.$srv" | median)" \
			"$(awk '{print $3}' "$WORK/runs.$srv" | median)" \
			"$(awk '{print $4}' "$WORK/runs.$srv" | median)" "$dbcpu" >>"$RES"
	done
done

# pxed's complaints during the runs (a database error, a dropped event):
# counted in the table, the first few shown here.
complaints() { # LOG
	[ -s "$1" ] || { echo 0; return; }
	grep -E '^[^ ]+ (error|warn) ' "$1" | sed 's/^/    /' | head -5 >&2 || true
	grep -cE '^[^ ]+ (error|warn) ' "$1" || true
}
BAD=$(complaints "$WORK/pxed.log")
BAD_PG=$(complaints "$WORK/pxed-pg.log")
[ "$BAD$BAD_PG" = 00 ] || log "pxed logged $BAD error/warn lines on SQLite, $BAD_PG on PostgreSQL (first above)"

# ---- table ---------------------------------------------------------------------
{
	echo "# ProxyDHCP benchmark results"
	echo
	echo "Generated by \`bench/dhcp_bench.sh$ARGS\` on $(date -u '+%Y-%m-%d %H:%M UTC'):"
	echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r);"
	echo "load average (1 min) $LOAD0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end;"
	echo "server and load in two network namespaces joined by a veth pair."
	echo "pxed $(git -C "$(dirname "$PXED")" describe --always --dirty 2>/dev/null || echo '?'), $DEVICES devices in its database;"
	if [ $PG = 1 ]; then
		echo "pxed-pg-*: the database on PostgreSQL $("$(pg_bin)/postgres" --version | awk '{print $3}')"
		echo "(a cluster on the same machine and file system, reached by its Unix"
		echo "socket; fsync $(psql -qXtA "$PG_URL" -c "SHOW fsync"), synchronous_commit $(psql -qXtA "$PG_URL" -c "SHOW synchronous_commit"),"
		echo "as SQLite's synchronous = FULL), the others on SQLite;"
	fi
	echo "dnsmasq $(dpkg-query -W -f='${Version}' dnsmasq-base 2>/dev/null || echo '?') in proxy mode."
	echo "Medians of $RUNS run(s), each against a freshly started server."
	echo "pxed logged $BAD error or warning lines on SQLite$([ $PG = 1 ] && echo ", $BAD_PG on PostgreSQL")."
	echo
	echo "Answers/s count OFFERs from the first DISCOVER to the last OFFER; p99 is"
	echo "the 99th percentile of DISCOVER-to-OFFER time; lost = DISCOVERs with no"
	echo "OFFER within 2 s; server CPU is its user+system time during the run"
	echo "divided by the answers (all of pxed's threads).  Ratio = answers/s /"
	echo "dnsmasq's (above 1: faster than dnsmasq).  One shared, noisy machine:"
	echo "compare within this table, not across tables."
	if [ $PG = 1 ]; then
		echo "PostgreSQL CPU is the cluster's user+system time (postmaster, the"
		echo "backends serving pxed, background workers) during the run divided by"
		echo "the answers, in addition to pxed's; ratio to SQLite = a pxed-pg-*"
		echo "server's answers/s / those of the same server on SQLite (pxed-pg-cached"
		echo "/ pxed-cached) at the same number outstanding (above 1: faster on"
		echo "PostgreSQL)."
	fi
	if [ -n "$BASE" ]; then
		echo "base-* = the same runs against pxed $(git -C "$(dirname "$BASE")" describe --always --dirty 2>/dev/null || echo "$BASE")."
	fi
	echo
	if [ $PG = 1 ]; then
		echo "| outstanding | server | requests | answers/s | p99 ms | lost | server CPU us/answer | PostgreSQL CPU us/answer | answers/s ratio to dnsmasq | answers/s ratio to SQLite |"
		echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	else
		echo "| outstanding | server | requests | answers/s | p99 ms | lost | server CPU us/answer | answers/s ratio to dnsmasq |"
		echo "|---:|---|---:|---:|---:|---:|---:|---:|"
	fi
	awk -F'\t' -v pg=$PG '
	{ s[NR] = $1; o[NR] = $2; n[NR] = $3; r[NR] = $4; p[NR] = $5; l[NR] = $6; c[NR] = $7; g[NR] = $8
	  if ($1 == "dnsmasq") d[$2] = $4
	  rate[$1 " " $2] = $4 }
	END {
	  for (i = 1; i <= NR; i++) {
	    ratio = "-"
	    if (s[i] != "dnsmasq" && (o[i] in d) && d[o[i]] > 0) ratio = sprintf("%.2f", r[i] / d[o[i]])
	    printf "| %d | %s | %d | %.0f | %.2f | %d | %.1f |", o[i], s[i], n[i], r[i], p[i], l[i], c[i]
	    if (pg) {
	      # pxed-pg-cached against pxed-cached, base-pg-* against base-*
	      sq = s[i]; sub(/-pg-/, "-", sq)
	      toq = "-"
	      if (sq != s[i] && ((sq " " o[i]) in rate) && rate[sq " " o[i]] > 0)
	        toq = sprintf("%.2f", r[i] / rate[sq " " o[i]])
	      printf " %s | %s | %s |", (g[i] == "-" ? "-" : sprintf("%.1f", g[i])), ratio, toq
	    } else
	      printf " %s |", ratio
	    printf "\n"
	  }
	}' "$RES"
} >"$WORK/table.md"
cp "$WORK/table.md" "$OUT"
cat "$WORK/table.md"
log "written to $OUT"
