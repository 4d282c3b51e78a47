#!/bin/bash
# Outage test (issue 7, DESIGN invariants 1 and 2): while msfwd run forwards records that keep
# arriving (the replay input follows a file the test appends to, OUTAGE_RATE records a second),
# the HEC receiver goes away for OUTAGE_SECONDS (60 by default, as the issue says) and comes back on
# the same port. Nothing may be lost, the file output must keep flowing meanwhile (a dead output
# does not block the others), and msfwd's peak RSS during the outage (VmHWM from /proc) must stay
# within 10 % of its peak before it, with the same batch sizes already exercised before.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"

OUTAGE=${OUTAGE_SECONDS:-60}
RATE=${OUTAGE_RATE:-200}
TOKEN=5f2e8a10-3c4d-4e5f-8a9b-0c1d2e3f4a5b
OUTAGE_HEC_TOKEN=$TOKEN
export OUTAGE_HEC_TOKEN
CHK="$MS_SRCDIR/tests/integration/durability_check.py"
TEMPLATE="$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl"
BATCH=500
T=$TEST_TMP
t_start=$(date +%s)
sanitized=""
if ldd "$MS_BIN" 2>/dev/null | grep -q 'libasan'; then
    sanitized=yes # ASan's quarantine and shadow memory make RSS meaningless
fi

plan 11

# rss PID: "VmRSS VmHWM" in kB
rss() {
    awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r + 0, h + 0}' "/proc/$1/status" 2>/dev/null
}
# sample PID SECONDS: samples VmRSS every 0.25 s; prints "max_rss last_hwm"
sample() {
    local pid=$1 end=$(($(date +%s%N) / 1000000 + $2 * 1000)) max=0 r h
    while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do
        read -r r h <<<"$(rss "$pid")"
        [ "${r:-0}" -gt "$max" ] && max=$r
        sleep 0.25
    done
    read -r r h <<<"$(rss "$pid")"
    [ "${r:-0}" -gt "$max" ] && max=$r
    echo "$max $h"
}

hec_start out 0 "$TOKEN"
PORT=$hec_port_out
# A backlog first, so that the batches before the outage are already full (500 events).
"$PYTHON3" "$CHK" feed --template "$TEMPLATE" --out "$T/in.jsonl" --count 3000 >/dev/null
spawn "$PYTHON3" "$CHK" feed --template "$TEMPLATE" --out "$T/in.jsonl" --from 3000 --rate "$RATE" \
    --seconds $((OUTAGE + 120)) --stop-file "$T/stop-feed" >"$T/feed.out"
FEED_PID=$!

cat >"$T/o.conf" <<CONF
[service]
state_dir    = $T/state
mappings_dir = $MS_SRCDIR/mappings
log_level    = info

[input.clicks]
type        = replay
path        = $T/in.jsonl
source_type = mimecast:ttp:url
interval    = 1s
batch_max   = $BATCH

[output.hec]
type      = hec
url       = http://127.0.0.1:$PORT
token     = \${OUTAGE_HEC_TOKEN}
batch_max = $BATCH
retry_min = 200ms
retry_max = 2s

[output.file]
type      = file
path      = $T/file.jsonl
batch_max = $BATCH
CONF
spawn "$MS_BIN" run -c "$T/o.conf" 2>"$T/run.err"
MS_PID=$!

# Before: the backlog delivered in full batches, then 10 s of steady traffic.
check "the backlog reaches HEC before the outage" wait_lines "$T/hec.out.jsonl" 3000 30
read -r before_rss before_hwm <<<"$(sample "$MS_PID" 10)"
n_before=$(wc -l <"$T/hec.out.jsonl")

# The outage.
hec_stop out
file_at_stop=$(wc -l <"$T/file.jsonl")
read -r during_rss during_hwm <<<"$(sample "$MS_PID" "$OUTAGE")"
file_at_return=$(wc -l <"$T/file.jsonl")
check "while HEC is down the file output keeps delivering ($file_at_stop -> $file_at_return events)" \
    test "$file_at_return" -ge $((file_at_stop + OUTAGE * RATE / 2))
check "the outage is logged and retried" grep -q 'delivery of .* events failed' "$T/run.err"
echo "# VmRSS before: max $before_rss kB (VmHWM $before_hwm kB); during the ${OUTAGE}s outage:\
 max VmRSS $during_rss kB, VmHWM at its end $during_hwm kB"
if [ -n "$sanitized" ]; then
    ok "# SKIP peak RSS within 10 % (sanitizer build: RSS is not meaningful)"
else
    check "peak RSS during the outage within 10 % of before (VmHWM $during_hwm <= 1.1 x\
 $before_hwm kB, sampled VmRSS $during_rss <= 1.1 x $before_rss kB)" \
        test $((during_hwm * 10)) -le $((before_hwm * 11)) -a $((during_rss * 10)) -le $((before_rss * 11))
fi

# HEC returns on the same port; the feed stops a few seconds later.
hec_start out "$PORT" "$TOKEN"
check "HEC receiver back on the same port ($hec_port_out)" test "$hec_port_out" = "$PORT"
sleep 3
touch "$T/stop-feed"
wait "$FEED_PID"
NREC=$(wc -l <"$T/in.jsonl")
"$PYTHON3" "$CHK" expected --msfwd "$MS_BIN" --mappings "$MS_SRCDIR/mappings" \
    --records "$T/in.jsonl" --source mimecast:ttp:url --out "$T/expected.ids" >"$T/expected.out" 2>&1
NEV=$(wc -l <"$T/expected.ids")
"$PYTHON3" "$CHK" wait --expected "$T/expected.ids" --timeout 90 hec="$T/hec.out.jsonl" \
    file="$T/file.jsonl" >"$T/wait.out" 2>&1
rc=$?
check "after the outage every one of the $NEV events reaches HEC (bounded wait)" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/wait.out"
check "the retried batch is reported delivered" grep -q 'delivered after [0-9]* retries' "$T/run.err"
kill -TERM "$MS_PID"
wait "$MS_PID"
rc=$?
check "msfwd stops cleanly on SIGTERM (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$T/run.err"
for kind in hec file; do
    f="$T/hec.out.jsonl"
    [ $kind = file ] && f="$T/file.jsonl"
    "$PYTHON3" "$CHK" count --expected "$T/expected.ids" --kind $kind --max-dups $BATCH "$f" \
        >"$T/count.$kind" 2>&1
    rc=$?
    cat "$T/count.$kind"
    check "$kind: nothing lost, at most one batch repeated" test $rc -eq 0
done
check "no sanitizer report" sanitizer_clean "$T/run.err"
echo "# $NREC records appended at $RATE/s ($n_before at HEC before the outage); wall time $(($(date +%s) - t_start)) s"
