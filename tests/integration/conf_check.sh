#!/bin/bash
# pxed -t: a good config prints the seed-shaped settings block and exits 0;
# a bad one prints FILE:LINE: reason and exits 1.  A running pxed refuses a
# bad file on SIGHUP and keeps its settings; a good one takes effect.
. "$(dirname "$0")/../lib.sh"

out=$("$PXED" -t -c "$ROOT/docs/pxed.conf.example") || fail "example config rejected: $out"
echo "$out" | grep -q "^Loaded PXE settings from $ROOT/docs/pxed.conf.example:$" || fail "no Loaded line: $out"
echo "$out" | grep -q "^PXE Settings:$" || fail "no PXE Settings line"
for k in "IsActive: Yes" "SupportUnknownMachines: No" "MACIgnoreListFile: <empty>" "ResponseDelay: 0" \
	"CacheExpire: 3600" "HTTP Port: 8080" "BindPolicy: Exclude <empty>" "PXEPassword: <empty>"; do
	echo "$out" | grep -qx "    $k" || fail "block lacks '    $k'"
done
pass "example config"

printf '[pxe]\nPXEPassword = hunter2\nCacheExpire = 60\n' >"$TMP/ok.conf"
out=$("$PXED" -t -c "$TMP/ok.conf") || fail "ok.conf rejected"
echo "$out" | grep -qx "    PXEPassword: <non empty>" || fail "password not masked"
echo "$out" | grep -q hunter2 && fail "password printed"
pass "secret masked"

printf '[pxe]\nIsActive = yes\n\nCacheExpire = soon\n' >"$TMP/bad.conf"
out=$("$PXED" -t -c "$TMP/bad.conf" 2>&1)
rc=$?
assert_eq "exit code" 1 "$rc"
assert_eq "message" "$TMP/bad.conf:4: CacheExpire: 'soon' is not a whole number (0 to 86400)" "$out"
printf '[pxe]\nColour = blue\n' >"$TMP/bad2.conf"
out=$("$PXED" -t -c "$TMP/bad2.conf" 2>&1) && fail "unknown key accepted"
assert_eq "message" "$TMP/bad2.conf:2: unknown setting 'Colour' in [pxe]" "$out"
pass "bad configs rejected with FILE:LINE"

# Live reload, on unprivileged ports.
hp=$(free_port); tp=$(free_port); dp=$(free_port); pp=$(free_port)
cat >"$TMP/live.conf" <<EOC
[pxe]
DHCPPort = $dp
PXEPort = $pp
CacheExpire = 3600
[tftp]
Port = $tp
[http]
Port = $hp
Address = 127.0.0.1
[store]
StateDir = $TMP/state
EOC
start_pxed "$TMP/live.conf"
assert_grep "Loaded PXE settings from $TMP/live.conf:" "$TMP/pxed.log"
sed -i 's/CacheExpire = 3600/CacheExpire = often/' "$TMP/live.conf"
kill -HUP "$PXED_PID"
wait_for 5 grep -q "reload refused: $TMP/live.conf:4: CacheExpire" "$TMP/pxed.log" || fail "bad reload not refused"
kill -0 "$PXED_PID" || fail "pxed died on a bad reload"
sed -i 's/CacheExpire = often/CacheExpire = 120/' "$TMP/live.conf"
kill -HUP "$PXED_PID"
wait_for 5 grep -q "CacheExpire: 120" "$TMP/pxed.log" || fail "good reload not applied"
pass "SIGHUP reload"
