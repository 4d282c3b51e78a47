# Helpers for the Mimecast integration tests (sourced after lib.sh): the simulator, its control
# endpoints, a config writer and the comparison with the simulator's ground truth.
MC_SIM="$MS_SRCDIR/tests/sim/mimecast_sim.py"
MC_CHECK="$MS_SRCDIR/tests/integration/mimecast_check.py"
MC_CLIENT_ID=it-client-id
MC_CLIENT_SECRET=it-client-secret-0123456789
MC_APP_ID=it-app-id
MC_APP_KEY=00000000-1111-2222-3333-444444444444
MC_ACCESS_KEY=it-access-key-0123456789
MC_SECRET_KEY=c2ltdWxhdG9yLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5
export MC_CLIENT_SECRET MC_APP_KEY MC_ACCESS_KEY MC_SECRET_KEY

# mc_sim_start ARGS...: starts the simulator on a free port (killed at exit); sets MC_URL, MC_SIM_PID.
mc_sim_start() {
    local pf="$TEST_TMP/sim.port.$$.$RANDOM"
    spawn "$PYTHON3" "$MC_SIM" --port 0 --port-file "$pf" --client-id "$MC_CLIENT_ID" \
        --client-secret "$MC_CLIENT_SECRET" --app-id "$MC_APP_ID" --app-key "$MC_APP_KEY" \
        --access-key "$MC_ACCESS_KEY" --secret-key "$MC_SECRET_KEY" "$@" \
        >>"$TEST_TMP/sim.out" 2>>"$TEST_TMP/sim.err"
    MC_SIM_PID=$!
    if ! wait_for_file "$pf" 30; then
        echo "Bail out! the Mimecast simulator did not start"
        diag_file "$TEST_TMP/sim.err"
        exit 1
    fi
    MC_URL="http://127.0.0.1:$(cat "$pf")"
}

# mc_ctl PATH [JSON]: POST (with JSON) or GET a simulator control endpoint; prints the answer.
mc_ctl() {
    "$PYTHON3" - "$MC_URL$1" "${2:-}" <<'PY'
import sys, urllib.request
url, body = sys.argv[1], sys.argv[2]
req = urllib.request.Request(url, data=body.encode() if body else None,
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as r:
    sys.stdout.write(r.read().decode())
PY
}

# mc_stat PATH STATUS: how many answers with STATUS the simulator gave on PATH.
mc_stat() {
    mc_ctl /_sim/stats | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], {}).get(sys.argv[2], 0))' "$1" "$2"
}

# mc_stat_total STATUS: answers with STATUS over every log endpoint.
mc_stat_total() {
    mc_ctl /_sim/stats | "$PYTHON3" -c 'import json,sys; print(sum(v.get(sys.argv[1], 0) for k, v in json.load(sys.stdin).items() if k.startswith("/api/")))' "$1"
}

# mc_conf FILE STATE_DIR OUT_FILE: writes a config whose [input.mc] section ends with the lines read
# from stdin. Mappings come from an empty directory: every record is forwarded (generic envelope),
# so the output can be compared with the simulator before any clean verdict would be dropped.
mc_conf() {
    mkdir -p "$TEST_TMP/no-mappings"
    {
        cat <<CONF
[service]
state_dir    = $2
mappings_dir = $TEST_TMP/no-mappings
log_level    = info
drain_timeout = 60s

[input.mc]
type          = mimecast
base_url      = $MC_URL
CONF
        cat
        cat <<CONF

[output.out]
type      = file
path      = $3
batch_max = 500
CONF
    } >"$1"
}

# The credential lines of each API version (secrets as \${ENV} references).
mc_v2_keys() {
    printf 'api_version   = 2\nclient_id     = %s\nclient_secret = ${MC_CLIENT_SECRET}\n' "$MC_CLIENT_ID"
}
mc_v1_keys() {
    printf 'api_version = 1\napp_id      = %s\napp_key     = ${MC_APP_KEY}\naccess_key  = ${MC_ACCESS_KEY}\nsecret_key  = ${MC_SECRET_KEY}\n' "$MC_APP_ID"
}

# mc_compare OUT STREAMS [extra mimecast_check.py args]: exact comparison with the ground truth.
mc_compare() {
    local out=$1 streams=$2
    shift 2
    "$PYTHON3" "$MC_CHECK" --sim "$MC_URL" --out "$out" --streams "$streams" "$@" >"$TEST_TMP/compare.out" 2>&1
    local rc=$?
    cat "$TEST_TMP/compare.out"
    return $rc
}

# mc_input_repeats LOG...: records the input handed over although they were spooled already (the
# engine's recent-id window drops those); the input's own deduplication should leave none.
mc_input_repeats() {
    cat "$@" | "$PYTHON3" -c '
import re, sys
n = 0
for line in sys.stdin:
    m = re.search(r"\[input:mimecast:mc\] \d+ records: .* (\d+) already spooled", line)
    if m:
        n += int(m.group(1))
print(n)'
}

# mc_summaries LOG...: how many per-interval summary lines the input logged (to know the count above
# is based on something).
mc_summaries() {
    cat "$@" | grep -cE '\[input:mimecast:mc\] [0-9]+ records: '
}

# mc_no_secrets FILE...: no credential value appears in the given logs.
mc_no_secrets() {
    ! grep -F -e "$MC_CLIENT_SECRET" -e "$MC_ACCESS_KEY" -e "$MC_SECRET_KEY" -e "$MC_APP_KEY" "$@"
}

# wait_grep FILE PATTERN SECONDS: waits until FILE contains PATTERN (grep -E).
wait_grep() {
    local i=0
    while ! grep -qE "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    grep -qE "$2" "$1" 2>/dev/null
}
