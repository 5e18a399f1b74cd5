#!/bin/bash
# pxectl and the HTTP API end to end against a running pxed: images,
# devices, deployments, lists, error shapes and exit codes, files with
# Range (RFC 9110 §14), hostile paths, and /boot.ipxe before and after the
# hand-out of a required deployment.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
command -v curl >/dev/null || skip "needs curl"

read -r PORT PXE_PORT <<<"$(free_ports 2)"
ROOT_DIR=$TMP/root
mkdir -p "$ROOT_DIR/deb" "$ROOT_DIR/dir"
head -c 300000 /dev/urandom >"$ROOT_DIR/deb/linux"
head -c 4096 /dev/urandom >"$ROOT_DIR/deb/initrd.gz"
: >"$ROOT_DIR/empty"
ln -s /etc/passwd "$ROOT_DIR/escape"
SIZE=300000

cat >"$TMP/pxed.conf" <<CONF
[pxe]
DHCPPort = $(free_port)
PXEPort = $PXE_PORT

[tftp]
Root = $ROOT_DIR
Port = $(free_port)

[http]
Port = $PORT
Address = 127.0.0.1

[store]
StateDir = $TMP/state
URL = sqlite:$TMP/pxed.db

[log]
Level = debug
CONF

start_pxed "$TMP/pxed.conf"
B=http://127.0.0.1:$PORT
export PXED_SERVER=$B
# The API token pxed made at first start, beside the database.
export PXED_TOKEN_FILE=$TMP/api.token
[ -f "$PXED_TOKEN_FILE" ] || fail "no API token file beside the database"
AUTH="Authorization: Bearer $(cat "$PXED_TOKEN_FILE")"
OUT=$TMP/out
ERR=$TMP/err

# ctl EXPECTED_RC ARGS...: run pxectl, check its exit code.
ctl() {
	local want=$1; shift
	local rc=0
	"$PXECTL" "$@" >"$OUT" 2>"$ERR" || rc=$?
	[ "$rc" = "$want" ] || { cat "$OUT" "$ERR" >&2; fail "pxectl $*: exit $rc, expected $want"; }
}
# http_code ARGS...: curl's status code, body in $OUT, headers in $TMP/hdr.
http_code() { curl -s -o "$OUT" -D "$TMP/hdr" -w '%{http_code}' -H "$AUTH" "$@"; }

# ---- pxectl: add, list -----------------------------------------------------
ctl 0 image add deb --kernel deb/linux --initrd deb/initrd.gz --cmdline "auto=true priority=critical"
assert_grep "image 'deb' added" "$OUT"
ctl 0 image add chain --nbp deb/linux
ctl 0 device add lab-01 --mac 52:54:00:12:34:56 --guid 8a3c1f2e-0000-4000-8000-525400123456
ctl 0 device add lab-02 --mac 52-54-00-12-34-57
ctl 0 deploy d1 --image deb --device lab-01 --required
ctl 0 deploy d2 --image deb --device lab-02 --available
pass "pxectl adds image, device, deployment"

ctl 0 device list
assert_grep '^NAME +MAC +GUID' "$OUT"
assert_grep '^lab-01 +52:54:00:12:34:56 +8a3c1f2e-0000-4000-8000-525400123456' "$OUT"
assert_grep '^lab-02 +52:54:00:12:34:57' "$OUT"
ctl 0 image list
assert_grep '^deb +deb/linux +deb/initrd.gz' "$OUT"
ctl 0 deployment list
assert_grep "^d1 +deb +device:lab-01 +required" "$OUT"
assert_grep "^d2 +deb +device:lab-02 +available" "$OUT"
ctl 0 --json device list
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["name"] for x in d]==["lab-01","lab-02"], d' "$OUT" ||
	fail "--json device list is not the device array"
ctl 0 status
assert_grep '^devices +: 2' "$OUT"
pass "pxectl lists as tables and JSON"

# ---- pxectl: errors and exit codes -----------------------------------------
ctl 1 device add lab-01 --mac 52:54:00:00:00:01
assert_grep "^pxectl: .*lab-01.*(already exists|exists)" "$ERR"
ctl 1 image add deb --kernel deb/linux
assert_grep "^pxectl: .*deb" "$ERR"
ctl 1 device add lab-03 --mac 52:54:00:12:34
assert_grep "not a MAC address" "$ERR"
ctl 1 device add lab-03 --mac 52:54:00:12:34:99 --guid not-a-guid
assert_grep "not an SMBIOS GUID" "$ERR"
ctl 1 deploy d3 --image nope --device lab-01 --required
assert_grep "^pxectl: image 'nope' does not exist" "$ERR"
ctl 2 deploy d3 --image deb --device lab-01
ctl 2 device add lab-03
ctl 2 frobnicate
ctl 0 --help
ctl 0 deploy --help
assert_grep "usage: pxectl deploy" "$OUT"
ctl 1 --server http://127.0.0.1:1 status
assert_grep "cannot reach pxed" "$ERR"
pass "pxectl errors: duplicates, bad MAC/GUID, unknown image exit 1; usage exit 2"

# ---- API error shape -------------------------------------------------------
err_shape() { # STATUS CODE
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d)=={"error","detail"} and d["error"]==sys.argv[2] and d["detail"], d' "$OUT" "$1" ||
		fail "error body is not {error: $1, detail}: $(cat "$OUT")"
}
assert_eq "bad JSON" 400 "$(http_code -X POST -d '{"name": "x",' "$B/api/v1/devices")"
err_shape invalid_json
assert_eq "not an object" 400 "$(http_code -X POST -d '[1]' "$B/api/v1/devices")"
err_shape invalid_json
assert_eq "missing field" 400 "$(http_code -X POST -d '{"name":"x"}' "$B/api/v1/devices")"
err_shape missing_field
grep -q "'mac'" "$OUT" || fail "missing-field error does not name the field: $(cat "$OUT")"
assert_eq "bad name" 400 "$(http_code -X POST -d '{"name":"a b","mac":"52:54:00:00:00:09"}' "$B/api/v1/devices")"
err_shape invalid_field
assert_eq "bad path" 400 "$(http_code -X POST -d '{"name":"x","kernel":"../etc/shadow"}' "$B/api/v1/images")"
err_shape invalid_field
assert_eq "cmdline injection" 400 "$(http_code -X POST -d '{"name":"x","kernel":"k","cmdline":"a\nshell"}' "$B/api/v1/images")"
err_shape invalid_field
assert_eq "unknown field" 400 "$(http_code -X POST -d '{"name":"x","mac":"52:54:00:00:00:09","colour":1}' "$B/api/v1/devices")"
err_shape unknown_field
assert_eq "duplicate" 409 "$(http_code -X POST -d '{"name":"lab-01","mac":"52:54:00:00:00:09"}' "$B/api/v1/devices")"
err_shape exists
assert_eq "unknown device" 404 "$(http_code -X POST -d '{"name":"d9","image":"deb","device":"ghost","purpose":"required"}' "$B/api/v1/deployments")"
err_shape not_found
assert_eq "bad purpose" 400 "$(http_code -X POST -d '{"name":"d9","image":"deb","device":"lab-01","purpose":"maybe"}' "$B/api/v1/deployments")"
err_shape invalid_field
assert_eq "wrong method" 405 "$(http_code -X DELETE "$B/api/v1/devices")"
err_shape method_not_allowed
assert_eq "unknown endpoint" 404 "$(http_code "$B/api/v1/nothing")"
err_shape not_found
head -c 2000000 /dev/zero >"$TMP/big"
assert_eq "too large" 413 "$(http_code -X POST --data-binary @"$TMP/big" "$B/api/v1/devices")"
err_shape too_large
assert_eq "bad limit" 400 "$(http_code "$B/api/v1/events?limit=0")"
err_shape invalid_field
pass "API errors: 400/404/405/409/413 in one JSON shape"

# ---- files, Range, HEAD ----------------------------------------------------
assert_eq "GET file" 200 "$(http_code "$B/files/deb/linux")"
cmp -s "$OUT" "$ROOT_DIR/deb/linux" || fail "GET /files/deb/linux differs from the file"
assert_grep "^Accept-Ranges: bytes" "$TMP/hdr"
assert_grep "^Last-Modified: [A-Z][a-z][a-z], [0-9]{2} [A-Z][a-z][a-z] [0-9]{4} [0-9:]{8} GMT" "$TMP/hdr"
assert_grep "^Content-Length: $SIZE" "$TMP/hdr"

range_check() { # RANGE SKIP COUNT
	assert_eq "Range $1" 206 "$(http_code -H "Range: bytes=$1" "$B/files/deb/linux")"
	dd if="$ROOT_DIR/deb/linux" of="$TMP/want" bs=1 skip="$2" count="$3" status=none
	cmp -s "$OUT" "$TMP/want" || fail "Range $1: bytes differ from dd skip=$2 count=$3"
	assert_grep "^Content-Range: bytes $2-$(($2 + $3 - 1))/$SIZE" "$TMP/hdr"
	assert_grep "^Content-Length: $3" "$TMP/hdr"
}
range_check 0-499 0 500
range_check 1000-1999 1000 1000
range_check 299500- 299500 500
range_check -700 299300 700
range_check 299990-999999 299990 10
assert_eq "Range unsatisfiable" 416 "$(http_code -H "Range: bytes=$SIZE-" "$B/files/deb/linux")"
assert_grep "^Content-Range: bytes \*/$SIZE" "$TMP/hdr"
assert_eq "Range -0" 416 "$(http_code -H "Range: bytes=-0" "$B/files/deb/linux")"
assert_eq "two ranges: whole file" 200 "$(http_code -H "Range: bytes=0-9,20-29" "$B/files/deb/linux")"
cmp -s "$OUT" "$ROOT_DIR/deb/linux" || fail "multi-range answer is not the whole file"
assert_eq "bad Range ignored" 200 "$(http_code -H "Range: bytes=9-1" "$B/files/deb/linux")"
assert_eq "stale If-Range" 200 "$(http_code -H "Range: bytes=0-9" -H "If-Range: Mon, 01 Jan 2001 00:00:00 GMT" "$B/files/deb/linux")"
assert_eq "empty file" 200 "$(http_code "$B/files/empty")"
assert_eq "HEAD" 200 "$(curl -s -o "$OUT" -D "$TMP/hdr" -w '%{http_code}' -I "$B/files/deb/linux")"
assert_grep "^Content-Length: $SIZE" "$TMP/hdr"
assert_grep "^Accept-Ranges: bytes" "$TMP/hdr"
pass "files: full, 206 ranges match dd, 416, multi-range 200, HEAD"

for p in escape ../etc/passwd %2e%2e/etc/passwd deb/%2e%2e/%2e%2e/etc/passwd deb%5c..%5clinux; do
	assert_eq "hostile $p" 403 "$(http_code --path-as-is "$B/files/$p")"
done
assert_eq "NUL" 400 "$(http_code "$B/files/deb/linux%00.txt")"
assert_eq "missing" 404 "$(http_code "$B/files/nope")"
assert_eq "directory" 404 "$(http_code "$B/files/dir")"
pass "files: symlink out, .., encoded .., backslash 403; NUL 400; missing 404"

# ---- /boot.ipxe ------------------------------------------------------------
assert_eq "boot.ipxe bad mac" 400 "$(http_code "$B/boot.ipxe?mac=zz")"
assert_eq "boot.ipxe no mac" 400 "$(http_code "$B/boot.ipxe")"
assert_eq "boot.ipxe bad guid" 400 "$(http_code "$B/boot.ipxe?mac=52:54:00:12:34:56&guid=x")"
# The script URL pxed gives iPXE over DHCP carries the exchange's token;
# only a fetch with it hands out (boot_token.sh checks the refusals).
U=$(ipxe_url 52:54:00:12:34:56 7 8a3c1f2e-0000-4000-8000-525400123456)
[ -n "$U" ] || fail "no iPXE answer for lab-01"
assert_eq "boot.ipxe lab-01" 200 "$(http_code "$U")"
assert_eq "script starts with #!ipxe" "#!ipxe" "$(head -n1 "$OUT")"
assert_grep "^kernel http://127.0.0.1:$PORT/files/deb/linux initrd=initrd.gz auto=true priority=critical pxed.report=http://127.0.0.1:$PORT/api/v1/report\?token=[0-9a-f]{32}$" "$OUT"
assert_grep "^initrd http://127.0.0.1:$PORT/files/deb/initrd.gz$" "$OUT"
assert_grep "^boot$" "$OUT"
assert_eq "boot.ipxe after hand-out" 200 "$(http_code "$(ipxe_url 52:54:00:12:34:56)")"
grep -q '^kernel' "$OUT" && fail "required deployment handed out twice: $(cat "$OUT")"
assert_grep "^exit 1$" "$OUT"
U=$(ipxe_url 52:54:00:12:34:57 7)
T=${U##*t=}
assert_eq "boot.ipxe available" 200 "$(http_code "$U")"
AV="http://127.0.0.1:$PORT/boot.ipxe\?mac=52:54:00:12:34:57&t=$T"
assert_grep "^prompt --key 0x0d --timeout [0-9]+ .* && goto deploy \|\| goto local$" "$OUT"
assert_grep "^chain $AV&choice=deploy \|\| goto local$" "$OUT"
assert_grep "^chain $AV&choice=local \|\| exit 1$" "$OUT"
grep -q '^kernel' "$OUT" && fail "available deployment's prompt holds the image: $(cat "$OUT")"
assert_eq "boot.ipxe Host header" 200 "$(http_code -H "Host: pxe.example.org:$PORT" "$U")"
assert_grep "^chain http://pxe.example.org:$PORT/boot.ipxe\?mac=52:54:00:12:34:57&t=$T&choice=deploy " "$OUT"
assert_eq "boot.ipxe hostile Host" 200 "$(http_code -H 'Host: x${net0/ip}' "$U")"
assert_grep "^chain http://127.0.0.1:$PORT/boot.ipxe\?mac=52:54:00:12:34:57&t=$T&choice=deploy " "$OUT"
# the answer to the prompt: recorded, then the image or the local disk
for bad in x DEPLOY "deploy%20" ""; do
	assert_eq "choice=$bad" 400 "$(http_code "$U&choice=$bad")"
done
assert_eq "choice=local" 200 "$(http_code "$U&choice=local")"
assert_grep "^exit 1$" "$OUT"
grep -q '^kernel' "$OUT" && fail "choice=local booted the image: $(cat "$OUT")"
assert_eq "choice=deploy" 200 "$(http_code -H "Host: pxe.example.org:$PORT" "$U&choice=deploy")"
assert_grep "^echo pxed: starting available deployment d2 " "$OUT"
assert_grep "^kernel http://pxe.example.org:$PORT/files/deb/linux .*pxed.report=" "$OUT"
grep -q '^prompt' "$OUT" && fail "choice=deploy prompted again: $(cat "$OUT")"
assert_grep "52:54:00:12:34:57, -: boot 'd2' \(available deployment 'd2': user chose to deploy\)" "$TMP/pxed.log"
assert_grep "52:54:00:12:34:57, -: local \(available deployment 'd2': user let the prompt time out: local disk\)" "$TMP/pxed.log"
# a choice=deploy for a machine with no available deployment deploys
# nothing (pxed does not answer that machine's DHCP: no token either)
assert_eq "choice=deploy, nothing available" 200 "$(http_code "$B/boot.ipxe?mac=52:54:00:99:99:98&choice=deploy")"
grep -q '^kernel' "$OUT" && fail "choice=deploy booted an unknown machine: $(cat "$OUT")"
assert_grep "^exit 1$" "$OUT"
ctl 0 events --device lab-02
assert_grep "lab-02 +http +boot +d2 +available deployment 'd2': user chose to deploy" "$OUT"
assert_grep "lab-02 +http +local +d2 +available deployment 'd2': user let the prompt time out: local disk" "$OUT"
pass "boot.ipxe available: prompt answers go back as choice=deploy|local, recorded as events; bad choice 400"
assert_eq "boot.ipxe unknown" 200 "$(http_code "$B/boot.ipxe?mac=52:54:00:99:99:99")"
assert_grep "^exit 1$" "$OUT"
pass "boot.ipxe: kernel lines, then exit after hand-out; prompt for available"

ctl 0 events --device lab-01
assert_grep "lab-01 +http +boot +d1" "$OUT"
assert_grep "lab-01 +http +local" "$OUT"
ctl 0 --json events --limit 1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==1, d' "$OUT" || fail "events --limit 1"
ctl 1 events --device ghost
pass "events list decisions"

assert_grep "GET /files/deb/linux 206" "$TMP/pxed.log" "no per-request debug line"
exit 0
