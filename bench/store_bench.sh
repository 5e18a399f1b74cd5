#!/bin/bash
# Decisions on SQLite against PostgreSQL at fleet scale (bench_decide:
# 100,000 devices, 1,000 collections, 10,000 deployments): uncached on one
# thread and on as many threads as the store serves at once, in DHCP
# batches of 32 and 64 (decide_batch()), cached, and
# the cross-server invalidation delay (a change through one handle until a
# second handle, as another server would, sees it).  PostgreSQL is a
# throw-away cluster on a Unix socket (tests/pg.sh), run as nobody, with
# every commit on disk as SQLite's.
#   bench/store_bench.sh [N] [OTHER_BENCH_DECIDE]
# N decisions per run (default 20000).  OTHER_BENCH_DECIDE: another
# build's bench_decide (e.g. of the commit before a change, built from
# this tree's bench/bench_decide.c): both are run on the same loaded
# databases, taking turns twice, for before/after figures of one run.
# Without it, after one full run on each store, ROUNDS (default 5) more
# runs of the DHCP batches alone take turns between the two stores, and
# the last lines compare uncached decisions per second as pxed makes
# them: batches of 64 on as many workers as pxed starts for the store
# (1 for SQLite, the connection pool for PostgreSQL); medians of the
# rounds, and PostgreSQL / SQLite.
# Results: bench/store_results.md.
set -eu
cd "$(dirname "$0")/.."
source tests/pg.sh
N=${1:-20000}
OTHER=${2:-}
ROUNDS=${ROUNDS:-5}
make -j2 build/bench/bench_decide >/dev/null
DIR=$(mktemp -u /tmp/pxed-pg.XXXXXX)
SQL=$(mktemp -d /tmp/pxed-bench.XXXXXX)
trap 'pg_stop "$DIR"; rm -rf "$SQL"' EXIT
pg_start "$DIR"
# tests/pg.sh turns durability off; pxed's SQLite syncs every commit
# (synchronous = FULL), so the cluster gets PostgreSQL's defaults back.
psql -qX -v ON_ERROR_STOP=1 "$PG_URL" -c "ALTER SYSTEM SET fsync = on" \
	-c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET full_page_writes = on" \
	-c "SELECT pg_reload_conf()" >/dev/null
psql -q "$PG_URL" -c "CREATE DATABASE bench"
PGB="postgresql:///bench?host=$DIR&user=postgres"
THIS=build/bench/bench_decide
export BENCH_KEEP=1
if [ -z "$OTHER" ]; then
	echo "== SQLite"
	"$THIS" "$SQL" "$N"
	echo "== PostgreSQL"
	"$THIS" "$PGB" "$N"
	# The batch figure (decisions/s) of one BENCH_ONLY=batch run: the
	# line of batches of 64 on the store's workers.
	batch_rate() { # URL
		BENCH_ONLY=batch "$THIS" "$1" "$N" | awk '
			/batches of 64/ { for (i = 1; i <= NF; i++) if ($i == "decisions/s;") r = $(i - 1) }
			END { print r }'
	}
	median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	sq="" pg=""
	for _ in $(seq "$ROUNDS"); do
		sq="$sq $(batch_rate "$SQL")"
		pg="$pg $(batch_rate "$PGB")"
	done
	msq=$(echo "$sq" | median)
	mpg=$(echo "$pg" | median)
	echo "== uncached decisions per second as pxed makes them (DHCP batches of 64 on the store's workers), $ROUNDS rounds taking turns"
	echo "SQLite (1 worker):     $sq  median $msq"
	echo "PostgreSQL (its pool): $pg  median $mpg"
	awk -v a="$mpg" -v b="$msq" 'BEGIN { printf "PostgreSQL / SQLite: %.2f\n", a / b }'
	exit 0
fi
for order in "$OTHER $THIS" "$THIS $OTHER"; do
	for b in $order; do
		echo "== SQLite ($b)"
		"$b" "$SQL" "$N"
	done
	for b in $order; do
		echo "== PostgreSQL ($b)"
		"$b" "$PGB" "$N"
	done
done
