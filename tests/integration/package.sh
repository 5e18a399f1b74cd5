#!/bin/bash
# The Debian package, built and installed for real, then run the way its
# systemd unit runs it.
#
#   1. dpkg-buildpackage -us -uc -b in a copy of the tree (its declared
#      build dependencies checked with dpkg-checkbuilddeps); lintian
#      reports no error or warning.
#   2. The .deb's files, modes, conffiles and dependencies (dpkg-deb).
#   3. A real `dpkg -i` into a throw-away root: an overlay whose lower
#      layer is this machine's / (read-only) and whose upper layer is a
#      tmpfs, in a private mount namespace, entered with chroot.  The
#      package's own maintainer scripts run (adduser makes the pxed user
#      in the overlay's /etc/passwd; deb-systemd-helper enables the unit);
#      nothing reaches the real system, and the mounts vanish with the
#      namespace whatever happens.  Lighter than a debootstrap chroot and
#      more real than `dpkg -x` with hand-run scripts.
#   4. In it: the user, /var/lib/pxed (0700 pxed), the conffile, the man
#      pages (man finds them; groff -ww has nothing to say),
#      `systemd-analyze verify` and `security` (OK band) on the unit.
#   5. The installed pxed started as the unit starts it: its ExecStart,
#      as User pxed, with only CAP_NET_BIND_SERVICE (ambient, bounding),
#      no_new_privs, UMask 0077, and NOTIFY_SOCKET, in a network
#      namespace; a simulated machine in a second namespace gets the
#      ProxyDHCP offer, iPXE over TFTP and its boot script and kernel
#      over HTTP; pxectl on the server works without naming a token.
#   6. ExecReload (SIGHUP) and stop; `dpkg --purge` removes the state.
. "$(dirname "$0")/../lib.sh"
need_root
for t in dpkg-buildpackage dpkg-checkbuilddeps dh lintian unshare setpriv ip curl python3 man groff systemd-analyze; do
	command -v "$t" >/dev/null || skip "needs $t"
done
HERE="$(cd "$(dirname "$0")" && pwd)"

if [ "${1:-}" != --inside ]; then
	# ---- 1. build --------------------------------------------------------
	mkdir -p "$TMP/src/pxed"
	# The tree as committed plus local changes, without build output.
	(cd "$ROOT" && tar --exclude='./build*' --exclude=./.git --exclude='./debian/pxed' \
		--exclude='./debian/.debhelper' --exclude='./debian/tmp' -cf - .) | tar -xf - -C "$TMP/src/pxed"
	cd "$TMP/src/pxed" || fail "no source copy"
	dpkg-checkbuilddeps >"$TMP/builddeps.log" 2>&1 || { cat "$TMP/builddeps.log" >&2; fail "build dependencies missing"; }
	start=$SECONDS
	# The unit tests run in the suite already (scripts/test.sh unit).
	DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b >"$TMP/build.log" 2>&1 ||
		{ tail -n 40 "$TMP/build.log" >&2; fail "dpkg-buildpackage failed"; }
	VERSION=$(dpkg-parsechangelog -SVersion)
	ARCH=$(dpkg --print-architecture)
	DEB=$TMP/src/pxed_${VERSION}_${ARCH}.deb
	[ -f "$DEB" ] || fail "no $DEB"
	pass "dpkg-buildpackage -us -uc -b: $(basename "$DEB") in $((SECONDS - start)) s"

	# make install on its own, with other paths, reusing the objects the
	# package build left: DESTDIR is where files go and is never written
	# into one; the paths are.  The web console is inside pxed itself:
	# nothing of ui/ is installed beside it.
	DI=$TMP/destdir
	make install DESTDIR="$DI" PREFIX=/opt/pxed SYSCONFDIR=/etc/opt/pxed LOCALSTATEDIR=/var/opt/pxed \
		>"$TMP/install.log" 2>&1 || { tail -n 20 "$TMP/install.log" >&2; fail "make install"; }
	for f in opt/pxed/sbin/pxed opt/pxed/bin/pxectl opt/pxed/share/man/man8/pxed.8 \
		opt/pxed/share/man/man5/pxed.conf.5 opt/pxed/share/man/man1/pxectl.1 \
		opt/pxed/share/doc/pxed/pxed.conf.example etc/opt/pxed/pxed/pxed.conf \
		opt/pxed/lib/systemd/system/pxed.service opt/pxed/share/bash-completion/completions/pxectl; do
		[ -f "$DI/$f" ] || fail "make install did not install /$f"
	done
	assert_grep '^ExecStart=/opt/pxed/sbin/pxed -c /etc/opt/pxed/pxed/pxed.conf$' "$DI/opt/pxed/lib/systemd/system/pxed.service"
	assert_grep '^ReadWritePaths=/var/opt/pxed/lib/pxed$' "$DI/opt/pxed/lib/systemd/system/pxed.service"
	assert_grep '^StateDir = /var/opt/pxed/lib/pxed$' "$DI/etc/opt/pxed/pxed/pxed.conf"
	grep -rlIF "$DI" "$DI" && fail "DESTDIR written into installed files"
	grep -rlIE '@[A-Z]+@' "$DI" && fail "a placeholder left in installed files"
	[ -e "$DI/opt/pxed/share/pxed" ] && fail "make install installed console files beside pxed, which embeds them"
	rm -rf "$DI"
	pass "make install: PREFIX, SYSCONFDIR, LOCALSTATEDIR written into the config and unit, DESTDIR not"
	cd "$TMP" || exit 1

	lintian --pedantic --fail-on error,warning "$DEB" >"$TMP/lintian.log" 2>&1
	rc=$?
	grep -v 'running with root privileges' "$TMP/lintian.log" | sed 's/^/   lintian: /'
	[ $rc -eq 0 ] || fail "lintian reports errors or warnings"
	grep -qE '^[EW]: ' "$TMP/lintian.log" && fail "lintian: $(grep -E '^[EW]: ' "$TMP/lintian.log")"
	pass "lintian: no error, no warning"

	# ---- 2. the .deb -----------------------------------------------------
	dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' >"$TMP/contents"
	while read -r mode owner path; do
		grep -qxF -- "$mode $owner $path" "$TMP/contents" || { cat "$TMP/contents" >&2; fail "not in the .deb: $mode $owner $path"; }
	done <<'EOF'
-rwxr-xr-x root/root ./usr/sbin/pxed
-rwxr-xr-x root/root ./usr/bin/pxectl
-rw-r--r-- root/root ./etc/pxed/pxed.conf
-rw-r--r-- root/root ./lib/systemd/system/pxed.service
-rw-r--r-- root/root ./usr/share/man/man8/pxed.8.gz
-rw-r--r-- root/root ./usr/share/man/man5/pxed.conf.5.gz
-rw-r--r-- root/root ./usr/share/man/man1/pxectl.1.gz
-rw-r--r-- root/root ./usr/share/bash-completion/completions/pxectl
-rw-r--r-- root/root ./usr/share/doc/pxed/pxed.conf.example
-rw-r--r-- root/root ./usr/share/doc/pxed/copyright
drwxr-xr-x root/root ./var/lib/pxed/
EOF
	assert_eq "conffiles" "/etc/pxed/pxed.conf" "$(dpkg-deb -I "$DEB" conffiles)"
	depends=$(dpkg-deb -f "$DEB" Depends)
	for d in ipxe adduser libsqlite3-0 libmicrohttpd12; do
		[[ ", $depends," == *", $d"[\ ,]* ]] || fail "Depends lacks $d: $depends"
	done
	dpkg-deb --ctrl-tarfile "$DEB" | tar -tf - | grep -qx './postinst' || fail "no postinst"
	pass ".deb: files and modes, /etc/pxed/pxed.conf a conffile, Depends on ipxe and adduser"

	# ---- network: the server's namespace and the machine's --------------
	NS_S=pxed-pk-s-$$ NS_C=pxed-pk-c-$$ IF_S=pks$$ IF_C=pkc$$
	ip netns add "$NS_S" || skip "cannot create network namespaces"
	on_exit "ip netns del $NS_S"
	ip netns add "$NS_C" || fail "cannot create $NS_C"
	on_exit "ip netns del $NS_C"
	ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" || fail "no veth"
	ip -n "$NS_S" addr add 10.79.0.1/24 dev "$IF_S"
	ip -n "$NS_C" addr add 10.79.0.2/24 dev "$IF_C"
	for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
	ip -n "$NS_S" link set "$IF_S" up
	ip -n "$NS_C" link set "$IF_C" up

	# ---- 3..6 in a private mount namespace ------------------------------
	OUTER=$TMP DEB=$DEB NS_S=$NS_S NS_C=$NS_C IF_S=$IF_S IF_C=$IF_C \
		unshare --mount --propagation private bash "$HERE/$(basename "$0")" --inside
	exit $?
fi

# ==== inside the private mount namespace ===================================
R=$OUTER/ovl/merged
mkdir -p "$OUTER/ovl"
mount -t tmpfs -o size=1g,mode=0755 pxed-pkg-test "$OUTER/ovl" || fail "tmpfs"
mkdir -p "$OUTER/ovl/upper" "$OUTER/ovl/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$OUTER/ovl/upper,workdir=$OUTER/ovl/work" "$R" ||
	skip "cannot mount an overlay of / (no overlayfs?)"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount --bind /sys "$R/sys"
mount -t tmpfs tmpfs "$R/run" # no systemd in here: nothing gets started
mount -t tmpfs tmpfs "$R/tmp"
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
cp "$DEB" "$R/tmp/"

# ---- 3. install -------------------------------------------------------------
in_root dpkg -i "/tmp/$(basename "$DEB")" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "dpkg -i"; }
id pxed >/dev/null 2>&1 && fail "the pxed user leaked out of the throw-away root"
assert_eq "dpkg status" "install ok installed" "$(in_root dpkg-query -W -f='${Status}' pxed)"
pass "dpkg -i into the throw-away root"

# ---- 4. what it put there ------------------------------------------------
IFS=: read -r _ _ uid gid _ home shell < <(in_root getent passwd pxed) || fail "no pxed user"
[ "$uid" -lt 1000 ] || fail "pxed is not a system user (uid $uid)"
assert_eq "pxed's home" /var/lib/pxed "$home"
assert_eq "pxed's shell" /usr/sbin/nologin "$shell"
assert_eq "pxed's group" "pxed" "$(in_root getent group "$gid" | cut -d: -f1)"
assert_eq "/var/lib/pxed" "700 pxed pxed" "$(in_root stat -c '%a %U %G' /var/lib/pxed)"
assert_eq "/var/lib/pxed/root" "755 pxed pxed" "$(in_root stat -c '%a %U %G' /var/lib/pxed/root)"
in_root dpkg-query -W -f='${Conffiles}\n' pxed | grep -q '^ /etc/pxed/pxed.conf [0-9a-f]\{32\}$' || fail "conffile not registered"
[ -L "$R/etc/systemd/system/multi-user.target.wants/pxed.service" ] || fail "unit not enabled by the postinst"
pass "system user pxed (uid $uid), /var/lib/pxed 0700 pxed, conffile registered, unit enabled"

for page in pxed.8 pxed.conf.5 pxectl.1; do
	name=${page%.*} sect=${page##*.}
	f=$(in_root man -w "$sect" "$name") || fail "man -w $sect $name"
	assert_eq "man -w $sect $name" "/usr/share/man/man$sect/$page.gz" "$f"
	in_root sh -c "zcat $f | groff -t -man -Tutf8 -ww -z" >"$TMP/groff.log" 2>&1
	[ -s "$TMP/groff.log" ] && { cat "$TMP/groff.log" >&2; fail "groff warns on $page"; }
	in_root env MANWIDTH=80 man "$sect" "$name" >"$TMP/$page.txt" 2>"$TMP/man.err" || fail "man $sect $name"
	assert_grep '^NAME$' "$TMP/$page.txt"
	grep -qE '`|\*\*|^#|\\f|\\-' "$TMP/$page.txt" && fail "markup left in $page: $(grep -m3 -E '`|\*\*|^#|\\f|\\-' "$TMP/$page.txt")"
done
assert_grep "StateDir = pxed-state" "$TMP/pxed.conf.5.txt" "pxed.conf(5) lacks the settings"
in_root whatis pxed >"$TMP/whatis" 2>&1 && assert_grep '^pxed \(8\) +- PXE deployment service point' "$TMP/whatis"
pass "man pxed, man pxed.conf, man pxectl: found, rendered, no groff warnings"

in_root systemd-analyze verify /lib/systemd/system/pxed.service >"$TMP/verify.log" 2>&1 ||
	{ cat "$TMP/verify.log" >&2; fail "systemd-analyze verify"; }
in_root systemd-analyze security --offline=true /lib/systemd/system/pxed.service >"$TMP/security.log" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for pxed.service: \([0-9.]*\) \([A-Z ]*\).*/\1 \2/p' "$TMP/security.log")
[ -n "$exposure" ] || { tail -5 "$TMP/security.log" >&2; fail "no exposure level"; }
awk -v e="${exposure%% *}" 'BEGIN { exit !(e <= 4.9) }' || fail "exposure $exposure: not in the OK band"
in_root pxed -t -c /etc/pxed/pxed.conf >"$TMP/conf.block" 2>&1 || { cat "$TMP/conf.block" >&2; fail "packaged config refused"; }
pass "systemd-analyze verify clean; security exposure $exposure; pxed -t accepts /etc/pxed/pxed.conf"

# ---- 5. run it as the unit does ------------------------------------------
unit=$R/lib/systemd/system/pxed.service
unit_val() { sed -n "s/^$1=//p" "$unit" | tail -1; }
assert_eq "unit User" pxed "$(unit_val User)"
assert_eq "unit capabilities" CAP_NET_BIND_SERVICE "$(unit_val AmbientCapabilities)"
assert_eq "unit Type" notify "$(unit_val Type)"
read -r -a exec_start <<<"$(unit_val ExecStart)"

mkdir -p "$R/var/lib/pxed/root/deb"
echo "kernel bytes $$" >"$R/var/lib/pxed/root/deb/vmlinuz"
echo "initrd bytes $$" >"$R/var/lib/pxed/root/deb/initrd.gz"
chmod 644 "$R/var/lib/pxed/root/deb/"*

NOTIFY_OUT=$TMP/notify.out
ip netns exec "$NS_S" python3 "$HERE/notify_listener.py" "$R/run/notify.sock" "$NOTIFY_OUT" \
	--udp 67,69,4011 --tcp 8080 &
on_exit "kill $!"
wait_for 5 grep -q LISTENING "$NOTIFY_OUT" || fail "notify listener"
chmod 666 "$R/run/notify.sock" # systemd's socket takes datagrams from any user too

(umask 0077; exec ip netns exec "$NS_S" chroot "$R" \
	setpriv --reuid=pxed --regid=pxed --init-groups --no-new-privs \
	--inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
	--bounding-set=-all,+net_bind_service \
	env -i PATH=/usr/sbin:/usr/bin NOTIFY_SOCKET=/run/notify.sock "${exec_start[@]}") \
	>"$TMP/pxed.log" 2>&1 &
PID=$!
on_exit "kill $PID; sleep 0.3; kill -9 $PID"
wait_for 15 grep -q '^READY=1$' "$NOTIFY_OUT" || { cat "$TMP/pxed.log" >&2; fail "the installed pxed did not say READY=1"; }
wait_for 5 grep -q '^PORTS' "$NOTIFY_OUT"
assert_eq "ports at READY=1" "PORTS ok" "$(grep -m1 '^PORTS' "$NOTIFY_OUT")"
# $PID is the subshell's exec: ip netns exec, chroot, setpriv and env all exec.
st=/proc/$PID/status
assert_eq "process" pxed "$(awk '/^Name:/{print $2}' "$st")"
assert_eq "uids" "$uid $uid $uid $uid" "$(awk '/^Uid:/{print $2, $3, $4, $5}' "$st")"
assert_eq "effective capabilities" 0000000000000400 "$(awk '/^CapEff:/{print $2}' "$st")"
assert_eq "bounding set" 0000000000000400 "$(awk '/^CapBnd:/{print $2}' "$st")"
assert_eq "no_new_privs" 1 "$(awk '/^NoNewPrivs:/{print $2}' "$st")"
assert_grep "running as user pxed" "$TMP/pxed.log"
grep -q "not started as root" "$TMP/pxed.log" && fail "pxed warns when started as its User"
assert_eq "state files (name, mode, owner)" "api.token 600 $uid
api-read.token 600 $uid
pxed.db 640 $uid
server.guid 600 $uid" "$(cd "$R/var/lib/pxed" && stat -c '%n %a %u' api.token api-read.token pxed.db server.guid 2>&1)"
pass "the installed pxed runs as pxed with only CAP_NET_BIND_SERVICE, READY=1 after UDP 67/69/4011 and TCP 8080"

# pxectl on the server, as root, with no token option: finds /var/lib/pxed/api.token.
ctl() { ip netns exec "$NS_S" chroot "$R" env -i PATH=/usr/bin HOME=/root sh -c 'cd / && pxectl "$@"' pxectl "$@" \
	>"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
MAC=52:54:00:79:00:01
ctl image add deb12 --kernel deb/vmlinuz --initrd deb/initrd.gz --cmdline "auto=true"
ctl device add lab-79 --mac $MAC
ctl deploy d79 --image deb12 --device lab-79 --required
pass "pxectl on the server changes things with the token it finds in /var/lib/pxed"

REPLY=$TMP/reply
bcast() { ip netns exec "$NS_C" python3 "$HERE/dhcp_client.py" --broadcast "$IF_C" "$@" >"$REPLY" 2>&1 ||
	{ cat "$REPLY" >&2; fail "dhcp_client.py"; }; }
field() { sed -n "s/^$1=//p" "$REPLY"; }
bcast --mac $MAC --arch 0 --xid 0x79000001
assert_eq "OFFER" OFFER "$(field type)"
assert_eq "OFFER siaddr" 10.79.0.1 "$(field siaddr)"
assert_eq "OFFER file" undionly.kpxe "$(field file)"
ip netns exec "$NS_C" curl -sf --max-time 20 -o "$TMP/nbp" "tftp://10.79.0.1/undionly.kpxe" || fail "TFTP undionly.kpxe"
cmp -s "$TMP/nbp" /usr/lib/ipxe/undionly.kpxe || fail "TFTP: not Debian's undionly.kpxe"
bcast --mac $MAC --arch 0 --user-class iPXE --xid 0x79000002
url=$(field file)
[[ $url == http://10.79.0.1:8080/boot.ipxe\?mac=* ]] || fail "iPXE OFFER file: $url"
ip netns exec "$NS_C" curl -sf --max-time 10 -o "$TMP/script" "$url" || fail "HTTP $url"
assert_grep '^#!ipxe' "$TMP/script"
kurl=$(sed -n 's/^kernel \(http:[^ ]*\).*/\1/p' "$TMP/script")
[ -n "$kurl" ] || { cat "$TMP/script" >&2; fail "no kernel line"; }
ip netns exec "$NS_C" curl -sf --max-time 10 -o "$TMP/kernel" "$kurl" || fail "HTTP $kurl"
cmp -s "$TMP/kernel" "$R/var/lib/pxed/root/deb/vmlinuz" || fail "kernel bytes differ"
assert_grep "$MAC, -: boot 'd79'" "$TMP/pxed.log"
pass "a machine boots: ProxyDHCP offer, undionly.kpxe over TFTP, boot script and kernel over HTTP"

# ---- 6. reload, stop, purge --------------------------------------------------
sed -i 's/^Level = info/Level = debug/' "$R/etc/pxed/pxed.conf"
kill -HUP "$PID" # ExecReload
two_ready() { [ "$(grep -c '^READY=1$' "$NOTIFY_OUT")" -ge 2 ]; }
wait_for 5 two_ready || { cat "$NOTIFY_OUT" >&2; fail "no READY=1 after the reload"; }
grep -q '^RELOADING=1|MONOTONIC_USEC=' "$NOTIFY_OUT" || fail "no RELOADING=1"
assert_grep "settings reloaded" "$TMP/pxed.log"
kill -TERM "$PID"
wait_for 5 grep -q '^STOPPING=1$' "$NOTIFY_OUT" || fail "no STOPPING=1"
wait "$PID" 2>/dev/null
assert_eq "exit status" 0 $?
pass "reload as ExecReload: RELOADING=1, READY=1; SIGTERM: STOPPING=1, exit 0"

# ---- 7. under systemd itself ------------------------------------------------
# The same root booted by systemd-nspawn (its own PID 1, journald, a
# network namespace of its own) with a target that pulls in pxed.service
# only: Type=notify, the sandbox, the capabilities and seccomp applied by
# systemd, the journal's priorities, reload and stop.  Skipped where
# systemd-nspawn is missing or cannot boot a container here.
if command -v systemd-nspawn >/dev/null && [ -x "$R/lib/systemd/systemd" ]; then
	printf '[Unit]\nDescription=pxed test boot\nRequires=pxed.service\nAfter=pxed.service\nAllowIsolate=yes\n' \
		>"$R/etc/systemd/system/pxed-test.target"
	for m in proc dev sys run tmp; do umount "$R/$m"; done
	systemd-nspawn -q -D "$R" -b --private-network --register=no --keep-unit --console=passive \
		-- systemd.unit=pxed-test.target >"$TMP/nspawn.log" 2>&1 &
	NSPAWN=$!
	on_exit "kill $NSPAWN; sleep 2; kill -9 $NSPAWN"
	init_pid() { pgrep -P "$NSPAWN" -x systemd; }
	wait_for 10 init_pid || { cat "$TMP/nspawn.log" >&2; fail "systemd-nspawn did not start systemd"; }
	INIT=$(init_pid)
	sd() { nsenter -t "$INIT" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER= "$@"; }
	booted() { sd systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded'; }
	if ! wait_for 60 booted; then
		sd systemctl is-system-running >&2
		skip "systemd-nspawn could not boot a container here (unit results above)"
	fi
	assert_eq "pxed.service state" "ActiveState=active
StatusText=ProxyDHCP on UDP 67 and 4011, TFTP on UDP 69, HTTP on TCP 8080
SubState=running" "$(sd systemctl show pxed -p ActiveState -p SubState -p StatusText | sort)"
	mpid=$(sd systemctl show pxed -p MainPID --value)
	sd grep -E '^(Uid|CapEff|Seccomp|NoNewPrivs):' "/proc/$mpid/status" | tr -s '\t ' ' ' >"$TMP/sd.status"
	for want in "Uid: $uid $uid $uid $uid" "NoNewPrivs: 1" "Seccomp: 2" "CapEff: 0000000000000400"; do
		grep -qx "$want" "$TMP/sd.status" || { cat "$TMP/sd.status" >&2; fail "under systemd: not '$want'"; }
	done
	sd curl -sf http://127.0.0.1:8080/healthz >/dev/null || fail "pxed under systemd does not answer HTTP"
	echo 'Bogus = 1' >>"$R/etc/pxed/pxed.conf"
	sd systemctl reload pxed || fail "systemctl reload"
	wait_for 5 sd sh -c 'journalctl -u pxed -p err -o cat | grep -q "reload refused"' ||
		fail "the refused reload is not at priority err in the journal"
	sd journalctl -u pxed -p warning -o cat | grep -v 'reload refused' | grep -q . &&
		fail "journal: lines of pxed above their level: $(sd journalctl -u pxed -p warning -o cat)"
	sd journalctl -u pxed -o cat | grep -qE '^(info|<6>).*[0-9]{4}-[0-9]{2}-[0-9]{2}T' &&
		fail "journal: a timestamp of pxed's own"
	sd journalctl -u pxed -o cat | grep -q '^info pxed: ready:' || fail "journal lacks pxed's ready line"
	sd systemctl is-active pxed >/dev/null || fail "pxed stopped after a refused reload"
	sd systemctl stop pxed || fail "systemctl stop"
	assert_eq "stop" "ExecMainStatus=0
Result=success" "$(sd systemctl show pxed -p Result -p ExecMainStatus | sort)"
	exposure=$(sd systemd-analyze security pxed.service 2>&1 | sed -n 's/.*Overall exposure level for pxed.service: \([0-9.]*\).*/\1/p')
	awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 4.9) }' || fail "exposure under systemd: '$exposure'"
	sd systemctl poweroff >/dev/null 2>&1
	wait_for 20 sh -c "! kill -0 $NSPAWN" || kill "$NSPAWN"
	wait "$NSPAWN" 2>/dev/null
	sed -i '/^Bogus = 1$/d' "$R/etc/pxed/pxed.conf"
	mount -t proc proc "$R/proc"; mount --bind /dev "$R/dev"; mount --bind /sys "$R/sys"
	mount -t tmpfs tmpfs "$R/run"; mount -t tmpfs tmpfs "$R/tmp"
	pass "under systemd: active once ready, status text, uid pxed, seccomp, only CAP_NET_BIND_SERVICE; reload, journal priorities, stop; exposure $exposure"
else
	echo "(no systemd-nspawn: the unit is not run under systemd itself)"
fi

in_root dpkg --purge pxed >"$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log" >&2; fail "dpkg --purge"; }
[ -e "$R/var/lib/pxed" ] && fail "purge left /var/lib/pxed"
[ -e "$R/etc/pxed/pxed.conf" ] && fail "purge left /etc/pxed/pxed.conf"
[ -e "$R/usr/sbin/pxed" ] && fail "purge left /usr/sbin/pxed"
pass "dpkg --purge removes the programs, the configuration and the state"
