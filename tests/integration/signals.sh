#!/bin/bash
# msfwd run: SIGHUP reloads (a bad new config is refused and the old one keeps running),
# SIGTERM stops cleanly with exit 0 and saved state.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 12
# Only malicious records, so that the counts do not depend on which verdicts the mapping drops.
grep -v '"scanResult":"clean"' "$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl" >"$TEST_TMP/all.jsonl"
head -n 3 "$TEST_TMP/all.jsonl" >"$TEST_TMP/in.jsonl"

write_conf() {
    cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $MS_SRCDIR/mappings

[input.sample]
type        = replay
path        = $TEST_TMP/in.jsonl
source_type = mimecast:ttp:url
interval    = 1s

[output.a]
type  = file
path  = $TEST_TMP/a.jsonl
CONF
}

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

# wait_lines FILE N SECONDS
wait_lines() {
    local i=0
    while [ "$(lines "$1")" -lt "$2" ] && [ $i -lt $(($3 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(lines "$1")" -ge "$2" ]
}

write_conf
"$MS_BIN" run -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run.err" &
pid=$!
cleanup_pids="$cleanup_pids $pid"
check "run delivers the first records" wait_lines "$TEST_TMP/a.jsonl" 3 20

# Reload with a second output: it takes effect without a restart.
cat >>"$TEST_TMP/msfwd.conf" <<CONF

[output.b]
type = file
path = $TEST_TMP/b.jsonl
CONF
kill -HUP $pid
check "SIGHUP reload adds output b" wait_lines "$TEST_TMP/b.jsonl" 3 20
sed -n 4p "$TEST_TMP/all.jsonl" >>"$TEST_TMP/in.jsonl"
check "new records reach a after the reload" wait_lines "$TEST_TMP/a.jsonl" 4 20
check "new records reach b after the reload" wait_lines "$TEST_TMP/b.jsonl" 4 20

# A bad new config is refused; the running one keeps forwarding.
cp "$TEST_TMP/msfwd.conf" "$TEST_TMP/good.conf"
sed -i 's/^interval    = 1s/intervall = 1s/' "$TEST_TMP/msfwd.conf"
kill -HUP $pid
i=0
while ! grep -q "reload refused" "$TEST_TMP/run.err" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "bad reload is refused naming the key and line" \
    grep -q "reload refused: .*msfwd.conf:9: \[input.sample\] intervall: unknown key" "$TEST_TMP/run.err"
check "process still running after a refused reload" kill -0 $pid
sed -n 1p "$TEST_TMP/all.jsonl" | sed 's/19:44:02/21:00:00/' >>"$TEST_TMP/in.jsonl"
check "old configuration keeps forwarding" wait_lines "$TEST_TMP/a.jsonl" 5 20

# SIGTERM: clean stop, exit 0, cursor saved (a restart delivers nothing again).
kill -TERM $pid
rc=0
wait $pid || rc=$?
check "SIGTERM exits 0 (rc=$rc)" test $rc -eq 0
check "stop is logged" grep -q "stopped on signal; state saved" "$TEST_TMP/run.err"
cp "$TEST_TMP/good.conf" "$TEST_TMP/msfwd.conf"
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/once.err"
check "restart delivers nothing twice" test "$(lines "$TEST_TMP/a.jsonl")" -eq 5

# A crash between spooling a page and saving the cursor makes the input fetch the page again:
# losing the cursor file simulates exactly that. The re-fetched events were spooled already.
rm -f "$TEST_TMP/state/inputs/sample.json"
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/refetch.err"
check "re-fetched page is not delivered twice" test "$(lines "$TEST_TMP/a.jsonl")" -eq 5
check "re-fetched events are counted as already spooled" grep -q "5 already spooled" "$TEST_TMP/refetch.err"
