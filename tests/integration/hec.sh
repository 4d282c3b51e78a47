#!/bin/bash
# hec output against tests/sim/hec_receiver.py on 127.0.0.1: every event once with the right
# metadata (gzip and acks on and off), 503 burst, 404, 413, a code-6 poison event dead-lettered,
# 401/403 stops and keeps the data, TLS with ca_file / verify_tls, no Expect header.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"

plan 43
TOKEN="0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
N=300

# --- fixture: N vendor records with hostile text, one POISON, a few large ones (> 1 MB together) --
"$PYTHON3" - "$TEST_TMP/in.jsonl" "$N" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
hostile = ['quote " and backslash \\ and slash /', "new\nline\r\ttab", "ctl \u0001\u001f\u007f",
           "caf\u00e9 \u65e5\u672c \U0001F600 \u2028", "{\"json\": [1,2]} ,", "a" * 3000, ""]
with open(path, "w") as f:
    for i in range(n):
        rec = {"seq": i, "subject": hostile[i % len(hostile)],
               "userEmailAddress": "user%d@corp.example" % i, "action": ["block", "allow"][i % 2],
               "score": i * 1.5, "tags": ["t%d" % (i % 3), None, i]}
        if i == 137:
            rec["subject"] = "POISON pill"
        if i in (10, 11, 12):
            rec["blob"] = "x" * 400000
        f.write(json.dumps(rec, ensure_ascii=(i % 2 == 0)) + "\n")
PY
grep -v '"blob"' "$TEST_TMP/in.jsonl" >"$TEST_TMP/in.small.jsonl" # without the 400 kB records

# --- checker (python): reads the receiver's /_sim endpoints --------------------------------------
cat >"$TEST_TMP/check.py" <<'PY'
import collections, datetime, json, re, ssl, sys, urllib.request

def get(port, what):
    """port is N (http) or https:N (TLS receiver; its certificate is self-signed)."""
    scheme, _, num = port.rpartition(":")
    ctx = ssl._create_unverified_context() if scheme == "https" else None
    url = "%s://127.0.0.1:%s/_sim/%s" % (scheme or "http", num, what)
    with urllib.request.urlopen(url, timeout=10, context=ctx) as r:
        return json.load(r)

def fixture(path):
    return {r["seq"]: r for r in (json.loads(l) for l in open(path) if l.strip())}

def iso_ms(s):
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000

def fail(msg):
    print("# " + msg)
    sys.exit(1)

def main():
    cmd, port = sys.argv[1], sys.argv[2]
    args = dict(a.split("=", 1) for a in sys.argv[3:])
    if cmd == "delivery":
        # Every fixture record indexed exactly once (dup_request: that request's events twice),
        # except the seqs in missing (never); raw unchanged.
        want = fixture(args["fixture"])
        missing = {int(x) for x in args.get("missing", "").split(",") if x}
        events = get(port, "events")
        dup_req = set()
        if args.get("dups") == "dropped_ack":
            dup_req = {r["seq"] for r in get(port, "requests") if r.get("ack_dropped")}
            if not dup_req:
                fail("no request had its ack dropped")
        counts = collections.Counter(e["event"]["raw"]["seq"] for e in events)
        twice = {e["event"]["raw"]["seq"] for e in events if e["_request"] in dup_req}
        for seq, rec in want.items():
            n = counts.get(seq, 0)
            expect = 0 if seq in missing else (2 if seq in twice else 1)
            if n != expect:
                fail("seq %d indexed %d times, want %d" % (seq, n, expect))
        for e in events:
            if e["event"]["raw"] != want[e["event"]["raw"]["seq"]]:
                fail("raw of seq %d differs" % e["event"]["raw"]["seq"])
        if dup_req and not twice:
            fail("the dropped-ack request carried no events")
    elif cmd == "meta":
        events = get(port, "events")
        if not events:
            fail("nothing indexed")
        for e in events:
            ev = e["event"]
            if round(e["time"] * 1000) != iso_ms(ev["time"]):
                fail("time %r is not the event's %s" % (e["time"], ev["time"]))
            for key in ("host", "index", "sourcetype", "source"):
                if key in args and e.get(key) != args[key]:
                    fail("%s = %r, want %r" % (key, e.get(key), args[key]))
            if "noindex" in args and "index" in e:
                fail("index sent though none is configured")
            if "fields" in args:
                # constant fields, plus the configured event keys the event has (as strings)
                want_fields = json.loads(args["fields"])
                for key in args.get("field_keys", "").split(","):
                    if key and isinstance(ev.get(key), str):
                        want_fields[key] = ev[key]
                if e.get("fields") != want_fields:
                    fail("fields = %r, want %r" % (e.get("fields"), want_fields))
            if ev.get("source_type") != args.get("st", "hectest:records") or len(ev.get("id", "")) != 64:
                fail("normalized keys missing: %r" % sorted(ev))
            if ("raw" in ev) != (args.get("raw", "yes") == "yes"):
                fail("raw present = %s" % ("raw" in ev))
            if "_ackId" in args and (e["_ackId"] is None) != (args["_ackId"] == "none"):
                fail("_ackId = %r" % e["_ackId"])
    elif cmd == "requests":
        reqs = get(port, "requests")
        if not reqs:
            fail("no request")
        chans = {r["channel"] for r in reqs}
        if len(chans) != 1 or not re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", chans.pop() or ""):
            fail("channels: %r" % {r["channel"] for r in reqs})
        if any(r["expect"] for r in reqs):
            fail("an Expect header was sent")
        gz = args.get("gzip")
        if gz and any(r["gzip"] != (gz == "yes") for r in reqs):
            fail("gzip flags: %r" % [r["gzip"] for r in reqs])
        if "min" in args and len(reqs) < int(args["min"]):
            fail("%d requests, want at least %s" % (len(reqs), args["min"]))
        if "big" in args and not any(r["bytes"] > int(args["big"]) and r["status"] == 200 for r in reqs):
            fail("no accepted request larger than %s bytes: %r" % (args["big"], [r["bytes"] for r in reqs]))
        for kind, n in ((k[6:], int(v)) for k, v in args.items() if k.startswith("status")):
            got = sum(1 for r in reqs if str(r["status"]) == kind)
            if got != n:
                fail("%d answers %s, want %d" % (got, kind, n))
    elif cmd == "acks":
        acks = get(port, "acks")
        reqs = get(port, "requests")
        if not acks or any(a["status"] != 200 for a in acks):
            fail("ack queries: %r" % acks[:3])
        if {a["channel"] for a in acks} != {r["channel"] for r in reqs}:
            fail("ack channel differs from the event channel")
        acked = {i for a in acks for i in a["true"]}
        ids = {r["ackId"] for r in reqs if r["status"] == 200 and not r["ack_dropped"]}
        if not ids <= acked:
            fail("ackIds never seen true: %r" % sorted(ids - acked))
    elif cmd == "cim":
        # Events mapped by mappings/<source type>.json: the same ids as the file output, and the
        # CIM names next to the normalized ones.
        events = get(port, "events")
        file_ids = [json.loads(l)["id"] for l in open(args["file"])]
        ids = [e["event"]["id"] for e in events]
        if not ids or sorted(ids) != sorted(file_ids) or len(set(ids)) != len(ids):
            fail("hec ids %r, file ids %r" % (ids, file_ids))
        seen_mitre = False
        for e in events:
            ev = e["event"]
            if round(e["time"] * 1000) != iso_ms(ev["time"]) or e["sourcetype"] != ev["source_type"]:
                fail("time/sourcetype of %s" % ev["id"])
            want = {"src_user": ev.get("sender"), "src": ev.get("src_ip"),
                    "vendor_product": "%s %s" % (ev["vendor"], ev["product"]),
                    "recipient_count": 1 if isinstance(ev.get("recipient"), str) else None}
            if isinstance(ev.get("mitre"), dict):
                seen_mitre = True
                want["mitre_technique_id"] = ev["mitre"]["technique_id"]
                want["mitre_technique"] = ev["mitre"]["technique_name"]
                if e["fields"].get("mitre_technique_id") != ev["mitre"]["technique_id"]:
                    fail("indexed field mitre_technique_id of %s: %r" % (ev["id"], e["fields"]))
            for key, value in want.items():
                if value is not None and ev.get(key) != value:
                    fail("%s of %s = %r, want %r" % (key, ev["id"], ev.get(key), value))
        if not seen_mitre:
            fail("no event had a MITRE tag")
    elif cmd == "count":
        n = len(get(port, "events"))
        if n != int(args["n"]):
            fail("%d events indexed, want %s" % (n, args["n"]))
    elif cmd == "saw":
        # saw status=403: the receiver answered that at least once
        if not any(str(r["status"]) == args["status"] for r in get(port, "requests")):
            sys.exit(1)
    elif cmd == "deadletter":
        lines = [json.loads(l) for l in open(args["file"])]
        seqs = [l["event"]["raw"]["seq"] for l in lines]
        if seqs != [int(args["seq"])]:
            fail("dead letters: %r" % seqs)
        if "code 6" not in lines[0]["reason"] or lines[0]["output"] != "splunk":
            fail("reason: %r" % lines[0]["reason"])
    else:
        fail("unknown command " + cmd)

main()
PY
chk() { "$PYTHON3" "$TEST_TMP/check.py" "$@"; }
sim() { # sim PORT PATH JSON: POST a control request (PORT as for check.py)
    "$PYTHON3" -c 'import ssl, sys, urllib.request as u
scheme, _, num = sys.argv[1].rpartition(":")
ctx = ssl._create_unverified_context() if scheme == "https" else None
u.urlopen(u.Request("%s://127.0.0.1:%s%s" % (scheme or "http", num, sys.argv[2]),
          data=sys.argv[3].encode(), headers={"Content-Type": "application/json"}),
          timeout=10, context=ctx).read()' "$1" "$2" "$3"
}

# start_receiver NAME ARGS...: sets $port_NAME (peers.sh: hec_start on a free port)
start_receiver() {
    local name=$1
    shift
    hec_start "$name" 0 "$TOKEN" "$@"
    eval "port_$name=\$hec_port_$name"
}

# conf NAME PORT "extra output keys": writes $TEST_TMP/NAME.conf with its own state dir
conf() {
    cat >"$TEST_TMP/$1.conf" <<CONF
[service]
state_dir     = $TEST_TMP/state.$1
mappings_dir  = $MS_SRCDIR/mappings
log_level     = info
drain_timeout = 20s

[input.sample]
type        = replay
path        = ${IN:-$TEST_TMP/in.jsonl}
source_type = ${ST:-hectest:records}
batch_max   = 100

[output.splunk]
type              = hec
url               = ${URL_SCHEME:-http}://127.0.0.1:$2
token             = \${HEC_TEST_TOKEN}
batch_max         = 120
batch_bytes       = 4M
retry_min         = 100ms
retry_max         = 1s
max_request_bytes = ${MAXREQ:-64K}
$3
CONF
}

once() { # once NAME: runs msfwd once, stderr to NAME.err; returns its exit code
    HEC_TEST_TOKEN=${HEC_TEST_TOKEN:-$TOKEN} timeout 60 "$MS_BIN" once -c "$TEST_TMP/$1.conf" \
        2>"$TEST_TMP/$1.err"
}
reset() { sim "$1" /_sim/reset '{"all": true}'; }

start_receiver plain
start_receiver ack --ack --ack-delay 0.2

# --- A: gzip on (default), no ack: every event once, metadata, batching, channel, no Expect ------
conf a "$port_plain" "host = mx-test-01
index = email
fields = source_type, action
field.tenant = acme"
once a
rc=$?
check "A: once delivers and exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/a.err"
check "A: every event indexed exactly once, raw unchanged" chk delivery "$port_plain" fixture="$TEST_TMP/in.jsonl"
check "A: time (exact ms), host, index, source, sourcetype, indexed fields" \
    chk meta "$port_plain" host=mx-test-01 index=email sourcetype=hectest:records \
    source=msfwd:hectest:records 'fields={"tenant":"acme"}' field_keys=source_type,action
check "A: gzip bodies, one UUID channel, no Expect, several requests" \
    chk requests "$port_plain" gzip=yes min=6
check "A: the token is in no log line" sh -c "! grep -q '$TOKEN' '$TEST_TMP/a.err'"

# --- B: gzip off, ack on, sourcetype/index per source type, a request above 1 MB ---------------
MAXREQ=4M conf b "$port_ack" "gzip = false
ack = true
ack_interval = 200ms
sourcetype.hectest-records = hec:records
index = other
index.hectest-records = email_urls
host = mx-b"
once b
rc=$?
check "B: once with acks exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/b.err"
check "B: every event indexed exactly once" chk delivery "$port_ack" fixture="$TEST_TMP/in.jsonl"
check "B: overrides per source type, an ackId on every event" \
    chk meta "$port_ack" host=mx-b index=email_urls sourcetype=hec:records _ackId=some
check "B: plain bodies, one channel, no Expect even above 1 MB" \
    chk requests "$port_ack" gzip=no big=1048576
check "B: every ackId polled on the same channel until true" chk acks "$port_ack"

# --- C: an ackId that never turns true: resent after ack_timeout, nothing lost ------------------
reset "$port_ack"
sim "$port_ack" /_sim/fault '{"kind": "drop_ack", "count": 1}'
conf c "$port_ack" "ack = true
ack_interval = 200ms
ack_timeout = 1s"
once c
rc=$?
check "C: once exits 0 after resending the unacknowledged request (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/c.err"
check "C: its events indexed twice (resent), every other once" \
    chk delivery "$port_ack" fixture="$TEST_TMP/in.jsonl" dups=dropped_ack
check "C: the resend is logged" grep -q "not acknowledged within ack_timeout" "$TEST_TMP/c.err"

# --- D: a 503 burst with Retry-After: retried with backoff, nothing lost -----------------------
reset "$port_plain"
sim "$port_plain" /_sim/fault '{"kind": "503", "count": 3, "retry_after": "1"}'
start=$(date +%s)
conf d "$port_plain" ""
once d
rc=$?
took=$(($(date +%s) - start))
check "D: once exits 0 after the 503 burst (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/d.err"
check "D: every event indexed exactly once" chk delivery "$port_plain" fixture="$TEST_TMP/in.jsonl"
check "D: three 503 answers, then success" chk requests "$port_plain" status503=3
check "D: Retry-After honoured (3 x 1 s; took ${took}s)" test "$took" -ge 3
check "D: the retry is logged once with HEC's reason" \
    test "$(grep -c 'HEC is not taking events: HTTP 503, code 9 (Server is busy)' "$TEST_TMP/d.err")" -eq 1

# --- E: a poison event (400 code 6 naming it): dead-lettered, the rest delivered ------------------
reset "$port_plain"
sim "$port_plain" /_sim/fault '{"kind": "400_code6", "count": -1, "match": "POISON"}'
conf e "$port_plain" ""
once e
rc=$?
check "E: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/e.err"
check "E: all but the poison event indexed exactly once" \
    chk delivery "$port_plain" fixture="$TEST_TMP/in.jsonl" missing=137
check "E: the poison event is in the dead-letter file with HEC's reason" \
    chk deadletter 0 file="$TEST_TMP/state.e/deadletter/splunk.jsonl" seq=137
check "E: the dead letter is logged" grep -q "refused by the receiver (HEC 400 code 6" "$TEST_TMP/e.err"
sim "$port_plain" /_sim/fault '{"kind": "clear"}'

# --- F: wrong token: the output stops and says why; nothing lost once the token is fixed ---------
reset "$port_plain"
conf f "$port_plain" ""
HEC_TEST_TOKEN="wrong-token-value-1234" "$MS_BIN" run -c "$TEST_TMP/f.conf" 2>"$TEST_TMP/f.err" &
pid=$!
i=0
while ! chk saw "$port_plain" status=403 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 1.5 # a slow retry or two
kill -TERM $pid
wait $pid
rc=$?
check "F: run with a wrong token stops cleanly on SIGTERM (rc=$rc)" test $rc -eq 0
check "F: one clear error line says the token is invalid" \
    test "$(grep -c 'error.*HEC refused the events: HTTP 403: the token is invalid (code 4)' "$TEST_TMP/f.err")" -eq 1
check "F: nothing indexed" chk count "$port_plain" n=0
check "F: the wrong token is in no log line" sh -c "! grep -q 'wrong-token-value-1234' '$TEST_TMP/f.err'"
once f
rc=$?
check "F: with the right token every event arrives exactly once (rc=$rc)" \
    sh -c "test $rc -eq 0 && '$PYTHON3' '$TEST_TMP/check.py' delivery $port_plain fixture='$TEST_TMP/in.jsonl'"

# --- G: 401 (missing 'Splunk ' prefix), 404 from a proxy, 413: retried or split, nothing lost -----
reset "$port_plain"
sim "$port_plain" /_sim/fault '{"kind": "401", "count": 1, "code": 3}'
sim "$port_plain" /_sim/fault '{"kind": "404", "count": 2}'
sim "$port_plain" /_sim/fault '{"kind": "413", "count": 1}'
IN="$TEST_TMP/in.small.jsonl" conf g "$port_plain" ""
once g
rc=$?
check "G: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/g.err"
check "G: every event indexed exactly once" chk delivery "$port_plain" fixture="$TEST_TMP/in.small.jsonl"
check "G: 401 code 3 explained" grep -q "Invalid authorization): token must be the bare value" "$TEST_TMP/g.err"
check "G: 404 is an error kept and retried, not a drop" grep -q "HTTP 404 from .*events kept, retrying" "$TEST_TMP/g.err"
check "G: 413 splits the request" grep -q "as too large (413): sending at most" "$TEST_TMP/g.err"

# --- H: TLS: ca_file verifies; verify_tls = false warns; verification is on by default ------------
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" \
    >/dev/null 2>&1; then
    start_receiver tls --tls-cert "$TEST_TMP/cert.pem" --tls-key "$TEST_TMP/key.pem"
    URL_SCHEME=https conf h1 "$port_tls" "ca_file = $TEST_TMP/cert.pem"
    once h1
    rc=$?
    check "H: https with ca_file delivers every event (rc=$rc)" \
        sh -c "test $rc -eq 0 && '$PYTHON3' '$TEST_TMP/check.py' delivery https:$port_tls fixture='$TEST_TMP/in.jsonl'"
    [ $rc -eq 0 ] || diag_file "$TEST_TMP/h1.err"
    reset "https:$port_tls"
    URL_SCHEME=https conf h2 "$port_tls" "verify_tls = false"
    once h2
    rc=$?
    check "H: verify_tls = false delivers (rc=$rc)" test $rc -eq 0
    check "H: verify_tls = false warns at start" grep -q "warn.*verify_tls = false" "$TEST_TMP/h2.err"
    reset "https:$port_tls"
    URL_SCHEME=https conf h3 "$port_tls" ""
    sed -i 's/^drain_timeout = 20s/drain_timeout = 2s/' "$TEST_TMP/h3.conf"
    once h3
    rc=$?
    check "H: an unknown CA is refused by default (rc=$rc), nothing sent" \
        sh -c "test $rc -ne 0 && '$PYTHON3' '$TEST_TMP/check.py' count https:$port_tls n=0"
    check "H: the refusal is logged as an error" grep -q "error.*POST to https://127.0.0.1:$port_tls/services/collector/event refused" "$TEST_TMP/h3.err"
else
    for i in 1 2 3 4 5; do ok "# SKIP openssl cannot make a test certificate"; done
fi

# --- J: include_raw = false leaves the vendor record out -----------------------------------------
reset "$port_plain"
conf j "$port_plain" "include_raw = false"
once j
check "J: once exits 0, every event indexed once" chk count "$port_plain" n=$N
check "J: no raw, no index when none is configured, host = this machine's name" \
    chk meta "$port_plain" raw=no noindex=1 host="$(uname -n)"

# --- K: real events (mappings/mimecast-ttp-url.json) to HEC and to a file: same events, CIM names --
reset "$port_plain"
IN="$MS_SRCDIR/tests/fixtures/mimecast/ttp-url.jsonl" ST=mimecast:ttp:url conf k "$port_plain" \
    "sources = mimecast:*
fields = mitre_technique_id

[output.local]
type = file
path = $TEST_TMP/k.jsonl"
once k
rc=$?
check "K: once exits 0 (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$TEST_TMP/k.err"
check "K: HEC gets the file output's events, with CIM names next to the normalized ones" \
    chk cim "$port_plain" file="$TEST_TMP/k.jsonl"

# --- I: msfwd check validates the section without touching the network -------------------------
conf i 9 "ack = true"
HEC_TEST_TOKEN=$TOKEN "$MS_BIN" check -c "$TEST_TMP/i.conf" >"$TEST_TMP/i.out" 2>"$TEST_TMP/i.err"
check "I: check accepts the hec section (no receiver on port 9)" test $? -eq 0
HEC_TEST_TOKEN=$TOKEN "$MS_BIN" check -c "$TEST_TMP/i.conf" --dump >"$TEST_TMP/i.dump" 2>&1
check "I: --dump redacts the token" sh -c "grep -q '^token = <redacted>' '$TEST_TMP/i.dump' && ! grep -q '$TOKEN' '$TEST_TMP/i.dump'"
