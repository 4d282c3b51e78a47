#!/bin/bash
# ser input against tests/sim/ser_sim.py (clock frozen at the test's start, so counts are stable):
# a 3-day backfill in run mode with a revoked token, proactive token refreshes, a 429 burst, a 503,
# a truncated and an invalid response on the way; every (application, window) arrives once with the
# simulator's counts, licence events match; a second poll adds nothing; a wrong secret gives one
# error line and the input keeps running (SIGTERM -> exit 0); the other shapes the vendor's table
# allows (numbers as strings, details and sizes inside status, idle applications left out, date-only
# licence dates) give the same counts.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 20

SECRET="ser-secret-$$-do-not-log"

# simctl PORT METHOD PATH [JSON]: talk to a simulator's control endpoints.
simctl() {
    "$PYTHON3" - "$@" <<'PY'
import sys, urllib.request
port, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method=method,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
PY
}

# wait_until SECONDS command...: polls every 0.2 s.
wait_until() {
    local limit=$(($1 * 5)) i=0
    shift
    while ! "$@"; do
        i=$((i + 1))
        [ $i -ge $limit ] && return 1
        sleep 0.2
    done
}

t0=$(date -u +%s)
spawn "$PYTHON3" "$MS_SRCDIR/tests/sim/ser_sim.py" --port 0 --port-file "$TEST_TMP/port" \
    --seed 11 --now "$t0" --client-secret "$SECRET" --token-ttl 303 \
    --rate-limit 20 --rate-window 2 >"$TEST_TMP/sim.out" 2>&1
wait_for_file "$TEST_TMP/port" 15 || { echo "Bail out! simulator did not start"; exit 1; }
port=$(cat "$TEST_TMP/port")

write_conf() { # write_conf FILE STATE OUT SECRET [LOOKBACK]
    cat >"$1" <<CONF
[service]
state_dir    = $2
mappings_dir = $MS_SRCDIR/mappings
log_level    = info

[input.ser]
type          = ser
auth_url      = http://127.0.0.1:$port/v1/token
api_url       = http://127.0.0.1:$port/
client_id     = ser-client-id
client_secret = $4
window        = 1h
lookback      = ${5:-72h}
settle_lag    = 5m
rate_limit    = 450
token_refresh = 5m
timeout       = 10s

[output.out]
type = file
path = $3
CONF
}
write_conf "$TEST_TMP/ser.conf" "$TEST_TMP/state" "$TEST_TMP/out.jsonl" "$SECRET"
out=$TEST_TMP/out.jsonl
lookback_h=72

# Faults in the middle of the backfill ("after": N lets N summary requests through first).
# The simulator limits 20 summary requests per 2 s (600/min); the input paces itself at 450/min,
# so every 429 it sees is one of the burst.
simctl "$port" POST /_sim/fault '{"kind": "revoke_token", "after": 12}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "429_storm", "count": 3, "after": 25}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "5xx", "status": 503, "after": 40}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "truncated", "after": 50}' >/dev/null
simctl "$port" POST /_sim/fault '{"kind": "invalid_json", "after": 58}' >/dev/null

# verify MODE: compares the output with the simulator's ground truth.
# Uses $port, $out and $lookback_h of the scenario at hand.
verify() {
    "$PYTHON3" - "$port" "$out" "$t0" "$t1" "$1" "$lookback_h" <<'PY'
import json, sys, urllib.request
from urllib.parse import urlencode
port, out, t0, t1, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
H, SETTLE, LOOKBACK = 3600, 300, int(sys.argv[6]) * 3600

def norm(row):
    """Counters of one application user, wherever the vendor put them, as integers."""
    st = dict(row.get("status") or {})
    det = row.get("details") or st.get("details") or {}
    sizes = {k: int(row[k] if k in row else st[k])
             for k in ("messageSizeTotal", "deliveredSizeTotal")}
    for k in ("details", "messageSizeTotal", "deliveredSizeTotal"):
        st.pop(k, None)
    return {"status": {k: int(v) for k, v in st.items()},
            "details": {k: int(v) for k, v in det.items()}, "sizes": sizes,
            "from": (row["fromEnvelope"], row["fromHeader"])}

def sim(path):
    return json.load(urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=30))

def iso(text):
    import calendar, time
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000

events = [json.loads(l) for l in open(out)]
summ = [e["raw"] for e in events if e["source_type"] == "ser:summary"]
lic = [e["raw"] for e in events if e["source_type"] == "ser:entitlement"]
keys = [(r["window_start"], r["applicationName"], r["applicationUserName"]) for r in summ]
dups = len(keys) - len(set(keys))
windows = sorted({(r["window_start"], r["window_end"]) for r in summ})
starts = [iso(w[0]) for w in windows]
ends = [iso(w[1]) for w in windows]

if mode == "windows":
    assert dups == 0, "%d repeated (application, window) records" % dups
    assert all(e - s == H for s, e in zip(starts, ends)), "a window is not 1 h"
    assert all(s % H == 0 for s in starts), "a window is not aligned"
    assert all(b == a + H for a, b in zip(starts, starts[1:])), "a window is missing"
    firsts = {(t - LOOKBACK) // H * H for t in (t0, t1)}
    lasts = {(t - SETTLE) // H * H for t in (t0, t1)}
    assert starts[0] in firsts, "first window %s, expected one of %s" % (starts[0], firsts)
    assert ends[-1] in lasts, "last window ends %s, expected one of %s" % (ends[-1], lasts)
    print("# %d windows, %d records" % (len(windows), len(summ)))
elif mode == "counts":
    checked = 0
    for ws, we in windows:
        truth = sim("/_sim/summary?" + urlencode({"start": ws, "end": we}))["applicationUsers"]
        want = {(t["applicationName"], t["applicationUserName"]): t for t in truth}
        got = {(r["applicationName"], r["applicationUserName"]): r for r in summ
               if r["window_start"] == ws}
        assert set(got) == set(want), "window %s: applications %s != %s" % (ws, got.keys(), want.keys())
        for k, t in want.items():
            assert norm(got[k]) == norm(t), "window %s %s: %s != %s" % (ws, k, got[k], t)
            assert all(isinstance(v, int) for v in got[k]["status"].values()
                       if not isinstance(v, dict)), "a count is not a JSON integer"
            checked += 1
    assert checked > 0
    print("# %d (application, window) records equal the simulator's" % checked)
elif mode == "license":
    cfg = sim("/_sim/config")
    assert lic, "no licence record"
    for l in lic:
        truth = sim("/_sim/summary?" + urlencode({"start": cfg["license_start"], "end": l["as_of"]}))
        used = sum(norm(t)["sizes"]["messageSizeTotal"] for t in truth["applicationUsers"])
        annual = int(truth["entitlement"]["annual_throughput"])
        assert l["throughput_used"] == used, (l["throughput_used"], used)
        assert l["annual_throughput"] == annual
        assert l["throughput_remaining"] == annual - used
        assert abs(l["throughput_used_percent"] - used * 100.0 / annual) <= 0.005 + 1e-9, l
        assert l["license_start"] == cfg["license_start"] and l["license_end"] == cfg["license_end"]
        assert l["days_left"] == int((iso(cfg["license_end"]) - iso(l["as_of"])) // 86400), l
        assert l["application_users"] == len(truth["applicationUsers"])
    print("# %d licence records, last: %.2f %% used, %d days left"
          % (len(lic), lic[-1]["throughput_used_percent"], lic[-1]["days_left"]))
elif mode == "count":
    print(len(summ), len(lic))
PY
}
spawn "$MS_BIN" run -c "$TEST_TMP/ser.conf" 2>"$TEST_TMP/run.err"
pid=$!
caught_up() { grep -q "caught up:" "$TEST_TMP/run.err"; }
done_or_dead() { caught_up || ! kill -0 "$pid" 2>/dev/null; }
wait_until 120 done_or_dead
check "backfill catches up in run mode" caught_up
t1=$(date -u +%s)
# The output thread writes what the input spooled; give it a moment to write the last window.
delivered() { verify windows >/dev/null 2>&1; }
wait_until 15 delivered
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM after the backfill exits 0 (rc=$rc)" test $rc -eq 0
grep -c . "$TEST_TMP/out.jsonl" | sed 's/^/# events: /'

check "one record per application per window, windows contiguous from lookback to settle" verify windows
check "every count equals the simulator's (GET /_sim/summary per window)" verify counts
check "licence records: used bytes, percent and days left match" verify license

stats=$(simctl "$port" GET /_sim/stats)
stat() { # stat PATH STATUS
    "$PYTHON3" -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], {}).get(sys.argv[3], 0))' "$stats" "$1" "$2"
}
echo "# simulator: $stats"
check "the revoked token was answered 401 once, then a new token worked" \
    test "$(stat /v1/sercustomer/report/summary 401)" -eq 1
check "tokens were refreshed before expiry (>= 3 issued, no expiry 401s)" \
    test "$(stat /v1/token 200)" -ge 3
check "exactly the 3 injected 429s: the pacing kept under the limit" \
    test "$(stat /v1/sercustomer/report/summary 429)" -eq 3
check "the 429 burst was waited out in the input" grep -q "rate limited (HTTP 429); waiting it out" "$TEST_TMP/run.err"
check "503, truncated and invalid responses were logged with the reason and retried" \
    sh -c "grep -q '\[input:ser:ser\] .*: HTTP 503; retrying later' '$TEST_TMP/run.err' &&
           grep -q '\[input:ser:ser\] .*: transfer closed .*; retrying later' '$TEST_TMP/run.err' &&
           grep -q '\[input:ser:ser\] .*: unusable response (.*); retrying later' '$TEST_TMP/run.err'"
check "no secret or token in the log" \
    sh -c "! grep -q -e '$SECRET' -e 'eyJ' -e 'Bearer' '$TEST_TMP/run.err'"
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/run.err" 60

# A second poll (once) resumes from the cursor: only windows that became due meanwhile are added.
before=$(verify count)
"$MS_BIN" once -c "$TEST_TMP/ser.conf" 2>"$TEST_TMP/once.err"
rc=$?
check "a second poll (once) exits 0 (rc=$rc)" test $rc -eq 0
t1=$(date -u +%s)
after=$(verify count)
echo "# summary and licence records before: $before, after: $after"
check "the second poll adds exactly one licence record" test "${after#* }" -eq $((${before#* } + 1))
check "no window repeated or missing after the second poll" verify windows
counts_and_license() { verify counts && verify license; }
check "the second poll's records equal the simulator's" counts_and_license
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/once.err"

# Wrong secret: one clear error line naming the input and the cause; the engine retries later.
write_conf "$TEST_TMP/bad.conf" "$TEST_TMP/state-bad" "$TEST_TMP/bad.jsonl" "wrong-$SECRET"
spawn "$MS_BIN" run -c "$TEST_TMP/bad.conf" 2>"$TEST_TMP/bad.err"
pid=$!
refused() { grep -q "next try in" "$TEST_TMP/bad.err" || ! kill -0 "$pid" 2>/dev/null; }
wait_until 20 refused
kill -TERM "$pid"
wait "$pid"
rc=$?
check "wrong secret: run keeps going until SIGTERM, exits 0 (rc=$rc)" test $rc -eq 0
check "wrong secret: exactly one error line, naming the input and the refused credentials" \
    sh -c "test \$(grep -c ' error ' '$TEST_TMP/bad.err') -eq 1 &&
           grep ' error ' '$TEST_TMP/bad.err' | grep -q '\[input:ser:ser\] credentials refused: token request to .*HTTP 401 (client_id/client_secret refused); the input retries later' &&
           grep -q 'poll failed (.*); next try in' '$TEST_TMP/bad.err' &&
           ! grep -q -e 'wrong-$SECRET' -e '$SECRET' '$TEST_TMP/bad.err'"
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/bad.err"

# Other shapes the vendor's table allows, against a second simulator: the same counts.
t0=$(date -u +%s)
spawn "$PYTHON3" "$MS_SRCDIR/tests/sim/ser_sim.py" --port 0 --port-file "$TEST_TMP/port2" \
    --seed 12 --now "$t0" --client-secret "$SECRET" --apps 6 --numbers string --details-in status \
    --sizes-in status --omit-idle --envelope --license-date-format date >"$TEST_TMP/sim2.out" 2>&1
wait_for_file "$TEST_TMP/port2" 15 || { echo "Bail out! simulator 2 did not start"; exit 1; }
port=$(cat "$TEST_TMP/port2")
write_conf "$TEST_TMP/shapes.conf" "$TEST_TMP/state-shapes" "$TEST_TMP/shapes.jsonl" "$SECRET" 12h
out=$TEST_TMP/shapes.jsonl
lookback_h=12
"$MS_BIN" once -c "$TEST_TMP/shapes.conf" 2>"$TEST_TMP/shapes.err"
rc=$?
t1=$(date -u +%s)
check "other response shapes: once exits 0 (rc=$rc)" test $rc -eq 0
check "other response shapes: one record per application per window" verify windows
check "other response shapes: counts and licence use equal the simulator's" counts_and_license
[ "$tap_failed" -eq 0 ] || diag_file "$TEST_TMP/shapes.err"
