#!/bin/bash
# The modules' dependency rules (docs/architecture.md, "Layers"), checked
# on the #include lines: a module may include its own headers and those of
# the modules listed for it, nothing else.  Prints each violation; exits 1
# if there is one.  src/main.c wires everything and may include anything.
set -u
cd "$(dirname "$0")/.."

declare -A allowed=(
	[common]=""
	[ev]="common"
	[store]="common"
	[conf]="common store"
	[decide]="common conf store"
	[tftp]="common conf ev"
	[wake]="common ev"
	[dhcp]="common conf ev decide wake"
	[http]="common conf ev store decide dhcp tftp wake"
	[pxectl]="common store http"
)
# pxectl is a client of the HTTP API: of http it may use only the pure
# parsers, never the server.
pxectl_http_ok="http/http_parse.h"

bad=0
for dir in src/*/; do
	m=$(basename "$dir")
	[ -n "${allowed[$m]+set}" ] || { echo "check_layers: module src/$m has no rule"; bad=1; continue; }
	while IFS=: read -r file line inc; do
		dep=${inc%%/*}
		[ "$dep" = "$m" ] && continue
		case " ${allowed[$m]} " in
		*" $dep "*) ;;
		*) echo "check_layers: $file:$line: $m may not include $inc"; bad=1; continue ;;
		esac
		if [ "$m" = pxectl ] && [ "$dep" = http ] && [ "$inc" != "$pxectl_http_ok" ]; then
			echo "check_layers: $file:$line: pxectl may use only $pxectl_http_ok of http, not $inc"
			bad=1
		fi
	done < <(grep -Hn '^#include "[a-z_]*/' "$dir"*.[ch] | sed 's/^\([^:]*\):\([0-9]*\):#include "\([^"]*\)".*/\1:\2:\3/')
done
[ $bad -eq 0 ] && echo "check_layers: every module includes only what its layer allows"
exit $bad
