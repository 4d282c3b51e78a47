#!/bin/bash
# msfwd once: replay -> mapping -> spool -> file; restart resumes; CLI exit codes and messages.
# The fixture has 5 URL clicks; the real mapping (mappings/mimecast-ttp-url.json) drops the one
# whose scanResult is clean, so 4 events arrive.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 17
fixture="$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl"
cp "$fixture" "$TEST_TMP/in.jsonl"
printf '{"broken json\n[1,2,3]\n' >>"$TEST_TMP/in.jsonl"

cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $MS_SRCDIR/mappings
log_level    = info

[input.sample]
type        = replay
path        = $TEST_TMP/in.jsonl
source_type = mimecast:ttp:url
batch_max   = 2

[output.local]
type = file
path = $TEST_TMP/out.jsonl
CONF

"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run1.err"
rc=$?
check "once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/run1.err"

# Compare with the fixture: every record but the clean one arrives once, in order, unchanged under
# "raw", with the vendor's time in UTC and the normalized keys of the mapping.
compare() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = [r for r in records if r["scanResult"] != "clean"]
assert len(want) == len(records) - 1, "the fixture should hold exactly one clean record"
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), "got %d events, want %d" % (len(got), len(want))
for w, g in zip(want, got):
    assert g["raw"] == w, "raw record differs"
    assert g["source_type"] == "mimecast:ttp:url"
    assert g["vendor"] == "Mimecast" and g["product"] == "Email Security"
    assert len(g["id"]) == 64 and all(c in "0123456789abcdef" for c in g["id"])
    assert g["time"] == w["date"][:19] + ".000Z", "time %s is not the vendor's %s" % (g["time"], w["date"])
    assert g["url"] == w["url"] and g["recipient"] == w["userEmailAddress"]
    assert g["action"] in ("blocked", "delivered")
ids = [g["id"] for g in got]
assert len(set(ids)) == len(ids), "ids are not unique"
assert got[0]["mitre"]["technique_id"] == "T1598.003", "Default Inbound URL Protect Definition is tagged"
PY
}
check "every non-clean fixture record delivered once, raw unchanged" compare "$fixture" "$TEST_TMP/out.jsonl"
check "the clean verdict is dropped and counted" \
    grep -q "clean verdict (scanResult is clean): 1" "$TEST_TMP/run1.err"
check "malformed lines are rejected with file and line" \
    grep -q "in.jsonl:6: record rejected" "$TEST_TMP/run1.err"
check "a non-object line is rejected" grep -q "in.jsonl:7: record rejected: not a JSON object" "$TEST_TMP/run1.err"

# Same record, same id, across runs: ids are a function of the record.
id1=$(head -n1 "$TEST_TMP/out.jsonl" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# Second run: nothing new, nothing repeated.
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run2.err"
check "second once exits 0" test $? -eq 0
check "second run delivers nothing again" test "$(wc -l <"$TEST_TMP/out.jsonl")" -eq 4

# Appended records arrive on the next run, and only they.
head -n 2 "$fixture" | sed 's/2026-11-14T/2026-11-15T/' >>"$TEST_TMP/in.jsonl"
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run3.err"
check "third once exits 0" test $? -eq 0
check "only the two appended records are added" test "$(wc -l <"$TEST_TMP/out.jsonl")" -eq 6

# A fresh state directory replays everything: same ids as before (stable identity).
sed -i "s#$TEST_TMP/state#$TEST_TMP/state2#; s#$TEST_TMP/out.jsonl#$TEST_TMP/out2.jsonl#" "$TEST_TMP/msfwd.conf"
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run4.err"
id2=$(head -n1 "$TEST_TMP/out2.jsonl" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "re-pulled record gets the same id" test "$id1" = "$id2"

# include_raw = false leaves the vendor record out.
cat >>"$TEST_TMP/msfwd.conf" <<CONF

[output.noraw]
type        = file
path        = $TEST_TMP/noraw.jsonl
include_raw = false
CONF
sed -i "s#$TEST_TMP/state2#$TEST_TMP/state3#" "$TEST_TMP/msfwd.conf"
"$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run5.err"
check "include_raw = false drops raw" sh -c "test \$(grep -c '\"raw\"' '$TEST_TMP/noraw.jsonl') -eq 0 && test \$(wc -l <'$TEST_TMP/noraw.jsonl') -eq 6"

# check: the example config is valid as shipped (no environment needed), and so is every disabled
# ('#') section once enabled with its ${ENV} secrets set; a misspelt key is refused with 78.
(cd "$MS_SRCDIR" && env -i PATH="$PATH" "$MS_BIN" check -c etc/msfwd.conf.example) 2>"$TEST_TMP/check.err"
rc=$?
check "check accepts etc/msfwd.conf.example as shipped (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/check.err"
MS_SRCDIR_COPY_EXAMPLE=$TEST_TMP/example-all.conf
sed 's/^#//' "$MS_SRCDIR/etc/msfwd.conf.example" >"$MS_SRCDIR_COPY_EXAMPLE"
for var in $(grep -o '\${[A-Z_][A-Z0-9_]*}' "$MS_SRCDIR_COPY_EXAMPLE" | tr -d '${}' | sort -u); do
    export "$var=dummy-$var"
done
(cd "$MS_SRCDIR" && "$MS_BIN" check -c "$MS_SRCDIR_COPY_EXAMPLE") 2>"$TEST_TMP/check-all.err"
rc=$?
check "check accepts every section of the example, enabled (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/check-all.err"
every_plugin() {
    local p
    for p in replay mimecast ser pps file hec syslog kafka; do
        grep -qE "^type += $p( |$)" "$MS_SRCDIR_COPY_EXAMPLE" || { echo "# no section for $p"; return 1; }
    done
}
check "the example documents a section for every plugin" every_plugin
sed 's/^batch_max   = 2/batchmax = 2/' "$TEST_TMP/msfwd.conf" >"$TEST_TMP/typo.conf"
"$MS_BIN" check -c "$TEST_TMP/typo.conf" 2>"$TEST_TMP/typo.err"
rc=$?
check "misspelt key exits 78 (rc=$rc)" test $rc -eq 78
check "message names file, line, section and key" \
    grep -q "typo.conf:10: \[input.sample\] batchmax: unknown key (did you mean 'batch_max'?)" "$TEST_TMP/typo.err"
"$MS_BIN" frobnicate >/dev/null 2>&1
check "unknown command exits 64" test $? -eq 64
