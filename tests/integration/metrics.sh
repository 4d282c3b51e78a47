#!/bin/bash
# [service] metrics: /metrics (Prometheus text) and /health on a local port while msfwd runs.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 8
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Only malicious records, so that the counts do not depend on which verdicts the mapping drops.
grep -v '"scanResult":"clean"' "$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl" >"$TEST_TMP/in.jsonl"
printf 'not json\n' >>"$TEST_TMP/in.jsonl"
cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $MS_SRCDIR/mappings
metrics      = 127.0.0.1:$port

[input.sample]
type        = replay
path        = $TEST_TMP/in.jsonl
source_type = mimecast:ttp:url
interval    = 1s

[output.local]
type = file
path = $TEST_TMP/out.jsonl
CONF

"$MS_BIN" run -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run.err" &
pid=$!
cleanup_pids="$cleanup_pids $pid"

# fetch PATH: prints "STATUS BODY" (bounded retries while the server starts).
fetch() {
    "$PYTHON3" - "$port" "$1" <<'PY'
import sys, time, urllib.request, urllib.error
url = "http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2])
for _ in range(50):
    try:
        r = urllib.request.urlopen(url, timeout=2)
        print(r.status, r.read().decode())
        break
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode())
        break
    except OSError:
        time.sleep(0.1)
PY
}

# Wait until every record went through (bounded).
for _ in $(seq 1 100); do
    [ -f "$TEST_TMP/out.jsonl" ] && [ "$(wc -l <"$TEST_TMP/out.jsonl")" -ge 4 ] && break
    sleep 0.1
done
sleep 0.5
metrics=$(fetch /metrics)
check "/metrics answers 200" test "${metrics%% *}" = 200
check "records counted" grep -q 'msfwd_input_records_total{input="sample",type="replay"} 4$' <<<"$metrics"
check "rejected record counted" grep -q 'msfwd_input_records_rejected_total{input="sample",type="replay"} 1$' <<<"$metrics"
check "deliveries counted" grep -q 'msfwd_output_events_delivered_total{output="local",type="file"} 4$' <<<"$metrics"
check "lag is zero once delivered" grep -q 'msfwd_output_lag_bytes{output="local",type="file"} 0$' <<<"$metrics"
health=$(fetch /health)
check "/health is 200 and ok" grep -q '^200 {"status":"ok"' <<<"$health"
check "unknown path is 404" test "$(fetch /nope | cut -d' ' -f1)" = 404
kill -TERM $pid
wait $pid

sed -i "s/^metrics      = .*/metrics      = localhost/" "$TEST_TMP/msfwd.conf"
"$MS_BIN" check -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/check.err"
check "a bad metrics address is refused with 78" test $? -eq 78
