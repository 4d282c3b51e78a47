# Shared helpers for integration tests: TAP output, temp dirs, waiting with bounds, cleanup.
# Tests run the real binary ($MS_BIN) against peers on 127.0.0.1 only.
set -u

: "${MS_BIN:?MS_BIN must point at the msfwd binary}"
: "${MS_SRCDIR:?MS_SRCDIR must point at the source tree}"
PYTHON3=${PYTHON3:-python3}

tap_n=0
tap_failed=0
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/msfwd-it-XXXXXX")
cleanup_pids=""

cleanup() {
    for pid in $cleanup_pids; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$tap_failed" -eq 0 ] && [ -z "${MS_KEEP_TMP:-}" ]; then # MS_KEEP_TMP=1: keep it anyway
        rm -rf "$TEST_TMP"
    else
        echo "# kept $TEST_TMP for inspection"
    fi
}
trap cleanup EXIT

plan() { echo "1..$1"; }

ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $*"
}

not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $*"
}

# check "description" command...: ok when the command succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# Prints a file into the TAP stream as diagnostics.
diag_file() {
    [ -f "$1" ] && sed 's/^/# /' "$1" | head -n "${2:-40}"
}

# Starts a background process (killed at exit) and records its pid in $!
spawn() {
    "$@" &
    cleanup_pids="$cleanup_pids $!"
}

# wait_for_file FILE SECONDS: waits until FILE exists and is non-empty.
wait_for_file() {
    local i=0
    while [ ! -s "$1" ] && [ $i -lt $(($2 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$1" ]
}

# wait_lines FILE N SECONDS: waits until FILE has at least N lines.
wait_lines() {
    local i=0
    while [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -lt "$2" ] && [ $i -lt $(($3 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]
}

# sanitizer_clean FILE...: no AddressSanitizer/LeakSanitizer/UBSan report in the given logs
# (a sanitizer build prints them on stderr; a plain build never does).
sanitizer_clean() {
    ! grep -l -e 'AddressSanitizer' -e 'LeakSanitizer' -e 'runtime error:' "$@" 2>/dev/null
}
