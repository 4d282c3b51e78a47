#!/bin/bash
# Spool corruption end to end (issue 7): 3000 events are spooled while the HEC receiver is down
# (msfwd once gives up after its drain_timeout and leaves them spooled, 256K segments), msfwd is
# stopped, the test damages a copy of the spool and msfwd runs again with the receiver up:
#   A. the last segment cut in the middle of a record (a torn write);
#   B. one byte flipped inside a record of an older segment;
#   C. one byte flipped inside a record of the last segment;
#   D. an older segment cut short exactly at a record boundary (its tail lost on disk).
# The spool's promise: no crash, no silent skip. The damage is reported with the segment file and
# the offset, every event before it is delivered, the bytes cut at start are kept aside in
# <segment>.corrupt, and the spool goes on taking (and delivering) new events.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"

TOKEN=1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5
SC_HEC_TOKEN=$TOKEN
export SC_HEC_TOKEN
CHK="$MS_SRCDIR/tests/integration/durability_check.py"
TEMPLATE="$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl"
N=3000
T=$TEST_TMP
t_start=$(date +%s)

plan 23

# conf NAME PORT: msfwd config with state in $T/state.NAME, HEC on 127.0.0.1:PORT
conf() {
    cat >"$T/$1.conf" <<CONF
[service]
state_dir     = $T/state.$1
mappings_dir  = $MS_SRCDIR/mappings
log_level     = info
spool_segment = 256K
drain_timeout = ${DRAIN:-30s}

[input.clicks]
type        = replay
path        = $T/in.jsonl
source_type = mimecast:ttp:url
batch_max   = 250

[output.hec]
type      = hec
url       = http://127.0.0.1:$2
token     = \${SC_HEC_TOKEN}
batch_max = 250
retry_min = 100ms
retry_max = 500ms
CONF
}

# ---- spool N events that nobody has delivered -----------------------------------------------------
"$PYTHON3" "$CHK" feed --template "$TEMPLATE" --out "$T/in.jsonl" --count $N >/dev/null
read -r DEAD <<<"$(free_ports 1)" # nothing listens there
DRAIN=1s conf base "$DEAD"
timeout 60 "$MS_BIN" once -c "$T/base.conf" 2>"$T/base.err"
rc=$?
check "with HEC down, once spools every event and exits 1 after drain_timeout (rc=$rc)" \
    sh -c "test $rc -eq 1 && grep -q 'not everything delivered within drain_timeout' '$T/base.err'"
segs=$(ls "$T/state.base/spool/"*.seg 2>/dev/null | wc -l)
check "the events are in $segs spool segments" test "$segs" -ge 3
# Every record of every segment: "SEGMENT INDEX OFFSET LENGTH crc ID"
for s in "$T/state.base/spool/"*.seg; do
    "$PYTHON3" "$CHK" frames "$s" | awk -v s="$(basename "$s")" '$1 != "end" {print s, $0}'
done >"$T/frames"
check "the spool holds the $N events ($(wc -l <"$T/frames") records, CRCs good)" \
    sh -c "test \$(grep -c ' crc-ok ' '$T/frames') -eq $N -a \$(wc -l <'$T/frames') -eq $N"
LAST=$(ls "$T/state.base/spool/"*.seg | tail -n 1 | xargs basename)
OLD=$(ls "$T/state.base/spool/"*.seg | sed -n 2p | xargs basename)
# 100 more records arrive before msfwd runs again: the damaged spool must take them too.
"$PYTHON3" "$CHK" feed --template "$TEMPLATE" --out "$T/in.jsonl" --from 100000 --count 100 >/dev/null
"$PYTHON3" "$CHK" expected --msfwd "$MS_BIN" --mappings "$MS_SRCDIR/mappings" \
    --records "$T/in.jsonl" --source mimecast:ttp:url --out "$T/all.ids" >/dev/null

# field SEGMENT INDEX COLUMN: a column of the frames list (3 offset, 4 length, 6 id)
field() { awk -v s="$1" -v i="$2" -v c="$3" '$1 == s && $2 == i {print $c}' "$T/frames"; }
nrec() { awk -v s="$1" '$1 == s' "$T/frames" | wc -l; }
# ids_from SEGMENT INDEX: the ids of that record and of every later one in the segment
ids_from() { awk -v s="$1" -v i="$2" '$1 == s && $2 >= i {print $6}' "$T/frames"; }
flip() { # flip FILE OFFSET: inverts one bit of the byte at OFFSET
    "$PYTHON3" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x04]))' "$1" "$2"
}

# scenario NAME: runs msfwd once on the damaged copy with a receiver up; sets RC
scenario() {
    hec_start "$1" 0 "$TOKEN"
    eval "conf $1 \$hec_port_$1"
    timeout 60 "$MS_BIN" once -c "$T/$1.conf" 2>"$T/$1.err"
    RC=$?
    hec_stop "$1"
}
# delivered NAME LOST_IDS: HEC got every other event exactly once and none of LOST_IDS
delivered() {
    "$PYTHON3" "$CHK" count --expected "$T/all.ids" --kind hec --missing-ok "$2" --forbid "$2" \
        "$T/hec.$1.jsonl" >"$T/count.$1" 2>&1
    local rc=$?
    cat "$T/count.$1"
    return $rc
}

# ---- A: the last segment torn in the middle of a record ----------------------------------------
cp -a "$T/state.base" "$T/state.a"
K=$(($(nrec "$LAST") / 2))
OFF=$(field "$LAST" $K 3)
LEN=$(field "$LAST" $K 4)
CUT=$((OFF + 8 + LEN / 2))
cp "$T/state.a/spool/$LAST" "$T/orig-a.seg"
truncate -s $CUT "$T/state.a/spool/$LAST"
ids_from "$LAST" $K >"$T/lost-a.ids"
scenario a
check "A: msfwd once runs to the end, exit 0 (rc=$RC)" test $RC -eq 0
[ $RC -eq 0 ] || diag_file "$T/a.err"
check "A: the cut is reported with the segment and the offset of the torn record" \
    grep -qF "spool: segment $T/state.a/spool/$LAST: torn record at offset $OFF after $K good\
 records; cut $((CUT - OFF)) bytes (kept in $T/state.a/spool/$LAST.corrupt)" "$T/a.err"
check "A: the cut bytes are kept aside, unchanged" \
    cmp -s "$T/state.a/spool/$LAST.corrupt" <(head -c $CUT "$T/orig-a.seg" | tail -c $((CUT - OFF)))
check "A: every event before the cut and the 100 new ones delivered once; the $(wc -l <"$T/lost-a.ids") cut ones not" \
    delivered a "$T/lost-a.ids"

# ---- B: a flipped byte in a record of an older segment -------------------------------------------
cp -a "$T/state.base" "$T/state.b"
J=$(($(nrec "$OLD") / 3))
OFF=$(field "$OLD" $J 3)
LEN=$(field "$OLD" $J 4)
flip "$T/state.b/spool/$OLD" $((OFF + 8 + LEN / 2))
field "$OLD" $J 6 >"$T/lost-b.ids"
scenario b
check "B: msfwd once runs to the end, exit 0 (rc=$RC)" test $RC -eq 0
[ $RC -eq 0 ] || diag_file "$T/b.err"
check "B: the reader reports the damaged record with its segment and offset" \
    grep -qF "spool: reader hec: segment $T/state.b/spool/$OLD: record at offset $OFF fails its\
 CRC check; skipped ($LEN bytes)" "$T/b.err"
check "B: it is the only record skipped" test "$(grep -c 'fails its CRC check\|corrupt frame' "$T/b.err")" -eq 1
check "B: every other event delivered once (the records after it too), the damaged one not" \
    delivered b "$T/lost-b.ids"

# ---- C: a flipped byte in a record of the last segment -----------------------------------------
cp -a "$T/state.base" "$T/state.c"
K=$(($(nrec "$LAST") / 3))
OFF=$(field "$LAST" $K 3)
LEN=$(field "$LAST" $K 4)
SIZE=$(stat -c %s "$T/state.c/spool/$LAST")
flip "$T/state.c/spool/$LAST" $((OFF + 8 + LEN / 2))
ids_from "$LAST" $K >"$T/lost-c.ids"
scenario c
check "C: msfwd once runs to the end, exit 0 (rc=$RC)" test $RC -eq 0
[ $RC -eq 0 ] || diag_file "$T/c.err"
check "C: the cut is reported with the segment and the offset of the damaged record" \
    grep -qF "spool: segment $T/state.c/spool/$LAST: CRC mismatch at offset $OFF after $K good\
 records; cut $((SIZE - OFF)) bytes (kept in $T/state.c/spool/$LAST.corrupt)" "$T/c.err"
check "C: the cut bytes are kept aside ($((SIZE - OFF)) bytes)" \
    test "$(stat -c %s "$T/state.c/spool/$LAST.corrupt")" -eq $((SIZE - OFF))
check "C: every event before the damaged record and the 100 new ones delivered once;\
 the $(wc -l <"$T/lost-c.ids") cut ones not" \
    delivered c "$T/lost-c.ids"

# ---- D: an older segment cut short exactly at a record boundary (its tail lost on disk) ------------
cp -a "$T/state.base" "$T/state.d"
J=$(($(nrec "$OLD") / 2))
OFF=$(field "$OLD" $J 3)
SIZE=$(stat -c %s "$T/state.d/spool/$OLD")
truncate -s "$OFF" "$T/state.d/spool/$OLD"
ids_from "$OLD" $J >"$T/lost-d.ids"
scenario d
check "D: msfwd once runs to the end, exit 0 (rc=$RC)" test $RC -eq 0
[ $RC -eq 0 ] || diag_file "$T/d.err"
check "D: the missing bytes are reported with the segment and the offset (no silent skip)" \
    grep -qF "spool: segment $T/state.d/spool/$OLD ends at offset $OFF, $((SIZE - OFF)) bytes\
 before the next segment starts" "$T/d.err"
check "D: every other event delivered once, the $(wc -l <"$T/lost-d.ids") lost ones not" \
    delivered d "$T/lost-d.ids"

# ---- after each recovery the spool carries on: a second run delivers nothing again --------------
for s in a b c d; do
    hec_start "$s" 0 "$TOKEN"
    eval "conf $s \$hec_port_$s"
    before=$(wc -l <"$T/hec.$s.jsonl")
    timeout 60 "$MS_BIN" once -c "$T/$s.conf" 2>"$T/$s.again.err"
    rc=$?
    hec_stop "$s"
    check "$s: a second run reports nothing new and sends nothing again (rc=$rc)" \
        sh -c "test $rc -eq 0 && test \$(wc -l <'$T/hec.$s.jsonl') -eq $before &&
               ! grep -q 'spool: segment\|spool: reader' '$T/$s.again.err'"
done
check "no sanitizer report in any run" sanitizer_clean "$T"/*.err
lost=""
for s in a b c d; do lost="$lost $s $(wc -l <"$T/lost-$s.ids")"; done
echo "# $N events spooled in $segs segments; events lost to the damage:$lost;\
 wall time $(($(date +%s) - t_start)) s"
