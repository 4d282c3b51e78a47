#!/usr/bin/env python3
"""Checks what syslog-ng wrote for tests/integration/syslog.sh (stdlib only).

The log holds one raw syslog message per line ($RAWMSG). Each message is parsed (RFC 5424 or
3164 header, then LEEF 1.0/2.0, CEF or JSON) and every field is compared with what the encoder
must have made of the normalized event, computed here independently from the rules the output
documents: invalid UTF-8 -> U+FFFD (Python's decoder), C0/DEL/C1 dropped, LEEF values escape
\\ = CR LF TAB and never hold the delimiter, CEF escapes per its standard, JSON per RFC 8259.

  syslog_check.py check LOG EVENTS.jsonl --host NAME --format leef2|leef1|cef|json [options]
  syslog_check.py ports N
  syslog_check.py wait-tcp PORT... [--timeout S]
"""
import argparse
import calendar
import ipaddress
import json
import math
import re
import socket
import sys
import time

# ---- text rules -------------------------------------------------------------------------------


def clean(s):
    """Our bytes as the encoder saw them, decoded like the encoder: bad UTF-8 -> U+FFFD."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def drop_ctl(t, keep=""):
    return "".join(ch for ch in t
                   if not ((ord(ch) < 0x20 and ch not in keep) or 0x7F <= ord(ch) <= 0x9F))


def cstr(s):
    """A C string view of a JSON string: it ends at the first NUL."""
    return s.split("\x00", 1)[0]


def leef_san(delim):
    def f(s):
        t = drop_ctl(clean(s), "\t\n\r")
        return t.replace(delim, " ") if delim != "\t" else t
    return f


def leef_esc(t):
    return (t.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))


def cef_san(s):
    return drop_ctl(clean(s).replace("\t", " "), "\n\r")


def cef_esc(t):
    return t.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def cef_hdr_san(s):
    return drop_ctl(re.sub("[\t\n\r]", " ", clean(cstr(s))))


def cef_hdr_esc(t):
    return t.replace("\\", "\\\\").replace("|", "\\|")


def leef_hdr_san(s):
    t = re.sub("[\t\n\r]", " ", clean(cstr(s)))
    return drop_ctl(t.replace("|", "_").replace("\\", "_"))


def unescape(raw, table):
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw) and raw[i + 1] in table:
            out.append(table[raw[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


LEEF_UNESC = {"\\": "\\", "=": "=", "n": "\n", "r": "\r", "t": "\t"}
CEF_UNESC = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}
CEF_HDR_UNESC = {"\\": "\\", "|": "|"}


def nbytes(t):
    return len(t.encode("utf-8"))


def cut_bytes(t, cap):
    """Longest prefix of t whose UTF-8 length is <= cap (whole characters)."""
    b = t.encode("utf-8")[:cap]
    return b.decode("utf-8", "ignore")


# ---- event views (mirror of format_util.c's lookups) ------------------------------------------


def scalar(v):
    if v is None or isinstance(v, (list, dict)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%.15g" % v if math.isfinite(v) else None
    return v


def value(v, san):
    """sl_put_value: scalars as text, arrays of scalars joined by ','; None when nothing."""
    if isinstance(v, list):
        parts = [san(scalar(e)) for e in v if scalar(e) is not None]
        t = ",".join(p for p in parts if p)
    else:
        s = scalar(v)
        t = san(s) if s is not None else ""
    return t or None


def int_of(v):
    """sl_ev_int."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return max(min(v, 2**63 - 1), -2**63)
    if isinstance(v, float):
        return int(v) if math.isfinite(v) and abs(v) <= 9e18 else None
    if isinstance(v, str) and re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", cstr(v)):
        n = int(cstr(v))
        return n if -2**63 <= n < 2**63 else None
    return None


TIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                     r"(?:([Zz])|([+-])(\d\d):?(\d\d))")


def epoch_ms(v):
    """sl_time_parse."""
    if not isinstance(v, str):
        return None
    m = TIME_RE.fullmatch(v)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.group(1, 2, 3, 4, 5, 6))
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h <= 23 and mi <= 59
            and s <= 60):
        return None
    if m.group(9) and (int(m.group(10)) > 23 or int(m.group(11)) > 59):
        return None
    frac = int((m.group(7) or "0")[:3].ljust(3, "0"))
    off = 0
    if m.group(9):
        off = (int(m.group(10)) * 60 + int(m.group(11))) * (-1 if m.group(9) == "-" else 1)
    return (calendar.timegm((y, mo, d, h, mi, min(s, 59))) - off * 60) * 1000 + frac


def is_ip(s):
    if not isinstance(s, str) or "%" in s or len(s) > 45:
        return False
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def sstr(ev, k):
    v = ev.get(k) if isinstance(ev, dict) else None
    return v if isinstance(v, str) else None


PROFILES = {
    "mimecast:ttp:url": ("Mimecast", "Email Security", "2.0", "TTP_URL", None,
                         ["vendor_action", "action"], ["blocked", "warned", "allowed"]),
    "mimecast:ttp:attachment": ("Mimecast", "Email Security", "2.0", "TTP_Attachment", None,
                                ["category", "vendor_action"],
                                ["malicious", "suspicious", "timeout", "unknown"]),
    "mimecast:ttp:impersonation": ("Mimecast", "Email Security", "2.0", "TTP_Impersonation", None,
                                   ["vendor_action", "action"], ["hold", "bounce", "tag", "none"]),
    "mimecast:message-tracking": ("Mimecast", "Email Security", "2.0", "Message_Tracking", None,
                                  ["vendor_action", "action"],
                                  ["delivered", "held", "rejected", "bounced", "deferred",
                                   "accepted", "archived"]),
    "pps:quarantine": ("Proofpoint", "Protection Server", "v1", "PPS_Quarantine", "quarantined",
                       None, None),
    "ser:summary": ("Proofpoint", "Secure Email Relay", "v1", "SER_Usage_Summary", "usage", None,
                    None),
    "ser:entitlement": ("Proofpoint", "Secure Email Relay", "v1", "SER_Entitlement", "entitlement",
                        None, None),
}
FALLBACK = (None, None, "1.0", None, None, ["category", "action"], None)


def source_type(ev):
    st = sstr(ev, "source_type")
    return cstr(st)[:63] if st is not None else ""


def derived_id(st):
    if not st:
        return "EVENT"
    return "".join(c.upper() if c.isascii() and c.isalnum() else "_" for c in st)


def header_fields(ev):
    st = source_type(ev)
    p = PROFILES.get(st, FALLBACK)

    def pick(prof, key, default):
        if prof is not None:
            return prof
        v = sstr(ev, key)
        return v if v and cstr(v) else default
    return (pick(p[0], "vendor", "Unknown"), pick(p[1], "product", "Unknown"), p[2],
            p[3] if p[3] else derived_id(st), p)


def cat_of(ev, p):
    if p[4]:
        return p[4]
    s = None
    for k in p[5] or []:
        s = sstr(ev, k)
        if s is not None:
            break
    if s is None:
        return "other"
    b = cstr(s).encode("utf-8", "surrogateescape").strip(b" \t")
    if not b or len(b) >= 64:
        return "other"
    b = bytes(c + 32 if 65 <= c <= 90 else c for c in b)
    if p[6]:
        v = b.decode("latin-1")
        for c in p[6]:
            if c == v or c == v + "ed" or c == v + "d":
                return c
        return "other"
    return "".join(chr(c) if (97 <= c <= 122 or 48 <= c <= 57 or c in (45, 95)) else "_" for c in b)


def first_of(v):
    if not isinstance(v, list):
        return v
    for e in v:
        if isinstance(e, str) and e:
            return e
    return None


def syslog_sev(ev):
    s = int_of(ev.get("severity")) if isinstance(ev, dict) else None
    if s is None:
        return 6
    return 2 if s >= 9 else 3 if s >= 7 else 4 if s >= 4 else 5 if s >= 1 else 6


# ---- expected payloads ------------------------------------------------------------------------
# An attribute is (key, decoded value, cap in escaped bytes).


def leef_expected(ev, delim, usrname="recipient"):
    san = leef_san(delim)
    vendor, product, version, event_id, p = header_fields(ev)
    hdr = [leef_hdr_san(x) for x in (vendor, product, version, event_id)]
    a = []
    ok = isinstance(ev, dict)
    get = ev.get if ok else (lambda k: None)

    def add(k, v, cap=4000):
        t = value(v, san)
        if t is not None:
            a.append((k, t, cap))
    t = epoch_ms(get("time"))
    if t is not None:
        a.append(("devTime", str(t), 4000))
    a.append(("cat", cat_of(ev if ok else {}, p), 64))
    sev = int_of(get("severity"))
    if sev is not None:
        a.append(("sev", str(min(max(sev, 1), 10)), 4000))
    if is_ip(sstr(ev, "src_ip") if ok else None):
        add("src", get("src_ip"))
    n = int_of(get("src_port"))
    if n is not None and 0 <= n <= 65535:
        a.append(("srcPort", str(n), 4000))
    dest = sstr(ev, "dest") if ok else None
    if is_ip(dest):
        add("dst", dest)
    n = int_of(get("dest_port"))
    if n is not None and 0 <= n <= 65535:
        a.append(("dstPort", str(n), 4000))
    add("proto", get("protocol"))
    add("usrName", first_of(get(usrname)), 255)
    add("suser", get("sender"))
    add("duser", get("recipient"))
    add("accountName", get("user"), 255)
    add("url", get("url"))
    add("policy", get("signature"))
    add("resource", get("file_name"))
    add("fileHash", get("file_hash"))
    add("subject", get("subject"))
    add("messageId", get("message_id"))
    add("internalMessageId", get("internal_message_id"))
    add("alertType", get("alert_type"))
    add("action", get("action"))
    add("vendorAction", get("vendor_action"))
    m = get("mitre")
    if isinstance(m, dict):
        if "technique_id" in m:
            add("mitreTechnique", m["technique_id"])
        if "technique_name" in m:
            add("mitreTechniqueName", m["technique_name"])
    if dest is not None and not is_ip(dest):
        add("destHost", dest)
    n = int_of(get("size"))
    if n is not None:
        a.append(("size", str(n), 4000))
    add("eventId", get("id"))
    st = source_type(ev) if ok else ""
    if st:
        add("sourceType", st)
    return hdr, a


def cef_expected(ev):
    vendor, product, version, class_id, p = header_fields(ev)
    ok = isinstance(ev, dict)
    get = ev.get if ok else (lambda k: None)
    name = sstr(ev, "alert_type") if ok else None
    name = name if name and cstr(name) else class_id
    sev = int_of(get("severity"))
    hdr = [(cef_hdr_san(vendor), 63), (cef_hdr_san(product), 63), (cef_hdr_san(version), 31),
           (cef_hdr_san(class_id), 1023), (cef_hdr_san(name), 512)]
    sev_s = str(min(max(sev, 0), 10)) if sev is not None else "Unknown"
    a = []

    def add(k, v, cap):
        t = value(v, cef_san)
        if t is not None:
            a.append((k, t, cap))
            return True
        return False

    def labeled(slot, label, v, cap):
        t = value(v, cef_san)
        if t is not None:
            a.append((slot + "Label", label, 1023))
            a.append((slot, t, cap))
    t = epoch_ms(get("time"))
    if t is not None:
        a.append(("rt", str(t), 4000))
    a.append(("cat", cat_of(ev if ok else {}, p), 64))
    add("act", get("action"), 63)
    add("suser", get("sender"), 1023)
    add("duser", get("recipient"), 1023)
    if is_ip(sstr(ev, "src_ip") if ok else None):
        add("src", get("src_ip"), 1023)
    n = int_of(get("src_port"))
    if n is not None and 0 <= n <= 65535:
        a.append(("spt", str(n), 4000))
    dest = sstr(ev, "dest") if ok else None
    if dest is not None:
        add("dst" if is_ip(dest) else "dhost", dest, 1023)
    n = int_of(get("dest_port"))
    if n is not None and 0 <= n <= 65535:
        a.append(("dpt", str(n), 4000))
    add("app", get("protocol"), 31)
    add("request", get("url"), 1023)
    add("fname", get("file_name"), 1023)
    add("fileHash", get("file_hash"), 255)
    add("reason", get("signature"), 1023)
    labeled("cs1", "subject", get("subject"), 4000)
    labeled("cs2", "messageId", get("message_id"), 4000)
    m = get("mitre")
    if isinstance(m, dict):
        if "technique_id" in m:
            labeled("cs3", "mitreTechnique", m["technique_id"], 4000)
        if "technique_name" in m:
            labeled("flexString1", "mitreTechniqueName", m["technique_name"], 1023)
    labeled("cs4", "eventId", get("id"), 4000)
    st = source_type(ev) if ok else ""
    if st:
        labeled("cs5", "sourceType", st, 4000)
    labeled("cs6", "internalMessageId", get("internal_message_id"), 4000)
    labeled("flexString2", "vendorAction", get("vendor_action"), 1023)
    n = int_of(get("size"))
    if n is not None:
        a.append(("cn1Label", "size", 1023))
        a.append(("cn1", str(n), 1023))
    return hdr, sev_s, a


def json_expected(v, include_raw, top=True):
    if isinstance(v, dict):
        return {clean(k): json_expected(x, include_raw, False) for k, x in v.items()
                if include_raw or not top or k != "raw"}
    if isinstance(v, list):
        return [json_expected(x, include_raw, False) for x in v]
    if isinstance(v, str):
        return clean(v)
    return v


# ---- parsing what arrived ---------------------------------------------------------------------

H5424 = re.compile(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) - - - (.*)", re.S)
H3164 = re.compile(r"<(\d{1,3})>([A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) (\S+) (.*)", re.S)


def parse_header(line, kind, app):
    if kind == "rfc5424":
        m = H5424.fullmatch(line)
        if not m:
            return None
        return {"pri": int(m.group(1)), "ts": m.group(2), "host": m.group(3), "app": m.group(4),
                "msg": m.group(5)}
    m = H3164.fullmatch(line)
    if not m:
        return None
    msg = m.group(4)
    tag = None
    if app:
        if not msg.startswith(app + ": "):
            return None
        tag, msg = app, msg[len(app) + 2:]
    return {"pri": int(m.group(1)), "ts": m.group(2), "host": m.group(3), "app": tag, "msg": msg}


def parse_leef(msg, v1):
    n = 5 if v1 else 6
    parts = msg.split("|", n)
    if len(parts) != n + 1 or parts[0] != ("LEEF:1.0" if v1 else "LEEF:2.0"):
        raise AssertionError("not a LEEF %s header: %r" % ("1.0" if v1 else "2.0", msg[:80]))
    if v1:
        delim = "\t"
    else:
        d = parts[5]
        delim = "\t" if d in ("x09", "0x09") else (chr(int(d[1:], 16)) if len(d) > 1 else d)
    attrs = []
    body = parts[n]
    if body:
        for item in body.split(delim):
            k, sep, v = item.partition("=")
            attrs.append((k, unescape(v, LEEF_UNESC), v, sep == "="))
    return parts[1:5], delim, attrs


def split_cef_header(msg):
    fields = []
    cur = []
    i = 0
    while len(fields) < 7:
        if i >= len(msg):
            raise AssertionError("short CEF header: %r" % msg[:120])
        c = msg[i]
        if c == "\\" and i + 1 < len(msg):
            cur.append(msg[i:i + 2])
            i += 2
            continue
        if c == "|":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    return fields, msg[i:]


def unescaped_eqs(s):
    out = []
    for i, c in enumerate(s):
        if c == "=":
            bs = 0
            j = i - 1
            while j >= 0 and s[j] == "\\":
                bs += 1
                j -= 1
            if bs % 2 == 0:
                out.append(i)
    return out


def parse_cef_ext(ext):
    eqs = unescaped_eqs(ext)
    keys = []
    for p in eqs:
        start = ext.rfind(" ", 0, p) + 1
        keys.append((start, p))
    attrs = []
    for i, (start, p) in enumerate(keys):
        end = keys[i + 1][0] - 1 if i + 1 < len(keys) else len(ext)
        raw = ext[p + 1:end]
        attrs.append((ext[start:p], unescape(raw, CEF_UNESC), raw, True))
    return attrs


# ---- comparison -------------------------------------------------------------------------------


class Mismatch(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


def compare_value(key, got, raw, exp, cap, esc):
    """got: decoded value, raw: as sent; exp: expected decoded value; esc: the encoder's escaping."""
    want_raw = esc(exp)
    if nbytes(want_raw) <= cap:
        expect(got == exp, "%s: got %r, want %r" % (key, got[:200], exp[:200]))
        expect(raw == want_raw, "%s: sent as %r, want %r" % (key, raw[:200], want_raw[:200]))
    else:
        expect(want_raw.startswith(raw), "%s: %r is not a prefix of %r" % (key, raw[:80], want_raw[:80]))
        expect(cap - 8 < nbytes(raw) <= cap, "%s: %d escaped bytes, cap %d" % (key, nbytes(raw), cap))


def compare_attrs(got, exp, esc, truncated):
    """got: [(key, decoded, raw, has_eq)], exp: [(key, decoded, cap)]."""
    if not truncated:
        expect([g[0] for g in got] == [e[0] for e in exp],
               "keys %s, want %s" % ([g[0] for g in got], [e[0] for e in exp]))
    expect(len(got) <= len(exp), "more attributes than expected: %s" % [g[0] for g in got])
    for i, g in enumerate(got):
        e = exp[i]
        last = truncated and i == len(got) - 1
        if last and (not g[3] or g[0] != e[0]):
            expect(e[0].startswith(g[0]), "truncated key %r is not a prefix of %r" % (g[0], e[0]))
            continue
        expect(g[0] == e[0], "key %r, want %r" % (g[0], e[0]))
        if last:
            expect(esc(e[1]).startswith(g[2]),
                   "truncated %s: %r not a prefix of %r" % (g[0], g[2][:80], esc(e[1])[:80]))
        else:
            compare_value(g[0], g[1], g[2], e[1], e[2], esc)


def check_message(line, ev, a):
    """Raises Mismatch when line is not what ev must have become."""
    raw_len = len(line.encode("utf-8"))
    expect(raw_len <= a.max, "message of %d bytes exceeds %d" % (raw_len, a.max))
    truncated = raw_len > a.max - 16
    h = parse_header(line, a.header, a.app)
    expect(h is not None, "header does not parse: %r" % line[:120])
    expect(h["host"] == a.host, "hostname %r, want %r" % (h["host"], a.host))
    if a.header == "rfc5424":
        expect(h["app"] == (a.app or "-"), "app %r" % h["app"])
    expect(h["pri"] == a.facility * 8 + syslog_sev(ev), "PRI %d for severity %r" %
           (h["pri"], ev.get("severity") if isinstance(ev, dict) else None))
    t = epoch_ms(ev.get("time")) if isinstance(ev, dict) else None
    if t is not None:
        if a.header == "rfc5424":
            want = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000)) + ".%03dZ" % (t % 1000)
        else:
            g = time.gmtime(t // 1000) if a.utc else time.localtime(t // 1000)
            want = time.strftime("%b ", g) + "%2d" % g.tm_mday + time.strftime(" %H:%M:%S", g)
        expect(h["ts"] == want, "timestamp %r, want %r" % (h["ts"], want))
    msg = h["msg"]
    if a.format in ("leef1", "leef2"):
        hdr, delim, got = parse_leef(msg, a.format == "leef1")
        ehdr, exp = leef_expected(ev, "\t" if a.format == "leef1" else a.delim, a.usrname)
        expect(hdr == [cut_bytes(x, 255) for x in ehdr], "LEEF header %r, want %r" % (hdr, ehdr))
        if a.format == "leef2":
            expect(delim == a.delim, "delimiter %r" % delim)
        compare_attrs(got, exp, leef_esc, truncated)
        return ev.get("id") if isinstance(ev, dict) else None
    if a.format == "cef":
        fields, ext = split_cef_header(msg)
        expect(fields[0] == "CEF:0", "CEF version %r" % fields[0])
        ehdr, esev, exp = cef_expected(ev)
        for (gf, (ef, cap)) in zip(fields[1:6], ehdr):
            compare_value("header", unescape(gf, CEF_HDR_UNESC), gf, ef, cap, cef_hdr_esc)
        expect(fields[6] == esev, "severity %r, want %r" % (fields[6], esev))
        compare_attrs(parse_cef_ext(ext), exp, cef_esc, truncated)
        return ev.get("id") if isinstance(ev, dict) else None
    got = json.loads(msg)
    expect(got == json_expected(ev, a.include_raw), "JSON differs for %s" % ev.get("id"))
    expect("\n" not in msg and "\r" not in msg, "raw line break in JSON")
    return None


def load_events(path):
    with open(path, "rb") as f:
        return [json.loads(l.decode("utf-8", "surrogateescape")) for l in f if l.strip()]


def load_lines(path, a):
    """The messages of one output: those whose header parses as configured with its hostname."""
    out = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    for raw in data.split(b"\n"):
        if not raw:
            continue
        line = raw.decode("utf-8")  # strict: everything we send is valid UTF-8
        h = parse_header(line, a.header, a.app)
        if h and h["host"] == a.host:
            out.append(line)
    return out


def find_id(line, a):
    m = re.search(r"(?:eventId=|cs4=)([0-9a-f]{64})", line)
    if m:
        return m.group(1)
    m = re.search(r'"id":"([0-9a-f]{64})"', line)
    return m.group(1) if m else None


def cmd_check(a):
    deadline = time.time() + a.wait
    while True:
        events = load_events(a.events)
        lines = load_lines(a.log, a)
        ids = {find_id(l, a) for l in lines}
        done = (len(events) >= a.expect and
                (all(e.get("id") in ids for e in events) if a.at_least_once
                 else len(lines) >= len(events)))
        if done or time.time() >= deadline:
            break
        time.sleep(0.1)
    fails = []
    if a.expect and len(events) != a.expect:
        fails.append("%d events in %s, want %d" % (len(events), a.events, a.expect))
    if not events:
        fails.append("no events to compare with")
    if a.at_least_once:
        by_id = {e["id"]: e for e in events}
        seen = {}
        for line in lines:
            i = find_id(line, a)
            if i not in by_id:
                fails.append("unknown message: %r" % line[:120])
                continue
            seen[i] = seen.get(i, 0) + 1
            try:
                check_message(line, by_id[i], a)
            except (Mismatch, AssertionError, ValueError) as e:
                fails.append("%s: %s" % (i[:12], e))
        missing = [i for i in by_id if i not in seen]
        dups = sum(n - 1 for n in seen.values())
        print("# %d events, %d received, %d missing, %d duplicates" %
              (len(by_id), len(lines), len(missing), dups))
        fails += ["missing %s" % i[:12] for i in missing]
    else:
        if len(lines) != len(events):
            fails.append("%d messages for host %s, want %d" % (len(lines), a.host, len(events)))
        for n, (line, ev) in enumerate(zip(lines, events)):
            try:
                check_message(line, ev, a)
            except (Mismatch, AssertionError, ValueError) as e:
                fails.append("event %d (%s): %s" % (n, str(ev.get("id"))[:12], e))
        print("# %d events, %d messages checked" % (len(events), len(lines)))
    for f in fails[:20]:
        print("# FAIL " + f)
    return 1 if fails else 0


def cmd_ports(a):
    socks = []
    for _ in range(a.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    # Also free for UDP: pick ports not bound by anyone on UDP either.
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()
    return 0


def cmd_wait_tcp(a):
    deadline = time.time() + a.timeout
    for p in a.ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    print("# port %d not listening" % p)
                    return 1
                time.sleep(0.1)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("log")
    c.add_argument("events")
    c.add_argument("--host", required=True)
    c.add_argument("--format", required=True, choices=["leef1", "leef2", "cef", "json"])
    c.add_argument("--header", default="rfc5424", choices=["rfc5424", "rfc3164"])
    c.add_argument("--app", default="msfwd")
    c.add_argument("--facility", type=int, default=16)
    c.add_argument("--delim", default="\t")
    c.add_argument("--usrname", default="recipient")
    c.add_argument("--max", type=int, default=65536)
    c.add_argument("--utc", action="store_true")
    c.add_argument("--no-raw", dest="include_raw", action="store_false")
    c.add_argument("--at-least-once", action="store_true")
    c.add_argument("--wait", type=float, default=10, help="seconds to wait for every message")
    c.add_argument("--expect", type=int, default=0, help="number of events EVENTS must hold")
    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    w = sub.add_parser("wait-tcp")
    w.add_argument("ports", type=int, nargs="+")
    w.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()
    return {"check": cmd_check, "ports": cmd_ports, "wait-tcp": cmd_wait_tcp}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
