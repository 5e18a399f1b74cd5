#!/bin/bash
# ProxyDHCP end to end: pxed runs in one network namespace, a scripted PXE
# client (dhcp_client.py) in another, joined by a veth pair.  The client
# broadcasts DHCPDISCOVER from 0.0.0.0:68 as firmware does and sends the
# follow-up DHCPREQUEST to port 4011; the checks read the replies and
# pxed's decision log:
#   - the OFFER/ACK a known device with a required deployment gets (BIOS,
#     UEFI, iPXE), silence for non-PXE, malformed and unknown clients;
#   - the settings rules: IsActive, MACIgnoreListFile, BindPolicy,
#     ResponseDelay, changed at run time;
#   - the seed's scenario over DHCP+HTTP: a second required deployment is
#     served at the next request, with no restart and CacheExpire 3600.
#
# PXED_BIN=path runs another daemon binary with the same -c interface.
source "$(dirname "$0")/../lib.sh"
PXED=${PXED_BIN:-$PXED}
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
[ -x "$PXECTL" ] || skip "no pxectl binary at $PXECTL (make first)"
need_root
command -v ip >/dev/null || skip "needs iproute2"
command -v curl >/dev/null || skip "needs curl"
CLIENT="$(cd "$(dirname "$0")" && pwd)/dhcp_client.py"

# ---- two namespaces and a veth between them ----------------------------
SRV=10.78.0.1
CLI=10.78.0.2
netns_pair dp $SRV/24 $CLI/24

# ---- pxed --------------------------------------------------------------
HTTP_PORT=8080
ROOT_DIR=$TMP/root
mkdir -p "$ROOT_DIR/d1" "$ROOT_DIR/d2"
for d in d1 d2; do
	echo "$d kernel" >"$ROOT_DIR/$d/vmlinuz"
	echo "$d initrd" >"$ROOT_DIR/$d/initrd.gz"
done
IGNORE_FILE=$TMP/ignore.macs
printf '# MACs pxed never answers\n02:00:00:00:00:01\n' >"$IGNORE_FILE"

# write_conf [KEY=VALUE ...]: the [pxe] settings that differ from the base.
write_conf() {
	local is_active=yes policy=exclude ifaces= delay=0 kv
	for kv in "$@"; do
		case $kv in
		IsActive=*) is_active=${kv#*=} ;;
		BindPolicy=*) policy=${kv#*=} ;;
		BindInterfaces=*) ifaces=${kv#*=} ;;
		ResponseDelay=*) delay=${kv#*=} ;;
		esac
	done
	cat >"$TMP/pxed.conf.new" <<CONF
[pxe]
IsActive = $is_active
SupportUnknownMachines = no
MACIgnoreListFile = $IGNORE_FILE
ResponseDelay = $delay
CacheExpire = 3600
BindPolicy = $policy
BindInterfaces = $ifaces
DHCPPort = 67
PXEPort = 4011

[tftp]
Root = $ROOT_DIR
Port = 69

[http]
Port = $HTTP_PORT
Address =

[store]
StateDir = $TMP/state
URL = $(store_url)
# Every decision gets its own log line: the checks below read them.
DecisionRepeatWindow = 0

[log]
Level = debug
CONF
	mv "$TMP/pxed.conf.new" "$TMP/pxed.conf"
}

reloaded_since() { [ "$(grep -c "settings reloaded" "$TMP/pxed.log")" -gt "$1" ]; }
# reload [KEY=VALUE ...]: rewrite the config, SIGHUP, wait for the reload.
reload() {
	local before
	before=$(grep -c "settings reloaded" "$TMP/pxed.log")
	write_conf "$@"
	kill -HUP "$PXED_PID"
	wait_for 5 reloaded_since "$before" ||
		{ tail -n 20 "$TMP/pxed.log" >&2; fail "pxed did not reload after SIGHUP ($*)"; }
}

write_conf
start_pxed "$TMP/pxed.conf" "$NS_S"
assert_grep "ProxyDHCP listening on UDP 67 and 4011" "$TMP/pxed.log"

ctl() { PXED_TOKEN_FILE="$API_TOKEN_FILE" ip netns exec "$NS_S" "$PXECTL" --server "http://127.0.0.1:$HTTP_PORT" "$@" >"$TMP/ctl.out" 2>&1 ||
	{ cat "$TMP/ctl.out" >&2; fail "pxectl $*"; }; }
MAC=52:54:00:78:00:01
MAC_DASH=52-54-00-78-00-01
GUID=8a3c1f2e-1234-4000-8000-525400780001
# Option 97 on the wire: type 0, then the UUID, first three fields little-endian.
GUID_WIRE=00$(python3 -c 'import uuid,sys;print(uuid.UUID(sys.argv[1]).bytes_le.hex())' "$GUID")
ctl image add img1 --kernel d1/vmlinuz --initrd d1/initrd.gz --cmdline "deploy=d1"
ctl image add img2 --kernel d2/vmlinuz --initrd d2/initrd.gz --cmdline "deploy=d2"
ctl device add lab-78 --mac "$MAC" --guid "$GUID"
ctl deploy d1 --image img1 --device lab-78 --required

# ---- the client --------------------------------------------------------
REPLY=$TMP/reply
# bcast ARGS...: DISCOVER (or --type ...) broadcast from 0.0.0.0:68.
bcast() { ip netns exec "$NS_C" python3 "$CLIENT" --broadcast "$IF_C" "$@" >"$REPLY" 2>"$TMP/client.err" ||
	{ cat "$TMP/client.err" >&2; fail "dhcp_client.py failed"; }; }
# ucast ARGS...: a request to pxed's port 4011 from $CLI:68.
ucast() { ip netns exec "$NS_C" python3 "$CLIENT" --unicast $SRV --port 4011 --source $CLI:68 "$@" >"$REPLY" 2>"$TMP/client.err" ||
	{ cat "$TMP/client.err" >&2; fail "dhcp_client.py failed"; }; }
# field KEY: one key of the last reply ("" when absent).
field() { sed -n "s/^$1=//p" "$REPLY"; }
answered() { [ "$(cat "$REPLY")" != none ] || { tail -n 5 "$TMP/pxed.log" >&2; fail "$1: no reply"; }; }
silent() { [ "$(cat "$REPLY")" = none ] || { cat "$REPLY" >&2; fail "$1: pxed answered"; }; }
# log_mark / log_since: the log lines written after the mark.
log_mark() { MARK=$(wc -l <"$TMP/pxed.log"); }
log_since() { tail -n +$((MARK + 1)) "$TMP/pxed.log" >"$TMP/log.since"; }
log_has() { log_since; assert_grep "$1" "$TMP/log.since" "${2:-log lacks /$1/}"; }
OPT43_BIOS=060108ff  # PXE_DISCOVERY_CONTROL = 8: download `file` directly

# ---- 1. a known device with a required deployment ----------------------
log_mark
bcast --mac "$MAC" --guid "$GUID" --arch 0 --xid 0x78000001
answered "BIOS DISCOVER"
assert_eq "OFFER type" OFFER "$(field type)"
assert_eq "OFFER yiaddr" 0.0.0.0 "$(field yiaddr)"
assert_eq "OFFER siaddr" $SRV "$(field siaddr)"
assert_eq "OFFER option 54" $SRV "$(field opt54)"
assert_eq "OFFER option 60" PXEClient "$(field opt60)"
assert_eq "OFFER option 97" "$GUID_WIRE" "$(field opt97)"
assert_eq "OFFER chaddr" "$MAC" "$(field chaddr)"
assert_eq "OFFER file (BIOS)" undionly.kpxe "$(field file)"
assert_eq "OFFER option 43 (BIOS)" $OPT43_BIOS "$(field opt43)"
assert_eq "OFFER source" "$SRV:67" "$(field src_ip):$(field src_port)"
assert_eq "OFFER destination" "255.255.255.255:68" "$(field dst_ip):$(field dst_port)"
log_has "decide: $MAC, $GUID: boot 'd1' \(.*required.*\) \[dhcp DISCOVER on $IF_S, arch bios\(0\), pxe\]"
pass "BIOS DISCOVER: OFFER yiaddr 0, siaddr/54 = $SRV, 60 PXEClient, 97 echoed, undionly.kpxe, broadcast"

ucast --type request --mac "$MAC" --guid "$GUID" --arch 0 --ciaddr $CLI --xid 0x78000002
answered "BIOS REQUEST:4011"
assert_eq "ACK type" ACK "$(field type)"
assert_eq "ACK file (BIOS)" undionly.kpxe "$(field file)"
assert_eq "ACK option 54" $SRV "$(field opt54)"
assert_eq "ACK option 97" "$GUID_WIRE" "$(field opt97)"
assert_eq "ACK unicast back to the client" "$SRV:4011>$CLI:68" "$(field src_ip):$(field src_port)>$(field dst_ip):$(field dst_port)"
pass "BIOS REQUEST to 4011: DHCPACK with the same file, unicast back"

bcast --mac "$MAC" --guid "$GUID" --arch 7 --xid 0x78000003
answered "UEFI DISCOVER"
assert_eq "OFFER file (UEFI x64)" snponly.efi "$(field file)"
assert_eq "OFFER option 60 (UEFI)" PXEClient "$(field opt60)"
assert_eq "OFFER option 43 (UEFI: none, EDK2 asks 4011)" "" "$(field opt43)"
ucast --type request --mac "$MAC" --guid "$GUID" --arch 7 --ciaddr $CLI --xid 0x78000004
answered "UEFI REQUEST:4011"
assert_eq "ACK file (UEFI x64)" snponly.efi "$(field file)"
pass "UEFI x64 (arch 7): OFFER and 4011 ACK carry snponly.efi"

# The script URL carries a fresh one-time token for each answer, which
# stands for the GUID and arch (boot_token.sh checks what it allows).
IPXE_URL="http://$SRV:$HTTP_PORT/boot\.ipxe\?mac=$MAC&t=[0-9a-f]{32}"
bcast --mac "$MAC" --guid "$GUID" --arch 7 --user-class iPXE --xid 0x78000005
answered "iPXE DISCOVER"
assert_grep "^file=$IPXE_URL$" "$REPLY"
OFFER_FILE=$(field file)
ucast --type request --mac "$MAC" --guid "$GUID" --arch 7 --user-class iPXE --ciaddr $CLI --xid 0x78000006
answered "iPXE REQUEST:4011"
assert_grep "^file=$IPXE_URL$" "$REPLY"
[ "$(field file)" != "$OFFER_FILE" ] || fail "the OFFER and the ACK carry the same token"
pass "iPXE (user class 77): file is the boot.ipxe URL with a token, OFFER and ACK"

# UEFI HTTP boot (EDK2 HttpBootDxe): option 60 HTTPClient, arch 16.  The
# OFFER says HTTPClient and carries the URI of the UEFI x64 boot program
# on pxed's HTTP side; fetching it gives the bytes of Debian's snponly.efi
# (a symlink in BootProgramDir).  Other HTTP arches are not serviced.
HTTP_NBP_URL="http://$SRV:$HTTP_PORT/files/snponly.efi"
log_mark
bcast --http --mac "$MAC" --guid "$GUID" --xid 0x78000009
answered "UEFI HTTP DISCOVER"
assert_eq "HTTP OFFER type" OFFER "$(field type)"
assert_eq "HTTP OFFER yiaddr" 0.0.0.0 "$(field yiaddr)"
assert_eq "HTTP OFFER option 54" $SRV "$(field opt54)"
assert_eq "HTTP OFFER option 60" HTTPClient "$(field opt60)"
assert_eq "HTTP OFFER option 43 (none)" "" "$(field opt43)"
assert_eq "HTTP OFFER option 97" "$GUID_WIRE" "$(field opt97)"
assert_eq "HTTP OFFER file" "$HTTP_NBP_URL" "$(field file)"
log_has "decide: $MAC, $GUID: boot 'd1' \(.*required.*\) \[dhcp DISCOVER on $IF_S, arch uefi-http\(16\), pxe\]"
ip netns exec "$NS_C" curl -sf -o "$TMP/http-nbp.efi" "$HTTP_NBP_URL" ||
	fail "GET $HTTP_NBP_URL failed"
cmp -s "$TMP/http-nbp.efi" /usr/lib/ipxe/snponly.efi ||
	fail "$HTTP_NBP_URL is not /usr/lib/ipxe/snponly.efi"
for arch in 15 19; do
	log_mark
	bcast --http --arch $arch --mac "$MAC" --guid "$GUID" --timeout 1
	silent "UEFI HTTP arch $arch"
	log_has "decide: $MAC, $GUID: ignore \(not serviced: no boot program for architecture $arch\)"
done
ucast --http --type request --mac "$MAC" --guid "$GUID" --ciaddr $CLI --timeout 1
silent "UEFI HTTP to 4011"
pass "UEFI HTTP (HTTPClient, arch 16): OFFER 60 HTTPClient, file = $HTTP_NBP_URL, same bytes as snponly.efi; 15/19 not serviced; no 4011"

# EDK2 sends its boot server request from port 4011 (the edk2 fixture);
# some ROMs ask with INFORM.  Both are answered to their source.
ucast --type request --mac "$MAC" --guid "$GUID" --arch 7 --ciaddr $CLI --source $CLI:4011
answered "REQUEST:4011 from port 4011"
assert_eq "ACK to the source port" "$CLI:4011" "$(field dst_ip):$(field dst_port)"
assert_eq "ACK file (from 4011)" snponly.efi "$(field file)"
ucast --type inform --mac "$MAC" --guid "$GUID" --arch 0 --ciaddr $CLI
answered "INFORM:4011"
assert_eq "INFORM answered with ACK" ACK "$(field type)"
assert_eq "ACK ciaddr" $CLI "$(field ciaddr)"
# A DHCPREQUEST on 67 naming pxed (server id) is answered, broadcast; one
# naming the site's DHCP server is not ours (RFC 2131 §4.3.2).
bcast --type request --mac "$MAC" --guid "$GUID" --arch 0 --server-id $SRV
answered "REQUEST on 67 naming pxed"
assert_eq "REQUEST on 67: ACK" ACK "$(field type)"
assert_eq "REQUEST on 67: file" undionly.kpxe "$(field file)"
bcast --type request --mac "$MAC" --guid "$GUID" --arch 0 --server-id 10.78.0.254 --timeout 1
silent "REQUEST on 67 naming another server"
# Through a BOOTP relay (giaddr): the reply goes to the relay's port 67.
ucast --mac "$MAC" --guid "$GUID" --arch 0 --giaddr $CLI --port 67 --source $CLI:67
answered "DISCOVER through a relay"
assert_eq "relayed OFFER to giaddr:67" "$CLI:67" "$(field dst_ip):$(field dst_port)"
assert_eq "relayed OFFER file" undionly.kpxe "$(field file)"
pass "4011 REQUEST from 4011 and INFORM answered; REQUEST on 67 only when naming pxed; relay gets giaddr:67"

bcast --mac "$MAC" --guid "$GUID" --arch 0 --vendor-class "" --timeout 1
silent "DISCOVER without option 60"
bcast --mac "$MAC" --arch 0 --vendor-class "MSFT 5.0" --timeout 1
silent "DISCOVER with a non-PXE option 60"
pass "non-PXE DISCOVER (no or other option 60): no answer"

# A truncated DISCOVER (header only) and one with a bad magic cookie.  The
# malformed-packet log line is rate-limited to one a second: a pause
# between the two lets both be seen.
log_mark
GOOD_HEX=$(python3 "$CLIENT" --print-hex --mac "$MAC" --arch 0 --xid 0x78000007)
bcast --raw "${GOOD_HEX:0:400}" --xid 0x78000007 --timeout 1
silent "truncated DISCOVER"
log_has "dhcp: dropped malformed packet from 0.0.0.0:68 on $IF_S port 67: .*short"
sleep 1.1
log_mark
bcast --raw "${GOOD_HEX:0:472}00000000${GOOD_HEX:480}" --xid 0x78000007 --timeout 1
silent "DISCOVER with a bad cookie"
log_has "dhcp: dropped malformed packet from 0.0.0.0:68 on $IF_S port 67: .*cookie"
for port in 67 4011; do
	ip netns exec "$NS_C" python3 "$CLIENT" --unicast $SRV --port $port --source $CLI:0 \
		--mac "$MAC" --guid "$GUID" --arch 7 --user-class iPXE --mutate 500 >/dev/null ||
		fail "dhcp_client.py --mutate failed"
done
kill -0 "$PXED_PID" || fail "pxed died on a malformed packet"
bcast --mac "$MAC" --guid "$GUID" --arch 0 --xid 0x78000008
answered "DISCOVER after malformed packets"
pass "malformed (truncated, bad cookie, 1000 corrupted): no answer, logged as dropped, pxed still answers"

log_mark
bcast --mac 52:54:00:78:00:99 --arch 0 --timeout 1
silent "unknown MAC"
log_has "decide: 52:54:00:78:00:99, -: ignore \(not serviced: unknown machine and SupportUnknownMachines is off\)"
pass "unknown MAC with SupportUnknownMachines=no: no answer, 'not serviced'"

# ---- 2. IsActive -------------------------------------------------------
reload IsActive=no
log_mark
bcast --mac "$MAC" --guid "$GUID" --arch 0 --timeout 1
silent "IsActive=no"
log_has "decide: $MAC, $GUID: ignore \(not serviced: IsActive is off\)"
# The decision rules apply to UEFI HTTP boot clients alike.
log_mark
bcast --http --mac "$MAC" --guid "$GUID" --timeout 1
silent "IsActive=no (UEFI HTTP)"
log_has "decide: $MAC, $GUID: ignore \(not serviced: IsActive is off\) \[dhcp DISCOVER on $IF_S, arch uefi-http\(16\)"
reload IsActive=yes
bcast --mac "$MAC" --guid "$GUID" --arch 0
answered "IsActive back to yes"
assert_eq "file after IsActive=yes" undionly.kpxe "$(field file)"
pass "IsActive=no + SIGHUP: not serviced ('IsActive is off', PXE and UEFI HTTP); yes + SIGHUP: answered"

# ---- 3. MACIgnoreListFile ----------------------------------------------
# Re-read when it changes, no SIGHUP; stat()ed at most once a second.
log_mark
echo "$MAC_DASH" >>"$IGNORE_FILE"
sleep 1.2
bcast --mac "$MAC" --guid "$GUID" --arch 0 --timeout 1
silent "MAC on the ignore list"
log_has "decide: MACIgnoreListFile $IGNORE_FILE: 2 MACs"
log_has "decide: $MAC, $GUID: ignore \(not serviced: MAC on the ignore list $IGNORE_FILE\)"
log_mark
sed -i "/^$MAC_DASH\$/d" "$IGNORE_FILE"
sleep 1.2
bcast --mac "$MAC" --guid "$GUID" --arch 0
answered "MAC removed from the ignore list"
log_has "decide: MACIgnoreListFile $IGNORE_FILE: 1 MACs"
pass "MACIgnoreListFile: MAC added (dash notation) -> ignored without SIGHUP; removed -> answered"

# ---- 4. BindPolicy -----------------------------------------------------
reload BindPolicy=exclude BindInterfaces="$IF_S"
log_mark
bcast --mac "$MAC" --guid "$GUID" --arch 0 --timeout 1
silent "BindPolicy exclude $IF_S"
log_has "decide: $MAC, $GUID: ignore \(not serviced: interface $IF_S excluded by BindPolicy\)"
# BindPolicy is a settings rule like the others: a decision event, and
# IsActive (rule 1) named first when both hold.
sleep 0.3 # events are written in batches of at most 100 ms
ctl events --limit 1000
assert_grep "$MAC .* dhcp +ignore +.*excluded by BindPolicy" "$TMP/ctl.out" "BindPolicy decision not recorded as an event"
reload IsActive=no BindPolicy=exclude BindInterfaces="$IF_S"
log_mark
bcast --mac "$MAC" --guid "$GUID" --arch 0 --timeout 1
silent "IsActive=no and interface excluded"
log_has "decide: $MAC, $GUID: ignore \(not serviced: IsActive is off\)" "IsActive off is not the reason named first"
reload BindPolicy=include BindInterfaces=eth9
bcast --mac "$MAC" --guid "$GUID" --arch 0 --timeout 1
silent "BindPolicy include eth9 only"
reload BindPolicy=include BindInterfaces="eth9,$IF_S"
bcast --mac "$MAC" --guid "$GUID" --arch 0
answered "BindPolicy include $IF_S"
reload
pass "BindPolicy: exclude $IF_S -> silent; include eth9 only -> silent; include $IF_S -> answered"

# ---- 5. ResponseDelay --------------------------------------------------
reload ResponseDelay=3
log_mark
bcast --mac "$MAC" --guid "$GUID" --arch 0 --secs 0 --timeout 1
silent "secs 0 below ResponseDelay 3"
log_has "not serviced yet: secs 0 below ResponseDelay 3"
bcast --mac "$MAC" --guid "$GUID" --arch 0 --secs 2 --timeout 1
silent "secs 2 below ResponseDelay 3 (secs read in network byte order)"
bcast --mac "$MAC" --guid "$GUID" --arch 0 --secs 4
answered "secs 4 with ResponseDelay 3"
# The client chose this server: its follow-up to 4011 is answered whatever
# its secs (EDK2 sends 0 there: tests/fixtures/edk2-uefi-pxe-proxydhcp-tftp.pcap).
bcast --mac "$MAC" --guid "$GUID" --arch 7 --secs 4
answered "UEFI DISCOVER secs 4 with ResponseDelay 3"
ucast --type request --mac "$MAC" --guid "$GUID" --arch 7 --ciaddr $CLI --secs 0
answered "UEFI REQUEST:4011 with secs 0 after our OFFER"
assert_eq "ACK file with ResponseDelay" snponly.efi "$(field file)"
reload
pass "ResponseDelay=3: secs 0 and 2 silent ('below ResponseDelay'); secs 4 answered; 4011 REQUEST with secs 0 answered"

# ---- 6. the seed's scenario at the DHCP+HTTP level ---------------------
# A required deployment handed out once; a second one added for the same
# device must be served at the next request, under CacheExpire 3600,
# without a restart (ConfigMgr 2007 SP2 answered from its cache for an hour).
# Each boot is an exchange of its own: iPXE's DISCOVER, then the script
# from the URL (with its token) in pxed's OFFER.
log_mark
getscript() {
	bcast --mac "$MAC" --guid "$GUID" --arch 7 --user-class iPXE
	answered "iPXE DISCOVER (scenario)"
	URL=$(field file)
	assert_grep "^file=$IPXE_URL$" "$REPLY"
	ip netns exec "$NS_C" curl -sf -o "$TMP/script" "$URL" || fail "GET $URL"
}
getscript
assert_eq "script starts with #!ipxe" "#!ipxe" "$(head -n1 "$TMP/script")"
assert_grep "^kernel http://$SRV:$HTTP_PORT/files/d1/vmlinuz initrd=initrd.gz deploy=d1 pxed.report=" "$TMP/script" "first script does not boot d1"
assert_grep "^initrd http://$SRV:$HTTP_PORT/files/d1/initrd.gz$" "$TMP/script"
getscript
grep -q '^kernel' "$TMP/script" && fail "d1 handed out twice: $(cat "$TMP/script")"
assert_grep "^exit 1$" "$TMP/script" "second script does not send the machine to its local disk"
ctl deploy d2 --image img2 --device lab-78 --required
getscript
assert_grep "^kernel http://$SRV:$HTTP_PORT/files/d2/vmlinuz initrd=initrd.gz deploy=d2 pxed.report=" "$TMP/script" "new required deployment d2 not served at once"
bcast --mac "$MAC" --guid "$GUID" --arch 7 --user-class iPXE
answered "iPXE DISCOVER after d2"
log_since
grep -n "decide: $MAC, $GUID: boot 'd1'" "$TMP/log.since" | head -n1 | cut -d: -f1 >"$TMP/n1"
grep -n "decide: $MAC, $GUID: boot 'd2'" "$TMP/log.since" | head -n1 | cut -d: -f1 >"$TMP/n2"
[ -s "$TMP/n1" ] && [ -s "$TMP/n2" ] && [ "$(cat "$TMP/n1")" -lt "$(cat "$TMP/n2")" ] ||
	{ tail -n 20 "$TMP/log.since" >&2; fail "decision log does not name d1 then d2"; }
assert_grep "decide: $MAC, $GUID: local .*\[http" "$TMP/log.since" "no 'local' decision between d1 and d2"
ctl events --device lab-78
assert_grep "lab-78 +http +boot +d1" "$TMP/ctl.out"
assert_grep "lab-78 +http +boot +d2" "$TMP/ctl.out"
pass "seed scenario: d1 booted, then local, then d2 at once (CacheExpire 3600, no restart)"

# ---- 7. "local": each kind of client is sent to its disk -----------------
# A known machine with nothing to do.  Plain PXE firmware (BIOS and UEFI)
# gets no boot file and a PXE boot menu whose only item, chosen at once, is
# the local disk (PXE 2.1 boot server type 0); iPXE gets its script, which
# ends in `exit 1`; UEFI HTTP boot gets a URI that answers 404.
MACL=52:54:00:78:00:02
GUIDL=78787878-0000-4000-8000-000000000002
ctl device add lab-78l --mac $MACL --guid $GUIDL
OPT43_LOCAL=0601070917000014$(printf 'Boot from local disk' | od -An -tx1 | tr -d ' \n')0a0500$(printf pxed | od -An -tx1 | tr -d ' \n')ff
for arch in 0 7; do
	log_mark
	bcast --mac $MACL --guid $GUIDL --arch $arch
	answered "local DISCOVER arch $arch"
	assert_eq "local OFFER file (arch $arch)" "" "$(field file)"
	assert_eq "local OFFER option 43 (arch $arch)" "$OPT43_LOCAL" "$(field opt43)"
	assert_eq "local OFFER option 60" PXEClient "$(field opt60)"
	assert_eq "local OFFER yiaddr" 0.0.0.0 "$(field yiaddr)"
	ucast --type request --mac $MACL --guid $GUIDL --arch $arch --ciaddr $CLI
	answered "local REQUEST:4011 arch $arch"
	assert_eq "local ACK file (arch $arch)" "" "$(field file)"
	assert_eq "local ACK option 43 (arch $arch)" "$OPT43_LOCAL" "$(field opt43)"
	log_has "decide: $MACL, $GUIDL: local \(known device 'lab-78l', no deployment\) \[dhcp DISCOVER"
done
bcast --mac $MACL --guid $GUIDL --arch 7 --user-class iPXE
answered "local iPXE DISCOVER"
URL=$(field file)
[[ $URL =~ ^http://$SRV:$HTTP_PORT/boot\.ipxe\?mac=$MACL\&t=[0-9a-f]{32}$ ]] || fail "local iPXE file: $URL"
ip netns exec "$NS_C" curl -sf -o "$TMP/script" "$URL" || fail "GET $URL"
assert_eq "local iPXE script" "$(printf '#!ipxe\necho pxed: booting from local disk (known device lab-78l, no deployment)\nexit 1')" "$(cat "$TMP/script")"
bcast --http --mac $MACL --guid $GUIDL
answered "local UEFI HTTP DISCOVER"
assert_eq "local HTTP OFFER option 60" HTTPClient "$(field opt60)"
assert_eq "local HTTP OFFER file" "http://$SRV:$HTTP_PORT/local-disk" "$(field file)"
code=$(ip netns exec "$NS_C" curl -s -o /dev/null -w '%{http_code}' -I "$(field file)")
assert_eq "HEAD of the local URI (as EDK2 sends first)" 404 "$code"
metric=$(ip netns exec "$NS_S" curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | sed -n 's/^pxed_dhcp_local_boot_total //p')
assert_eq "pxed_dhcp_local_boot_total" 4 "$metric"
pass "local: PXE firmware (arch 0, 7) gets the local-boot menu on OFFER and 4011 ACK, iPXE 'exit 1', UEFI HTTP a 404 URI; 4 counted"

# ---- every decision line starts with "MAC, GUID:" ----------------------
grep -E '^[^ ]+ +[a-z]+ +decide: .*\[(dhcp|pxe|http)' "$TMP/pxed.log" >"$TMP/decisions"
[ "$(wc -l <"$TMP/decisions")" -ge 20 ] || fail "too few decision lines: $(wc -l <"$TMP/decisions")"
bad=$(grep -vcE '^[^ ]+ +[a-z]+ +decide: ([0-9a-f]{2}:){5}[0-9a-f]{2}, ([0-9a-f-]{36}|-): ' "$TMP/decisions")
[ "$bad" = 0 ] || { grep -vE 'decide: ([0-9a-f]{2}:){5}[0-9a-f]{2}, ' "$TMP/decisions" >&2; fail "$bad decision lines without the 'MAC, GUID:' prefix"; }
kill -0 "$PXED_PID" || fail "pxed is not running at the end"
pass "every decision log line starts with 'MAC, GUID:'"

# A clean stop; under PXED_BIN built with SANITIZE=1 this is where leaks show.
kill -TERM "$PXED_PID"
wait "$PXED_PID" || fail "pxed exited with status $? on SIGTERM"
assert_grep "pxed: stopped" "$TMP/pxed.log"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/pxed.log"; then
	grep -E -A20 "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/pxed.log" | head -n 40 >&2
	fail "sanitizer report in pxed's log"
fi
pass "pxed stops cleanly on SIGTERM (no sanitizer report)"
exit 0
