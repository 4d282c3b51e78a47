#!/bin/sh
# The demo: builds msfwd and forwards a bundled sample of vendor records to stdout.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure --quiet
make -s -j"$(nproc)" msfwd
rm -rf run/demo-state
exec ./msfwd once -c etc/demo.conf
