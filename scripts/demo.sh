#!/bin/sh
# The demo: builds msfwd, starts the Mimecast API simulator on a free 127.0.0.1 port and forwards its
# alerts (TTP URL, attachment and impersonation logs, 100 of each) through the mapping stage to
# stdout with `msfwd once`. The simulator is stopped on exit.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
if ! command -v python3 >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3
fi
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
[ -f Makefile ] || ./configure --quiet >&2
make -s -j"$(nproc)" msfwd >&2  # build chatter on stderr: stdout carries only events

mkdir -p run
rm -rf run/demo-state run/demo-sim.port
sim=""
stop_sim() {
    if [ -n "$sim" ]; then
        kill "$sim" 2>/dev/null || true
        wait "$sim" 2>/dev/null || true
    fi
}
trap stop_sim EXIT
trap 'exit 130' INT TERM
MIMECAST_DEMO_SECRET=demo-secret-not-for-production
python3 tests/sim/mimecast_sim.py --port 0 --port-file run/demo-sim.port --records 100 --seed 7 \
    --client-id msfwd-demo --client-secret "$MIMECAST_DEMO_SECRET" >run/demo-sim.log 2>&1 &
sim=$!
i=0
while [ ! -s run/demo-sim.port ]; do
    if ! kill -0 "$sim" 2>/dev/null || [ $i -ge 150 ]; then
        echo "demo: the Mimecast simulator did not start (see run/demo-sim.log)" >&2
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
MIMECAST_DEMO_URL="http://127.0.0.1:$(cat run/demo-sim.port)"
export MIMECAST_DEMO_URL MIMECAST_DEMO_SECRET
rc=0
./msfwd once -c etc/demo.conf || rc=$?
exit $rc
