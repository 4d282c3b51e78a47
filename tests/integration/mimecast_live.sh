#!/bin/bash
# Mimecast windows and live polling: identical timestamps at every window and page boundary are
# neither lost nor duplicated; records added between polls arrive on the next poll (including late
# ones inside the overlap and a second batch at an already polled second); SIGTERM exits 0.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/mimecast_lib.sh"

plan 16

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S+0000; }

# --- part 1: dense identical timestamps across 5-minute windows and 37-record pages ----------------
mc_sim_start --records 0 --seed 41
now=$(date +%s)
dates=$(seq $((now - 1500)) $((now - 60)) | sed 's/^/@/' | date -u -f - +'"%Y-%m-%dT%H:%M:%S+0000",')
dates="[$(echo $dates | tr -d ' ' | sed 's/,$//')]"
for s in ttp_url ttp_impersonation; do
    mc_ctl /_sim/add "{\"stream\":\"$s\",\"count\":2,\"dates\":$dates}" >/dev/null
done
burst=$(iso $((now - 600)))
mc_ctl /_sim/add "{\"stream\":\"ttp_url\",\"count\":80,\"date\":\"$burst\"}" >/dev/null
for overlap in 0s 3m; do
    {
        mc_v2_keys
        cat <<KEYS
streams    = ttp_url, ttp_impersonation
lookback   = 30m
window_max = 5m
overlap    = $overlap
page_size  = 37
KEYS
    } | mc_conf "$TEST_TMP/w$overlap.conf" "$TEST_TMP/state-w$overlap" "$TEST_TMP/w$overlap.jsonl"
    timeout 60 "$MS_BIN" once -c "$TEST_TMP/w$overlap.conf" 2>"$TEST_TMP/w$overlap.err"
    rc=$?
    check "windows of 5m, overlap $overlap: once exits 0 (rc=$rc)" test $rc -eq 0
    [ $rc -eq 0 ] || diag_file "$TEST_TMP/w$overlap.err"
    check "windows of 5m, overlap $overlap: 2 records every second, 80 in one, all exactly once" \
        mc_compare "$TEST_TMP/w$overlap.jsonl" ttp_url,ttp_impersonation --min-total 5800
    check "windows of 5m, overlap $overlap: the input itself repeated nothing" \
        test "$(mc_summaries "$TEST_TMP/w$overlap.err")" -ge 1 -a "$(mc_input_repeats "$TEST_TMP/w$overlap.err")" -eq 0
done
walks=$(mc_stat /api/ttp/impersonation/get-logs 200)
check "the backfill walked several windows and pages ($walks pages per run pair)" test "$walks" -ge 160

# --- part 2: run mode, records arriving between polls ----------------------------------------------
mc_sim_start --records 0 --seed 42
{
    mc_v2_keys
    cat <<'KEYS'
streams   = ttp_url, ttp_attachment, ttp_impersonation, message_tracking
lookback  = 5m
overlap   = 1m
page_size = 7
interval  = 1s
KEYS
} | mc_conf "$TEST_TMP/run.conf" "$TEST_TMP/state-run" "$TEST_TMP/run.jsonl"
: >"$TEST_TMP/run.jsonl"
"$MS_BIN" run -c "$TEST_TMP/run.conf" 2>"$TEST_TMP/run.err" &
pid=$!
cleanup_pids="$cleanup_pids $pid"
check "the first page is committed to the cursor file" wait_grep "$TEST_TMP/state-run/inputs/mc.json" message_tracking 20

# new records at "now" arrive on the next poll
t1=$(date +%s)
mc_ctl /_sim/add "{\"stream\":\"ttp_url\",\"count\":5,\"date\":\"$(iso "$t1")\"}" >/dev/null
mc_ctl /_sim/add "{\"stream\":\"message_tracking\",\"count\":3}" >/dev/null
check "records added between polls arrive" wait_lines "$TEST_TMP/run.jsonl" 8 15

# the same second again, after it was polled: only the new ones come (window boundary, overlap)
sleep 1.2
mc_ctl /_sim/add "{\"stream\":\"ttp_url\",\"count\":5,\"date\":\"$(iso "$t1")\"}" >/dev/null
check "a second batch at an already polled second arrives" wait_lines "$TEST_TMP/run.jsonl" 13 15

# 20 records in one second across 7-record pages, and late records 40 s in the past (inside overlap)
t2=$(date +%s)
mc_ctl /_sim/add "{\"stream\":\"ttp_impersonation\",\"count\":20,\"date\":\"$(iso "$t2")\"}" >/dev/null
mc_ctl /_sim/add "{\"stream\":\"ttp_attachment\",\"count\":4,\"date\":\"$(iso $((t2 - 40)))\"}" >/dev/null
check "identical timestamps over page boundaries and late records arrive" \
    wait_lines "$TEST_TMP/run.jsonl" 37 15
sleep 2.5 # a few more polls: nothing may come twice
check "every record exactly once after several polls" \
    mc_compare "$TEST_TMP/run.jsonl" ttp_url,ttp_attachment,ttp_impersonation,message_tracking \
    --min-total 37
polls=$(mc_stat /api/ttp/url/get-logs 200)
check "it kept polling every interval ($polls calls)" test "$polls" -ge 6

kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
wait "$pid"
rc=$?
check "SIGTERM: run exits 0 within 10 s (rc=$rc)" test $rc -eq 0
check "the input itself repeated nothing over the polls (engine dropped $(mc_input_repeats "$TEST_TMP/run.err"))" \
    test "$(mc_summaries "$TEST_TMP/run.err")" -ge 1 -a "$(mc_input_repeats "$TEST_TMP/run.err")" -eq 0
check "no error from the input during the live run" \
    sh -c "! grep -E ' error +\[input:mimecast:mc\]' '$TEST_TMP/run.err'"
