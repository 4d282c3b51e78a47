# Start-up of the receivers the output and durability tests talk to (sourced after lib.sh):
# syslog-ng with the test's own config, the HEC receiver simulator and librdkafka's mock cluster.
# Every process is started through spawn (killed at exit); all listen on 127.0.0.1 only.
PEERS_SYSLOG_CHECK="$MS_SRCDIR/tests/integration/syslog_check.py"
PEERS_HEC_RECEIVER="$MS_SRCDIR/tests/sim/hec_receiver.py"

# free_ports N: prints N free TCP ports of 127.0.0.1 on one line.
free_ports() {
    "$PYTHON3" "$PEERS_SYSLOG_CHECK" ports "$1"
}

# wait_tcp PORT...: waits (15 s at most) until something accepts connections on each port.
wait_tcp() {
    "$PYTHON3" "$PEERS_SYSLOG_CHECK" wait-tcp "$@" --timeout 15
}

# ---- syslog-ng ----------------------------------------------------------------------------------
# sng_find: sets SNG to the syslog-ng binary (SYSLOG_NG: another one); fails when there is none.
sng_find() {
    SNG=${SYSLOG_NG:-$(command -v syslog-ng || echo /usr/sbin/syslog-ng)}
    [ -x "$SNG" ]
}

# sng_version: the config version line syslog-ng wants ("@version: 3.38").
sng_version() {
    local ver
    ver=$("$SNG" --version | awk '/^Config version:/ {print $3}')
    echo "@version: ${ver:-3.35}"
}

# sng_start CONF PORT...: runs syslog-ng in the foreground on CONF (its files next to CONF) and
# waits until it accepts TCP connections on the given ports. Sets SNG_PID.
SNG_PID=""
sng_start() {
    local conf=$1
    shift
    spawn "$SNG" -F -f "$conf" --persist-file="$conf.persist" --pidfile="$conf.pid" \
        --control="$conf.ctl" >>"$conf.out" 2>&1
    SNG_PID=$!
    wait_tcp "$@"
}

# sng_stop: SIGTERM to syslog-ng (it flushes its files), then waits for it.
sng_stop() {
    [ -n "$SNG_PID" ] || return 0
    kill "$SNG_PID" 2>/dev/null
    wait "$SNG_PID" 2>/dev/null
    SNG_PID=""
}

# ---- HEC receiver (tests/sim/hec_receiver.py) ----------------------------------------------------
# hec_start NAME PORT TOKEN ARGS...: starts a receiver called NAME on PORT (0 = a free one) that
# accepts TOKEN and appends what it indexes to $TEST_TMP/hec.NAME.jsonl. Sets hec_port_NAME and
# hec_pid_NAME. Restarting a name on its old port continues the same output file.
hec_start() {
    local name=$1 port=$2 token=$3 pf
    shift 3
    pf="$TEST_TMP/hec.$name.port"
    rm -f "$pf"
    spawn "$PYTHON3" "$PEERS_HEC_RECEIVER" --port "$port" --port-file "$pf" --token "$token" \
        --out "$TEST_TMP/hec.$name.jsonl" "$@" >>"$TEST_TMP/hec.$name.err" 2>&1
    eval "hec_pid_$name=$!"
    if ! wait_for_file "$pf" 15; then
        echo "Bail out! HEC receiver $name did not start"
        diag_file "$TEST_TMP/hec.$name.err"
        exit 1
    fi
    eval "hec_port_$name=$(cat "$pf")"
}

# hec_stop NAME: stops the receiver (its output file stays).
hec_stop() {
    local pid
    eval "pid=\${hec_pid_$1:-}"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    eval "hec_pid_$1="
}

# ---- Kafka: librdkafka's mock cluster (tests/helpers/kafka_mock) ---------------------------------
# kmock_start BROKERS TOPIC[:PARTITIONS]...: starts the cluster; commands go through a fifo on fd 3
# (opened read-write: it never blocks, and the helper never sees end of input). Sets KMOCK_PID and
# KAFKA_BOOT (the bootstrap address). Needs MS_BUILDDIR; fails when the helper is not built.
kmock_answers=1
kmock_start() {
    local brokers=$1 t args=""
    shift
    KMOCK="${MS_BUILDDIR:?MS_BUILDDIR must point at the build tree}/tests/helpers/kafka_mock"
    [ -x "$KMOCK" ] || return 1
    for t in "$@"; do
        args="$args -t $t"
    done
    mkfifo "$TEST_TMP/kmock.ctl"
    exec 3<>"$TEST_TMP/kmock.ctl"
    # (not through spawn: an asynchronous command's stdin is /dev/null unless redirected on itself)
    # shellcheck disable=SC2086
    "$KMOCK" -b "$brokers" $args <&3 >"$TEST_TMP/kmock.out" 2>"$TEST_TMP/kmock.err" &
    KMOCK_PID=$!
    cleanup_pids="$cleanup_pids $KMOCK_PID"
    kmock_answers=1
    wait_for_file "$TEST_TMP/kmock.out" 10
    KAFKA_BOOT=$(head -n1 "$TEST_TMP/kmock.out")
    echo "$KAFKA_BOOT" | grep -Eq '^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+)*$'
}

# kmock_cmd "command": sends it and waits (bounded) for one more answer line; ok when "ok".
kmock_cmd() {
    local i=0
    echo "$1" >&3
    kmock_answers=$((kmock_answers + 1))
    while [ "$(wc -l <"$TEST_TMP/kmock.out")" -lt $kmock_answers ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(sed -n "${kmock_answers}p" "$TEST_TMP/kmock.out")" = ok ]
}

# kmock_stop: SIGTERM (the helper exits 0); returns its exit code.
kmock_stop() {
    local rc
    kill -TERM "$KMOCK_PID" 2>/dev/null
    wait "$KMOCK_PID"
    rc=$?
    exec 3>&-
    return $rc
}

# kcat_find: sets KCAT (kcat or kafkacat); fails when neither is installed.
kcat_find() {
    KCAT=$(command -v kcat || command -v kafkacat)
    [ -n "$KCAT" ]
}
