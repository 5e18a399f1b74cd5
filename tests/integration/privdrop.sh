#!/bin/bash
# [pxe] User: pxed binds its ports as root, then runs as the user, and still
# writes its database, serves TFTP and HTTP and answers the admin API.  It
# hands over only what it created itself: a database in a directory that
# is not its own (URL=sqlite:/var/lib/pxed.db) is refused, not taken over;
# a StateDir or database open to every user is refused too.
. "$(dirname "$0")/../lib.sh"
need_root
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
chmod 755 "$TMP"
hp=$(free_port); tp=$(free_port); dp=$(free_port); pp=$(free_port)
mkdir -p "$TMP/root"
head -c 300000 /dev/urandom >"$TMP/root/blob"
cat >"$TMP/pxed.conf" <<EOC
[pxe]
User = nobody
DHCPPort = $dp
PXEPort = $pp
[tftp]
Port = $tp
Root = $TMP/root
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
assert_eq "StateDir pxed created: owner and mode" "nobody 750" "$(stat -c '%U %a' "$TMP/state")"
assert_eq "database: owner, not readable by others" "nobody 640" "$(stat -c '%U %a' "$TMP/state/pxed.db")"
assert_eq "read-only token handed over" "nobody 600" "$(stat -c '%U %a' "$TMP/state/api-read.token")"
pass "StateDir (created by pxed) and its files handed to nobody, not readable by others"

export PXED_TOKEN_FILE=$TMP/state/api.token
"$PXECTL" --server "http://127.0.0.1:$hp" device add pc1 --mac 52:54:00:00:00:01 >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "device add as nobody"; }
"$PXECTL" --server "http://127.0.0.1:$hp" device list | grep -q pc1 || fail "device not listed"
pass "database writable after the drop"

curl -sf -o "$TMP/got" "tftp://127.0.0.1:$tp/blob" || fail "TFTP download"
cmp -s "$TMP/got" "$TMP/root/blob" || fail "TFTP bytes differ"
curl -sf -o "$TMP/got2" "http://127.0.0.1:$hp/files/blob" || fail "HTTP download"
cmp -s "$TMP/got2" "$TMP/root/blob" || fail "HTTP bytes differ"
pass "TFTP and HTTP serve files as nobody"

printf '[pxe]\nUser = no-such-user-x\n[tftp]\nPort = %s\n[http]\nPort = %s\nAddress = 127.0.0.1\n[pxe]\nDHCPPort = %s\nPXEPort = %s\n[store]\nStateDir = %s/s2\n' \
	"$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" "$TMP" >"$TMP/bad.conf"
"$PXED" -c "$TMP/bad.conf" >"$TMP/bad.log" 2>&1 && fail "started with an unknown user"
assert_grep "User no-such-user-x: no such user" "$TMP/bad.log"
pass "unknown user refused at start"

# A database in a directory pxed did not create and that is not the
# user's (like URL=sqlite:/var/lib/pxed.db): refused, and left as it was.
mkdir -p "$TMP/lib/other"
chmod 755 "$TMP/lib"
echo keep >"$TMP/lib/other/file"
cat >"$TMP/lib.conf" <<EOC
[pxe]
User = nobody
DHCPPort = $(free_port)
PXEPort = $(free_port)
[tftp]
Port = $(free_port)
Root = $TMP/root
[http]
Port = $(free_port)
Address = 127.0.0.1
[store]
StateDir = $TMP/state3
URL = sqlite:$TMP/lib/pxed.db
EOC
timeout 20 "$PXED" -c "$TMP/lib.conf" >"$TMP/lib.log" 2>&1 && fail "started with its database in a directory that is not its own"
assert_grep "the database's directory $TMP/lib belongs to uid 0, not to User nobody" "$TMP/lib.log"
assert_eq "owner of the database's directory" "root" "$(stat -c %U "$TMP/lib")"
assert_eq "owner of a file beside it" "root" "$(stat -c %U "$TMP/lib/other/file")"
pass "a database directory that is not pxed's own is refused, not taken over"

# A StateDir open to every user, made by someone else: refused, unchanged.
mkdir -p "$TMP/state4"
chmod 755 "$TMP/state4"
sed "s|^StateDir = .*|StateDir = $TMP/state4|; s|^URL = .*|URL = sqlite:$TMP/state4/pxed.db|" "$TMP/lib.conf" >"$TMP/s4.conf"
timeout 20 "$PXED" -c "$TMP/s4.conf" >"$TMP/s4.log" 2>&1 && fail "started with a StateDir open to every user"
assert_grep "StateDir $TMP/state4 is open to every user \(mode 0755\)" "$TMP/s4.log"
assert_eq "mode of that StateDir" 755 "$(stat -c %a "$TMP/state4")"
pass "a StateDir open to every user is refused at start"

# Started as the User already (as the systemd unit starts it, with only a
# capability to bind low ports): no drop to do and nothing to warn about.
mkdir -p "$TMP/s3"
chown nobody "$TMP/s3"
chmod 750 "$TMP/s3"
printf '[pxe]\nUser = nobody\nDHCPPort = %s\nPXEPort = %s\n[tftp]\nPort = %s\n[http]\nPort = %s\nAddress = 127.0.0.1\n[store]\nStateDir = %s/s3\n' \
	"$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" "$TMP" >"$TMP/as-user.conf"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$PXED" -c "$TMP/as-user.conf" >"$TMP/as-user.log" 2>&1 &
AS_PID=$!
on_exit "kill $AS_PID"
wait_for 10 grep -q "ready:" "$TMP/as-user.log" || { cat "$TMP/as-user.log" >&2; fail "pxed started as nobody did not start"; }
assert_grep "running as user nobody \(uid 65534\)" "$TMP/as-user.log"
grep -q "not started as root" "$TMP/as-user.log" && fail "warned although started as its User"
pass "started as its User already: runs, says so, no warning"
