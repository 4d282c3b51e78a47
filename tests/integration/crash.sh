#!/bin/bash
# Crash test (issue 7, DESIGN invariant 1): msfwd run forwards the Mimecast simulator's four streams
# to HEC (tests/sim/hec_receiver.py), syslog (syslog-ng, TCP, LEEF) and Kafka (librdkafka's mock
# cluster) at once and is killed with SIGKILL at random moments, CRASH_COUNT (20) times, restarted
# each time. After the last restart every output must end up with every event at least once (by
# event id), and with at most CRASH_COUNT x batch_max duplicates (one unacknowledged batch per
# crash and output).
#
# The events: CRASH_RECORDS (30,000) records per stream, through the real mappings, which drop the
# clean verdicts (about 30 % of ttp_url and ttp_attachment): the ground truth is the simulator's
# records put through `msfwd map`, 102,047 events. Simulator pages take CRASH_PAGE_DELAY (0.08 s)
# so that the backfill spans the kills. Each run lives a random time in [CRASH_KILL_MIN_MS,
# CRASH_KILL_MAX_MS) (300, 2500) before its kill; the times come from CRASH_SEED, printed (the same
# seed replays the same kill schedule). About 70 s on a 2-core machine.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"
. "${MS_SRCDIR}/tests/integration/mimecast_lib.sh"

if ! sng_find; then
    echo "1..0 # SKIP syslog-ng not installed (apt-get install syslog-ng-core)"
    exit 0
fi
if ! kcat_find; then
    echo "1..0 # SKIP kcat (Debian package kcat) is not installed"
    exit 0
fi

CRASHES=${CRASH_COUNT:-20}
RECORDS=${CRASH_RECORDS:-30000}
SEED=${CRASH_SEED:-$(( ($(date +%s) * 31 + $$) % 1000000 ))}
KILL_MIN_MS=${CRASH_KILL_MIN_MS:-300}   # each run lives a random time in [min, max) before kill -9
KILL_MAX_MS=${CRASH_KILL_MAX_MS:-2500}
BATCH=500
STREAMS=ttp_url,ttp_attachment,ttp_impersonation,message_tracking
TOPICS="email-security.mimecast.ttp.url email-security.mimecast.ttp.attachment
email-security.mimecast.ttp.impersonation email-security.mimecast.message-tracking"
CRASH_HEC_TOKEN=9d3c1b2a-0e4f-4a5b-8c6d-7e8f9a0b1c2d
export CRASH_HEC_TOKEN
CHK="$MS_SRCDIR/tests/integration/durability_check.py"
T=$TEST_TMP
t_start=$(date +%s)

plan 12
echo "# seed $SEED (CRASH_SEED=$SEED replays this kill schedule), $CRASHES crashes, $RECORDS records per stream"

# ---- peers ------------------------------------------------------------------------------------
mc_sim_start --records "$RECORDS" --seed 7
# Pages take a little longer (as a real API's do), so that the backfill spans many of the kills:
# they hit the input's page/spool/cursor steps as well as the outputs' deliveries.
mc_ctl /_sim/fault "{\"kind\":\"slow\",\"count\":-1,\"seconds\":${CRASH_PAGE_DELAY:-0.08}}" >/dev/null
hec_start crash 0 "$CRASH_HEC_TOKEN"
read -r P_SL P_MET <<<"$(free_ports 2)"
cat >"$T/sng.conf" <<CONF
$(sng_version)
options { keep-hostname(yes); log-msg-size(1048576); stats-freq(0); use-dns(no); dns-cache(no); };
source s_tcp { network(ip("127.0.0.1") port($P_SL) transport("tcp") flags(store-raw-message)
               max-connections(10) log-iw-size(10000)); };
destination d_file { file("$T/syslog.log" template("\$RAWMSG\n")); };
log { source(s_tcp); destination(d_file); };
CONF
sng_start "$T/sng.conf" "$P_SL" || diag_file "$T/sng.conf.out"
topic_args=""
for t in $TOPICS; do topic_args="$topic_args $t:2"; done
# shellcheck disable=SC2086
kmock_start 1 $topic_args
check "peers run: Mimecast simulator, HEC receiver, syslog-ng, Kafka mock ($KAFKA_BOOT)" \
    sh -c "kill -0 $SNG_PID && kill -0 $KMOCK_PID && kill -0 $hec_pid_crash"

# ---- ground truth -----------------------------------------------------------------------------
"$PYTHON3" "$CHK" expected --msfwd "$MS_BIN" --mappings "$MS_SRCDIR/mappings" --sim "$MC_URL" \
    --streams "$STREAMS" --out "$T/expected.ids" >"$T/expected.out" 2>&1
rc=$?
NEV=$(wc -l <"$T/expected.ids" 2>/dev/null || echo 0)
check "ground truth: $(cat "$T/expected.out")" test $rc -eq 0 -a "$NEV" -gt 0

cat >"$T/c.conf" <<CONF
[service]
state_dir    = $T/state
mappings_dir = $MS_SRCDIR/mappings
log_level    = info
metrics      = 127.0.0.1:$P_MET

[input.mc]
type      = mimecast
base_url  = $MC_URL
$(mc_v2_keys)
streams   = ttp_url, ttp_attachment, ttp_impersonation, message_tracking
lookback  = 2d
page_size = $BATCH
batch_max = $BATCH

[output.hec]
type      = hec
url       = http://127.0.0.1:$hec_port_crash
token     = \${CRASH_HEC_TOKEN}
batch_max = $BATCH
retry_min = 100ms
retry_max = 1s

[output.syslog]
type      = syslog
host      = 127.0.0.1
port      = $P_SL
transport = tcp
framing   = lf
format    = leef2
hostname  = crash-test
batch_max = $BATCH
retry_min = 100ms
retry_max = 1s

[output.kafka]
type      = kafka
brokers   = $KAFKA_BOOT
batch_max = $BATCH
retry_min = 100ms
retry_max = 1s
kafka.reconnect.backoff.max.ms = 500
CONF

# ---- kill -9 at random moments ------------------------------------------------------------------
RANDOM=$SEED
alive=0
mid_input=0
mid_output=0
schedule=""
for i in $(seq 1 "$CRASHES"); do
    "$MS_BIN" run -c "$T/c.conf" 2>"$T/run.$i.err" &
    pid=$!
    cleanup_pids="$cleanup_pids $pid"
    ms=$((KILL_MIN_MS + (RANDOM * 32768 + RANDOM) % (KILL_MAX_MS - KILL_MIN_MS)))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        alive=$((alive + 1))
    else
        wait "$pid"
        echo "# run $i exited by itself (rc=$?) before its kill:"
        diag_file "$T/run.$i.err" 10
    fi
    # Where the kill landed: syslog keeps up with the input, HEC (a Python receiver) lags behind.
    nh=$(wc -l <"$T/hec.crash.jsonl" 2>/dev/null || echo 0)
    ns=$(wc -l <"$T/syslog.log" 2>/dev/null || echo 0)
    [ "$ns" -lt "$NEV" ] && mid_input=$((mid_input + 1))
    [ "$nh" -lt "$NEV" ] && mid_output=$((mid_output + 1))
    schedule="$schedule ${ms}ms:$ns/$nh"
done
echo "# kills (run time:events at syslog/HEC):$schedule"
check "msfwd was running at each of the $CRASHES kills (alive $alive)" test "$alive" -eq "$CRASHES"
check "kills hit the backfill ($mid_input of $CRASHES before syslog had every event)\
 and the deliveries ($mid_output before HEC had)" \
    test "$mid_input" -ge $((CRASHES / 4)) -a "$mid_output" -ge $((CRASHES / 2))

# ---- last restart: wait (bounded) until every output has everything --------------------------
spawn "$MS_BIN" run -c "$T/c.conf" 2>"$T/run.last.err"
MS_PID=$!
"$PYTHON3" "$CHK" wait --expected "$T/expected.ids" --timeout 150 hec="$T/hec.crash.jsonl" \
    syslog="$T/syslog.log" >"$T/wait.out" 2>&1
rc=$?
check "after the last restart HEC and syslog receive every event (bounded wait)" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/wait.out"
lag=-1
for i in $(seq 1 120); do
    lag=$("$PYTHON3" "$CHK" metric "http://127.0.0.1:$P_MET/metrics" msfwd_output_lag_bytes 2>/dev/null)
    [ "$lag" = 0 ] && break
    sleep 0.5
done
check "every output's spool lag drops to 0 (lag $lag bytes)" test "$lag" = 0
kill -TERM "$MS_PID"
wait "$MS_PID"
rc=$?
check "msfwd stops cleanly on SIGTERM after the last run (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$T/run.last.err"
sng_stop # flushes its file

: >"$T/kafka.keys"
for t in $TOPICS; do
    timeout 60 "$KCAT" -C -b "$KAFKA_BOOT" -t "$t" -o beginning -e -q -f '%k\n' >>"$T/kafka.keys" \
        2>>"$T/kcat.err"
done

# ---- the counts ---------------------------------------------------------------------------------
MAXDUP=$((CRASHES * BATCH))
for kind in hec syslog kafka; do
    case $kind in
    hec) f="$T/hec.crash.jsonl" ;;
    syslog) f="$T/syslog.log" ;;
    kafka) f="$T/kafka.keys" ;;
    esac
    "$PYTHON3" "$CHK" count --expected "$T/expected.ids" --kind $kind --max-dups $MAXDUP "$f" \
        >"$T/count.$kind" 2>&1
    rc=$?
    cat "$T/count.$kind"
    check "$kind: every one of $NEV events at least once, duplicates <= $CRASHES crashes x $BATCH" \
        test $rc -eq 0
done
# The only errors a kill -9 may leave: a batch torn in the middle of its write(2), cut at start.
torn='spool: segment .*: torn (record|frame header) at offset [0-9]+ after [0-9]+ good records'
grep -hE ' error ' "$T"/run.*.err | grep -vE "$torn|spool recovery cut [0-9]+ bytes" >"$T/errors"
ncut=$(grep -hc 'spool recovery cut' "$T"/run.*.err | awk '{s += $1} END {print s + 0}')
check "no error logged but torn tails cut back at restart ($ncut such cuts)" test ! -s "$T/errors"
diag_file "$T/errors" 10
check "no sanitizer report in any run" sanitizer_clean "$T"/run.*.err
per_crash=""
for kind in hec syslog kafka; do
    d=$(sed -n 's/.* \([0-9]*\) duplicates (limit.*/\1/p' "$T/count.$kind")
    per_crash="$per_crash $kind $(awk -v d="${d:-0}" -v c="$CRASHES" 'BEGIN {printf "%.0f", d / c}')"
done
echo "# duplicates per crash (limit $BATCH):$per_crash"
echo "# wall time $(($(date +%s) - t_start)) s: $NEV events, $CRASHES crashes, seed $SEED"
