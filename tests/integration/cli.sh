#!/bin/bash
# Command-line contract: --version, help, usage errors, msfwd test.
. "${MS_SRCDIR}/tests/integration/lib.sh"

plan 9
check "--version prints the version" sh -c "'$MS_BIN' --version | grep -q '^msfwd [0-9]'"
check "help lists the commands" sh -c "'$MS_BIN' --help | grep -q 'check -c FILE'"
check "help PLUGIN lists its keys" sh -c "'$MS_BIN' help replay | grep -q 'source_type'"
"$MS_BIN" >/dev/null 2>&1
check "no command is a usage error (64)" test $? -eq 64
"$MS_BIN" check -c "$TEST_TMP/missing.conf" 2>"$TEST_TMP/missing.err"
check "a missing config file exits 78" test $? -eq 78

cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir    = $TEST_TMP/state
mappings_dir = $MS_SRCDIR/mappings

[input.sample]
type        = replay
path        = $MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl
source_type = mimecast:ttp:url

[output.good]
type = file
path = $TEST_TMP/out.jsonl

[output.bad]
type = file
path = $TEST_TMP/no/such/dir/out.jsonl
CONF
"$MS_BIN" test -c "$TEST_TMP/msfwd.conf" >"$TEST_TMP/test.out" 2>&1
rc=$?
check "test fails (1) when one check fails (rc=$rc)" test $rc -eq 1
check "one PASS line per healthy instance" sh -c "grep -c '^PASS' '$TEST_TMP/test.out' | grep -qx 2"
check "the failing output says why" grep -q "^FAIL output bad (file): cannot open .*No such file or directory" "$TEST_TMP/test.out"
"$MS_BIN" test -c "$TEST_TMP/msfwd.conf" sample good >/dev/null 2>&1
check "test of named instances passes (0)" test $? -eq 0
