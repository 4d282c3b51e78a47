#!/bin/bash
# Routing: each output takes exactly the events whose source type matches its `sources` globs.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 5
grep -v '"scanResult":"clean"' "$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl" >"$TEST_TMP/url.jsonl"
# PPS quarantine records, one per line (the mapping keeps them all).
"$PYTHON3" -c '
import json, sys
for r in json.load(open(sys.argv[1]))["records"]:
    print(json.dumps(r))' "$MS_SRCDIR/tests/fixtures/pps/xs2-onprem.json" >"$TEST_TMP/pps.jsonl"
n_url=$(wc -l <"$TEST_TMP/url.jsonl")
n_pps=$(wc -l <"$TEST_TMP/pps.jsonl")

cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $MS_SRCDIR/mappings

[input.url]
type        = replay
path        = $TEST_TMP/url.jsonl
source_type = mimecast:ttp:url

[input.pps]
type        = replay
path        = $TEST_TMP/pps.jsonl
source_type = pps:quarantine

[output.mimecast-only]
type    = file
path    = $TEST_TMP/mimecast.jsonl
sources = mimecast:*

[output.pps-only]
type    = file
path    = $TEST_TMP/pps-out.jsonl
sources = pps:quarantine, ser:*

[output.everything]
type = file
path = $TEST_TMP/all.jsonl
CONF
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/once.err"
rc=$?
check "once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/once.err"

# source_types FILE: the sorted set of source types in an output file, and the event count.
source_types() {
    "$PYTHON3" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
print(len(evs), ",".join(sorted({e["source_type"] for e in evs})))' "$1"
}
check "mimecast:* output gets only Mimecast events ($n_url)" \
    test "$(source_types "$TEST_TMP/mimecast.jsonl")" = "$n_url mimecast:ttp:url"
check "pps:quarantine, ser:* output gets only PPS events ($n_pps)" \
    test "$(source_types "$TEST_TMP/pps-out.jsonl")" = "$n_pps pps:quarantine"
check "default sources = * gets both" \
    test "$(source_types "$TEST_TMP/all.jsonl")" = "$((n_url + n_pps)) mimecast:ttp:url,pps:quarantine"
check "there were PPS records to route" test "$n_pps" -ge 1
