#!/bin/bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan in build-fuzz/,
# then runs each for FUZZ_SECONDS (default 60) on a copy of its corpus (tests/fuzz/corpus/<name>/).
# Prints one line per target; exits non-zero when a target crashed (artifacts in build-fuzz/).
# Targets that read the source tree (mappings/, tests/) get its path as MS_FUZZ_SRCDIR;
# $MS_SRCDIR overrides it at run time.
# Usage: scripts/fuzz.sh [TARGET...]      e.g. FUZZ_SECONDS=600 scripts/fuzz.sh config
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
seconds=${FUZZ_SECONDS:-60}
bdir=$top/build-fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
command -v clang >/dev/null || { echo "fuzz: clang is not installed (apt-get install clang libclang-rt-14-dev)"; exit 1; }
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p "$bdir"
if [ ! -f "$bdir/Makefile" ]; then
    (cd "$bdir" && ../configure --quiet --disable-integration-tests CC=clang \
        CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san") || exit 1
fi
make -s -C "$bdir" -j"$(nproc)" libms.a || exit 1
libs=$(pkg-config --libs libcurl json-c rdkafka zlib inih libssl libcrypto)
targets=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's#.*/fuzz_##; s#\.c$##')}
status=0
for t in $targets; do
    if ! clang -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $san -I"$bdir" -I"$top/src" -I"$top" \
        -DMS_FUZZ_SRCDIR="\"$top\"" "tests/fuzz/fuzz_$t.c" "$bdir/libms.a" $libs -lpthread -lm -o "$bdir/fuzz_$t"; then
        echo "FAIL: fuzz $t (build)"
        status=1
        continue
    fi
    work="$bdir/corpus-$t"
    mkdir -p "$work" "$bdir/artifacts"
    if "$bdir/fuzz_$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$bdir/artifacts/$t-" >"$bdir/fuzz_$t.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$bdir/fuzz_$t.log" | awk '{print $2}')
        echo "PASS: fuzz $t ($runs runs in ${seconds}s, $((${runs:-0} / seconds)) exec/s)"
    else
        echo "FAIL: fuzz $t (see $bdir/fuzz_$t.log)"
        tail -n 30 "$bdir/fuzz_$t.log"
        status=1
    fi
done
exit $status
