#!/bin/bash
# [pxe] User: pxed binds its ports as root, then runs as the user, and still
# writes its database, serves TFTP and HTTP and answers the admin API.
. "$(dirname "$0")/../lib.sh"
need_root
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
chmod 755 "$TMP"
hp=$(free_port); tp=$(free_port); dp=$(free_port); pp=$(free_port)
mkdir -p "$TMP/state/root"
head -c 300000 /dev/urandom >"$TMP/state/root/blob"
cat >"$TMP/pxed.conf" <<EOC
[pxe]
User = nobody
DHCPPort = $dp
PXEPort = $pp
[tftp]
Port = $tp
[http]
Port = $hp
Address = 127.0.0.1
[store]
StateDir = $TMP/state
EOC
start_pxed "$TMP/pxed.conf"
assert_grep "running as user nobody" "$TMP/pxed.log"
uid=$(awk '/^Uid:/{print $2 $3 $4 $5}' "/proc/$PXED_PID/status")
assert_eq "real, effective, saved and fs uid" "65534655346553465534" "$uid"
grep -q '^Groups:[[:space:]]*65534[[:space:]]*$' "/proc/$PXED_PID/status" || fail "supplementary groups kept: $(grep Groups /proc/$PXED_PID/status)"
pass "runs as nobody with no root ids or groups left"

export PXED_TOKEN_FILE=$TMP/state/api.token
"$PXECTL" --server "http://127.0.0.1:$hp" device add pc1 --mac 52:54:00:00:00:01 >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "device add as nobody"; }
"$PXECTL" --server "http://127.0.0.1:$hp" device list | grep -q pc1 || fail "device not listed"
pass "database writable after the drop"

curl -sf -o "$TMP/got" "tftp://127.0.0.1:$tp/blob" || fail "TFTP download"
cmp -s "$TMP/got" "$TMP/state/root/blob" || fail "TFTP bytes differ"
curl -sf -o "$TMP/got2" "http://127.0.0.1:$hp/files/blob" || fail "HTTP download"
cmp -s "$TMP/got2" "$TMP/state/root/blob" || fail "HTTP bytes differ"
pass "TFTP and HTTP serve files as nobody"

printf '[pxe]\nUser = no-such-user-x\n[tftp]\nPort = %s\n[http]\nPort = %s\nAddress = 127.0.0.1\n[pxe]\nDHCPPort = %s\nPXEPort = %s\n[store]\nStateDir = %s/s2\n' \
	"$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" "$TMP" >"$TMP/bad.conf"
"$PXED" -c "$TMP/bad.conf" >"$TMP/bad.log" 2>&1 && fail "started with an unknown user"
assert_grep "User no-such-user-x: no such user" "$TMP/bad.log"
pass "unknown user refused at start"

# Started as the User already (as the systemd unit starts it, with only a
# capability to bind low ports): no drop to do and nothing to warn about.
mkdir -p "$TMP/s3"
chown nobody "$TMP/s3"
printf '[pxe]\nUser = nobody\nDHCPPort = %s\nPXEPort = %s\n[tftp]\nPort = %s\n[http]\nPort = %s\nAddress = 127.0.0.1\n[store]\nStateDir = %s/s3\n' \
	"$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" "$TMP" >"$TMP/as-user.conf"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$PXED" -c "$TMP/as-user.conf" >"$TMP/as-user.log" 2>&1 &
AS_PID=$!
on_exit "kill $AS_PID"
wait_for 10 grep -q "ready:" "$TMP/as-user.log" || { cat "$TMP/as-user.log" >&2; fail "pxed started as nobody did not start"; }
assert_grep "running as user nobody \(uid 65534\)" "$TMP/as-user.log"
grep -q "not started as root" "$TMP/as-user.log" && fail "warned although started as its User"
pass "started as its User already: runs, says so, no warning"
