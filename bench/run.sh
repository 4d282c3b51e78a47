#!/bin/bash
# End-to-end throughput of msfwd per CPU-second (DESIGN.md "Performance budget"); prints figures,
# asserts nothing. For each output (syslog LEEF 2.0 over TCP, HEC, Kafka, file): generates N
# Mimecast TTP URL records (about 740 bytes, 30 % clean; seeded), runs `msfwd once` with the replay
# input into a fresh state directory, and reports events delivered, msfwd's user+sys CPU seconds,
# events per CPU-second and the ratio to syslog-ng's figure for the same job, wall time and peak
# RSS: the median of BENCH_REPEAT runs. Receivers run on 127.0.0.1 in their own processes (their
# CPU time is not counted): bench/bench_sink (discarding TCP sink; HEC answering Success) and
# tests/helpers/kafka_mock (librdkafka's mock cluster). Then the per-stage figures of
# bench/stage_bench on the same records. `make bench` runs it from the build tree.
#
# usage: bench/run.sh [BUILDDIR]      (default: MS_BUILDDIR, else the current directory)
# environment:
#   BENCH_RECORDS=200000   records generated (the same seed gives the same file, cached)
#   BENCH_SEED=1           generator seed
#   BENCH_REPEAT=3         runs per configuration (the median is printed)
#   BENCH_OUTPUTS="syslog hec kafka file"
#   BENCH_FSYNC="on off"   spool_fsync settings measured (on is production)
#   BENCH_BATCH=1000       input batch_max (records per spool append and fsync)
#   BENCH_OUT_BATCH=2000   outputs' batch_max (batch_bytes = 4M)
#   BENCH_DIR=BUILDDIR/bench-work   records, state and logs (on disk, not tmpfs: fsync is real)
#   BENCH_MAPPINGS=SRC/mappings  mapping files used
#   BENCH_SOURCE=mimecast:ttp:url  source type of the records (one without a mapping file, e.g.
#                          acme:gw:alert, measures the generic envelope)
#   BENCH_MAP=1            also print the per-stage figures of bench/stage_bench (0: skip)
set -u

BUILD=$(cd "${1:-${MS_BUILDDIR:-.}}" && pwd)
SRC=${MS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
MSFWD=${MS_BIN:-$BUILD/msfwd}
PYTHON3=${PYTHON3:-python3}
N=${BENCH_RECORDS:-200000}
SEED=${BENCH_SEED:-1}
REPEAT=${BENCH_REPEAT:-3}
OUTPUTS=${BENCH_OUTPUTS:-syslog hec kafka file}
FSYNCS=${BENCH_FSYNC:-on off}
IN_BATCH=${BENCH_BATCH:-1000}
OUT_BATCH=${BENCH_OUT_BATCH:-2000}
WORK=${BENCH_DIR:-$BUILD/bench-work}
MAPPINGS=${BENCH_MAPPINGS:-$SRC/mappings}
SOURCE=${BENCH_SOURCE:-mimecast:ttp:url}
TIME=/usr/bin/time

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$MSFWD" ] || die "no msfwd binary at $MSFWD (build first)"
[ -x "$BUILD/bench/bench_sink" ] || die "bench/bench_sink is not built (make bench builds it)"
[ -x "$TIME" ] || die "$TIME is missing (Debian package 'time')"
case " $OUTPUTS " in
*" kafka "*)
    [ -x "$BUILD/tests/helpers/kafka_mock" ] ||
        die "tests/helpers/kafka_mock is not built (make bench builds it)"
    ;;
esac
mkdir -p "$WORK" || die "cannot create $WORK"

# ---- records --------------------------------------------------------------------------------
RECORDS=$WORK/records-$N-$SEED.jsonl
if [ ! -s "$RECORDS" ]; then
    "$PYTHON3" "$SRC/bench/gen_records.py" "$N" "$SEED" "$RECORDS" >"$WORK/gen.out" ||
        die "record generation failed"
fi
REC_BYTES=$(wc -c <"$RECORDS")
REC_CLEAN=$(grep -c '"scanResult":"clean"' "$RECORDS")

# ---- receivers ------------------------------------------------------------------------------
PIDS=""
cleanup() {
    local p
    for p in $PIDS; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}
trap cleanup EXIT

# start_proc NAME CMD...: runs CMD in the background with stdout in WORK/NAME.out; waits for its
# first line (a port or a bootstrap address) and sets STARTED to it and LAST_PID to the process.
start_proc() {
    local name=$1 i=0
    shift
    : >"$WORK/$name.out"
    "$@" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" &
    LAST_PID=$!
    PIDS="$PIDS $LAST_PID"
    while [ ! -s "$WORK/$name.out" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$WORK/$name.out" ] || die "$name did not start: $(cat "$WORK/$name.err")"
    STARTED=$(head -n1 "$WORK/$name.out")
}

stop_proc() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    PIDS=$(echo "$PIDS" | sed "s/ $1\b//")
}

TCP_PORT=""
HEC_PORT=""
case " $OUTPUTS " in
*" syslog "*)
    start_proc sink-tcp "$BUILD/bench/bench_sink" tcp
    TCP_PORT=$STARTED
    ;;
esac
case " $OUTPUTS " in
*" hec "*)
    start_proc sink-hec "$BUILD/bench/bench_sink" hec
    HEC_PORT=$STARTED
    ;;
esac

# ---- one run ---------------------------------------------------------------------------------
# output_conf OUTPUT: the [output.NAME] section.
output_conf() {
    case $1 in
    syslog)
        cat <<EOF
[output.bench]
type      = syslog
host      = 127.0.0.1
port      = $TCP_PORT
transport = tcp
header    = rfc5424
format    = leef2
EOF
        ;;
    hec)
        cat <<EOF
[output.bench]
type  = hec
url   = http://127.0.0.1:$HEC_PORT
token = bench-token
EOF
        ;;
    kafka)
        cat <<EOF
[output.bench]
type    = kafka
brokers = $KAFKA_BOOT
topic   = email-security.\${source_type}
EOF
        ;;
    file)
        cat <<EOF
[output.bench]
type  = file
path  = /dev/null
fsync = false
EOF
        ;;
    esac
    cat <<EOF
batch_max   = $OUT_BATCH
batch_bytes = 4M
EOF
}

# run_once OUTPUT FSYNC: prints "delivered user sys wall maxrss_kb" of one msfwd once run.
run_once() {
    local out=$1 fsync=$2 conf=$WORK/msfwd.conf st=$WORK/state delivered
    rm -rf "$st"
    KAFKA_BOOT=""
    if [ "$out" = kafka ]; then
        start_proc kafka "$BUILD/tests/helpers/kafka_mock" -b 1 -t email-security.mimecast.ttp.url:1
        KAFKA_BOOT=$STARTED
        KAFKA_PID=$LAST_PID
    fi
    cat >"$conf" <<EOF
[service]
state_dir     = $st
mappings_dir  = $MAPPINGS
log_level     = info
spool_fsync   = $([ "$fsync" = on ] && echo true || echo false)
spool_max     = 8G
drain_timeout = 30m

[input.bench]
type        = replay
path        = $RECORDS
source_type = $SOURCE
batch_max   = $IN_BATCH

$(output_conf "$out")
EOF
    "$TIME" -f '%U %S %e %M' -o "$WORK/time.out" "$MSFWD" once -c "$conf" 2>"$WORK/run-$out.log"
    local rc=$?
    if [ "$out" = kafka ]; then
        stop_proc "$KAFKA_PID"
    fi
    [ $rc -eq 0 ] || die "msfwd once failed (rc=$rc) for $out; see $WORK/run-$out.log"
    delivered=$(sed -n 's/.*\[output:[^]]*\] \([0-9]*\) events delivered$/\1/p' "$WORK/run-$out.log" |
        tail -n1)
    echo "${delivered:-0} $(tail -n1 "$WORK/time.out")"
}

# median of the numbers on stdin
median() {
    sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

syslog_ng_figure() {
    case $1 in
    syslog) echo 28000 ;;
    hec) echo 23000 ;;
    kafka) echo 20000 ;;
    *) echo 0 ;;
    esac
}

label() {
    case $1 in
    syslog) echo "syslog LEEF2/TCP" ;;
    hec) echo "HEC (gzip)" ;;
    kafka) echo "Kafka (zstd)" ;;
    file) echo "file /dev/null" ;;
    esac
}

echo "msfwd benchmark: $N records ($SOURCE), $((REC_BYTES / N)) bytes each on average, $((REC_CLEAN * 100 / N)) % clean;" \
    "input batch_max $IN_BATCH, output batch_max $OUT_BATCH; median of $REPEAT runs"
echo "($(nproc) CPUs, $(uname -r); msfwd: $MSFWD)"
printf '%-18s %-5s %9s %8s %7s %7s %9s %-13s %7s %8s\n' output fsync delivered "cpu s" user sys \
    "ev/cpu-s" "vs syslog-ng" "wall s" "rss MB"
for out in $OUTPUTS; do
    for fsync in $FSYNCS; do
        : >"$WORK/runs.txt"
        for _ in $(seq "$REPEAT"); do
            run_once "$out" "$fsync" >>"$WORK/runs.txt" || exit 1
        done
        delivered=$(awk '{print $1}' "$WORK/runs.txt" | median)
        user=$(awk '{print $2}' "$WORK/runs.txt" | median)
        sys=$(awk '{print $3}' "$WORK/runs.txt" | median)
        cpu=$(awk '{print $2 + $3}' "$WORK/runs.txt" | median)
        wall=$(awk '{print $4}' "$WORK/runs.txt" | median)
        rss=$(awk '{print $5}' "$WORK/runs.txt" | median)
        ref=$(syslog_ng_figure "$out")
        awk -v l="$(label "$out")" -v f="$fsync" -v d="$delivered" -v c="$cpu" -v u="$user" \
            -v s="$sys" -v w="$wall" -v r="$rss" -v ref="$ref" 'BEGIN {
                rate = c > 0 ? d / c : 0
                vs = ref > 0 ? sprintf("%.2fx of %dk", rate / ref, ref / 1000) : "-"
                printf "%-18s %-5s %9d %8.2f %7.2f %7.2f %9.0f %-13s %7.2f %8.1f\n",
                    l, f, d, c, u, s, rate, vs, w, r / 1024
            }'
    done
done

if [ "${BENCH_MAP:-1}" != 0 ] && [ -x "$BUILD/bench/stage_bench" ]; then
    echo
    echo "per stage (bench/stage_bench on the same records, one thread, in process):"
    "$BUILD/bench/stage_bench" "$RECORDS" "$MAPPINGS" "$SOURCE" 2>/dev/null | sed 's/^/  /'
fi
