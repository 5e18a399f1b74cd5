#!/bin/bash
# Decisions on SQLite against PostgreSQL at fleet scale (bench_decide:
# 100,000 devices, 1,000 collections, 10,000 deployments): uncached on one
# thread and on as many threads as the store serves at once, in DHCP
# batches of 32 and 64 (decide_batch()), cached, and
# the cross-server invalidation delay (a change through one handle until a
# second handle, as another server would, sees it).  PostgreSQL is a
# throw-away cluster on a Unix socket (tests/pg.sh), run as nobody.
#   bench/store_bench.sh [N] [OTHER_BENCH_DECIDE]
# N decisions per run (default 20000).  OTHER_BENCH_DECIDE: another
# build's bench_decide (e.g. of the commit before a change, built from
# this tree's bench/bench_decide.c): both are run on the same loaded
# databases, taking turns twice, for before/after figures of one run.
# Results: bench/store_results.md.
set -eu
cd "$(dirname "$0")/.."
source tests/pg.sh
N=${1:-20000}
OTHER=${2:-}
make -j2 build/bench/bench_decide >/dev/null
DIR=$(mktemp -u /tmp/pxed-pg.XXXXXX)
SQL=$(mktemp -d /tmp/pxed-bench.XXXXXX)
trap 'pg_stop "$DIR"; rm -rf "$SQL"' EXIT
pg_start "$DIR"
psql -q "$PG_URL" -c "CREATE DATABASE bench"
PGB="postgresql:///bench?host=$DIR&user=postgres"
THIS=build/bench/bench_decide
if [ -z "$OTHER" ]; then
	echo "== SQLite"
	"$THIS" "$SQL" "$N"
	echo "== PostgreSQL"
	"$THIS" "$PGB" "$N"
	exit 0
fi
export BENCH_KEEP=1
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
