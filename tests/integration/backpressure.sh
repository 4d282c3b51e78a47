#!/bin/bash
# Backpressure test (issue 7, DESIGN invariant 2): spool_max = 1M (the smallest allowed; segment size
# left at its 16M default) and the only output, HEC, is down (nothing listens on its port). The
# Mimecast simulator holds far more than 1 MB of events: the spool fills, the log says so, the input
# stops polling (the simulator's request counter stops), the spool stays near 1 MB and msfwd's
# memory does not grow. Then the receiver starts on that port: the input resumes and every event is
# delivered, exactly once or with at most one batch repeated.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"
. "${MS_SRCDIR}/tests/integration/mimecast_lib.sh"

TOKEN=7a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9
BP_HEC_TOKEN=$TOKEN
export BP_HEC_TOKEN
CHK="$MS_SRCDIR/tests/integration/durability_check.py"
STREAMS=ttp_impersonation,message_tracking
BATCH=200
PAUSE=${BP_PAUSE_SECONDS:-6}
T=$TEST_TMP
t_start=$(date +%s)

plan 12

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
spool_bytes() { du -sb --exclude=readers "$T/state/spool" 2>/dev/null | awk '{print $1}'; }

mc_sim_start --records 2000 --seed 11
"$PYTHON3" "$CHK" expected --msfwd "$MS_BIN" --mappings "$MS_SRCDIR/mappings" --sim "$MC_URL" \
    --streams "$STREAMS" --out "$T/expected.ids" >"$T/expected.out" 2>&1
NEV=$(wc -l <"$T/expected.ids")
read -r PORT P_MET <<<"$(free_ports 2)" # nothing listens on PORT until the receiver starts

cat >"$T/b.conf" <<CONF
[service]
state_dir    = $T/state
mappings_dir = $MS_SRCDIR/mappings
log_level    = info
spool_max    = 1M
metrics      = 127.0.0.1:$P_MET

[input.mc]
type      = mimecast
base_url  = $MC_URL
$(mc_v2_keys)
streams   = ttp_impersonation, message_tracking
lookback  = 2d
page_size = $BATCH
batch_max = $BATCH
interval  = 1s

[output.hec]
type      = hec
url       = http://127.0.0.1:$PORT
token     = \${BP_HEC_TOKEN}
batch_max = $BATCH
retry_min = 200ms
retry_max = 1s
CONF
spawn "$MS_BIN" run -c "$T/b.conf" 2>"$T/run.err"
MS_PID=$!

wait_grep "$T/run.err" 'spool full' 30
rc=$?
check "the log says the spool is full and the input pauses ($(cat "$T/expected.out"))" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$T/run.err"
sleep 1 # the poll in progress when the spool filled ends
req1=$(mc_stat_total 200)
rss1=$(rss "$MS_PID")
used1=$(spool_bytes)
rss_max=$rss1
for i in $(seq 1 $((PAUSE * 4))); do
    r=$(rss "$MS_PID")
    [ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
    sleep 0.25
done
req2=$(mc_stat_total 200)
used2=$(spool_bytes)
check "while the spool is full the input stops polling (simulator requests $req1 -> $req2 over ${PAUSE}s)" \
    test "$req1" -eq "$req2"
check "the spool stays near spool_max ($used1 -> $used2 bytes; 1M + one batch at most)" \
    test "$used2" -le $((1024 * 1024 + 2 * BATCH * 4096)) -a "$used2" -eq "$used1"
echo "# VmRSS when the spool filled $rss1 kB, at most $rss_max kB over the next ${PAUSE}s"
if ldd "$MS_BIN" 2>/dev/null | grep -q libasan; then
    ok "# SKIP memory does not grow (sanitizer build: RSS is not meaningful)"
else
    check "memory does not grow while paused ($rss1 -> max $rss_max kB, within 10 %)" \
        test $((rss_max * 10)) -le $((rss1 * 11))
fi
lag=$("$PYTHON3" "$CHK" metric "http://127.0.0.1:$P_MET/metrics" msfwd_output_lag_bytes)
check "/metrics shows the backlog ($lag bytes of lag)" test "${lag:-0}" -gt 0

# The output returns.
hec_start bp "$PORT" "$TOKEN"
"$PYTHON3" "$CHK" wait --expected "$T/expected.ids" --timeout 90 hec="$T/hec.bp.jsonl" \
    >"$T/wait.out" 2>&1
rc=$?
check "once HEC is back every one of the $NEV events is delivered (bounded wait)" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/wait.out"
req3=$(mc_stat_total 200)
check "the input resumed polling ($req2 -> $req3 requests)" test "$req3" -gt "$req2"
check "the log says the input resumed" grep -q 'spool has room again' "$T/run.err"
kill -TERM "$MS_PID"
wait "$MS_PID"
rc=$?
check "msfwd stops cleanly on SIGTERM (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$T/run.err"
"$PYTHON3" "$CHK" count --expected "$T/expected.ids" --kind hec --max-dups $BATCH \
    "$T/hec.bp.jsonl" >"$T/count.hec" 2>&1
rc=$?
cat "$T/count.hec"
check "every event exactly once, or at most one batch ($BATCH) repeated" test $rc -eq 0
check "the spool shrank back once delivered ($(spool_bytes) bytes)" test "$(spool_bytes)" -lt $((1024 * 1024))
check "no sanitizer report" sanitizer_clean "$T/run.err"
grep -E 'spool (full|has room)' "$T/run.err" | sed 's/^/# /' | head -n 4
echo "# wall time $(($(date +%s) - t_start)) s"
