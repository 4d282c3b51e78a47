#!/bin/bash
# syslog output against a real syslog-ng on 127.0.0.1, started here with its own config (no system
# service; root or not): UDP, TCP with LF and octet-counting framing, TLS with certificates made
# here (client certificate required by syslog-ng). Hostile vendor records go through the replay
# input (whatever the mapping makes of them), mapped-looking hostile events through the plugin
# itself (syslog_inject); syslog_check.py parses what syslog-ng wrote and checks every field.
# Finally syslog-ng is restarted while msfwd runs: TCP reconnects and nothing is lost.
. "${MS_SRCDIR}/tests/integration/lib.sh"
. "${MS_SRCDIR}/tests/integration/peers.sh"

if ! sng_find; then
    echo "1..0 # SKIP syslog-ng not installed (apt-get install syslog-ng-core)"
    exit 0
fi
: "${MS_BUILDDIR:?MS_BUILDDIR must point at the build tree}"
INJECT="$MS_BUILDDIR/tests/integration/syslog_inject"
CHECK="$MS_SRCDIR/tests/integration/syslog_check.py"
FIX="$MS_SRCDIR/tests/fixtures/syslog"
T="$TEST_TMP"

plan 32

# ---- certificates (EC P-256: fast) ------------------------------------------------------------
certs() {
    local ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    openssl req -x509 $ec -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj /CN=msfwd-test-ca &&
        openssl req $ec -keyout "$T/server.key" -out "$T/server.csr" -subj /CN=localhost &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/server.ext" &&
        openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
            -out "$T/server.pem" -days 2 -extfile "$T/server.ext" &&
        openssl req $ec -keyout "$T/client.key" -out "$T/client.csr" -subj /CN=msfwd-client &&
        printf 'extendedKeyUsage=clientAuth\n' >"$T/client.ext" &&
        openssl x509 -req -in "$T/client.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
            -out "$T/client.pem" -days 2 -extfile "$T/client.ext"
}
check "certificates generated with openssl" eval 'certs >"$T/openssl.out" 2>&1'

# ---- syslog-ng --------------------------------------------------------------------------------
read -r P_UDP P_LF P_OC P_TLS P_RS <<<"$(free_ports 5)"
cat >"$T/sng.conf" <<CONF
$(sng_version)
options { keep-hostname(yes); log-msg-size(1048576); stats-freq(0); use-dns(no); dns-cache(no); };
source s_udp { network(ip("127.0.0.1") port($P_UDP) transport("udp") flags(store-raw-message)); };
source s_lf  { network(ip("127.0.0.1") port($P_LF) transport("tcp") flags(store-raw-message)); };
source s_oc  { syslog(ip("127.0.0.1") port($P_OC) transport("tcp") flags(store-raw-message)); };
source s_tls { syslog(ip("127.0.0.1") port($P_TLS) transport("tls") flags(store-raw-message)
               tls(key-file("$T/server.key") cert-file("$T/server.pem") ca-file("$T/ca.pem")
                   peer-verify(required-trusted))); };
source s_rs  { network(ip("127.0.0.1") port($P_RS) transport("tcp") flags(store-raw-message)); };
destination d_udp { file("$T/udp.log" template("\$RAWMSG\n")); };
destination d_lf  { file("$T/lf.log" template("\$RAWMSG\n")); };
destination d_oc  { file("$T/oc.log" template("\$RAWMSG\n")); };
destination d_tls { file("$T/tls.log" template("\$RAWMSG\n")); };
destination d_rs  { file("$T/rs.log" template("\$RAWMSG\n")); };
log { source(s_udp); destination(d_udp); };
log { source(s_lf); destination(d_lf); };
log { source(s_oc); destination(d_oc); };
log { source(s_tls); destination(d_tls); };
log { source(s_rs); destination(d_rs); };
CONF

start_sng() { sng_start "$T/sng.conf" "$P_LF" "$P_OC" "$P_TLS" "$P_RS"; }
stop_sng() { sng_stop; }
check "syslog-ng starts with the test's own config" start_sng
[ -n "$SNG_PID" ] && kill -0 "$SNG_PID" 2>/dev/null || diag_file "$T/sng.conf.out"

# ---- 1. hostile vendor records through replay -> mapping -> spool -> four syslog outputs -----
tls_keys="ca_file = $T/ca.pem
tls_cert = $T/client.pem
tls_key = $T/client.key"
cat >"$T/replay.conf" <<CONF
[service]
state_dir    = $T/state
mappings_dir = $MS_SRCDIR/mappings
log_level    = info

[input.hostile]
type        = replay
path        = $FIX/hostile-records.jsonl
source_type = mimecast:ttp:url

[output.ref]
type = file
path = $T/ref.jsonl

[output.udp]
type         = syslog
host         = 127.0.0.1
port         = $P_UDP
transport    = udp
header       = rfc3164
rfc3164_time = utc
hostname     = rp-udp
format       = leef2
leef_delimiter = ^

[output.lf]
type      = syslog
host      = 127.0.0.1
port      = $P_LF
transport = tcp
framing   = lf
hostname  = rp-lf
format    = cef

[output.oc]
type      = syslog
host      = 127.0.0.1
port      = $P_OC
transport = tcp
framing   = octet-counting
hostname  = rp-oc
facility  = mail
format    = leef1

[output.tls]
type      = syslog
host      = 127.0.0.1
port      = $P_TLS
transport = tls
hostname  = rp-tls
format    = json
max_message_size = 1M
$tls_keys
CONF
"$MS_BIN" once -c "$T/replay.conf" 2>"$T/replay.err"
rc=$?
check "msfwd once delivers the hostile records to every output (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$T/replay.err"
nref=$(wc -l <"$T/ref.jsonl" 2>/dev/null || echo 0)
check "the mapping kept hostile records to compare with ($nref)" test "$nref" -gt 0

chk() { # chk "description" LOG EVENTS args...
    local desc=$1 log=$2 events=$3
    shift 3
    if "$PYTHON3" "$CHECK" check "$log" "$events" "$@" >"$T/check.out" 2>&1; then
        ok "$desc"
    else
        not_ok "$desc"
        diag_file "$T/check.out" 30
    fi
    grep '^# [0-9]' "$T/check.out"
}
chk "udp: LEEF 2.0 (^), RFC 3164: every field" "$T/udp.log" "$T/ref.jsonl" \
    --host rp-udp --format leef2 --delim '^' --header rfc3164 --utc --max 2048
chk "tcp LF: CEF, RFC 5424: every field" "$T/lf.log" "$T/ref.jsonl" --host rp-lf --format cef
chk "tcp octet-counting: LEEF 1.0, facility mail: every field" "$T/oc.log" "$T/ref.jsonl" \
    --host rp-oc --format leef1 --facility 2
chk "tls: JSON with raw, client certificate: every event" "$T/tls.log" "$T/ref.jsonl" \
    --host rp-tls --format json --max 1048576

# ---- 2. mapped-looking hostile events through the plugin itself ------------------------------
cat >"$T/inject.conf" <<CONF
[output.udp]
type = syslog
host = 127.0.0.1
port = $P_UDP
transport = udp
hostname = in-udp
format = leef2
leef_delimiter = x5e

[output.lf]
type = syslog
host = 127.0.0.1
port = $P_LF
transport = tcp
hostname = in-lf
format = leef2
leef_usrname = sender

[output.oc]
type = syslog
host = 127.0.0.1
port = $P_OC
transport = tcp
framing = octet-counting
header = rfc3164
rfc3164_time = utc
app_name =
hostname = in-oc
format = cef

[output.tls]
type = syslog
host = localhost
port = $P_TLS
hostname = in-tls
format = leef1
$tls_keys

[output.json]
type = syslog
host = 127.0.0.1
port = $P_LF
transport = tcp
hostname = in-json
format = json
include_raw = false
max_message_size = 1M

[output.tlsjson]
type = syslog
host = 127.0.0.1
port = $P_TLS
hostname = in-tlsjson
format = json
max_message_size = 1M
$tls_keys

[output.poison]
type = syslog
host = 127.0.0.1
port = $P_LF
transport = tcp
hostname = in-poison
format = json
include_raw = false

[output.badname]
type = syslog
host = 127.0.0.1
port = $P_TLS
hostname = in-badname
tls_server_name = wrong.example
connect_timeout = 2s
$tls_keys

[output.noverify]
type = syslog
host = 127.0.0.1
port = $P_TLS
hostname = in-noverify
tls_server_name = wrong.example
tls_verify = false
tls_cert = $T/client.pem
tls_key = $T/client.key
CONF
EV="$FIX/hostile-events.jsonl"
inject_failed=""
for o in udp lf oc tls json tlsjson; do
    if ! "$INJECT" "$T/inject.conf" "$o" "$EV" 5 20 >"$T/inject-$o.out" 2>&1; then
        inject_failed="$inject_failed $o"
        diag_file "$T/inject-$o.out" 10
    fi
done
check "the plugin delivered every event to all six outputs (failed:${inject_failed:- none})" \
    test -z "$inject_failed"
chk "udp: LEEF 2.0 (x5e), truncated at 2048 bytes, never split" "$T/udp.log" "$EV" \
    --host in-udp --format leef2 --delim '^' --max 2048
chk "tcp LF: LEEF 2.0 (tab), usrName from sender: every field" "$T/lf.log" "$EV" \
    --host in-lf --format leef2 --usrname sender
chk "tcp octet-counting: CEF, RFC 3164 without TAG: every field" "$T/oc.log" "$EV" \
    --host in-oc --format cef --header rfc3164 --utc --app ''
chk "tls (name localhost verified): LEEF 1.0: every field" "$T/tls.log" "$EV" \
    --host in-tls --format leef1
chk "tcp LF: JSON without raw" "$T/lf.log" "$EV" --host in-json --format json --no-raw --max 1048576
chk "tls: JSON with a 80 KB raw record in one frame" "$T/tls.log" "$EV" \
    --host in-tlsjson --format json --max 1048576
check "udp datagrams are at most 2048 bytes, some truncated to fit" env LC_ALL=C awk '
    index($0, " in-udp ") { n++; if (length($0) > 2048) bad++; if (length($0) > 2000) cut++ }
    END { exit !(n > 0 && !bad && cut > 0) }' "$T/udp.log"

# An event whose JSON would pass the 16 MiB message buffer (3 MB of raw control bytes, 6 bytes
# each once escaped) is dead-lettered; the event after it in the same batch is still delivered.
"$PYTHON3" - "$T/poison.jsonl" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b'{"id":"' + b"d" * 64 + b'","source_type":"x:y","subject":"' + b"\x01" * 3000000 + b'"}\n')
    f.write(b'{"id":"' + b"e" * 64 + b'","source_type":"x:y","subject":"after the poison"}\n')
PY
"$INJECT" "$T/inject.conf" poison "$T/poison.jsonl" 10 1 >"$T/poison.out" 2>&1
rc=$?
check "an event too large to encode does not block the batch (rc=$rc)" sh -c "test $rc -eq 0 &&
    grep -q ' in-poison .*\"id\":\"eeee' '$T/lf.log' && ! grep -q '\"id\":\"dddd' '$T/lf.log'"
check "it is kept in the dead-letter file, with the reason logged once" sh -c "
    grep -q '\"id\":\"dddd' '$T/deadletter/poison.jsonl' &&
    test \$(grep -c 'syslog: encoded event too large' '$T/poison.out') -eq 1"

head -n 1 "$EV" >"$T/one.jsonl"
"$INJECT" "$T/inject.conf" badname "$T/one.jsonl" 1 1 >"$T/badname.out" 2>&1
rc=$?
check "tls: a certificate for another name is refused (rc=$rc)" test $rc -ne 0
check "the refusal names the reason" grep -q "certificate of 127.0.0.1:$P_TLS (name wrong.example) refused: hostname mismatch" "$T/badname.out"
check "nothing of it reached syslog-ng" sh -c "! grep -q ' in-badname ' '$T/tls.log'"
"$INJECT" "$T/inject.conf" noverify "$T/one.jsonl" 1 5 >"$T/noverify.out" 2>&1
rc=$?
check "tls_verify = false connects anyway (rc=$rc)" test $rc -eq 0
check "and warns at start" grep -q "tls_verify = false: the certificate of 127.0.0.1 is not checked" "$T/noverify.out"

# ---- 3. configuration refusals (msfwd check: no network, no files needed) ---------------------
cat >"$T/bad.conf" <<CONF
[service]
state_dir = $T/state-bad
mappings_dir = $MS_SRCDIR/mappings
[input.x]
type = replay
path = $FIX/hostile-records.jsonl
source_type = x:y
[output.q]
type = syslog
host = 127.0.0.1
leef_delimiter = |
tls_cert = /nonexistent.pem
max_message_size = 100
CONF
"$MS_BIN" check -c "$T/bad.conf" 2>"$T/bad.err"
rc=$?
check "check refuses a bad syslog section with 78 (rc=$rc)" test $rc -eq 78
check "naming file, line and key of each problem" sh -c "
    grep -q 'bad.conf:11: \[output.q\] leef_delimiter: .|. is not a delimiter' '$T/bad.err' &&
    grep -q 'bad.conf:8: \[output.q\] tls_key: tls_cert and tls_key go together' '$T/bad.err' &&
    grep -q 'bad.conf:13: \[output.q\] max_message_size: 100 is too small' '$T/bad.err' &&
    test \$(grep -c 'output.q' '$T/bad.err') -eq 3"
[ $rc -eq 78 ] || diag_file "$T/bad.err"

# ---- 4. syslog-ng restarted while msfwd runs: reconnect, nothing lost -------------------------
rs_records() { # rs_records FROM TO
    local i
    for i in $(seq "$1" "$2"); do
        printf '{"userEmailAddress":"u%d@x.example","fromUserEmailAddress":"s=%d@evil.example","url":"https://e.example/%d?a=b","subject":"restart\\t%d|=","action":"block","scanResult":"malicious","date":"2026-11-14T19:00:%02d+0000","messageId":"<rs-%d@x>","sendingIp":"10.0.0.%d"}\n' \
            "$i" "$i" "$i" "$i" "$i" "$i" "$i"
    done
}
rs_records 1 5 >"$T/rs.jsonl"
cat >"$T/rs.conf" <<CONF
[service]
state_dir    = $T/state-rs
mappings_dir = $MS_SRCDIR/mappings
log_level    = debug

[input.rs]
type        = replay
path        = $T/rs.jsonl
source_type = mimecast:ttp:url
interval    = 1s

[output.ref]
type = file
path = $T/rs-ref.jsonl

[output.rs]
type      = syslog
host      = 127.0.0.1
port      = $P_RS
transport = tcp
hostname  = rs-tcp
retry_min = 200ms
retry_max = 1s

[output.rstls]
type      = syslog
host      = 127.0.0.1
port      = $P_TLS
hostname  = rs-tls
format    = cef
retry_min = 200ms
retry_max = 1s
$tls_keys
CONF
rs_count() { # rs_count N SECONDS: all N records arrived over TCP and TLS (at least once)
    "$PYTHON3" "$CHECK" check "$T/rs.log" "$T/rs-ref.jsonl" --host rs-tcp --format leef2 \
        --at-least-once --expect "$1" --wait "$2" >"$T/rs-check.out" 2>&1 &&
        "$PYTHON3" "$CHECK" check "$T/tls.log" "$T/rs-ref.jsonl" --host rs-tls --format cef \
            --at-least-once --expect "$1" --wait "$2" >>"$T/rs-check.out" 2>&1
}
spawn "$MS_BIN" run -c "$T/rs.conf" 2>"$T/rs.err"
MS_PID=$!
check "msfwd run delivers the first records over TCP and TLS" rs_count 5 15
stop_sng
rs_records 6 10 >>"$T/rs.jsonl"
wait_grep() { # wait_grep SECONDS PATTERN FILE
    local i=0
    while ! grep -q "$2" "$3" && [ $i -lt $(($1 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    grep -q "$2" "$3"
}
# msfwd polls, finds the peer gone before writing, and retries with backoff until it is back.
check "while syslog-ng is down, msfwd notices the closed TCP and TLS connections" bash -c "
    $(declare -f wait_grep); wait_grep 15 '127.0.0.1:$P_RS closed the connection; reconnecting' '$T/rs.err' &&
    wait_grep 15 '127.0.0.1:$P_TLS closed the connection; reconnecting' '$T/rs.err'"
check "and keeps the batch while it cannot connect" \
    wait_grep 15 "cannot connect to 127.0.0.1:$P_RS: Connection refused" "$T/rs.err"
start_sng
rs_records 11 15 >>"$T/rs.jsonl"
check "after the restart every record arrives (at least once)" rs_count 15 20
grep '^# [0-9]' "$T/rs-check.out"
[ -s "$T/rs-check.out" ] && grep -q FAIL "$T/rs-check.out" && diag_file "$T/rs-check.out"
check "the retried batch is reported delivered" grep -q "delivered after" "$T/rs.err"
nconn=$(grep -c "\[output:syslog:rs\] connected to 127.0.0.1:$P_RS" "$T/rs.err")
nbatch=$(grep -c "\[output:syslog:rs\] [0-9]* events sent" "$T/rs.err")
tconn=$(grep -c "\[output:syslog:rstls\] connected to 127.0.0.1:$P_TLS" "$T/rs.err")
check "one connection per syslog-ng lifetime, kept across batches (tcp $nconn, tls $tconn, $nbatch batches)" \
    test "$nconn" -eq 2 -a "$tconn" -eq 2 -a "$nbatch" -ge 3
kill "$MS_PID" 2>/dev/null
wait "$MS_PID"
rc=$?
check "msfwd stops cleanly on SIGTERM (rc=$rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$T/rs.err"
stop_sng
[ "$tap_failed" -eq 0 ] || diag_file "$T/sng.conf.out" 20
