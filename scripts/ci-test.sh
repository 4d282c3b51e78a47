#!/bin/bash
# The test command: installs dependencies, builds with -Werror and runs every test, runs the unit
# tests again under ASan+UBSan, runs make distcheck, and prints one total line at the end.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc)
scripts/deps.sh test || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
skipped=0
# Adds the counts of one automake test-suite.log (or a make output holding the summary).
tally() {
    local f=$1 p f1 e x s
    p=$(awk '/^# PASS:/{print $3}' "$f" | tail -n1)
    f1=$(awk '/^# FAIL:/{print $3}' "$f" | tail -n1)
    e=$(awk '/^# ERROR:/{print $3}' "$f" | tail -n1)
    x=$(awk '/^# XPASS:/{print $3}' "$f" | tail -n1)
    s=$(awk '/^# SKIP:/{print $3}' "$f" | tail -n1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f1:-0} + ${e:-0} + ${x:-0}))
    skipped=$((skipped + ${s:-0}))
}
stage_failed() {
    echo "=== stage failed: $1"
    failed=$((failed + 1))
}

echo "=== autoreconf"
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; stage_failed autoreconf; }

echo "=== build with -Werror, all tests"
rm -rf build-werror && mkdir build-werror
if (cd build-werror && ../configure --quiet --enable-werror && make -s -j"$jobs"); then
    (cd build-werror && make -s -j"$jobs" check >check.out 2>&1)
    grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' build-werror/check.out | grep -v '^PASS' || true
    tally build-werror/check.out
    grep -E '^# (TOTAL|PASS|FAIL|ERROR|SKIP)' build-werror/check.out
    if grep -qE '^# (FAIL|ERROR): +[1-9]' build-werror/check.out; then
        for log in $(grep -lE '^(FAIL|ERROR)' $(find build-werror/tests -name '*.log') 2>/dev/null); do
            echo "--- $log"; tail -n 40 "$log"
        done
    fi
else
    stage_failed "werror build"
fi

echo "=== ASan + UBSan build, unit tests"
rm -rf build-san && mkdir build-san
if (cd build-san && ../configure --quiet --enable-sanitizers && make -s -j"$jobs"); then
    (cd build-san && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make -s -j"$jobs" check-unit >check.out 2>&1)
    tally build-san/check.out
    grep -E '^# (TOTAL|PASS|FAIL|ERROR)' build-san/check.out
    if grep -qE '^# (FAIL|ERROR): +[1-9]' build-san/check.out; then
        for log in $(grep -lE '^(FAIL|ERROR)' $(find build-san/tests -name '*.log') 2>/dev/null); do
            echo "--- $log"; tail -n 60 "$log"
        done
    fi
else
    stage_failed "sanitizer build"
fi

echo "=== make distcheck"
if (cd build-werror && make -s -j"$jobs" distcheck >distcheck.out 2>&1); then
    tally build-werror/distcheck.out
    grep -E '^# (TOTAL|PASS|FAIL|ERROR)' build-werror/distcheck.out
else
    tail -n 40 build-werror/distcheck.out
    stage_failed distcheck
fi

echo "=== fuzz targets (${FUZZ_SECONDS:-15}s each, clang ASan+UBSan)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh >fuzz.out 2>&1
grep -E '^(PASS|FAIL): fuzz' fuzz.out
grep -qE '^(PASS|FAIL): fuzz' fuzz.out || { tail -n 20 fuzz.out; stage_failed "fuzz build"; }
passed=$((passed + $(grep -c '^PASS: fuzz' fuzz.out)))
failed=$((failed + $(grep -c '^FAIL: fuzz' fuzz.out)))

echo "=== checksrc"
if ! scripts/checksrc.sh "$top"; then
    stage_failed checksrc
fi

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
