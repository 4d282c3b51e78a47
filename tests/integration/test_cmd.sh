#!/bin/bash
# msfwd test against a live peer: the HEC output's health check passes with the right token and
# names the cause with a wrong one; a receiver that is down fails with the transport error.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 5
TOKEN=0b1e7c9a-test-cmd-token
spawn "$PYTHON3" "$MS_SRCDIR/tests/sim/hec_receiver.py" --port 0 --port-file "$TEST_TMP/hec.port" \
    --token "$TOKEN" >"$TEST_TMP/hec.log" 2>&1
wait_for_file "$TEST_TMP/hec.port" 15 || { not_ok "HEC receiver did not start"; exit 1; }
port=$(cat "$TEST_TMP/hec.port")
down=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $MS_SRCDIR/mappings

[input.sample]
type        = replay
path        = $MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl
source_type = mimecast:ttp:url

[output.good]
type  = hec
url   = http://127.0.0.1:$port
token = \${GOOD_TOKEN}

[output.wrong]
type  = hec
url   = http://127.0.0.1:$port
token = not-the-token-42

[output.down]
type    = hec
url     = http://127.0.0.1:$down
token   = \${GOOD_TOKEN}
timeout = 5s
CONF
GOOD_TOKEN=$TOKEN "$MS_BIN" test -c "$TEST_TMP/msfwd.conf" >"$TEST_TMP/test.out" 2>&1
rc=$?
diag_file "$TEST_TMP/test.out"
check "test exits 1 when a check fails (rc=$rc)" test $rc -eq 1
check "the right token passes the health check" \
    grep -q "^PASS output good (hec): http://127.0.0.1:$port/services/collector/health is healthy" "$TEST_TMP/test.out"
check "a wrong token fails and says so" \
    grep -q "^FAIL output wrong (hec): .* refused the token" "$TEST_TMP/test.out"
check "a receiver that is down fails with the transport error" \
    grep -qE "^FAIL output down \(hec\): .*(refused|connect)" "$TEST_TMP/test.out"
check "no token in the output" sh -c "! grep -q -e '$TOKEN' -e not-the-token-42 '$TEST_TMP/test.out'"
