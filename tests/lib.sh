# Shared helpers for integration and lab tests (bash).  A test script
# sources this, registers what it creates with `on_exit`, and exits 0 (pass),
# 1 (fail) or 77 (skip, with the reason on stderr).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# PXED_BIN=/path/to/pxed runs a test against another build (the ASan one).
PXED=${PXED_BIN:-$ROOT/build/pxed}
PXECTL=$ROOT/build/pxectl
FIXTURES=$ROOT/tests/fixtures

_exit_cmds=()
on_exit() { _exit_cmds+=("$*"); }
_run_exit() {
	local rc=$?
	local i
	for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${_exit_cmds[$i]}" >/dev/null 2>&1 || true; done
	exit $rc
}
trap _run_exit EXIT
trap 'exit 1' INT TERM

TMP=$(mktemp -d /tmp/pxed-test.XXXXXX)
on_exit "rm -rf '$TMP'"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
pass() { echo "ok: $*"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }
# assert_grep PATTERN FILE [WHAT]
assert_grep() { grep -qE -- "$1" "$2" || { echo "--- $2:" >&2; tail -n 30 "$2" >&2; fail "${3:-$2 lacks /$1/}"; }; }

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$1; shift
	local end=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

# netns_pair TAG SRV CLI: two network namespaces of this test (NS_S, the
# server's, and NS_C, the clients'), joined by a veth pair (IF_S, IF_C) with
# SRV and CLI (addresses with their prefix length, e.g. 10.78.0.1/24) on
# them, links up; both are removed when the test ends.  Skips the test when
# namespaces cannot be made.
netns_pair() {
	local tag=$1 srv=$2 cli=$3 ns
	NS_S=pxed-$tag-s-$$ NS_C=pxed-$tag-c-$$
	IF_S=${tag:0:4}s$$ IF_C=${tag:0:4}c$$
	ip netns add "$NS_S" || skip "cannot create network namespaces"
	on_exit "ip netns del $NS_S"
	ip netns add "$NS_C" || fail "cannot create namespace $NS_C"
	on_exit "ip netns del $NS_C"
	ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" ||
		fail "cannot create the veth pair"
	ip -n "$NS_S" addr add "$srv" dev "$IF_S"
	ip -n "$NS_C" addr add "$cli" dev "$IF_C"
	for ns in "$NS_S" "$NS_C"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_S" link set "$IF_S" up
	ip -n "$NS_C" link set "$IF_C" up
	wait_for 5 eval 'ip -n "$NS_S" link show "$IF_S" | grep -q "state UP" &&
		ip -n "$NS_C" link show "$IF_C" | grep -q "state UP"' || fail "veth link did not come up"
}

# free_port: a port number free on loopback for both TCP and UDP, below
# the kernel's ephemeral range so no client socket takes it meanwhile.
free_port() {
	python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", p))
            s.close()
        print(p)
        break
    except OSError:
        continue
PY
}

# free_ports N: N distinct ports, each free as free_port says.
free_ports() {
	local ports=() p
	while [ ${#ports[@]} -lt "$1" ]; do
		p=$(free_port)
		[[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
	done
	echo "${ports[*]}"
}

# loopback_sections: the [tftp], [http] and [store] sections of a pxed for
# tests on 127.0.0.1: content in $TMP/root, state and database in $TMP,
# TFTP on $TFTP_PORT, HTTP on $PORT.  Write [pxe] before it, [log] after.
loopback_sections() {
	cat <<SECTIONS

[tftp]
Root = $TMP/root
Port = $TFTP_PORT

[http]
Port = $PORT
Address = 127.0.0.1

[store]
StateDir = $TMP/state
URL = $(store_url)
SECTIONS
}

# ipxe_url MAC [ARCH [GUID]]: the script URL pxed gives iPXE for MAC in a
# scripted PXE boot server exchange (a DHCPREQUEST with user class iPXE to
# its PXEPort $PXE_PORT on 127.0.0.1), with the exchange's one-time token;
# prints nothing when pxed does not answer.  /boot.ipxe commits a hand-out
# only for such a URL.
ipxe_url() {
	python3 "$ROOT/tests/integration/dhcp_client.py" --unicast 127.0.0.1 --port "$PXE_PORT" \
		--source 127.0.0.1:0 --type request --ciaddr 127.0.0.1 --user-class iPXE \
		--mac "$1" ${2:+--arch "$2"} ${3:+--guid "$3"} --timeout 2 | sed -n 's/^file=//p'
}

# The store URL for a test's pxed: its own SQLite file, or with
# PXED_STORE=pg the PostgreSQL database started when this file was
# sourced (below).
store_url() {
	if [ "${PXED_STORE:-sqlite}" = pg ]; then
		echo "$PG_URL"
	else
		echo "sqlite:$TMP/pxed.db"
	fi
}

# start_postgres: a throw-away PostgreSQL cluster of this test's own
# (tests/pg.sh), stopped and removed on exit; exports PG_URL (a database
# "pxed" on it) and PG_DIR.  Skips when PostgreSQL is not installed.
start_postgres() {
	source "$ROOT/tests/pg.sh"
	pg_bin >/dev/null || skip "PostgreSQL server not installed"
	PG_DIR=$(mktemp -u /tmp/pxed-pg.XXXXXX)
	on_exit "source '$ROOT/tests/pg.sh'; pg_stop '$PG_DIR'"
	pg_start "$PG_DIR" || return 1
	psql -q "$PG_URL" -c "CREATE DATABASE pxed" || return 1
	PG_URL="postgresql:///pxed?host=$PG_DIR&user=postgres"
	export PG_URL PG_DIR
}

# use_pxed_api: point pxectl at the pxed on $PORT, with its API token.
use_pxed_api() {
	B=http://127.0.0.1:$PORT
	export PXED_SERVER=$B PXED_TOKEN_FILE=$API_TOKEN_FILE
}

# start_pxed CONF [NETNS]: run pxed in the background with CONF, log in
# $TMP/pxed.log, wait until /healthz answers on the [http] Port of CONF.
start_pxed() {
	local conf=$1 ns=${2:-}
	local port
	port=$(awk -F= '/^\[/{s=$0} s=="[http]" && $1~/^ *Port *$/{gsub(/ /,"",$2);print $2}' "$conf")
	local pre=()
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	"${pre[@]}" "$PXED" -c "$conf" >>"$TMP/pxed.log" 2>&1 &
	PXED_PID=$!
	on_exit "kill $PXED_PID; sleep 0.2; kill -9 $PXED_PID"
	wait_for 10 "${pre[@]}" curl -sf "http://127.0.0.1:${port:-8080}/healthz" ||
		{ cat "$TMP/pxed.log" >&2; fail "pxed did not start"; }
}

# The admin token pxed makes: beside the database; with the database on
# a server, in StateDir.
API_TOKEN_FILE=$TMP/api.token

# PXED_STORE=pg: the same test against PostgreSQL (the *_pg.sh scripts).
if [ "${PXED_STORE:-sqlite}" = pg ]; then
	start_postgres || fail "PostgreSQL did not start"
	API_TOKEN_FILE=$TMP/state/api.token
fi
