#!/bin/bash
# Decisions on SQLite against PostgreSQL at fleet scale (bench_decide:
# 100,000 devices, 1,000 collections, 10,000 deployments): uncached on one
# thread and on as many threads as the store serves at once, cached, and
# the cross-server invalidation delay (a change through one handle until a
# second handle, as another server would, sees it).  PostgreSQL is a
# throw-away cluster on a Unix socket (tests/pg.sh), run as nobody.
#   bench/store_bench.sh [N]     N decisions per run (default 20000)
# Results: bench/store_results.md.
set -eu
cd "$(dirname "$0")/.."
source tests/pg.sh
N=${1:-20000}
make -j2 build/bench/bench_decide >/dev/null
DIR=$(mktemp -u /tmp/pxed-pg.XXXXXX)
SQL=$(mktemp -d /tmp/pxed-bench.XXXXXX)
trap 'pg_stop "$DIR"; rm -rf "$SQL"' EXIT
pg_start "$DIR"
psql -q "$PG_URL" -c "CREATE DATABASE bench"
echo "== SQLite"
build/bench/bench_decide "$SQL" "$N"
echo "== PostgreSQL"
build/bench/bench_decide "postgresql:///bench?host=$DIR&user=postgres" "$N"
