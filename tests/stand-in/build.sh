#!/bin/sh
# STAND-IN, delete at merge: build build/stand-in/pxed (the HTTP server on
# stand-in store/decide/content) for tests/integration/api_pxectl.sh:
#   tests/stand-in/build.sh && PXED_BIN=build/stand-in/pxed tests/integration/api_pxectl.sh
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/stand-in
CFLAGS="-std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Werror -D_GNU_SOURCE -Isrc -Itests/stand-in ${EXTRA_CFLAGS:-}"
cc $CFLAGS -o build/stand-in/pxed tests/stand-in/*.c src/http/*.c src/common/*.c src/ev/*.c \
	$(pkg-config --cflags --libs libmicrohttpd jansson)
echo built build/stand-in/pxed
