#!/bin/bash
# Mimecast credentials: a wrong client secret (API 2.0), expired keys (API 1.0, HTTP 418) and a bad
# HMAC signature each give one clear error line naming the input, the stream and the cause; in run
# mode the input keeps retrying and SIGTERM still exits 0. No credential or token reaches a log.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/mimecast_lib.sh"

plan 19

# start_run CONF LOG: msfwd run in the background; sets pid.
start_run() {
    "$MS_BIN" run -c "$1" 2>"$2" &
    pid=$!
    cleanup_pids="$cleanup_pids $pid"
}

# stop_run: SIGTERM, then the exit status (0 expected) within 10 s.
stop_run() {
    local i=0
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    wait "$pid"
}

errors() { grep -cE ' error +\[input:mimecast:mc\]' "$1"; }

# --- API 2.0, wrong client secret --------------------------------------------------------------------
mc_sim_start --records 300 --seed 51
{
    printf 'api_version   = 2\nclient_id     = %s\nclient_secret = ${WRONG_SECRET}\n' "$MC_CLIENT_ID"
    printf 'lookback      = 2d\n'
} | mc_conf "$TEST_TMP/bad2.conf" "$TEST_TMP/state-bad2" "$TEST_TMP/bad2.jsonl"
export WRONG_SECRET=not-the-secret-0123456789
start_run "$TEST_TMP/bad2.conf" "$TEST_TMP/bad2.err"
check "wrong client secret: an error line names input, stream and cause" \
    wait_grep "$TEST_TMP/bad2.err" "error +\[input:mimecast:mc\] stream ttp_url: .*token request to .*/oauth/token failed: HTTP 401.*client_id/client_secret refused.*retrying later" 15
sleep 1
check "wrong client secret: exactly one error line" test "$(errors "$TEST_TMP/bad2.err")" -eq 1
check "wrong client secret: the input keeps running and will retry" \
    sh -c "kill -0 $pid && grep -qE 'poll failed \([^)]+\); next try in [0-9]+ ms' '$TEST_TMP/bad2.err'"
stop_run
rc=$?
check "wrong client secret: SIGTERM exits 0 (rc=$rc)" test $rc -eq 0
"$MS_BIN" test -c "$TEST_TMP/bad2.conf" mc >"$TEST_TMP/test-bad.out" 2>&1
rc=$?
check "wrong client secret: msfwd test fails (rc=$rc) and says why" \
    sh -c "test $rc -eq 1 && grep -qE '^FAIL input mc \(mimecast\): stream ttp_url: token request to .* HTTP 401' '$TEST_TMP/test-bad.out'"
check "wrong client secret: the secret is not in the log" \
    sh -c "! grep -qF '$WRONG_SECRET' '$TEST_TMP/bad2.err'"

# --- API 1.0, keys expired (418 Binding Expired) ---------------------------------------------------
mc_sim_start --records 300 --seed 52 --auth-mode 1 --keys-expired
{
    mc_v1_keys
    printf 'lookback    = 2d\nstreams     = ttp_attachment, ttp_url\n'
} | mc_conf "$TEST_TMP/exp.conf" "$TEST_TMP/state-exp" "$TEST_TMP/exp.jsonl"
start_run "$TEST_TMP/exp.conf" "$TEST_TMP/exp.err"
check "expired keys: an error line names input, stream, HTTP 418 and what to do" \
    wait_grep "$TEST_TMP/exp.err" "error +\[input:mimecast:mc\] stream ttp_attachment: page 1 of .* refused: HTTP 418 \(err_xdk_binding_expired: Binding Expired\): API 1.0 keys expired.*Never Expires; retrying later" 15
sleep 1
check "expired keys: exactly one error line" test "$(errors "$TEST_TMP/exp.err")" -eq 1
check "expired keys: still running" kill -0 "$pid"
stop_run
rc=$?
check "expired keys: SIGTERM exits 0 (rc=$rc)" test $rc -eq 0
check "expired keys: no API 1.0 key in the log" mc_no_secrets "$TEST_TMP/exp.err"

# --- API 1.0, a secret key that signs wrongly; once exits 1 ------------------------------------------
{
    mc_v1_keys | sed 's/^secret_key .*/secret_key  = d3Jvbmctc2VjcmV0LWtleS0wMTIzNDU2Nzg5/'
    printf 'lookback    = 2d\n'
} | mc_conf "$TEST_TMP/sig.conf" "$TEST_TMP/state-sig" "$TEST_TMP/sig.jsonl"
mc_ctl /_sim/config '{"keys_expired": false}' >/dev/null
timeout 30 "$MS_BIN" once -c "$TEST_TMP/sig.conf" 2>"$TEST_TMP/sig.err"
rc=$?
check "bad signature: once exits 1 (rc=$rc)" test $rc -eq 1
check "bad signature: one error line from the input naming stream and cause" \
    test "$(grep -cE 'error +\[input:mimecast:mc\] stream ttp_url: page 1 of .* refused: HTTP 401 \(err_xdk_invalid_signature: 0004 Invalid Signature\): credentials refused' "$TEST_TMP/sig.err")" -eq 1

# --- the right keys: msfwd test; then at debug level, 2 calls per second: paced, nothing secret -----
sed -i 's/^log_level    = info/log_level    = debug/' "$TEST_TMP/exp.conf"
"$MS_BIN" test -c "$TEST_TMP/exp.conf" mc >"$TEST_TMP/test-ok.out" 2>&1
rc=$?
check "right keys: msfwd test passes (rc=$rc)" \
    sh -c "test $rc -eq 0 && grep -qE '^PASS input mc \(mimecast\): .* answers \(API 1, 2 streams\)' '$TEST_TMP/test-ok.out'"
mc_ctl /_sim/config '{"rate_limit": 2, "rate_window_ms": 1000}' >/dev/null # a fresh, full bucket
before_429=$(mc_stat_total 429)
timeout 60 "$MS_BIN" once -c "$TEST_TMP/exp.conf" 2>"$TEST_TMP/debug.err"
rc=$?
check "right keys: once exits 0 (rc=$rc)" test $rc -eq 0
check "right keys: everything delivered" mc_compare "$TEST_TMP/exp.jsonl" ttp_attachment,ttp_url
check "X-RateLimit-Remaining 0: the input waited for X-RateLimit-Reset instead of running into 429" \
    sh -c "test $(mc_stat_total 429) -eq $before_429 && grep -qE 'debug +\[input:mimecast:mc\] rate limit: waiting [0-9]+ ms' '$TEST_TMP/debug.err'"
check "debug log: no Authorization header, bearer token or signature" \
    sh -c "! grep -qiE 'authorization|bearer|MC [^ ]+:[A-Za-z0-9+/]{27}=' '$TEST_TMP/debug.err'"
check "debug log: no credential" mc_no_secrets "$TEST_TMP/debug.err"
