#!/bin/sh
# STAND-IN, delete at merge: build build/stand-in/pxed (the HTTP server on
# the real conf/store/decide and the stand-in content lookup) for
#   tests/stand-in/build.sh && PXED_BIN=build/stand-in/pxed tests/integration/api_pxectl.sh
# Until common/content.h is merged, the library itself builds with
#   CPATH=tests/stand-in make
set -e
cd "$(dirname "$0")/../.."
CPATH=tests/stand-in make ${SANITIZE:+SANITIZE=1} build/libpxed.a build/pxectl >/dev/null
mkdir -p build/stand-in
SAN=${SANITIZE:+-fsanitize=address,undefined -fno-omit-frame-pointer}
cc -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Werror -D_GNU_SOURCE -Isrc -Itests/stand-in $SAN \
	-o build/stand-in/pxed tests/stand-in/pxed_main.c tests/stand-in/content.c build/libpxed.a \
	$(pkg-config --cflags --libs sqlite3 libmicrohttpd jansson inih) -lcrypt
echo built build/stand-in/pxed
