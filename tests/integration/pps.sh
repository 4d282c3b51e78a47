#!/bin/bash
# pps input against tests/sim/pps_sim.py: 5,000 quarantined records in a day across two folders
# with limit 100 arrive exactly once (window splitting); the overlap re-read drops repeats and
# picks up late records; kill -9 in run mode mid-backfill (with a 503, a truncated and an invalid
# response on the way) loses nothing; a wrong password gives one error line and the input retries
# later (run mode, SIGTERM -> exit 0); a server capping below the limit sent loses nothing;
# verify_tls = false warns, a missing ca_file is refused.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 18

PASSWORD="pps-pass-$$-do-not-log"

simctl() { # simctl PORT METHOD PATH [JSON]
    "$PYTHON3" - "$@" <<'PY'
import sys, urllib.request
port, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method=method,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=30).read().decode())
PY
}

wait_until() { # wait_until SECONDS command...: polls every 0.2 s
    local limit=$(($1 * 5)) i=0
    shift
    while ! "$@"; do
        i=$((i + 1))
        [ $i -ge $limit ] && return 1
        sleep 0.2
    done
}

lines() { if [ -f "$1" ]; then grep -c . "$1"; else echo 0; fi; }

start_sim() { # start_sim NAME ARGS...: sets $port
    local name=$1
    shift
    spawn "$PYTHON3" "$MS_SRCDIR/tests/sim/pps_sim.py" --port 0 --port-file "$TEST_TMP/$name.port" \
        "$@" >"$TEST_TMP/$name.out" 2>&1
    wait_for_file "$TEST_TMP/$name.port" 15 || { echo "Bail out! $name did not start"; exit 1; }
    port=$(cat "$TEST_TMP/$name.port")
}

write_conf() { # write_conf FILE PORT STATE OUT PASSWORD [extra lines]
    cat >"$1" <<CONF
[service]
state_dir    = $3
mappings_dir = $MS_SRCDIR/mappings
log_level    = info

[input.pps-onprem]
type       = pps
url        = http://127.0.0.1:$2
username   = apiadmin
password   = $5
folders    = Quarantine, HIPAA
limit      = ${LIMIT:-100}
lookback   = 2d
overlap    = 15m
settle_lag = 1m
timeout    = 10s
${6:-}

[output.out]
type = file
path = $4
CONF
}

t0=$(date -u +%s)

# --- Wrong password, started first: the engine retries a refused input after 30-60 s, so this
# runs while the other scenarios do. Its simulator holds 40 records dated before t0.
start_sim auth --seed 31 --now $((t0 - 600)) --records 40 --days 1 --password "right-$PASSWORD"
auth_port=$port
simctl "$auth_port" POST /_sim/config '{"now": null}' >/dev/null
write_conf "$TEST_TMP/bad.conf" "$auth_port" "$TEST_TMP/state-bad" "$TEST_TMP/bad.jsonl" \
    "wrong-$PASSWORD" "interval = 2s"
spawn "$MS_BIN" run -c "$TEST_TMP/bad.conf" 2>"$TEST_TMP/bad.err"
bad_pid=$!
refused() { grep -q "next try in" "$TEST_TMP/bad.err" || ! kill -0 "$bad_pid" 2>/dev/null; }
wait_until 20 refused
check "wrong password: one error line naming the input and the cause" \
    sh -c "test \$(grep -c ' error ' '$TEST_TMP/bad.err') -eq 1 &&
           grep ' error ' '$TEST_TMP/bad.err' | grep -q '\\[input:pps:pps-onprem\\] credentials refused: .*HTTP 401 (check username and password); the input retries later'"
# The operator fixes it (here: the appliance now accepts that password); the engine's next try,
# 30 to 60 s later, must succeed. Checked at the end.
simctl "$auth_port" POST /_sim/config "{\"password\": \"wrong-$PASSWORD\"}" >/dev/null

# --- The main simulator: 5,000 records in the day before t0 - 10 min, in two folders. Its clock
# then follows the real one, so records added later are visible at once.
start_sim main --seed 21 --now $((t0 - 600)) --records 5000 --days 1 \
    --folders Quarantine,HIPAA --password "$PASSWORD"
simctl "$port" POST /_sim/config '{"now": null}' >/dev/null
write_conf "$TEST_TMP/a.conf" "$port" "$TEST_TMP/state-a" "$TEST_TMP/a.jsonl" "$PASSWORD"

# verify OUT MODE: compares an output file with the simulator's records.
verify() {
    "$PYTHON3" - "$port" "$1" "$2" <<'PY'
import calendar, collections, json, sys, time, urllib.request
port, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]

def truth():
    recs = []
    for folder in ("Quarantine", "HIPAA"):
        url = "http://127.0.0.1:%s/_sim/records?folder=%s" % (port, folder)
        recs += json.load(urllib.request.urlopen(url, timeout=30))["records"]
    return recs

want = truth()
got = [json.loads(l)["raw"] for l in open(out)]
wk = collections.Counter((r["guid"], r["folder"]) for r in want)
gk = collections.Counter((r["guid"], r["folder"]) for r in got)
missing = set(wk) - set(gk)
extra = set(gk) - set(wk)
dups = sum(n - 1 for n in gk.values())
print("# truth %d, received %d, missing %d, unknown %d, repeated %d"
      % (len(wk), len(got), len(missing), len(extra), dups))
assert not missing and not extra, "lost or unknown records"
if mode == "exact":
    assert dups == 0, "repeated records"
    # the data needs splitting: some hour holds more than the limit of 100
    per_hour = collections.Counter(
        (r["folder"], calendar.timegm(time.strptime(r["date"], "%Y-%m-%d %H:%M:%S")) // 3600)
        for r in want)
    print("# busiest hour: %d records" % max(per_hour.values()))
    assert max(per_hour.values()) > 100
    byk = {(r["guid"], r["folder"]): r for r in want}
    for g in got:
        w = byk[(g["guid"], g["folder"])]
        for f in ("date", "from", "rcpts", "subject", "localguid", "messageid", "host_ip"):
            assert g[f] == w[f], f
        assert g["size"] == int(w["size"]) and g["spamscore"] == int(w["spamscore"])
        assert g["messagestatus"][0]["statusdesc"] == "New"         # messagestatus=t was sent
        if g["folder"] == "HIPAA":                                   # dlpviolation=details was sent
            assert g["dlpviolation"]["components"]["files"][0]["name"]
elif mode == "bounded":
    assert dups <= 1000, "more repeats than one input batch and one output batch"
PY
}

# --- A: one backfill, exactly once.
"$MS_BIN" once -c "$TEST_TMP/a.conf" 2>"$TEST_TMP/a1.err"
rc=$?
check "backfill (once) exits 0 (rc=$rc)" test $rc -eq 0
check "5,000 records in two folders, limit 100: each arrives exactly once, fields intact" \
    verify "$TEST_TMP/a.jsonl" exact
stats=$(simctl "$port" GET /_sim/stats)
echo "# simulator: $stats"
check "the backfill needed more than 5,000 / 100 queries (full answers were split)" \
    "$PYTHON3" -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["/rest/v1/quarantine"]["200"] <= 50)' "$stats"

# --- A2: the next poll re-reads the overlap: nothing new, nothing repeated; then late records
# dated inside the overlap (before the last end) show up, and only they are added.
n1=$(lines "$TEST_TMP/a.jsonl")
"$MS_BIN" once -c "$TEST_TMP/a.conf" 2>"$TEST_TMP/a2.err"
check "a second poll adds nothing (the overlap's records are dropped as repeats)" \
    test "$(lines "$TEST_TMP/a.jsonl")" -eq "$n1"
late=$(($(date -u +%s) - 300))
simctl "$port" POST /_sim/add "{\"folder\": \"HIPAA\", \"count\": 3, \"date\": $late}" >/dev/null
simctl "$port" POST /_sim/add "{\"folder\": \"Quarantine\", \"count\": 2, \"date\": $((late + 100))}" >/dev/null
"$MS_BIN" once -c "$TEST_TMP/a.conf" 2>"$TEST_TMP/a3.err"
rc=$?
check "late records inside the overlap arrive on the next poll, once (rc=$rc)" \
    sh -c "test $rc -eq 0 && test \$(grep -c . '$TEST_TMP/a.jsonl') -eq $((n1 + 5))"
check "still every record exactly once" verify "$TEST_TMP/a.jsonl" exact
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/a3.err"

# --- A3: a server that answers at most 100 records whatever limit it is sent (its cap is not
# documented): with limit = 1000 the input still splits and loses nothing.
simctl "$port" POST /_sim/config '{"max_limit": 100}' >/dev/null
LIMIT=1000 write_conf "$TEST_TMP/cap.conf" "$port" "$TEST_TMP/state-cap" "$TEST_TMP/cap.jsonl" \
    "$PASSWORD"
"$MS_BIN" once -c "$TEST_TMP/cap.conf" 2>"$TEST_TMP/cap.err"
check "limit 1000 against a server capped at 100: still every record exactly once" \
    verify "$TEST_TMP/cap.jsonl" exact
simctl "$port" POST /_sim/config '{"max_limit": 1000}' >/dev/null

# --- B: run mode from scratch, every request slowed down, faults on the way, kill -9 midway;
# then a poll (once) finishes: nothing lost, repeats bounded.
write_conf "$TEST_TMP/b.conf" "$port" "$TEST_TMP/state-b" "$TEST_TMP/b.jsonl" "$PASSWORD"
simctl "$port" POST /_sim/fault '{"kind": "slow", "count": -1, "seconds": 0.05}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "5xx", "status": 503, "after": 8}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "truncated", "after": 14}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "invalid_json", "after": 20}' >/dev/null
spawn "$MS_BIN" run -c "$TEST_TMP/b.conf" 2>"$TEST_TMP/b1.err"
pid=$!
midway() { [ "$(lines "$TEST_TMP/b.jsonl")" -ge 2000 ] || ! kill -0 "$pid" 2>/dev/null; }
wait_until 90 midway
n=$(lines "$TEST_TMP/b.jsonl")
kill -9 "$pid"
wait "$pid" 2>/dev/null
check "killed with -9 in the middle of the backfill ($n of 5005 records out)" \
    sh -c "test $n -ge 2000 && test $n -lt 5005"
check "503, truncated and invalid responses were logged with input and reason" \
    sh -c "grep -q '\\[input:pps:pps-onprem\\] folder .*: HTTP 503; retrying later' '$TEST_TMP/b1.err' &&
           grep -q '\\[input:pps:pps-onprem\\] folder .*: transfer closed .*; retrying later' '$TEST_TMP/b1.err' &&
           grep -q '\\[input:pps:pps-onprem\\] folder .*: unusable response (.*); retrying later' '$TEST_TMP/b1.err'"
simctl "$port" POST /_sim/fault '{"kind": "clear"}' >/dev/null
"$MS_BIN" once -c "$TEST_TMP/b.conf" 2>"$TEST_TMP/b2.err"
rc=$?
check "after the restart the poll completes (rc=$rc)" test $rc -eq 0
check "nothing lost across kill -9; repeats at most one batch each side" \
    verify "$TEST_TMP/b.jsonl" bounded
check "no password in any log" \
    sh -c "! grep -q -e '$PASSWORD' '$TEST_TMP'/a1.err '$TEST_TMP'/a2.err '$TEST_TMP'/a3.err '$TEST_TMP'/b1.err '$TEST_TMP'/b2.err"
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/b1.err"

# --- TLS options: verify_tls = false warns at start; an unreadable ca_file is refused.
write_conf "$TEST_TMP/tls.conf" "$port" "$TEST_TMP/state-tls" "$TEST_TMP/tls.jsonl" "$PASSWORD" \
    "verify_tls = false"
"$MS_BIN" check -c "$TEST_TMP/tls.conf" 2>"$TEST_TMP/tls.err"
rc=$?
check "verify_tls = false is accepted with a warning naming the input (rc=$rc)" \
    sh -c "test $rc -eq 0 && grep -q 'warn  \\[input:pps:pps-onprem\\] verify_tls = false' '$TEST_TMP/tls.err'"
write_conf "$TEST_TMP/ca.conf" "$port" "$TEST_TMP/state-ca" "$TEST_TMP/ca.jsonl" "$PASSWORD" \
    "ca_file = $TEST_TMP/no-such-ca.pem"
"$MS_BIN" check -c "$TEST_TMP/ca.conf" 2>"$TEST_TMP/ca.err"
rc=$?
check "an unreadable ca_file is refused with 78 naming the key (rc=$rc)" \
    sh -c "test $rc -eq 78 && grep -q 'pps-onprem\\] ca_file: cannot read' '$TEST_TMP/ca.err'"

# --- Back to the wrong password: the input retried on its own and collected everything.
recovered() { [ "$(lines "$TEST_TMP/bad.jsonl")" -ge 40 ] || ! kill -0 "$bad_pid" 2>/dev/null; }
wait_until 75 recovered
recovered_all() {
    [ "$(lines "$TEST_TMP/bad.jsonl")" -eq 40 ] && grep -q 'credentials accepted again' "$TEST_TMP/bad.err"
}
check "the input retried later and collected all 40 records" recovered_all
kill -TERM "$bad_pid"
wait "$bad_pid"
rc=$?
check "SIGTERM -> exit 0 (rc=$rc)" test $rc -eq 0
check "still one error line, no password in the log" \
    sh -c "test \$(grep -c ' error ' '$TEST_TMP/bad.err') -eq 1 && ! grep -q -e '$PASSWORD' '$TEST_TMP/bad.err'"
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/bad.err"
