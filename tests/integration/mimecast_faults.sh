#!/bin/bash
# Mimecast faults in the middle of a backfill: a 429 storm, a short token TTL and a token revoked
# mid-pagination, a truncated page, an invalid page, a 500, a refused page token; then, in run mode,
# a fail[] answer on HTTP 200 that fails two polls. Each recovers without
# losing or repeating a record, and each rejected page is logged with input, stream and reason.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/mimecast_lib.sh"

plan 17
ALL=ttp_url,ttp_attachment,ttp_impersonation,message_tracking
LOG_PREFIX='\[input:mimecast:mc\] stream'

mc_sim_start --records 5000 --seed 31 --token-ttl 3
arm() { mc_ctl /_sim/fault "$1" >/dev/null; }
arm '{"kind":"429_storm","count":4,"reset_ms":250,"stream":"ttp_url","after":3}'
arm '{"kind":"truncated","stream":"ttp_attachment","after":2}'
arm '{"kind":"5xx","status":500,"stream":"ttp_impersonation","after":2}'
arm '{"kind":"invalid_json","stream":"ttp_impersonation","after":5}'
arm '{"kind":"fail","field":"pageToken","code":"err_pagination_invalid_token","message":"The page token is not valid","stream":"message_tracking","after":4}'
arm '{"kind":"revoke_token","after":30}'
{
    mc_v2_keys
    cat <<'KEYS'
streams   = ttp_url, ttp_attachment, ttp_impersonation, message_tracking
lookback  = 2d
page_size = 250
retries   = 2
KEYS
} | mc_conf "$TEST_TMP/f.conf" "$TEST_TMP/state" "$TEST_TMP/out.jsonl"
timeout 120 "$MS_BIN" once -c "$TEST_TMP/f.conf" 2>"$TEST_TMP/once.err"
rc=$?
check "backfill through the faults: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/once.err"
check "every record exactly once despite the faults" \
    mc_compare "$TEST_TMP/out.jsonl" "$ALL" --min-total 20000
check "the 429 storm happened and was waited out" test "$(mc_stat /api/ttp/url/get-logs 429)" -eq 4
check "429 logged with input, stream and reason" \
    grep -qE "$LOG_PREFIX ttp_url: page [0-9]+ of .* refused: rate limited \(HTTP 429" "$TEST_TMP/once.err"
check "truncated page logged with input, stream and reason" \
    grep -qE "$LOG_PREFIX ttp_attachment: page [0-9]+ of .* rejected: truncated response" "$TEST_TMP/once.err"
check "500 logged with input, stream and reason" \
    grep -qE "$LOG_PREFIX ttp_impersonation: page [0-9]+ of .* rejected: HTTP 500" "$TEST_TMP/once.err"
check "invalid JSON page logged with input, stream and reason" \
    grep -qE "$LOG_PREFIX ttp_impersonation: page [0-9]+ of .* rejected: HTTP 200, invalid JSON" "$TEST_TMP/once.err"
check "refused page token logged; the walk starts again" \
    grep -qE "$LOG_PREFIX message_tracking: page [0-9]+ of .* page token refused .*the walk starts again" "$TEST_TMP/once.err"
tokens=$(mc_stat /oauth/token 200)
revoked=$(mc_stat_total 401)
check "short token TTL: refreshed before expiry ($tokens tokens)" test "$tokens" -ge 3
check "the token revoked mid-pagination: one 401, one new token, no failure ($revoked 401s)" \
    test "$revoked" -eq 1
check "no error line during the recoverable faults" \
    sh -c "! grep -E ' error +\[input' '$TEST_TMP/once.err'"

# --- run mode: a fail[] on HTTP 200, twice: the engine backs off, one error line, then recovery ----
sed -i 's/^retries   = 2$/retries   = 0\ninterval  = 1s/' "$TEST_TMP/f.conf"
"$MS_BIN" run -c "$TEST_TMP/f.conf" 2>"$TEST_TMP/run.err" &
pid=$!
cleanup_pids="$cleanup_pids $pid"
sleep 1
arm '{"kind":"fail","code":"err_validation_blank","message":"route must not be blank","count":2}'
mc_ctl /_sim/add '{"stream":"ttp_attachment","count":5}' >/dev/null
check "after a fail[] answer (twice) the new records still arrive" \
    wait_lines "$TEST_TMP/out.jsonl" 20005 30
check "the engine reported the failed polls and retried" \
    test "$(grep -cE "warn +\[input:mimecast:mc\] poll failed \(.*\); next try in" "$TEST_TMP/run.err")" -eq 2
check "the fail[] answer gave exactly one error line naming input, stream and cause" \
    test "$(grep -cE "error +$LOG_PREFIX [a-z_]+: page [0-9]+ of .* refused: HTTP 200 with fail\[\]: err_validation_blank: route must not be blank" "$TEST_TMP/run.err")" -eq 1
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM: exit 0 (rc=$rc)" test $rc -eq 0
check "still every record exactly once" \
    mc_compare "$TEST_TMP/out.jsonl" "$ALL" --min-total 20005
check "the input itself repeated nothing despite retries and a restarted walk" \
    test "$(mc_input_repeats "$TEST_TMP/once.err" "$TEST_TMP/run.err")" -eq 0
