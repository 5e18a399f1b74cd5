#!/bin/bash
# Build pxed and run the whole test suite: unit tests (also under
# ASan/UBSan), integration tests against the real daemon with real clients,
# and lab tests booting real firmware in QEMU (those need root).
# Ends with the line "N passed, N failed".
#   scripts/test.sh              everything
#   scripts/test.sh unit         only the unit tests
#   scripts/test.sh lab          only the lab scripts (LAB_JOBS at a time)
#   scripts/test.sh tests/lab/boot_bios.sh ...   only these scripts
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/deps.sh --test || exit 1

passed=0 failed=0 skipped=0
failures=()
count_cmocka() { # LOG NAME: add a cmocka binary's results
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	passed=$((passed + ${p:-0}))
	if [ "${f:-0}" -gt 0 ] || [ -z "$p$f" ]; then
		failed=$((failed + ${f:-1}))
		failures+=("$2")
	fi
}

run_unit() { # BUILD_DIR LABEL MAKEFLAGS...
	local build=$1 label=$2
	shift 2
	make -j2 BUILD="$build" WERROR=1 "$@" $(ls tests/unit/test_*.c | sed "s|tests/unit/\(.*\)\.c|$build/tests/\1|") >"$build.make.log" 2>&1 ||
		{ cat "$build.make.log"; failed=$((failed + 1)); failures+=("build tests $label"); return 1; }
	for t in "$build"/tests/test_*; do
		case $t in *.d | *.log) continue ;; esac
		local log="$build/$(basename "$t").log"
		echo "== unit ($label): $(basename "$t")"
		ASAN_OPTIONS=detect_leaks=1 "$t" >"$log" 2>&1
		grep -E '^\[ *(OK|FAILED|PASSED|ERROR) *\]' "$log" | grep -v '^\[       OK' | sed 's/^/   /'
		grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" && { failed=$((failed + 1)); failures+=("sanitizer $t"); }
		count_cmocka "$log" "$label $(basename "$t")"
	done
	run_unit_pg "$build" "$label"
}

# The store conformance suite (and the decision and variable tests over it) once more,
# against PostgreSQL: a throw-away cluster of our own, gone afterwards.
run_unit_pg() { # BUILD_DIR LABEL
	local build=$1 label=$2 dir t log
	dir=$(mktemp -u /tmp/pxed-pg.XXXXXX)
	if ! (source tests/pg.sh && pg_start "$dir") >"$build/pg-cluster.log" 2>&1; then
		cat "$build/pg-cluster.log"; rm -rf "$dir"
		failed=$((failed + 1)); failures+=("start PostgreSQL for $label"); return 1
	fi
	# Stopped and removed however the run ends (an interrupt, a timeout).
	PG_DIRS+=("$dir")
	for t in test_store test_decide test_machine_vars; do
		log="$build/$t.pg.log"
		echo "== unit ($label, PostgreSQL): $t"
		PXED_TEST_STORE_URL="postgresql:///postgres?host=$dir&user=postgres" \
			ASAN_OPTIONS=detect_leaks=1 "$build/tests/$t" >"$log" 2>&1
		grep -E '^\[ *(OK|FAILED|PASSED|ERROR) *\]' "$log" | grep -v '^\[       OK' | sed 's/^/   /'
		grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" && { failed=$((failed + 1)); failures+=("sanitizer $t (PostgreSQL)"); }
		count_cmocka "$log" "$label $t (PostgreSQL)"
	done
	(source tests/pg.sh && pg_stop "$dir")
	PG_DIRS=("${PG_DIRS[@]/$dir}")
}
PG_DIRS=()
pg_cleanup() {
	local d
	for d in "${PG_DIRS[@]}"; do
		[ -n "$d" ] && [ -d "$d" ] && (source tests/pg.sh && pg_stop "$d") >/dev/null 2>&1
	done
}
trap pg_cleanup EXIT
trap 'exit 130' INT TERM

run_script() { # SCRIPT
	local s=$1 log rc start
	log="build/test-logs/$(echo "$s" | tr / _).log"
	mkdir -p build/test-logs
	start=$SECONDS
	timeout 900 bash "$s" >"$log" 2>&1
	rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "PASS $s ($((SECONDS - start)) s)" ;;
	77) skipped=$((skipped + 1)); echo "SKIP $s: $(grep -m1 SKIP "$log")" ;;
	*) failed=$((failed + 1)); failures+=("$s"); echo "FAIL $s (rc $rc, $((SECONDS - start)) s); last lines of $log:"; tail -n 40 "$log" | sed 's/^/   | /' ;;
	esac
}

# Lab scripts boot QEMU VMs under TCG, each VM busy on about one core, and
# spend most of their time waiting on firmware: LAB_JOBS of them (default:
# one per core) run side by side, the longest first (the "# lab-seconds: N"
# line of each script says about how long it takes alone).  Each script has
# namespaces, taps and ports of its own, and the shared assets under
# build/lab are built under a lock, so they do not see each other.
run_lab() { # SCRIPT...
	local jobs=${LAB_JOBS:-$(nproc)} s n res order=()
	[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
	[ "$jobs" -gt 1 ] && export LAB_TIME_SCALE=${LAB_TIME_SCALE:-2}
	mkdir -p build/test-logs
	while read -r n s; do order+=("$s"); done < <(for s in "$@"; do
		n=$(sed -n 's/^# lab-seconds: *\([0-9]*\).*/\1/p' "$s" | head -1)
		echo "${n:-60} $s"
	done | sort -rn)
	for s in "${order[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		res="build/test-logs/$(echo "$s" | tr / _).result"
		# One write per script, so two results never interleave.
		(run_script "$s" >"$res"; cat "$res") &
	done
	wait
	for s in "${order[@]}"; do
		res="build/test-logs/$(echo "$s" | tr / _).result"
		case $(head -c 4 "$res" 2>/dev/null) in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)); failures+=("$s") ;;
		esac
	done
}

run_fuzz() { # a short libFuzzer run per harness: a crash or sanitizer report fails
	if ! make -j2 fuzz >build/fuzz.make.log 2>&1; then
		cat build/fuzz.make.log
		failed=$((failed + 1)); failures+=("fuzz build")
		return
	fi
	mkdir -p build/test-logs
	for f in build/fuzz/fuzz_*; do
		local log="build/test-logs/$(basename "$f").log"
		if "$f" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=1024 >"$log" 2>&1; then
			passed=$((passed + 1)); echo "PASS fuzz $(basename "$f") ($(grep -o 'Done [0-9]* runs' "$log"))"
		else
			failed=$((failed + 1)); failures+=("fuzz $(basename "$f")")
			echo "FAIL fuzz $(basename "$f"):"; tail -n 30 "$log" | sed 's/^/   | /'
		fi
	done
}

what=${1:-all}
if [ "$what" = all ] || [ "$what" = unit ]; then
	if bash scripts/check_layers.sh; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); failures+=("module layers (scripts/check_layers.sh)")
	fi
	run_unit build release
	run_unit build-asan asan SANITIZE=1
	run_fuzz
fi
if [ "$what" = all ]; then
	make -j2 WERROR=1 all >/dev/null || { echo "FAIL: build"; exit 1; }
	for s in tests/integration/*.sh; do
		[ -f "$s" ] && run_script "$s"
	done
	run_lab $(ls tests/lab/*.sh | grep -v /lablib.sh)
elif [ "$what" != unit ]; then
	make -j2 WERROR=1 all >/dev/null || { echo "FAIL: build"; exit 1; }
	for s in "$@"; do
		case $s in
		lab) run_lab $(ls tests/lab/*.sh | grep -v /lablib.sh) ;;
		*) run_script "$s" ;;
		esac
	done
fi

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
