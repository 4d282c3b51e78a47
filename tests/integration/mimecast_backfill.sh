#!/bin/bash
# Mimecast backfill: thousands of records per stream over many pages arrive exactly once, with API 2.0
# (OAuth) and API 1.0 (HMAC, with the last-page quirk); a second poll adds nothing; message tracking
# with the Google SecOps connector's filters forwards exactly the matching messages.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/mimecast_lib.sh"

plan 19
ALL=ttp_url,ttp_attachment,ttp_impersonation,message_tracking

# --- API 2.0: 6,000 records per stream, 500 per page ----------------------------------------------
mc_sim_start --records 6000 --seed 11
{
    mc_v2_keys
    cat <<'KEYS'
streams   = ttp_url, ttp_attachment, ttp_impersonation, message_tracking
lookback  = 2d
page_size = 500
KEYS
} | mc_conf "$TEST_TMP/v2.conf" "$TEST_TMP/state-v2" "$TEST_TMP/v2.jsonl"
timeout 120 "$MS_BIN" once -c "$TEST_TMP/v2.conf" 2>"$TEST_TMP/v2.err"
rc=$?
check "API 2.0 backfill: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/v2.err"
check "API 2.0: each of 4 x 6000 records delivered exactly once" \
    mc_compare "$TEST_TMP/v2.jsonl" "$ALL" --min-total 24000
pages=$(mc_stat /api/ttp/url/get-logs 200)
check "API 2.0: the URL stream took many pages ($pages)" test "$pages" -ge 12
check "API 2.0: one token for the whole backfill" test "$(mc_stat /oauth/token 200)" -eq 1
check "API 2.0: no credential in the log" mc_no_secrets "$TEST_TMP/v2.err"
check "API 2.0: no error or warning from the input" \
    sh -c "! grep -E ' (error|warn) +\[input:mimecast:mc\]' '$TEST_TMP/v2.err'"

timeout 60 "$MS_BIN" once -c "$TEST_TMP/v2.conf" 2>"$TEST_TMP/v2b.err"
rc=$?
check "second poll exits 0 (rc=$rc)" test $rc -eq 0
check "second poll forwards nothing again" test "$(wc -l <"$TEST_TMP/v2.jsonl")" -eq 24000
check "second poll: the input handed over nothing of the overlap it re-read" \
    sh -c "! grep -qE '\[input:mimecast:mc\] [0-9]+ records: ' '$TEST_TMP/v2b.err'"
check "second poll resumes from the cursor of each stream" \
    test "$(grep -c 'resuming at' "$TEST_TMP/v2b.err")" -eq 4

# --- message tracking with the GS connector's filters (same simulator) ----------------------------
{
    mc_v2_keys
    cat <<'KEYS'
streams                  = message_tracking
lookback                 = 2d
page_size                = 200
tracking_domains         = acme.example
tracking_status          = held, bounced, rejected, archived
tracking_route           = inbound, internal
tracking_min_risk        = medium
tracking_include_no_risk = true
KEYS
} | mc_conf "$TEST_TMP/tr.conf" "$TEST_TMP/state-tr" "$TEST_TMP/tr.jsonl"
timeout 120 "$MS_BIN" once -c "$TEST_TMP/tr.conf" 2>"$TEST_TMP/tr.err"
rc=$?
check "tracking filters: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/tr.err"
filter='{"domains":["acme.example"],"status":["held","bounced","rejected","archived"],"route":["inbound","internal"],"min_risk":"medium","include_no_risk":true}'
check "tracking filters: exactly the matching messages, once each (both lanes, deduplicated)" \
    mc_compare "$TEST_TMP/tr.jsonl" message_tracking --tracking-filter "$filter" --min-total 100
check "tracking filters: risk came from get-message-info" \
    test "$(mc_stat /api/message-finder/get-message-info 200)" -ge 2

# --- API 1.0: HMAC signing, 5,000 records per stream, the last-page quirk, 300 per page --------------
mc_sim_start --records 5000 --seed 12 --auth-mode 1 --last-page-quirk
{
    mc_v1_keys
    cat <<'KEYS'
streams   = ttp_url, ttp_attachment, ttp_impersonation, message_tracking
lookback  = 2d
page_size = 300
KEYS
} | mc_conf "$TEST_TMP/v1.conf" "$TEST_TMP/state-v1" "$TEST_TMP/v1.jsonl"
timeout 120 "$MS_BIN" once -c "$TEST_TMP/v1.conf" 2>"$TEST_TMP/v1.err"
rc=$?
check "API 1.0 backfill: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/v1.err"
check "API 1.0: each of 4 x 5000 records delivered exactly once" \
    mc_compare "$TEST_TMP/v1.jsonl" "$ALL" --min-total 20000
check "API 1.0: no signature was refused" test "$(mc_stat /api/ttp/url/get-logs 401)" -eq 0
check "API 1.0: no credential in the log" mc_no_secrets "$TEST_TMP/v1.err"
timeout 60 "$MS_BIN" once -c "$TEST_TMP/v1.conf" 2>"$TEST_TMP/v1b.err"
check "API 1.0: a second poll forwards nothing again" test "$(wc -l <"$TEST_TMP/v1.jsonl")" -eq 20000
check "the input itself never handed over a record twice" \
    test "$(mc_input_repeats "$TEST_TMP"/v2.err "$TEST_TMP"/tr.err "$TEST_TMP"/v1.err "$TEST_TMP"/v1b.err)" -eq 0
