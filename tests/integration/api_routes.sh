#!/bin/bash
# Every route of the admin API answers as docs/architecture.md ("HTTP: the
# admin API") and docs/pxed.8.md say: for each method and path, the status
# and the error code, including the refusals a client can cause by the
# shape of its request alone:
#   - 404 not_found for a path no route has (an unknown sub-path, a name
#     that is not a name, a trailing part after a name's sub-path);
#   - 405 method_not_allowed before the token is checked when no route of
#     the path's resource takes the method, and after it when another route
#     of the same path does (POST /api/v1/devices/NAME);
#   - 400 for bad fields, unknown fields and bad JSON; 409 for conflicts.
# Each answer (status, the headers a client reads, the body with times
# blanked) goes to a transcript; API_ROUTES_TRANSCRIPT=FILE keeps it, so
# two builds can be compared byte for byte.
source "$(dirname "$0")/../lib.sh"
[ -x "$PXED" ] || skip "no pxed binary at $PXED (make first)"
command -v curl >/dev/null || skip "needs curl"

read -r PORT DHCP_PORT PXE_PORT TFTP_PORT <<<"$(free_ports 4)"
mkdir -p "$TMP/root"
: >"$TMP/root/vmlinuz"
{ cat <<CONF
[pxe]
DHCPPort = $DHCP_PORT
PXEPort = $PXE_PORT
WakeInterfaces = nosuchif0
CONF
loopback_sections; } >"$TMP/pxed.conf"
start_pxed "$TMP/pxed.conf"
B=http://127.0.0.1:$PORT
TOKEN=$(cat "$API_TOKEN_FILE")
LOG=${API_ROUTES_TRANSCRIPT:-$TMP/transcript}
: >"$LOG"
n=0

# t STATUS CODE METHOD PATH [BODY [CONTENT-TYPE]]: one request with the
# admin token; CODE is the "error" member expected ("-": none).
# t0 ...: the same without a token.
req() {
	local auth=$1 want=$2 code=$3 method=$4 path=$5 body=${6-} ctype=${7:-application/json}
	local args=(-s -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' -X "$method")
	[ "$auth" = 1 ] && args+=(-H "Authorization: Bearer $TOKEN")
	[ $# -ge 6 ] && args+=(-H "Content-Type: $ctype" --data-binary "$body")
	local st got
	st=$(curl "${args[@]}" "$B$path")
	n=$((n + 1))
	{
		echo "== $method $path${6+ $body} -> $st"
		grep -iE '^(content-type|x-total-count|allow|retry-after):' "$TMP/h" | tr -d '\r' | sort
		sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/TIME/g' \
			-e 's/"(time_ms|since_ms|uptime_s|age_s)":[0-9]+/"\1":N/g' \
			-e "s|$TMP|TMP|g; s/\\b($PORT|$DHCP_PORT|$PXE_PORT|$TFTP_PORT)\\b/PORT/g" \
			-e 's/"PXEGUID"(,"value")?:"[^"]*"/"PXEGUID"\1:"G"/' "$TMP/b"
		echo
	} >>"$LOG"
	[ "$st" = "$want" ] || { cat "$TMP/b" >&2; fail "$method $path: status $st, expected $want"; }
	got=$(sed -n 's/^{"error":"\([a-z_]*\)".*/\1/p' "$TMP/b")
	[ "${got:--}" = "$code" ] || { cat "$TMP/b" >&2; fail "$method $path: error '${got:--}', expected '$code'"; }
}
t() { req 1 "$@"; }
t0() { req 0 "$@"; }
LONG=$(printf 'a%.0s' $(seq 300))

# ---- devices
t 201 - POST /api/v1/devices '{"name":"d1","mac":"52:54:00:00:00:01"}'
t 201 - POST /api/v1/devices '{"name":"d2","mac":"52:54:00:00:00:02","guid":"8a3c1f2e-0000-4000-8000-525400000002"}'
t 201 - POST /api/v1/devices '{"name":"d3","mac":"52:54:00:00:00:03"}'
t 400 missing_field POST /api/v1/devices '{}'
t 400 invalid_field POST /api/v1/devices '{"name":"x","mac":"zz"}'
t 400 invalid_field POST /api/v1/devices '{"name":"x y","mac":"52:54:00:00:00:09"}'
t 400 invalid_field POST /api/v1/devices '{"name":"x","mac":"52:54:00:00:00:09","guid":"no"}'
t 400 unknown_field POST /api/v1/devices '{"name":"x","mac":"52:54:00:00:00:09","arch":1}'
t 400 invalid_json POST /api/v1/devices 'not json'
t 400 invalid_json POST /api/v1/devices '[1]'
t 409 exists POST /api/v1/devices '{"name":"d1","mac":"52:54:00:00:00:08"}'
t 200 - GET /api/v1/devices
t 200 - GET '/api/v1/devices?q=d1'
t 200 - GET '/api/v1/devices?limit=1&offset=1'
t 400 invalid_field GET '/api/v1/devices?limit=0'
t 400 invalid_field GET '/api/v1/devices?offset=-1'
t 400 invalid_field GET "/api/v1/devices?q=$LONG"
t 405 method_not_allowed DELETE /api/v1/devices
t0 405 method_not_allowed DELETE /api/v1/devices
t0 401 unauthorized GET /api/v1/devices
t 404 not_found GET /api/v1/devicesx
t 200 - GET /api/v1/devices/d1
t 200 - GET /api/v1/devices/d1/
t 200 - GET '/api/v1/devices/d1?detail=1'
t 404 not_found GET /api/v1/devices/nope
t 404 not_found GET /api/v1/devices/bad%20name
t 404 not_found GET /api/v1/devices/
t 404 not_found GET /api/v1/devices//clear
t 404 not_found GET "/api/v1/devices/$LONG"
t 404 not_found GET /api/v1/devices/d1/foo
t 404 not_found GET /api/v1/devices/d1//
t 404 not_found POST /api/v1/devices/d1/clear/
t 405 method_not_allowed GET /api/v1/devices/d1/clear
t 405 method_not_allowed DELETE /api/v1/devices/d1/wake
t 405 method_not_allowed POST /api/v1/devices/d1
t 405 method_not_allowed PUT /api/v1/devices/d1
t 405 method_not_allowed PUT /api/v1/devices/d1/clear
t0 401 unauthorized POST /api/v1/devices/d1
t0 405 method_not_allowed PUT /api/v1/devices/d1
t 200 - POST /api/v1/devices/d1/clear
t 404 not_found POST /api/v1/devices/nope/clear
t 409 not_sent POST /api/v1/devices/d1/wake
t 200 - PATCH /api/v1/devices/d2 '{"guid":null}'
t 200 - PATCH /api/v1/devices/d2 '{"name":"d2","mac":"52:54:00:00:00:22","guid":"8a3c1f2e-0000-4000-8000-525400000002"}'
t 400 invalid_field PATCH /api/v1/devices/d2 '{"mac":"bad"}'
t 400 invalid_field PATCH /api/v1/devices/d2 '{"guid":"bad"}'
t 400 unknown_field PATCH /api/v1/devices/d2 '{"arch":7}'
t 400 invalid_json PATCH /api/v1/devices/d2
t 404 not_found PATCH /api/v1/devices/nope '{"mac":"52:54:00:00:00:07"}'
t 409 exists PATCH /api/v1/devices/d3 '{"mac":"52:54:00:00:00:01"}'
t 200 - DELETE /api/v1/devices/d3
t 404 not_found DELETE /api/v1/devices/d3
# the import
t 405 method_not_allowed GET /api/v1/devices/import
t 201 - POST /api/v1/devices/import $'name,mac,guid\nd4,52:54:00:00:00:04\nd5,52:54:00:00:00:05' text/csv
t 400 invalid_csv POST /api/v1/devices/import $'d6,52:54:00:00:00:06\nd6,52:54:00:00:00:07\nd1,52:54:00:00:00:0a\nx,y' text/csv
t 400 invalid_csv POST /api/v1/devices/import '' text/csv
t 400 invalid_csv POST /api/v1/devices/import $'\n' text/csv
t 415 unsupported_media_type POST /api/v1/devices/import 'd7,52:54:00:00:00:07'

# ---- images
t 201 - POST /api/v1/images '{"name":"im1","kernel":"vmlinuz","initrd":"initrd","cmdline":"quiet"}'
t 201 - POST /api/v1/images '{"name":"im2","nbp":"x/nbp.efi","arch":"uefi-arm64","loader":"grub"}'
t 201 - POST /api/v1/images '{"name":"im3","kernel":"vmlinuz"}'
t 400 invalid_field POST /api/v1/images '{"name":"im9","kernel":"vmlinuz","arch":"bios"}'
t 400 invalid_field POST /api/v1/images '{"name":"im9","kernel":"vmlinuz","loader":"pxelinux"}'
t 400 invalid_field POST /api/v1/images '{"name":"im9","kernel":"vmlinuz","nbp":"a"}'
t 400 missing_field POST /api/v1/images '{"name":"im9"}'
t 400 invalid_field POST /api/v1/images '{"name":"im9","kernel":"../x"}'
t 400 invalid_field POST /api/v1/images '{"name":"im9","kernel":"k","cmdline":"a|b"}'
t 409 exists POST /api/v1/images '{"name":"im1","kernel":"vmlinuz"}'
t 200 - GET /api/v1/images
t 200 - GET /api/v1/images/im1
t 200 - GET /api/v1/images/im2/
t 404 not_found GET /api/v1/images/im1/x
t 404 not_found GET /api/v1/images/nope
t 404 not_found GET /api/v1/images/
t 405 method_not_allowed PATCH /api/v1/images/im1 '{}'
t 405 method_not_allowed PUT /api/v1/images

# ---- collections
t 201 - POST /api/v1/collections '{"name":"c1"}'
t 201 - POST /api/v1/collections '{"name":"c2"}'
t 409 exists POST /api/v1/collections '{"name":"c1"}'
t 400 missing_field POST /api/v1/collections '{}'
t 200 - GET /api/v1/collections
t 201 - POST /api/v1/collections/c1/devices '{"device":"d1"}'
t 201 - POST /api/v1/collections/c1/devices '{"device":"d2"}'
t 409 exists POST /api/v1/collections/c1/devices '{"device":"d2"}'
t 404 not_found POST /api/v1/collections/c1/devices '{"device":"nope"}'
t 400 missing_field POST /api/v1/collections/c1/devices '{}'
t 404 not_found POST /api/v1/collections/nope/devices '{"device":"d1"}'
t 200 - GET /api/v1/collections/c1
t 200 - GET /api/v1/collections/c1/
t 404 not_found GET /api/v1/collections/nope
t 404 not_found GET /api/v1/collections/bad%20name/clear
t 405 method_not_allowed POST /api/v1/collections/c1
t 405 method_not_allowed PATCH /api/v1/collections/c1
t 405 method_not_allowed GET /api/v1/collections/c1/clear
t 405 method_not_allowed DELETE /api/v1/collections/c1/wake
t 405 method_not_allowed GET /api/v1/collections/c1/devices
t 405 method_not_allowed GET /api/v1/collections/c1/devices/d2
t 404 not_found POST /api/v1/collections/c1/foo
t 404 not_found POST /api/v1/collections/c1/clear/
t 404 not_found DELETE /api/v1/collections/c1/devices/
t 404 not_found DELETE /api/v1/collections/c1/devices/bad%20name
t 404 not_found DELETE /api/v1/collections/c1/devices/d2/x
t 404 not_found POST /api/v1/collections/nope/clear
t 200 - POST /api/v1/collections/c1/clear
t 409 not_sent POST /api/v1/collections/c1/wake
t 200 - DELETE /api/v1/collections/c1/devices/d2/
t 404 not_found DELETE /api/v1/collections/c1/devices/nope
t0 401 unauthorized DELETE /api/v1/collections/c1/devices/d1
t 200 - DELETE /api/v1/collections/c2

# ---- deployments
t 201 - POST /api/v1/deployments '{"name":"dep1","image":"im1","device":"d1","purpose":"required"}'
t 201 - POST /api/v1/deployments '{"name":"dep2","image":"im1","collection":"c1","purpose":"available","available_from":"2026-01-01T00:00:00Z","expires":4102444800}'
t 201 - POST /api/v1/deployments '{"name":"dep3","image":"im3","unknown_arch":"uefi-x64","purpose":"available"}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","device":"d1","collection":"c1","purpose":"required"}'
t 400 missing_field POST /api/v1/deployments '{"name":"x","image":"im1","purpose":"required"}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","unknown_arch":"mips","purpose":"required"}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","unknown_arch":"bios","purpose":"required","wake":true}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","device":"d1","purpose":"sometimes"}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","device":"d1","purpose":"required","wake":1}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","device":"d1","purpose":"required","expires":"soon"}'
t 400 invalid_field POST /api/v1/deployments '{"name":"x","image":"im1","device":"d1","purpose":"required","available_from":200,"expires":100}'
t 404 not_found POST /api/v1/deployments '{"name":"x","image":"nope","device":"d1","purpose":"required"}'
t 404 not_found POST /api/v1/deployments '{"name":"x","image":"im1","device":"nope","purpose":"required"}'
t 404 not_found POST /api/v1/deployments '{"name":"x","image":"im1","collection":"nope","purpose":"required"}'
t 409 not_sent POST /api/v1/deployments '{"name":"x","image":"im1","device":"d1","purpose":"required","wake":true}'
t 409 exists POST /api/v1/deployments '{"name":"dep1","image":"im1","device":"d2","purpose":"required"}'
t 200 - GET /api/v1/deployments
t 200 - GET '/api/v1/deployments?limit=2'
t 200 - GET /api/v1/deployments/dep1
t 200 - GET /api/v1/deployments/dep2/
t 404 not_found GET /api/v1/deployments/dep1/status
t 404 not_found GET /api/v1/deployments/nope
t 200 - PATCH /api/v1/deployments/dep1 '{"enabled":false}'
t 400 missing_field PATCH /api/v1/deployments/dep1 '{}'
t 400 invalid_field PATCH /api/v1/deployments/dep1 '{"enabled":1}'
t 400 unknown_field PATCH /api/v1/deployments/dep1 '{"name":"z"}'
t 405 method_not_allowed POST /api/v1/deployments/dep1
t 405 method_not_allowed PATCH /api/v1/deployments
t 409 in_use DELETE /api/v1/devices/d1
t 409 in_use DELETE /api/v1/images/im1
t 409 in_use DELETE /api/v1/collections/c1
t 200 - DELETE /api/v1/deployments/dep3
t 404 not_found DELETE /api/v1/deployments/dep3
t 200 - DELETE /api/v1/images/im3
t 404 not_found DELETE /api/v1/images/im3

# ---- variables
t 200 - GET /api/v1/vars/global
t 200 - PUT /api/v1/vars/global/FOO '{"value":"x"}'
t 200 - PUT /api/v1/vars/device/d1/BAR '{"value":"y"}'
t 200 - PUT /api/v1/vars/image/im1/BAZ '{"value":"z"}'
t 200 - GET /api/v1/vars/global/FOO
t 200 - GET /api/v1/vars/device/d1
t 200 - GET /api/v1/devices/d1
t 404 not_found GET /api/v1/vars/global/NOPE
t 400 missing_field PUT /api/v1/vars/global/FOO '{}'
t 405 method_not_allowed PUT /api/v1/vars/global '{"value":"x"}'
t 405 method_not_allowed DELETE /api/v1/vars/device/d1
t 405 method_not_allowed POST /api/v1/vars/global
t 404 not_found GET /api/v1/vars/
t 404 not_found GET /api/v1/vars/global/
t 404 not_found GET /api/v1/vars/nope
t 404 not_found GET /api/v1/vars/waytoolongalevel
t 404 not_found GET /api/v1/vars/device
t 404 not_found GET /api/v1/vars/device/bad%20name
t 404 not_found GET /api/v1/vars/device/d1/K/x
t 404 not_found GET /api/v1/vars/global/1BAD
t 404 not_found GET /api/v1/vars/global/A/B
t 200 - DELETE /api/v1/vars/global/FOO

# ---- events, status, cache, settings, report
t 200 - GET /api/v1/events
t 200 - GET '/api/v1/events?device=d1&limit=5'
t 200 - GET '/api/v1/events?mac=52:54:00:00:00:01&since=2026-01-01T00:00:00Z'
t 400 invalid_field GET '/api/v1/events?limit=0'
t 400 invalid_field GET '/api/v1/events?mac=zz'
t 400 invalid_field GET '/api/v1/events?since=yesterday'
t 400 invalid_field GET '/api/v1/events?device=bad%20name'
t 404 not_found GET '/api/v1/events?device=nope'
t 405 method_not_allowed POST /api/v1/events
t 200 - GET /api/v1/events/summary
t 200 - GET '/api/v1/events/summary?since=0'
t 400 invalid_field GET '/api/v1/events/summary?since=x'
t 200 - GET /api/v1/status
t 200 - GET /api/v1/cache
t 405 method_not_allowed GET /api/v1/cache/flush
t 200 - POST /api/v1/cache/flush
t 200 - GET /api/v1/settings
t 200 - PATCH /api/v1/settings '{"ResponseDelay":1,"SupportUnknownMachines":true}'
t 200 - PUT /api/v1/settings '{"pxe.ResponseDelay":2}'
t 400 unknown_field PATCH /api/v1/settings '{"NoSuchSetting":1}'
t 409 needs_restart PATCH /api/v1/settings '{"DHCPPort":67}'
t 400 invalid_field PATCH /api/v1/settings '{"ResponseDelay":"soon"}'
t 400 invalid_field PATCH /api/v1/settings '{"ResponseDelay":[1]}'
t 400 invalid_json PATCH /api/v1/settings '{}'
t 405 method_not_allowed DELETE /api/v1/settings
t0 401 unauthorized POST /api/v1/report
t0 401 unauthorized POST '/api/v1/report?token=abc&state=started'
t0 400 invalid_field POST '/api/v1/report?token=abc&state=bored'
t0 400 unknown_field POST '/api/v1/report?token=abc' '{"state":"started","x":1}'
t0 405 method_not_allowed GET /api/v1/report
t 404 not_found GET /api/v1/nope
t 404 not_found GET /api/nope
t0 404 not_found GET /api/v1/nope

# The calls above, as /metrics counts them (each API call is a store call).
curl -s "$B/metrics" | grep -E '^pxed_(store_call_seconds_count|http_requests_total|auth_failures_total)' \
	>>"$LOG" || fail "no counters in /metrics"
grep -q '^pxed_store_call_seconds_count' "$LOG" || fail "/metrics lacks pxed_store_call_seconds_count"
pass "$n API requests answered as documented"
