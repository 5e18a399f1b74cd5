#!/bin/bash
# The web console (/ui/) in headless Chromium driven by selenium
# (ui_browser.py), against pxed with 100,000 devices and 1,000,000 events
# seeded straight into its SQLite database: sign-in (wrong, read-only,
# admin), add a device, an image and a required deployment, watch the
# boot that /boot.ipxe commits appear on the Live page within 2 s, the
# deployment's handed-out count, Clear required deployments, a
# cross-site form post refused, every page's first paint (< 1 s) and API
# calls (< 100 ms), phone width, sign-out, no console errors.  Also
# checks with curl: the static files' headers (CSP, ETag, 304), that a
# cookie without the CSRF header or with a foreign Origin changes nothing,
# and the stream's limit (MaxEventStreams).  Screenshots of every page go
# to build/ui-screenshots/.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
command -v chromium >/dev/null || skip "needs chromium"
command -v chromedriver >/dev/null || skip "needs chromium-driver"
# Debian's python3-selenium lives in the system python, whatever python3
# is first on PATH.
PY=/usr/bin/python3
"$PY" -c 'import selenium' 2>/dev/null || skip "needs python3-selenium"
command -v sqlite3 >/dev/null || skip "needs sqlite3"

read -r PORT TFTP_PORT EVIL_PORT <<<"$(free_ports 3)"
SHOTS=$ROOT/build/ui-screenshots
rm -rf "$SHOTS"
mkdir -p "$TMP/root/deb" "$SHOTS"
head -c 10000 /dev/urandom >"$TMP/root/deb/linux"
head -c 1000 /dev/urandom >"$TMP/root/deb/initrd.gz"
PXE_PORT=$(free_port)
export PXE_PORT
{
	cat <<CONF
[pxe]
DHCPPort = $(free_port)
PXEPort = $PXE_PORT
CONF
	loopback_sections
	printf '\n[log]\nLevel = info\n'
} >"$TMP/pxed.conf"
# Two live streams at most, to see the third refused.
sed -i "s/^Address = 127.0.0.1$/Address = 127.0.0.1\nMaxEventStreams = 2/" "$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
B=http://127.0.0.1:$PORT
TOKEN_FILE=$TMP/api.token
READ_FILE=$TMP/api-read.token
TOKEN=$(cat "$TOKEN_FILE")

# ---- seed: 100,000 devices and 1,000,000 events, in SQL -----------------
t0=$(date +%s%N)
sqlite3 "$TMP/pxed.db" <<'SQL' || fail "seeding the database failed"
.timeout 10000
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO devices (name, mac, guid, arch, last_seen, created)
SELECT printf('node-%06d', i),
       printf('02:00:00:%02x:%02x:%02x', (i >> 16) & 255, (i >> 8) & 255, i & 255),
       CASE WHEN i % 2 = 0 THEN printf('8a3c9e1f-0000-4c1d-9a5e-%012x', i) END,
       7, strftime('%s', 'now') - i, strftime('%s', 'now') - 86400 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO events (time_ms, mac, arch, via, outcome, reason, device_id)
SELECT (strftime('%s', 'now') * 1000) - (1000000 - i) * 2592,
       printf('02:00:00:%02x:%02x:%02x', ((i % 100000 + 1) >> 16) & 255, ((i % 100000 + 1) >> 8) & 255, (i % 100000 + 1) & 255),
       7, CASE WHEN i % 3 = 0 THEN 'http' ELSE 'dhcp' END,
       CASE i % 10 WHEN 0 THEN 'boot' WHEN 1 THEN 'ignore' ELSE 'local' END,
       'seeded decision', i % 100000 + 1 FROM n;
UPDATE meta SET value = value + 1 WHERE key = 'generation';
COMMIT;
SQL
seed_ms=$((($(date +%s%N) - t0) / 1000000))
n=$(sqlite3 "$TMP/pxed.db" "SELECT (SELECT COUNT(*) FROM devices) || ' ' || (SELECT COUNT(*) FROM events)")
assert_eq "seeded rows" "100000 1000000" "$n"
pass "seeded 100,000 devices and 1,000,000 events in $seed_ms ms"

# ---- static files: headers, revalidation, nothing else on disk ----------
curl -sD "$TMP/h" -o "$TMP/index.html" "$B/ui/" || fail "GET /ui/ failed"
assert_grep "^HTTP/1.1 200" "$TMP/h"
assert_grep "^Content-Type: text/html; charset=utf-8" "$TMP/h"
assert_grep "^Content-Security-Policy: default-src 'self'; script-src 'self'" "$TMP/h"
assert_grep "^Cache-Control: no-cache" "$TMP/h"
etag=$(awk -F': ' 'tolower($1)=="etag"{print $2}' "$TMP/h" | tr -d '\r')
[ -n "$etag" ] || fail "no ETag on /ui/"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$B/ui/")
assert_eq "If-None-Match on /ui/" 304 "$code"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$B/ui/app.js")
assert_eq "app.js type" "text/javascript; charset=utf-8" "$ctype"
grep -q '<script' "$TMP/index.html" && ! grep -qE '<script[^>]*>[^<]' "$TMP/index.html" ||
	fail "index.html has inline script"
pass "/ui/ files: CSP, ETag (304 on revalidation), types, no inline script"

# ---- cookie changes need the CSRF header and this Origin ----------------
curl -s -c "$TMP/cj" -H "Origin: $B" -d "{\"token\":\"$TOKEN\"}" "$B/api/v1/session" >"$TMP/s.json"
csrf=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["csrf"])' "$TMP/s.json") ||
	fail "sign-in with curl failed: $(cat "$TMP/s.json")"
csv=$'evil-0,52:54:00:00:00:65\n'
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$TMP/cj" -H 'Content-Type: text/csv' \
	--data-binary "$csv" "$B/api/v1/devices/import")
assert_eq "cookie without CSRF header" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$TMP/cj" -H 'Content-Type: text/csv' \
	-H "X-CSRF-Token: $csrf" -H "Origin: http://127.0.0.1:$EVIL_PORT" --data-binary "$csv" \
	"$B/api/v1/devices/import")
assert_eq "cookie with a foreign Origin" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$TMP/cj" -H 'Content-Type: text/csv' \
	-H "X-CSRF-Token: $csrf" -H "Origin: $B" --data-binary "$csv" "$B/api/v1/devices/import")
assert_eq "cookie with CSRF header and Origin" 201 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"$B/api/v1/devices/evil-0")
assert_eq "the import with CSRF token went through" 200 "$code"
pass "a cookie change needs X-CSRF-Token and this Origin; Bearer clients are unchanged"

# ---- the stream's limit --------------------------------------------------
curl -sN -b "$TMP/cj" "$B/api/v1/events/stream" >"$TMP/st1" 2>/dev/null &
S1=$!
on_exit "kill $S1 2>/dev/null"
curl -sN -H "Authorization: Bearer $TOKEN" "$B/api/v1/events/stream" >"$TMP/st2" 2>/dev/null &
S2=$!
on_exit "kill $S2 2>/dev/null"
wait_for 5 grep -q retry "$TMP/st2" || fail "the stream did not start"
wait_for 5 grep -q retry "$TMP/st1" || fail "the cookie stream did not start"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 3 -H "Authorization: Bearer $TOKEN" \
	"$B/api/v1/events/stream")
assert_eq "a third stream over MaxEventStreams = 2" 503 "$code"
# A DHCP request as iPXE makes it: a decision like any other.
ipxe_url 52:54:00:00:00:77 >/dev/null
wait_for 3 grep -q '52:54:00:00:00:77' "$TMP/st1" || fail "the decision did not reach stream 1"
wait_for 3 grep -q '52:54:00:00:00:77' "$TMP/st2" || fail "the decision did not reach stream 2"
kill $S1 $S2 2>/dev/null
wait $S1 $S2 2>/dev/null
curl -s "$B/metrics" >"$TMP/m"
assert_grep '^pxed_event_stream_refused_total 1$' "$TMP/m"
assert_grep '^pxed_event_stream_published_total [1-9]' "$TMP/m"
pass "both streams got the decision; a third was refused (503) and counted"

# ---- another site's page, for the cross-site form post -------------------
mkdir -p "$TMP/evil"
cat >"$TMP/evil/evil.html" <<HTML
<!doctype html><title>elsewhere</title>
<form method="post" enctype="text/plain" action="$B/api/v1/devices/import">
<input type="hidden" name="evil-1,52:54:00:00:00:66
#" value="x"><button id="go">go</button></form>
HTML
(cd "$TMP/evil" && exec python3 -m http.server -b 127.0.0.1 "$EVIL_PORT") >/dev/null 2>&1 &
EVIL_PID=$!
on_exit "kill $EVIL_PID"
wait_for 5 curl -sf "http://127.0.0.1:$EVIL_PORT/evil.html" || fail "the other site did not start"

# ---- the browser --------------------------------------------------------
timeout 150 "$PY" "$(dirname "$0")/ui_browser.py" "$B" "$TOKEN_FILE" "$READ_FILE" "$SHOTS" \
	"http://127.0.0.1:$EVIL_PORT" || fail "the browser test failed (see above; $SHOTS)"
n=$(ls "$SHOTS"/*.png | wc -l)
[ "$n" -ge 10 ] || fail "only $n screenshots in $SHOTS"
pass "browser checks passed; $n screenshots in build/ui-screenshots/"
