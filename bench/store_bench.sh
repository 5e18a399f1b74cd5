#!/bin/bash
# Decisions on SQLite against PostgreSQL at fleet scale (bench_decide:
# 100,000 devices, 1,000 collections, 10,000 deployments): uncached on one
# thread and on as many threads as the store serves at once, cached, and
# the cross-server invalidation delay (a change through one handle until a
# second handle, as another server would, sees it).  PostgreSQL is a
# throw-away cluster on a Unix socket (tests/pg.sh), run as nobody.
#   bench/store_bench.sh [N] [OTHER_BENCH_DECIDE]
# N decisions per run (default 20000); OTHER_BENCH_DECIDE: another
# build's build/bench/bench_decide (e.g. of the commit before a change),
# run the same way in the same run, for before/after figures.
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
run() { # LABEL BENCH_DECIDE DATABASE
	psql -q "$PG_URL" -c "CREATE DATABASE $3"
	echo "== SQLite ($1)"
	"$2" "$SQL" "$N"
	echo "== PostgreSQL ($1)"
	"$2" "postgresql:///$3?host=$DIR&user=postgres" "$N"
}
[ -z "$OTHER" ] || run "$OTHER" "$OTHER" bench_other
run "this tree" build/bench/bench_decide bench
