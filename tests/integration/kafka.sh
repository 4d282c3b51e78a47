#!/bin/bash
# msfwd once: two replay inputs (300 records, two source types) -> kafka output -> librdkafka's
# mock cluster (3 brokers, tests/helpers/kafka_mock). kcat reads every topic back: each event
# arrives on the topic its source type names, keyed by its id, with its headers and its exact
# JSON. Injected produce errors and an outage of every broker are survived without loss.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"

if ! kcat_find; then
    echo "1..0 # SKIP kcat (Debian package kcat) is not installed"
    exit 0
fi
if [ ! -x "${MS_BUILDDIR:?}/tests/helpers/kafka_mock" ]; then
    echo "Bail out! tests/helpers/kafka_mock is not built (make check builds it)"
    exit 1
fi

plan 13
T_URL=email-security.mimecast.ttp.url
T_PPS=email-security.pps.quarantine
BATCH=64

# url_records FROM TO: URL clicks made from the fixture's records, each its own event (the
# mapping's id covers messageId) and none clean (the mapping drops clean verdicts).
url_records() {
    "$PYTHON3" - "$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl" "$1" "$2" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for i in range(int(sys.argv[2]), int(sys.argv[3])):
    r = dict(recs[i % len(recs)])
    r["messageId"] = "<kafka-it-%d@example.com>" % i
    r["scanResult"] = "malicious"
    print(json.dumps(r))
PY
}
url_records 0 200 >"$TEST_TMP/url.jsonl"
# 100 quarantined messages (id = guid + folder), subjects full of delimiters and non-ASCII text.
"$PYTHON3" - >"$TEST_TMP/pps.jsonl" <<'PY'
import json
for i in range(100):
    print(json.dumps({"guid": "kafka-it-%04d" % i, "folder": "Quarantine",
                      "date": "2026-11-20 10:%02d:30" % (i % 60),
                      "from": "a%d@example.net" % i, "rcpts": ["b@example.com"],
                      "subject": "s=|\\\n;,\"{}%d \u00fc\u4e2d" % i, "spamscore": 99}))
PY

# The mock cluster (peers.sh): commands through kmock_cmd.
kmock_start 3 "$T_URL:4" "$T_PPS:2"
BOOT=$KAFKA_BOOT
check "mock cluster runs and prints its bootstrap address ($BOOT)" \
    sh -c "echo '$BOOT' | grep -Eq '^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$'"

cat >"$TEST_TMP/msfwd.conf" <<CONF
[service]
state_dir     = $TEST_TMP/state
mappings_dir  = $MS_SRCDIR/mappings
log_level     = info
drain_timeout = 40s

[input.url]
type        = replay
path        = $TEST_TMP/url.jsonl
source_type = mimecast:ttp:url
batch_max   = 50

[input.pps]
type        = replay
path        = $TEST_TMP/pps.jsonl
source_type = pps:quarantine
batch_max   = 50

[output.kafka]
type             = kafka
brokers          = $BOOT
topic            = email-security.\$\${source_type}
batch_max        = $BATCH
delivery_timeout = 2s
retry_min        = 200ms
retry_max        = 1s
kafka.reconnect.backoff.max.ms = 500

; The same events as a file: what Kafka must hold.
[output.file]
type = file
path = $TEST_TMP/events.jsonl
CONF

# Run 1: three produce requests fail (two transient broker errors and a disconnect).
check "produce errors injected" kmock_cmd "errors 0 NOT_ENOUGH_REPLICAS _TRANSPORT REQUEST_TIMED_OUT"
timeout 60 "$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run1.err"
rc=$?
check "once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/run1.err"
check "the injected disconnect reached the producer" grep -q "_TRANSPORT" "$TEST_TMP/run1.err"
check "300 events spooled for the file output" test "$(wc -l <"$TEST_TMP/events.jsonl")" -eq 300

# Reads both topics from the beginning into $1 (one kcat JSON envelope per message).
read_topics() {
    : >"$1"
    for t in $T_URL $T_PPS; do
        timeout 20 "$KCAT" -C -b "$BOOT" -t "$t" -o beginning -e -q -J >>"$1" 2>>"$TEST_TMP/kcat.err"
    done
}

# verify EVENTS KAFKA MAXDUP: every event on its topic with key = id, headers, exact payload.
verify() {
    "$PYTHON3" - "$1" "$2" "$3" <<'PY'
import json, sys
events = [l.rstrip("\n") for l in open(sys.argv[1])]
msgs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
maxdup = int(sys.argv[3])
want = {}
for text in events:
    ev = json.loads(text)
    want[ev["id"]] = (text, ev)
seen = {}
for m in msgs:
    key = m["key"]
    assert key in want, "unexpected message with key %r" % key
    text, ev = want[key]
    st = ev["source_type"]
    assert m["topic"] == "email-security." + st.replace(":", "."), "wrong topic %s for %s" % (m["topic"], st)
    assert m["payload"] == text, "payload differs from the spooled event %s" % key
    h = m.get("headers") or []
    hdrs = dict(zip(h[0::2], h[1::2]))
    assert hdrs.get("source_type") == st, "source_type header %r" % hdrs
    for k in ("vendor", "product"):
        if k in ev:
            assert hdrs.get(k) == ev[k], "%s header %r" % (k, hdrs)
        else:
            assert k not in hdrs, "%s header without a %s in the event %r" % (k, k, hdrs)
    seen[key] = seen.get(key, 0) + 1
missing = [k for k in want if k not in seen]
dups = sum(n - 1 for n in seen.values())
assert not missing, "%d events missing from Kafka, e.g. %s" % (len(missing), missing[0])
assert dups <= maxdup, "%d duplicates (more than one batch)" % dups
print("# %d events, %d messages, %d duplicates" % (len(want), len(msgs), dups))
PY
}

read_topics "$TEST_TMP/kafka1.jsonl"
check "every event in Kafka: right topic, key = id, headers, exact payload" \
    verify "$TEST_TMP/events.jsonl" "$TEST_TMP/kafka1.jsonl" $BATCH

# Run 2: 100 more records while every broker is down; they come up after a few seconds.
url_records 200 300 >>"$TEST_TMP/url.jsonl"
check "all brokers down" kmock_cmd "down all"
timeout 60 "$MS_BIN" once -c "$TEST_TMP/msfwd.conf" 2>"$TEST_TMP/run2.err" &
run2=$!
sleep 4
check "all brokers up again" kmock_cmd "up all"
wait $run2
rc=$?
check "once exits 0 after the outage (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/run2.err"
check "the outage was noticed and the batch produced again" \
    grep -q "not acknowledged (first: _MSG_TIMED_OUT" "$TEST_TMP/run2.err"
read_topics "$TEST_TMP/kafka2.jsonl"
check "the file output has all 400 events" test "$(wc -l <"$TEST_TMP/events.jsonl")" -eq 400
check "after the outage all 400 events are in Kafka, none lost, duplicates within one batch" \
    verify "$TEST_TMP/events.jsonl" "$TEST_TMP/kafka2.jsonl" $BATCH

# The helper stops cleanly on SIGTERM (under --enable-sanitizers: without a leak report).
kmock_stop
rc=$?
check "kafka_mock exits 0 on SIGTERM (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/kmock.err"
