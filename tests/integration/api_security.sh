#!/bin/bash
# The admin API's protection and the new endpoints, with curl against a
# running pxed: the bearer token (missing, wrong, right; file mode 0600),
# HTTPS with a certificate made here, AdminHTTPSOnly, CSV import (all or
# nothing), error codes, pagination, /metrics moving with traffic,
# PXEPassword (prompt, wrong, lockout, right; never in logs or the API) and
# installer reports.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
command -v curl >/dev/null || skip "needs curl"
command -v openssl >/dev/null || skip "needs openssl"

PASSWORD='Tr0ub4dor&3 horse'
PORT=$(free_port)
HPORT=$(free_port)
TPORT=$(free_port)
read -r DHCP_PORT PXE_PORT <<<"$(free_ports 2)"
ROOT_DIR=$TMP/root
mkdir -p "$ROOT_DIR/deb"
head -c 100000 /dev/urandom >"$ROOT_DIR/deb/linux"
head -c 4096 /dev/urandom >"$ROOT_DIR/deb/initrd.gz"

# A self-signed certificate for 127.0.0.1, made for this run.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	>/dev/null 2>&1 || fail "openssl could not make a certificate"

write_conf() { # ADMIN_HTTPS_ONLY
	cat >"$TMP/pxed.conf" <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
PXEPassword = $PASSWORD

[tftp]
Root = $ROOT_DIR
Port = $TPORT

[http]
Port = $PORT
Address = 127.0.0.1
HTTPSPort = $HPORT
TLSCertificate = $TMP/cert.pem
TLSKey = $TMP/key.pem
AdminHTTPSOnly = $1

[store]
StateDir = $TMP/state
URL = sqlite:$TMP/db/pxed.db

[log]
Level = debug
CONF
}
mkdir -p "$TMP/db"
write_conf no
"$PXED" -t -c "$TMP/pxed.conf" >"$TMP/t.out" 2>&1 || { cat "$TMP/t.out"; fail "pxed -t"; }
assert_grep "PXEPassword: <non empty>" "$TMP/t.out"
assert_grep "HTTPS Port: $HPORT" "$TMP/t.out"
start_pxed "$TMP/pxed.conf"

B=http://127.0.0.1:$PORT
S=https://127.0.0.1:$HPORT
TOKEN_FILE=$TMP/db/api.token
OUT=$TMP/out
[ -f "$TOKEN_FILE" ] || fail "no token file beside the database"
assert_eq "token file mode" 600 "$(stat -c %a "$TOKEN_FILE")"
TOKEN=$(cat "$TOKEN_FILE")
[[ $TOKEN =~ ^[0-9a-f]{64}$ ]] || fail "token is not 64 hex characters"
AUTH="Authorization: Bearer $TOKEN"
pass "token created at first start beside the database, mode 0600"

# code ARGS...: status code, body in $OUT, headers in $TMP/hdr
code() { curl -s -o "$OUT" -D "$TMP/hdr" -w '%{http_code}' "$@"; }
err_shape() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["error"]==sys.argv[2] and d["detail"], d' "$OUT" "$1" ||
		fail "error body is not {error: $1, detail}: $(cat "$OUT")"
}
jq_py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $1" "$OUT"; }

# ---- token --------------------------------------------------------------
DEV='{"name":"lab-01","mac":"52:54:00:00:00:01"}'
assert_eq "no token" 401 "$(code -X POST -d "$DEV" "$B/api/v1/devices")"
err_shape unauthorized
assert_eq "wrong token" 401 "$(code -X POST -H "Authorization: Bearer ${TOKEN%?}0x" -d "$DEV" "$B/api/v1/devices")"
err_shape unauthorized
assert_eq "short token" 401 "$(code -X POST -H "Authorization: Bearer ${TOKEN:0:10}" -d "$DEV" "$B/api/v1/devices")"
assert_eq "basic auth" 401 "$(code -X POST -H "Authorization: Basic $TOKEN" -d "$DEV" "$B/api/v1/devices")"
assert_eq "DELETE no token" 401 "$(code -X DELETE "$B/api/v1/devices/lab-01")"
assert_eq "right token" 201 "$(code -X POST -H "$AUTH" -d "$DEV" "$B/api/v1/devices")"
assert_eq "lower-case scheme" 201 "$(code -X POST -H "authorization: bearer $TOKEN" -d '{"name":"lab-02","mac":"52:54:00:00:00:02"}' "$B/api/v1/devices")"
assert_eq "GET without a token" 401 "$(code "$B/api/v1/devices")"
err_shape unauthorized
assert_eq "GET with a wrong token" 401 "$(code -H "Authorization: Bearer ${TOKEN%?}0" "$B/api/v1/events")"
READ_TOKEN_FILE=$TMP/db/api-read.token
[ -f "$READ_TOKEN_FILE" ] || fail "no read-only token file beside the database"
assert_eq "read-only token file mode" 600 "$(stat -c %a "$READ_TOKEN_FILE")"
READ_TOKEN=$(cat "$READ_TOKEN_FILE")
[[ $READ_TOKEN =~ ^[0-9a-f]{64}$ ]] && [ "$READ_TOKEN" != "$TOKEN" ] || fail "read-only token is not a second 64-hex token"
RAUTH="Authorization: Bearer $READ_TOKEN"
assert_eq "GET with the read-only token" 200 "$(code -H "$RAUTH" "$B/api/v1/devices")"
assert_eq "GET with the admin token" 200 "$(code -H "$AUTH" "$B/api/v1/devices")"
assert_eq "POST with the read-only token" 403 "$(code -X POST -H "$RAUTH" -d '{"name":"lab-09","mac":"52:54:00:00:00:09"}' "$B/api/v1/devices")"
err_shape read_only
assert_eq "DELETE with the read-only token" 403 "$(code -X DELETE -H "$RAUTH" "$B/api/v1/devices/lab-01")"
for u in /api/v1/devices /api/v1/events /api/v1/deployments /api/v1/images /api/v1/collections /api/v1/cache /api/v1/settings /api/v1/status; do
	assert_eq "GET $u without a token" 401 "$(code "$B$u")"
done
PXED_TOKEN_FILE=$READ_TOKEN_FILE "$PXECTL" --server "$B" device list >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out"; fail "pxectl read with the read-only token"; }
grep -q lab-01 "$TMP/ctl.out" || fail "pxectl list with the read-only token: $(cat "$TMP/ctl.out")"
PXED_TOKEN_FILE=$READ_TOKEN_FILE "$PXECTL" --server "$B" device rm lab-01 >"$TMP/ctl.out" 2>&1 && fail "pxectl change with the read-only token succeeded"
grep -q "read-only" "$TMP/ctl.out" || fail "pxectl change with the read-only token: $(cat "$TMP/ctl.out")"
assert_grep "GET /api/v1/devices from 127.0.0.1: refused, no API token" "$TMP/pxed.log"
assert_grep "refused, read-only API token" "$TMP/pxed.log"
grep -q "$READ_TOKEN" "$TMP/pxed.log" && fail "the read-only token is in the log"
pass "reads need a token too: the admin one or the read-only one, which cannot change anything (pxectl too)"
assert_eq "metrics open" 200 "$(code "$B/metrics")"
grep -q "lab-01\|52:54:00:00:00:01" "$OUT" && fail "/metrics shows inventory"
assert_eq "healthz open" 200 "$(code "$B/healthz")"
assert_eq "boot path open" 200 "$(code "$B/boot.ipxe?mac=52:54:00:00:00:01")"
grep -q "$TOKEN" "$TMP/pxed.log" && fail "the token is in the log"
assert_grep "refused, wrong API token" "$TMP/pxed.log"
pass "changes need the bearer token (401 missing/wrong), boot paths open"

# ---- HTTPS ----------------------------------------------------------------
assert_eq "https status" 200 "$(code --cacert "$TMP/cert.pem" -H "$RAUTH" "$S/api/v1/status")"
jq_py 'assert d["settings"]["HTTPSPort"] > 0 and d["version"]' || fail "status over HTTPS: $(cat "$OUT")"
assert_eq "https change" 201 "$(code --cacert "$TMP/cert.pem" -X POST -H "$AUTH" -d '{"name":"deb","kernel":"deb/linux","initrd":"deb/initrd.gz"}' "$S/api/v1/images")"
curl -s "$S/healthz" >/dev/null 2>&1 && fail "curl trusted the self-signed certificate without --cacert"
assert_eq "https file" 200 "$(code --cacert "$TMP/cert.pem" "$S/files/deb/linux")"
cmp -s "$OUT" "$ROOT_DIR/deb/linux" || fail "HTTPS file differs"
"$PXECTL" --server "$S" --cacert "$TMP/cert.pem" --token-file "$TOKEN_FILE" device add lab-03 --mac 52:54:00:00:00:03 >"$OUT" 2>&1 ||
	fail "pxectl over HTTPS: $(cat "$OUT")"
pass "HTTPS with a generated certificate: API, files, pxectl --cacert"

# TLS 1.2 and 1.3 only (RFC 8996): a client offering only 1.0 or 1.1 is
# refused.
if command -v gnutls-cli >/dev/null; then
	tls() { timeout 10 gnutls-cli --insecure -p "$HPORT" --priority "NORMAL:-VERS-ALL:+VERS-$1" 127.0.0.1 </dev/null >"$TMP/tls.out" 2>&1; }
	tls TLS1.3 || { cat "$TMP/tls.out"; fail "TLS 1.3 handshake refused"; }
	tls TLS1.2 || { cat "$TMP/tls.out"; fail "TLS 1.2 handshake refused"; }
	tls TLS1.1 && fail "TLS 1.1 handshake accepted"
	tls TLS1.0 && fail "TLS 1.0 handshake accepted"
	pass "HTTPS: TLS 1.2 and 1.3 accepted, 1.0 and 1.1 refused"
fi
# A private key readable by others: pxed refuses to start, and says why.
cp -p "$TMP/key.pem" "$TMP/key-open.pem"
chmod 644 "$TMP/key-open.pem"
sed "s|^TLSKey = .*|TLSKey = $TMP/key-open.pem|; s|^Port = $PORT|Port = $(free_port)|; s|^HTTPSPort = .*|HTTPSPort = $(free_port)|" "$TMP/pxed.conf" >"$TMP/open-key.conf"
timeout 10 "$PXED" -c "$TMP/open-key.conf" >"$TMP/open-key.log" 2>&1 && fail "pxed started with a TLS key others can read"
assert_grep "TLSKey .*key-open.pem.*not be readable by group or others" "$TMP/open-key.log"
pass "a TLS key readable by group or others is refused at start"

export PXED_SERVER=$B PXED_TOKEN_FILE=$TOKEN_FILE
ctl() {
	local want=$1; shift
	local rc=0
	"$PXECTL" "$@" >"$OUT" 2>"$TMP/err" || rc=$?
	[ "$rc" = "$want" ] || { cat "$OUT" "$TMP/err" >&2; fail "pxectl $*: exit $rc, expected $want"; }
}
ctl 1 --token-file /nonexistent device add x --mac 52:54:00:00:00:99
assert_grep "cannot read the API token" "$TMP/err"
PXED_TOKEN=nope ctl 1 device add x --mac 52:54:00:00:00:99
assert_grep "token is wrong" "$TMP/err"
PXED_TOKEN=$TOKEN ctl 0 --token-file /nonexistent device add x --mac 52:54:00:00:00:99
ctl 0 device rm x
pass "pxectl: token from --token-file, \$PXED_TOKEN_FILE or \$PXED_TOKEN"

# ---- devices by name ----------------------------------------------------
assert_eq "GET one" 200 "$(code -H "$RAUTH" "$B/api/v1/devices/lab-01")"
jq_py 'assert d["mac"]=="52:54:00:00:00:01"' || fail "device show: $(cat "$OUT")"
assert_eq "unknown device" 404 "$(code -H "$RAUTH" "$B/api/v1/devices/ghost")"
err_shape not_found
assert_eq "unknown device DELETE" 404 "$(code -X DELETE -H "$AUTH" "$B/api/v1/devices/ghost")"
assert_eq "unknown image" 404 "$(code -H "$RAUTH" "$B/api/v1/images/ghost")"
assert_eq "unknown deployment" 404 "$(code -X DELETE -H "$AUTH" "$B/api/v1/deployments/ghost")"
assert_eq "bad name in URL" 404 "$(code -H "$RAUTH" "$B/api/v1/devices/a%20b")"
assert_eq "PATCH" 200 "$(code -X PATCH -H "$AUTH" -d '{"guid":"8a3c1f2e-0000-4000-8000-525400000002"}' "$B/api/v1/devices/lab-02")"
jq_py 'assert d["guid"]=="8a3c1f2e-0000-4000-8000-525400000002"' || fail "PATCH guid: $(cat "$OUT")"
assert_eq "PATCH dup mac" 409 "$(code -X PATCH -H "$AUTH" -d '{"mac":"52:54:00:00:00:01"}' "$B/api/v1/devices/lab-02")"
err_shape exists
assert_eq "PATCH bad mac" 400 "$(code -X PATCH -H "$AUTH" -d '{"mac":"zz"}' "$B/api/v1/devices/lab-02")"
err_shape invalid_field
assert_eq "PATCH unknown field" 400 "$(code -X PATCH -H "$AUTH" -d '{"colour":"red"}' "$B/api/v1/devices/lab-02")"
err_shape unknown_field
assert_eq "PATCH bad JSON" 400 "$(code -X PATCH -H "$AUTH" -d '{"mac":' "$B/api/v1/devices/lab-02")"
err_shape invalid_json
assert_eq "duplicate name" 409 "$(code -X POST -H "$AUTH" -d "$DEV" "$B/api/v1/devices")"
err_shape exists
head -c 1100000 /dev/zero >"$TMP/big"
assert_eq "oversize" 413 "$(code -X POST -H "$AUTH" --data-binary @"$TMP/big" "$B/api/v1/devices")"
err_shape too_large
# An import may be 64 MiB (it is parsed as it arrives): more is refused
# from its Content-Length before a byte is read; a line of 1 MB is a bad line.
assert_eq "oversize import" 413 "$(code -X POST -H "$AUTH" -H 'Content-Length: 67108865' "$B/api/v1/devices/import")"
err_shape too_large
assert_eq "long line" 400 "$(code -X POST -H "$AUTH" -H "Content-Type: text/csv" --data-binary @"$TMP/big" "$B/api/v1/devices/import")"
jq_py 'assert d["lines"] == ["line 1: longer than 1024 bytes"], d' || fail "long line not named: $(cat "$OUT")"
assert_eq "oversize chunked" 413 "$(code -X POST -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big" "$B/api/v1/devices")"
ctl 0 device show lab-02
assert_grep "^guid +: 8a3c1f2e" "$OUT"
ctl 1 device show ghost
ctl 2 device show
ctl 0 device rm --help
assert_grep "usage: pxectl device rm NAME" "$OUT"
pass "device GET/PATCH/DELETE by name; 400/404/409/413 in the error shape"

# ---- pagination ------------------------------------------------------------
assert_eq "page" 200 "$(code -H "$RAUTH" "$B/api/v1/devices?limit=2&offset=1")"
assert_grep "^X-Total-Count: 3" "$TMP/hdr"
jq_py 'assert [x["name"] for x in d]==["lab-02","lab-03"], d' || fail "page: $(cat "$OUT")"
assert_eq "bad limit" 400 "$(code -H "$RAUTH" "$B/api/v1/devices?limit=0")"
assert_eq "bad offset" 400 "$(code -H "$RAUTH" "$B/api/v1/images?offset=-1")"
pass "lists page with limit/offset and X-Total-Count"

# ---- CSV import ------------------------------------------------------------
cat >"$TMP/bad.csv" <<'CSV'
name,mac,guid
imp-01,52:54:00:00:01:01,
imp-02,52:54:00:00:01:02,8a3c1f2e-0000-4000-8000-525400000102
bad name,52:54:00:00:01:03
imp-04,52:54:00:00:01
imp-05,52:54:00:00:01:01
lab-01,52:54:00:00:01:06
imp-07,52:54:00:00:01:07,not-a-guid
imp-08,52:54:00:00:00:03
CSV
assert_eq "bad CSV" 400 "$(code -X POST -H "$AUTH" -H 'Content-Type: text/csv' --data-binary @"$TMP/bad.csv" "$B/api/v1/devices/import")"
err_shape invalid_csv
jq_py '
l=d["lines"]
want=["line 4:","line 5:","line 6:","line 7:","line 8:","line 9:"]
assert [x.split(" ",2)[0]+" "+x.split(" ",2)[1] for x in l]==want, l
assert "already exists" in l[3] and "line 2" in l[2] and "already belongs" in l[5], l' || fail "bad lines not named: $(cat "$OUT")"
assert_eq "nothing imported" 404 "$(code -H "$RAUTH" "$B/api/v1/devices/imp-01")"
ctl 1 device import "$TMP/bad.csv"
assert_grep "^pxectl: line 5: mac is not a MAC" "$TMP/err"
printf 'imp-01,52:54:00:00:01:01\n\n# spare\nimp-02, 52-54-00-00-01-02 ,8a3c1f2e-0000-4000-8000-525400000102\r\n' >"$TMP/good.csv"
ctl 0 device import "$TMP/good.csv"
assert_grep "^2 device\(s\) imported" "$OUT"
assert_eq "imported" 200 "$(code -H "$RAUTH" "$B/api/v1/devices/imp-02")"
assert_eq "wrong type" 415 "$(code -X POST -H "$AUTH" -H 'Content-Type: application/json' -d '{}' "$B/api/v1/devices/import")"
pass "CSV import: every bad line named, nothing half-imported; good file imported"

# ---- /metrics ---------------------------------------------------------------
metric() { curl -s "$B/metrics" | awk -v k="$1" '$1==k{print $2}'; }
curl -s -D "$TMP/hdr" -o "$TMP/m1" "$B/metrics"
assert_grep "^Content-Type: text/plain; version=0.0.4" "$TMP/hdr"
for series in '# TYPE pxed_http_requests_total counter' 'pxed_http_requests_total\{code="401"\} [0-9]+' \
	'pxed_decisions_total\{via="http",outcome="local"\}' 'pxed_tftp_transfers_active 0' \
	'pxed_tftp_transfers_total\{result="completed"\}' 'pxed_tftp_sent_bytes_total' \
	'pxed_tftp_retransmissions_total' 'pxed_store_call_seconds_count' 'pxed_dhcp_received_total' \
	'pxed_api_auth_failures_total [1-9]'; do
	assert_grep "^$series" "$TMP/m1"
done
c0=$(metric 'pxed_tftp_transfers_total{result="completed"}')
b0=$(metric pxed_tftp_sent_bytes_total)
curl -s -o "$TMP/tftp.out" "tftp://127.0.0.1:$TPORT/deb/linux" || fail "TFTP download"
cmp -s "$TMP/tftp.out" "$ROOT_DIR/deb/linux" || fail "TFTP file differs"
wait_for 5 test "$(metric 'pxed_tftp_transfers_total{result="completed"}')" -gt "$c0" ||
	fail "TFTP completed transfers did not move"
[ "$(metric pxed_tftp_sent_bytes_total)" -ge $((b0 + 100000)) ] || fail "TFTP bytes did not move"
ctl 0 metrics
assert_grep "^pxed_uptime_seconds" "$OUT"
pass "/metrics: Prometheus text, series move after a TFTP transfer"

# ---- PXEPassword -------------------------------------------------------------
ctl 0 deploy d1 --image deb --device lab-01 --required
ctl 0 deploy d3 --image deb --device lab-03 --required
MAC=52:54:00:00:00:01
# The script URL from a scripted iPXE exchange: its token carries the
# prompt and the password request (boot_token.sh checks the refusals).
U=$(ipxe_url $MAC 7)
T=${U##*t=}
assert_eq "ask" 200 "$(code "$U")"
assert_grep '^login \|\| goto local$' "$OUT"
assert_grep "^chain http://127.0.0.1:$PORT/boot.ipxe\?mac=$MAC&t=$T&password=\\\$\{password:uristring\} \|\| goto local$" "$OUT"
grep -q '^kernel' "$OUT" && fail "kernel before the password"
# Not handed out yet: asking again asks again.
assert_eq "ask again" 200 "$(code "$U")"
assert_grep '^login' "$OUT"
assert_eq "wrong" 200 "$(code -G --data-urlencode "password=wrong" "$U")"
assert_grep "wrong password" "$OUT"
grep -q '^kernel' "$OUT" && fail "wrong password booted"
assert_eq "right, without the token" 200 "$(code -G --data-urlencode "mac=$MAC" --data-urlencode "password=$PASSWORD" "$B/boot.ipxe")"
grep -q '^kernel' "$OUT" && fail "the right password without the exchange's token booted"
assert_eq "right" 200 "$(code -G --data-urlencode "password=$PASSWORD" "$U")"
assert_grep "^kernel http://127.0.0.1:$PORT/files/deb/linux initrd=initrd.gz pxed.report=" "$OUT"
REPORT=$(grep -oE 'pxed.report=[^ ]+' "$OUT" | cut -d= -f2-)
assert_eq "right again" 200 "$(code -G --data-urlencode "password=$PASSWORD" "$U")"
grep -q '^kernel' "$OUT" && fail "the password request replayed booted again"
assert_eq "after hand-out" 200 "$(code "$(ipxe_url $MAC)")"
assert_grep '^exit 1$' "$OUT"
# Lockout: lab-03 types it wrong five times, then even the right one fails.
U3=$(ipxe_url 52:54:00:00:00:03)
for i in 1 2 3 4 5; do code -G --data-urlencode "password=guess$i" "$U3" >/dev/null; done
assert_eq "locked" 200 "$(code -G --data-urlencode "password=$PASSWORD" "$U3")"
grep -q '^kernel' "$OUT" && fail "a locked-out client booted"
assert_grep "too many wrong PXE passwords" "$OUT"
assert_grep "locked out for 300 s" "$TMP/pxed.log"
assert_grep "$MAC: wrong PXE password" "$TMP/pxed.log"
assert_grep "^pxed_pxe_password_lockouts_total 1" <(curl -s "$B/metrics")
pass "PXEPassword: prompt, wrong refused, right boots once, lockout after 5"

# ---- installer reports ---------------------------------------------------------
assert_eq "report no token" 401 "$(code -X POST "$B/api/v1/report?state=started")"
assert_eq "report bad token" 401 "$(code -X POST "$B/api/v1/report?token=00000000000000000000000000000000&state=started")"
assert_eq "report bad state" 400 "$(code -X POST "$REPORT&state=done")"
assert_eq "report started" 200 "$(code -X POST "$REPORT&state=started")"
assert_eq "report failed" 200 "$(code -X POST -d '{"state":"failed","message":"disk sda not found"}' "$REPORT")"
assert_eq "deployment status" 200 "$(code -H "$RAUTH" "$B/api/v1/deployments/d1")"
jq_py 'assert d["status"]=={"handed_out":1,"started":0,"succeeded":0,"failed":1}, d; assert d["devices"][0]["message"]=="disk sda not found", d' ||
	fail "deployment status: $(cat "$OUT")"
ctl 0 deployment show d1
assert_grep "handed out 1, started 0, succeeded 0, failed 1" "$OUT"
assert_grep "^lab-01 +52:54:00:00:00:01 +failed" "$OUT"
pass "installer reports: token per boot, counts and last state per device"

# Reports live in the store: a restart keeps the states, and the token
# handed out before it still works.
kill "$PXED_PID"
wait "$PXED_PID" 2>/dev/null
start_pxed "$TMP/pxed.conf"
assert_eq "deployment status after restart" 200 "$(code -H "$RAUTH" "$B/api/v1/deployments/d1")"
jq_py 'assert d["status"]=={"handed_out":1,"started":0,"succeeded":0,"failed":1}, d; assert d["devices"][0]["state"]=="failed", d' ||
	fail "deployment status after restart: $(cat "$OUT")"
assert_eq "report after restart" 200 "$(code -X POST -d '{"state":"succeeded","message":"done"}' "$REPORT")"
ctl 0 deployment show d1
assert_grep "handed out 1, started 0, succeeded 1, failed 0" "$OUT"
assert_grep "^lab-01 +52:54:00:00:00:01 +succeeded" "$OUT"
pass "installer reports survive a pxed restart (states and tokens)"

# ---- clear, rm ----------------------------------------------------------------
ctl 0 device clear lab-01
assert_grep "1 required deployment\(s\) cleared" "$OUT"
ctl 1 device rm lab-01
assert_grep "target of a deployment" "$TMP/err"
ctl 1 image rm deb
ctl 0 deployment disable d1
ctl 0 deployment rm d1
ctl 0 device rm lab-01
ctl 1 deployment show d1
pass "clear, rm with 409 while in use"

# ---- nothing leaks the password ---------------------------------------------------
for f in "$TMP/pxed.log" "$TMP/t.out"; do
	grep -qF "$PASSWORD" "$f" && fail "the password is in $f"
	grep -qF "guess1" "$f" && fail "a typed password is in $f"
done
for u in /api/v1/status /api/v1/events /metrics; do
	curl -s -H "$AUTH" "$B$u?limit=10000" | grep -qF "Tr0ub4dor" && fail "the password is in $u"
done
grep -q 'PXEPassword' <(curl -s -H "$RAUTH" "$B/api/v1/status") || fail "status has no settings"
pass "the password is in no log, settings block or API reply"

# ---- AdminHTTPSOnly (applies on SIGHUP) --------------------------------------------
write_conf yes
kill -HUP "$PXED_PID"
wait_for 5 grep -q "settings reloaded" "$TMP/pxed.log" || fail "no reload"
assert_eq "plain API refused" 403 "$(code -H "$RAUTH" "$B/api/v1/status")"
err_shape https_required
assert_eq "plain boot path open" 200 "$(code "$B/boot.ipxe?mac=52:54:00:00:00:02")"
assert_eq "plain files open" 200 "$(code "$B/files/deb/linux")"
assert_eq "plain report open" 401 "$(code -X POST "$B/api/v1/report?token=x&state=started")"
assert_eq "https API" 200 "$(code --cacert "$TMP/cert.pem" -H "$RAUTH" "$S/api/v1/status")"
pass "AdminHTTPSOnly: /api/v1/ only over HTTPS, boot paths and reports stay on HTTP"
exit 0
