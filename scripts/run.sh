#!/bin/sh
# Build pxed and run it in the foreground on its embedded defaults (state in
# ./pxed-state, boot programs from Debian's ipxe package).  Extra arguments
# go to pxed, e.g. scripts/run.sh -c docs/pxed.conf.example
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
make -j"$(nproc)" >/dev/null
exec ./build/pxed "$@"
