#!/bin/bash
# Mapping stage through the real binary: msfwd map (JSON lines, API pages, errors), a user's edited
# copy of the mappings picked up through the config without rebuilding, and msfwd check refusing
# broken mapping files with the file and the JSON pointer of the fault.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 24
fixture="$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl"
maps="$MS_SRCDIR/mappings"

# --- msfwd map on JSON lines -----------------------------------------------------------------
"$MS_BIN" map --source mimecast:ttp:url --mappings "$maps" "$fixture" >"$TEST_TMP/map.out" \
    2>"$TEST_TMP/map.err"
rc=$?
check "map exits 0 (rc=$rc)" test $rc -eq 0
check "one line per record" test "$(wc -l <"$TEST_TMP/map.out")" -eq 5
check "the clean record prints its drop reason" \
    test "$(sed -n 3p "$TEST_TMP/map.out")" = "dropped: clean verdict (scanResult is clean)"
check "the summary counts untagged alert types" \
    grep -q "mapping mimecast:ttp:url: 4 events, 1 dropped.*3 untagged.*'User Click' 1" \
    "$TEST_TMP/map.err"

# Event ids, computed independently: SHA-256 of the source type, NUL, and the id fields of the
# mapping (messageId, date, userEmailAddress, url), each as "<byte length>:<bytes>".
check_ids() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import hashlib, json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
lines = open(sys.argv[2]).read().splitlines()
assert len(records) == len(lines)
for rec, line in zip(records, lines):
    if line.startswith("dropped: "):
        assert rec["scanResult"] == "clean"
        continue
    ev = json.loads(line)
    vid = b"".join(b"%d:%s" % (len(v.encode()), v.encode())
                   for v in (rec["messageId"], rec["date"], rec["userEmailAddress"], rec["url"]))
    want = hashlib.sha256(b"mimecast:ttp:url\0" + vid).hexdigest()
    assert ev["id"] == want, (ev["id"], want)
    assert ev["raw"] == rec
PY
}
check "event ids are SHA-256 of source type and the vendor id fields" \
    check_ids "$fixture" "$TEST_TMP/map.out"

# --- an API page, pretty-printed over many lines, gives the same events ---------------------
"$PYTHON3" - "$fixture" >"$TEST_TMP/page.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
page = {"meta": {"status": 200, "pagination": {"pageSize": 5}},
        "data": [{"clickLogs": recs[:3]}, {"clickLogs": recs[3:]}], "fail": []}
print(json.dumps(page, indent=2))
PY
"$MS_BIN" map --source mimecast:ttp:url --mappings "$maps" "$TEST_TMP/page.json" \
    >"$TEST_TMP/page.out" 2>/dev/null
check "a Mimecast page maps to the same events as its records" \
    cmp -s "$TEST_TMP/map.out" "$TEST_TMP/page.out"
cat >"$TEST_TMP/pps.json" <<'JSON'
{"count": 2, "records": [
 {"date": "2020-01-15 20:00:00", "folder": "Quarantine", "guid": "g1", "from": "john@doe.com",
  "rcpts": ["foo@bar.com"], "spamscore": "100", "size": "6496", "host_ip": "[10.54.40.3] [10.54.40.3]"},
 {"date": "2020-01-22 10:00:18", "folder": "Quarantine", "guid": "g2", "from": "john@doe.com",
  "rcpts": ["user@test.com"], "spamscore": "100", "size": "6143"}]}
JSON
"$MS_BIN" map --source pps:quarantine --mappings "$maps" <"$TEST_TMP/pps.json" \
    >"$TEST_TMP/pps.out" 2>/dev/null
check "a PPS page read from standard input gives its two records" \
    test "$(grep -c '"source_type":"pps:quarantine"' "$TEST_TMP/pps.out")" -eq 2
check "PPS date and size are normalized" \
    grep -q '"time":"2020-01-15T20:00:00.000Z".*"src_ip":"10.54.40.3".*"size":6496' \
    "$TEST_TMP/pps.out"

# --- odd input: rejected lines, records that are not objects, unknown source types ----------
printf '{"scanResult":"malicious","date":"2026-11-14T19:44:02+0000"}\n{broken\n\n[1, {"url":"u"}]\n' \
    >"$TEST_TMP/odd.jsonl"
"$MS_BIN" map --source mimecast:ttp:url --mappings "$maps" "$TEST_TMP/odd.jsonl" \
    >"$TEST_TMP/odd.out" 2>/dev/null
check "map exits 0 on bad input" test $? -eq 0
check "a malformed line is rejected with its line number" \
    grep -q '^rejected: line 2: not valid JSON' "$TEST_TMP/odd.out"
check "a record that is not an object is rejected, the rest of the array mapped" \
    sh -c "sed -n 3p '$TEST_TMP/odd.out' | grep -q '^rejected: record is not a JSON object' &&
           sed -n 4p '$TEST_TMP/odd.out' | grep -q '\"url\":\"u\"'"
echo '{"k":1}' | "$MS_BIN" map --source example:unmapped --mappings "$maps" \
    >"$TEST_TMP/generic.out" 2>"$TEST_TMP/generic.err"
check "a source type without a mapping file gets the generic envelope" \
    "$PYTHON3" -c "import json,sys; e=json.load(open(sys.argv[1])); assert sorted(e)==['id','raw','source_type','time']" \
    "$TEST_TMP/generic.out"
check "and a warning names it" grep -q "no mapping file for source type 'example:unmapped'" \
    "$TEST_TMP/generic.err"
"$MS_BIN" map --mappings "$maps" "$fixture" >/dev/null 2>&1
check "map without --source is a usage error (64)" test $? -eq 64
"$MS_BIN" map --source x:y --mappings "$maps" "$TEST_TMP/nope.jsonl" >/dev/null 2>&1
check "an unreadable input exits 1" test $? -eq 1
check "help map explains the command" sh -c "'$MS_BIN' help map | grep -q 'records_path'"

# --- a user edits a copy: rename a field, point the config at the copy ----------------------
cp -r "$maps" "$TEST_TMP/my-mappings"
sed -i 's/"scan_result": "\$.scanResult"/"verdict": "$.scanResult"/' \
    "$TEST_TMP/my-mappings/mimecast-ttp-url.json"
cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $TEST_TMP/my-mappings

[input.sample]
type        = replay
path        = $fixture
source_type = mimecast:ttp:url

[output.local]
type = file
path = $TEST_TMP/out.jsonl
CONF
"$MS_BIN" check -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/check.err"
check "check accepts the edited copy" test $? -eq 0
"$MS_BIN" map -c "$TEST_TMP/msfwd.conf" --source mimecast:ttp:url "$fixture" \
    >"$TEST_TMP/edited.out" 2>/dev/null
check "map -c uses the config's mappings_dir: the renamed field shows" \
    sh -c "test \$(grep -c '\"verdict\":\"malicious\"' '$TEST_TMP/edited.out') -eq 4 &&
           ! grep -q scan_result '$TEST_TMP/edited.out'"
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/once.err"
check "the forwarder's events carry the renamed field too" \
    sh -c "test \$(grep -c '\"verdict\":\"malicious\"' '$TEST_TMP/out.jsonl') -eq 4"

# --- broken copies are refused by check (78) naming file and JSON pointer -------------------
sed -i 's/"coalesce": \["\$.reason", "\$.ttpDefinition"\]/"coalese": ["$.reason", "$.ttpDefinition"]/' \
    "$TEST_TMP/my-mappings/mimecast-ttp-url.json"
sed -i 's/"file_hash": "\$.fileHash"/"file_hash": "$.fileHash["/' \
    "$TEST_TMP/my-mappings/mimecast-ttp-attachment.json"
"$MS_BIN" check -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/bad.err"
check "check refuses a broken mapping with 78" test $? -eq 78
check "an unknown function is named with file and pointer" \
    grep -q "my-mappings/mimecast-ttp-url.json: /event/alert_type/else/coalese: unknown function 'coalese' (did you mean 'coalesce'?)" \
    "$TEST_TMP/bad.err"
check "a bad path is named with file and pointer" \
    grep -q "my-mappings/mimecast-ttp-attachment.json: /event/file_hash: bad path \"\$.fileHash\[\"" \
    "$TEST_TMP/bad.err"
printf '{"source_type": "pps:quarantine",\n  "vendor": "Proofpoint"\n  "product": "x"}\n' \
    >"$TEST_TMP/my-mappings/pps-quarantine.json"
"$MS_BIN" map -c "$TEST_TMP/msfwd.conf" --source pps:quarantine </dev/null >/dev/null \
    2>"$TEST_TMP/json.err"
rc=$?
check "malformed JSON is refused with line and column, by map as well (rc=$rc)" \
    sh -c "test $rc -eq 78 && grep -q 'pps-quarantine.json: line 3, column 3: not valid JSON' '$TEST_TMP/json.err'"
# An unreadable entry (here a directory named like a mapping file) is refused, not a crash.
mkdir -p "$TEST_TMP/my-mappings/zz.json"
"$MS_BIN" check -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/dir.err"
rc=$?
check "an unreadable mapping entry is refused with 78, naming it (rc=$rc)" \
    sh -c "test $rc -eq 78 && grep -q 'my-mappings/zz.json: cannot read' '$TEST_TMP/dir.err'"
