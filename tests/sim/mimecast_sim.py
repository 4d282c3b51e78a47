#!/usr/bin/env python3
"""Mimecast API simulator for msfwd tests (stdlib only, 127.0.0.1 only).

Implements, after /work/shared/specs/mimecast-api.md (section numbers below refer to it):
  POST /oauth/token                          API 2.0 client credentials (form-encoded)        §2.1
  POST /api/ttp/attachment/get-logs          data[0].attachmentLogs[]     time field date      §4
  POST /api/ttp/impersonation/get-logs       data[0].impersonationLogs[]  time field eventTime §5
  POST /api/ttp/url/get-logs                 data[0].clickLogs[]          time field date      §6
  POST /api/message-finder/search            data[0].trackedEmails[]      time field received  §7.1
  POST /api/message-finder/get-message-info  data[0] (one object per id; carries verdict.risk) §7.2
Every /api/ call accepts API 2.0 (Authorization: Bearer) or API 1.0 (Authorization: MC key:sig,
HMAC-SHA1, §1.1), answers the {meta, data, fail} envelope (§3), carries X-RateLimit-* headers (§3.5)
and pages with opaque tokens that carry the query (§3.2, §14.4).

Control endpoints (besides simlib's /_sim/health, /_sim/fault, /_sim/stats):
  POST /_sim/add      {"stream": S, "count": N, "date": ISO (optional; default now)} or
                      {"stream": S, "count": N, "dates": [ISO, ...]} (N records at each date)
                      -> {"stream", "records": [...]}
  GET  /_sim/records?stream=S[&details=1]  every record of S, oldest first (ties: insertion order)
  GET  /_sim/config   current runtime switches;  POST /_sim/config {key: value, ...} changes them
  POST /_sim/fault    kinds: 5xx (param status), slow (param seconds), truncated (param declared:
                      "full"|"cut"), invalid_json, 429_storm (param reset_ms), fail (HTTP 200 with
                      fail[]; params code, message, field, retryable, meta_status, style "v1"|"v2",
                      empty: fail [] with only meta.status), revoke_token (acts at once, or
                      with after/stream when that request comes), clear
                      (param which). Params for every kind: count (default 1, -1 = until cleared),
                      target "api" (default) | "oauth" | "all", after N (let N eligible requests
                      pass first), stream S (only requests of stream S; "message_info" for
                      get-message-info).

Choices where the spec is silent are marked [I] in comments and listed in GAP_CHOICES below.
"""
import base64
import bisect
import calendar
import datetime
import hashlib
import hmac
import html
import json
import os
import random
import re
import secrets
import socket
import sys
import threading
import time
import zlib
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Faults, SimHandler, SimServer, base_arg_parser, serve  # noqa: E402

GAP_CHOICES = """
[I] choices made where the spec has a gap (see --help-gaps):
 * Bad /oauth/token credentials: HTTP 401 {"meta":{"status":401},"data":[],"fail":[{"code":"invalid_client",
   "message":...}]} (2.0 fail items carry code/message directly, §3.3); bad grant_type 400
   unsupported_grant_type; body not form-encoded 400 invalid_request.
 * Bearer expired, revoked or unknown: 401 fail[0].code "token_expired" (checklist §14.2; R7 re-auths on it).
   No Authorization at all: 401 fail[0].code "unauthorized".
 * API 1.0: bad signature or unknown access key -> 401 err_xdk_invalid_signature "0004 Invalid Signature"
   (R7 unit-test mock); stale/unparsable x-mc-date -> 401 err_xdk_invalid_date; missing/unknown x-mc-app-id
   -> 401 err_developer_key; missing headers -> 401 err_xdk_missing_header; expired binding -> 418
   err_xdk_binding_expired (checked before the signature). x-mc-date accepts "UTC" and "GMT"; skew
   window default 900 s (negative disables).
 * Rate limit: token bucket per credential (2.0: client id, 1.0: access key), capacity = limit, one call
   added back every window/limit ms. X-RateLimit-Reset = ms until the next call is added back (0 when the
   bucket is full). /oauth/token is not rate limited and carries no rate headers. Auth failures do not
   consume. 429 body is the envelope with err_rate_limit_exceeded, or {"detail": ...} (rate_limit_body).
 * pageSize: default 100, numbers or numeric strings, larger than max (default 500) is clamped; < 1 or
   not a number is a fail. Response meta.pagination.pageSize = records in this page; totalCount = all
   matches of the query; "previous" given when the page does not start at 0.
 * Tokens: base64url(zlib(JSON)) (looks like Mimecast's eNq... ids) with a MAC keyed by the seed. They
   carry the resolved query (defaults filled in), the offset and a snapshot of the store (records added
   after the first page are not seen by that walk; switch snapshot_pages off for live re-evaluation).
   A repeated data[] alongside a token is ignored. A bad or foreign token is a fail on HTTP 200.
 * from/to (start/end for message-finder) are inclusive, 1 s resolution; accepted offsets Z, +0000,
   +00:00 and any other +hh[:]mm; a time without an offset is refused. Defaults: from = start of the
   current UTC day, to = time of the request (real clock; --now only anchors the generated data).
 * scanResult default "malicious" (analogy with result, §6). Enum filters are case-insensitive.
   More than one data[] item on a log endpoint is a fail (err_validation_too_many_items).
 * Ordering: newest first by time then insertion order reversed; oldestFirst the exact reverse.
 * Last-page quirk: the last page with records still has "next"; following it yields
   {"pagination":{"pageSize":0,"totalCount":N,"next":...}, "data": []} whose "next" points to itself.
   A query with no match answers that page at once. Without the quirk an empty result is
   data[0].<list> = [] with no "next".
 * Impersonation data[0].resultCount = totalCount. Record values beyond the fixtures (timeout/error
   attachment results, route "external", extra categories, message-finder info texts) are invented.
 * Message-finder search: messageId xor advancedTrackAndTraceOptions (an empty options object is
   allowed = no field filter); from/to match an address exactly or a domain (with or without "@");
   subject is a case-insensitive substring; route/status arrays at data[0] level (GS) and
   options.route (string or array). Risk is not a search filter (§7.1): it is in get-message-info.
 * Malformed JSON request body: HTTP 400 with the envelope; semantic errors: HTTP 200 + fail[].
 * A refused page token is fail[0].errors[0] {field: "pageToken", code: "err_pagination_invalid_token"}
   on HTTP 200 (the real code is not documented). The "fail" fault produces any such answer on demand.
"""

TIME_FMT = "%Y-%m-%dT%H:%M:%S+0000"
DEFAULT_SECRET_B64 = "c2ltdWxhdG9yLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5"  # §1.1 test vector
DEFAULT_APP_KEY = "00000000-1111-2222-3333-444444444444"


# ================================================================================================
# time helpers
# ================================================================================================
def fmt_time(epoch):
    """Response time format: yyyy-MM-dd'T'HH:mm:ss+0000 (§3.6)."""
    return time.strftime(TIME_FMT, time.gmtime(int(epoch)))


_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def parse_iso(text):
    """ISO 8601 with Z, +0000, +00:00 (or any offset) -> epoch seconds (fraction dropped)."""
    m = _ISO_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError("not an ISO 8601 time with offset: %r" % (text,))
    try:
        when = datetime.datetime(*(int(m.group(i)) for i in range(1, 7)), tzinfo=datetime.timezone.utc)
    except ValueError:
        raise ValueError("invalid date: %r" % text)
    epoch = calendar.timegm(when.utctimetuple())
    off = m.group(8)
    if off != "Z":
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return epoch


_MC_DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                         r" (\d{4}) (\d{2}):(\d{2}):(\d{2}) (UTC|GMT)$")
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def parse_mc_date(text):
    """x-mc-date: 'Tue, 24 Nov 2015 12:50:11 UTC' (GMT accepted too, [I] §1.1) -> epoch."""
    m = _MC_DATE_RE.match(text or "")
    if not m:
        raise ValueError("bad x-mc-date")
    return calendar.timegm((int(m.group(4)), _MONTHS.index(m.group(3)) + 1, int(m.group(2)),
                            int(m.group(5)), int(m.group(6)), int(m.group(7)), 0, 0, 0))


def start_of_day(epoch):
    return int(epoch) - int(epoch) % 86400


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def opaque_id(payload):
    """An id that looks like Mimecast's: base64url of zlib level 9 (starts with 'eNo'/'eNp'/'eNq')."""
    return b64url(zlib.compress(payload.encode("utf-8"), 9))


def sign_v1(secret_b64, date, req_id, uri, app_key):
    """API 1.0 signature (§1.1): base64(HMAC-SHA1(b64decode(secret), date:reqid:uri:appkey))."""
    data = ":".join([date, req_id, uri, app_key]).encode("utf-8")
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), data, hashlib.sha1).digest()).decode("ascii")


# ================================================================================================
# streams and the record generator
# ================================================================================================
class StreamSpec:
    def __init__(self, name, path, list_key, time_field):
        self.name, self.path, self.list_key, self.time_field = name, path, list_key, time_field


STREAMS = {
    "ttp_attachment": StreamSpec("ttp_attachment", "/api/ttp/attachment/get-logs", "attachmentLogs", "date"),
    "ttp_impersonation": StreamSpec("ttp_impersonation", "/api/ttp/impersonation/get-logs",
                                    "impersonationLogs", "eventTime"),
    "ttp_url": StreamSpec("ttp_url", "/api/ttp/url/get-logs", "clickLogs", "date"),
    "message_tracking": StreamSpec("message_tracking", "/api/message-finder/search", "trackedEmails", "received"),
}
RECORD_KEYS = {  # what makes a record unique (§13.1 dedup keys; impersonation and tracking have an id)
    "ttp_attachment": ("messageId", "date", "fileHash", "recipientAddress"),
    "ttp_impersonation": ("id",),
    "ttp_url": ("messageId", "date", "userEmailAddress", "url"),
    "message_tracking": ("id",),
}
PATH_TO_STREAM = {s.path: s.name for s in STREAMS.values()}
MESSAGE_INFO_PATH = "/api/message-finder/get-message-info"

INTERNAL_DOMAINS = ["acme.example", "acme-labs.example"]
FIRST_NAMES = ["Emily", "James", "Sofia", "Liam", "Yuki", "Hans", "Chloe", "Mateo", "Aisha", "Noah", "Olga",
               "Ravi", "Zoe", "Lukas", "Mia", "Kenji", "Ana", "Omar", "Ella", "Finn"]
LAST_NAMES = ["Doe", "Smith", "Tanaka", "Garcia", "Schmidt", "Nguyen", "Rossi", "Kowalski", "Okafor",
              "Johansson", "Dubois", "Silva", "Weber", "Khan", "Murphy"]
LEGIT_DOMAINS = ["shipping-co.test", "travel-deals.test", "saas-vendor.test", "partner-bank.test",
                 "newsletter.example.org", "supplier-gmbh.test", "law-firm.test", "mail.example.net"]
BAD_DOMAINS = ["acme-examp1e.test", "micros0ft-support.test", "secure-paypa1.test", "docu-sign-review.test",
               "acrne.example", "invoice-portal.test", "evaluation-fuzz.test", "wire-dept.test"]
LOCALS = ["noreply", "billing", "news", "support", "info", "hr", "invoices", "j.martin", "a.lee", "ceo",
          "accounts", "it-helpdesk", "notifications"]
SUBJECTS = [
    "Invoice #{n} overdue", "Your mailbox is almost full", "RE: Q3 budget", "Shared document: {file}",
    "Action required: verify your account", "Rechnung Nr. {n} \u2013 Zahlungserinnerung",
    "\u3010\u91cd\u8981\u3011\u30d1\u30b9\u30ef\u30fc\u30c9\u306e"  # Japanese: password expiry notice
    "\u6709\u52b9\u671f\u9650\u304c\u8fd1\u3065\u3044\u3066\u3044\u307e\u3059",
    "Payment confirmation \"urgent\"", "FW: Sales deck (final) \\ v2", "Lunch on Friday?",
    "DocuSign: Please review and sign", "Voicemail from +1 555 0{n3}", "Super sales to Las Vegas, Europe and more!",
    "RE", "Wire transfer request", "Facture n\u00b0{n} \u00e0 r\u00e9gler", "Password reset\tnotice", "",
]
FILES = {  # (name template, mime type)
    "clean": [("invoice_{n}.pdf", "application/pdf"),
              ("Q3_report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              ("War_of_Worlds_script.doc", "text/rtf"), ("photo_{n}.jpg", "image/jpeg"),
              ("README.txt", "text/plain"), ("Angebot M\u00e4rz.pdf", "application/pdf")],
    "bad": [("scan_{n}.zip", "application/zip"), ("setup.exe", "application/x-msdownload"),
            ("Rechnung_{n}.docm", "application/vnd.ms-word.document.macroEnabled.12"),
            ("payload.js", "application/javascript"),
            ("Sandbox Test.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("remittance_{n}.html", "text/html")],
}
CLEAN_URLS = ["https://www.example.com/news/{n}", "https://docs.saas-vendor.test/guide?id={n}&lang=en",
              "https://www.gstati", "https://travel-deals.test/offers/{n}#top",
              "https://cdn.example.net/assets/logo.png", "https://partner-bank.test/statements?acct={n}"]
BAD_URLS = [("http://acme-examp1e.test/login.php?u={user}", "Phishing & Fraud"),
            ("https://oneclient.sfx.ms/Win/Preview/OneDriveSetup.exe", "Dangerous file extension"),
            ("http://198.51.100.23/invoice_{n}.zip", "Dangerous file extension"),
            ("https://secure-paypa1.test/verify?session={hex}", "Compromised"),
            ("https://short.link.test/{hex}", "Compromised"),
            ("http://wire-dept.test/%E2%82%AC/pay?id={n}&ref=\"x\"", "Compromised")]
CLEAN_CATEGORIES = ["Search Engines & Portals", "Business", "Unknown", "Business", "Search Engines & Portals"]
IDENTIFIERS = ["newly_observed_domain", "internal_user_name", "reply_address_mismatch",
               "targeted_threat_dictionary", "similar_internal_domain", "custom_external_domain",
               "mimecast_external_domain"]
THREAT_WORDS = ["who", "wire transfer", "urgent", "gift cards", "bank details"]
TRACK_STATUS = [("archived", 45), ("delivery", 5), ("accepted", 5), ("held", 20), ("bounced", 7),
                ("deferred", 5), ("rejected", 13)]
TRACK_INFO = {"archived": "Indexed and archived", "delivery": "Delivery in progress",  # [I] except archived,
              "accepted": "Accepted for processing", "held": "Held for review",     # rejected (fixtures)
              "bounced": "Bounced", "deferred": "Deferred - retrying", "rejected": "Envelope Rejected"}
HOLD_REASONS = ["Message Hold Applied - Spam Signature policy", "Message Hold Applied - Attachment Management",
                "Message Hold Applied - Content Examination policy", "Default Spam Scanning Definition",
                "Message Hold Applied - Impersonation Protection"]
RISKS = ["negligible", "low", "medium", "high"]


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for value, w in pairs:
        x -= w
        if x <= 0:
            return value
    return pairs[-1][0]


class Pools:
    """People and addresses shared by every stream (a pure function of the seed)."""

    def __init__(self, seed):
        rng = random.Random("mimecast-pools:%d" % seed)
        combos = [(f, l) for f in FIRST_NAMES for l in LAST_NAMES]
        rng.shuffle(combos)
        self.users = []
        for i, (f, l) in enumerate(combos[:60]):
            dom = INTERNAL_DOMAINS[0] if i % 5 else INTERNAL_DOMAINS[1]
            self.users.append(("%s %s" % (f, l), "%s.%s@%s" % (f.lower(), l.lower(), dom)))
        self.users.append(("J\u00fcrgen Wei\u00df", "juergen.weiss@" + INTERNAL_DOMAINS[0]))

    @staticmethod
    def external(rng, bad):
        return "%s@%s" % (rng.choice(LOCALS), rng.choice(BAD_DOMAINS if bad else LEGIT_DOMAINS))

    def internal(self, rng):
        return rng.choice(self.users)


class RecordFactory:
    """Makes one record of a stream at a given time. Each stream has its own RNG so streams are
    independent; the RNG keeps running for /_sim/add, so a run is reproducible from the seed."""

    def __init__(self, seed, pools):
        self.seed = seed
        self.pools = pools
        self.rngs = {name: random.Random("mimecast:%d:%s" % (seed, name)) for name in STREAMS}
        self.counter = {name: 0 for name in STREAMS}
        self.recent = {name: [] for name in STREAMS}   # last few records, for look-alike duplicates
        self.internet_msgid = {}                        # tracking id -> Internet Message-ID

    # -- helpers -------------------------------------------------------------------------------
    def _n(self, stream):
        self.counter[stream] += 1
        return self.counter[stream]

    @staticmethod
    def _ip(rng):
        while True:
            a = rng.randint(11, 223)
            if a not in (127, 169, 172, 192, 10, 100):
                return "%d.%d.%d.%d" % (a, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))

    @staticmethod
    def _msgid(rng, sender):
        dom = sender.split("@")[-1] if "@" in sender else "hapi.b41.one"
        kind = rng.random()
        if kind < 0.5:
            return "<%016x-%06d@%s>" % (rng.getrandbits(64), rng.randint(0, 999999), dom)
        if kind < 0.8:
            box = "PR3P%03dMB%04d" % (rng.randint(100, 999), rng.randint(0, 9999))
            return "<%s%032X@%s.EURP194.PROD.OUTLOOK.COM>" % (box, rng.getrandbits(128), box)
        return "<CA%s@mail.gmail.com>" % b64url(rng.getrandbits(240).to_bytes(30, "big"))

    @staticmethod
    def _subject(rng, n):
        return rng.choice(SUBJECTS).format(n=n, n3="%03d" % (n % 1000), file="Q%d plan.pdf" % (n % 4 + 1))

    def _route_parties(self, rng, bad, allow_external=False):
        route = weighted(rng, [("inbound", 70), ("internal", 15), ("outbound", 13)]
                         + ([("external", 2)] if allow_external else []))
        if route == "inbound":
            return route, self.pools.external(rng, bad), self.pools.internal(rng)[1]
        if route == "internal":
            return route, self.pools.internal(rng)[1], self.pools.internal(rng)[1]
        if route == "outbound":
            return route, self.pools.internal(rng)[1], self.pools.external(rng, False)
        return route, self.pools.external(rng, bad), self.pools.external(rng, False)

    def _remember(self, stream, rec):
        lst = self.recent[stream]
        lst.append(rec)
        if len(lst) > 8:
            del lst[0]

    # -- per stream ----------------------------------------------------------------------------
    def make(self, stream, t):
        rec = getattr(self, "_make_" + stream)(self.rngs[stream], int(t), self._n(stream))
        self._remember(stream, rec)
        return rec

    def _make_ttp_attachment(self, rng, t, n):
        recent = self.recent["ttp_attachment"]
        result = weighted(rng, [("safe", 30), ("malicious", 64), ("timeout", 4), ("error", 2)])
        if recent and rng.random() < 0.05:
            # a second attachment of, or a second recipient for, a message just seen
            base = rng.choice(recent)
            route, sender, rcpt = base["route"], base["senderAddress"], base["recipientAddress"]
            msgid, subject = base["messageId"], base["subject"]
            if rng.random() < 0.5 and route != "outbound":
                rcpt = self.pools.internal(rng)[1]
        else:
            route, sender, rcpt = self._route_parties(rng, result == "malicious", allow_external=True)
            if route == "inbound" and rng.random() < 0.015:
                sender = "<>"
            msgid, subject = self._msgid(rng, sender), self._subject(rng, n)
        name, ftype = rng.choice(FILES["bad" if result == "malicious" else "clean"])
        label = {"safe": "Safe", "malicious": "Malicious", "timeout": "Timeout", "error": "Error"}[result]
        taken = rng.randint(1, 240)
        if result == "safe":
            triggered = "user release, none" if rng.random() < 0.2 else "none, none"
        elif result == "malicious":
            triggered = rng.choice(["none", "none, none"])
        else:
            triggered = "none, none"
        definition = {
            "inbound": rng.choice(["Default Inbound Attachment Protect Definition",
                                   "Inbound - Safe file with On-Demand Sandbox"]),
            "internal": "Default Internal Attachment Protect Definition",
            "outbound": "Default Outbound Attachment Protect Definition",
            "external": "Default Inbound Attachment Protect Definition"}[route]
        return {
            "senderAddress": sender, "recipientAddress": rcpt,
            "fileName": name.format(n=n), "fileType": ftype, "result": result,
            "actionTriggered": triggered, "date": fmt_time(t),
            "details": "%s\r\nTime taken: 0 hrs, %d min, %d sec" % (label.ljust(50), taken // 60, taken % 60),
            "route": route, "messageId": msgid, "subject": subject,
            "fileHash": "%064x" % rng.getrandbits(256), "definition": definition,
        }

    def _make_ttp_url(self, rng, t, n):
        recent = self.recent["ttp_url"]
        if recent and rng.random() < 0.04:
            # duplicate-looking click: another user clicks the same link of the same message (§6)
            base = rng.choice(recent)
            rec = dict(base)
            rec["userEmailAddress"] = self.pools.internal(rng)[1]
            rec["date"] = fmt_time(t)
            rec["creationMethod"] = "User Click"
            return rec
        malicious = rng.random() >= 0.30
        route, sender, rcpt = self._route_parties(rng, malicious)
        user = rcpt if route != "outbound" else sender
        hexs = "%012x" % rng.getrandbits(48)
        tag_map = None
        if malicious:
            tmpl, category = rng.choice(BAD_URLS)
            url = tmpl.format(n=n, hex=hexs, user=user.split("@")[0])
            action = weighted(rng, [("block", 3), ("warn", 2)])
            awareness = "N/A"
            if action == "block":
                actions = "Block"
            else:
                actions = weighted(rng, [("Block", 3), ("Browser Isolation", 1), ("Allow", 1)])
                if actions == "Allow":
                    awareness = "Continue"
            if rng.random() < 0.6:  # tagMap only on newer records (§6); here on most verdicts
                if category == "Dangerous file extension":
                    ext = url.rsplit(".", 1)[-1][:4]
                    tag_map = {"DangerousFileExt": {
                        "Status": ["CustomerSpecific", "VerdictBlock"], "Inspect:FileExts": ["[%s]" % ext],
                        "Inspect:MimeTypes": ["[]"],
                        "ContentCheck:DangerousMimetypesUrlFileDownload": ["application/x-msdownload"],
                        "ContentCheck:ContentScannersBlocked": ["." + ext],
                        "ContentCheck:DangerousExtsUrlFileDownload": ["dll"]}}
                else:
                    tag_map = {"UrlReputationScan": {
                        "Status": ["CustomerAll", "VerdictBlock"], "Type": [category.split(" ")[0]],
                        "UrlBlock": ["ORIGINAL:%s (Blocked as %s)" % (url, category.split(" ")[0].upper())],
                        "Url": [url]}}
        else:
            url = rng.choice(CLEAN_URLS).format(n=n)
            category = rng.choice(CLEAN_CATEGORIES)
            action, actions, awareness = "allow", "Allow", rng.choice(["N/A", "NA"])
        method = "User Click" if rng.random() < 0.7 else "Entry Scan"
        if method == "Entry Scan" and not malicious:
            actions = "None"
        definition = weighted(rng, [("Default Inbound URL Protect Definition", 70),
                                    ("Inbound URL 'Aggressive'", 20),
                                    ("Default Internal URL Protect Definition", 5), ("", 5)])
        msgid = self._msgid(rng, sender)
        if rng.random() < 0.005:
            msgid = "\\u003e%s\\u003e" % hexs  # malformed, as in a fixture (§6)
        rec = {
            "userEmailAddress": user, "fromUserEmailAddress": sender, "url": url, "ttpDefinition": definition,
            "subject": self._subject(rng, n), "action": action, "adminOverride": "N/A", "userOverride": "None",
            "scanResult": "malicious" if malicious else "clean", "category": category,
            "sendingIp": "Internal IP" if route == "internal" else self._ip(rng),
            "userAwarenessAction": awareness, "date": fmt_time(t), "actions": actions, "route": route,
            "creationMethod": method,
            "emailPartsDescription": ["Attachment"] if rng.random() < 0.2 else ["Body"],
            "messageId": msgid,
        }
        if tag_map is not None:
            rec["tagMap"] = tag_map
        return rec

    def _make_ttp_impersonation(self, rng, t, n):
        malicious = rng.random() >= 0.30
        sender = self.pools.external(rng, True)
        name, rcpt = self.pools.internal(rng)
        if malicious:
            idents = rng.sample(IDENTIFIERS, weighted(rng, [(1, 4), (2, 4), (3, 2)]))
        else:
            idents = [rng.choice(["newly_observed_domain", "reply_address_mismatch"])]
        hits = len(idents)
        if idents == ["newly_observed_domain"]:
            definition, action = "Newly Observed Domains", "none"
        elif hits == 1:
            definition, action = "IP - 1 hit (Tag email)", "none"
        else:
            definition, action = "IP - %d hits (Hold for Review / User Hold)" % hits, "hold"
        if malicious and rng.random() < 0.05:
            action = "bounce"
        results = []
        for ident in idents:
            if ident == "targeted_threat_dictionary":
                results.append({"impersonationDomainSource": ident, "stringSimilarToDomain": rng.choice(THREAT_WORDS)})
            elif ident == "internal_user_name":
                vic_name, vic = self.pools.internal(rng)
                results.append({"impersonationDomainSource": ident, "similarDomain": "%s <%s>" % (vic_name, vic),
                                "stringSimilarToDomain": vic_name, "checkerResult": "hit"})
            elif ident in ("newly_observed_domain", "reply_address_mismatch"):
                results.append({"impersonationDomainSource": ident,
                                "stringSimilarToDomain": sender.split("@")[1], "checkerResult": "hit"})
            else:
                results.append({"impersonationDomainSource": ident, "similarDomain": rng.choice(INTERNAL_DOMAINS),
                                "stringSimilarToDomain": sender.split("@")[1], "checkerResult": "hit"})
        token = opaque_id(json.dumps({"acc": "C0A0", "seed": self.seed, "n": n, "h": rng.getrandbits(64)}))
        return {
            "id": "MTOKEN:" + token, "senderAddress": sender, "recipientAddress": rcpt,
            "subject": self._subject(rng, n), "definition": definition, "hits": hits, "identifiers": idents,
            "action": action, "taggedExternal": rng.random() < 0.9, "taggedMalicious": malicious,
            "senderIpAddress": self._ip(rng), "eventTime": fmt_time(t), "impersonationResults": results,
            "messageId": self._msgid(rng, sender),
        }

    def _make_message_tracking(self, rng, t, n):
        status = weighted(rng, TRACK_STATUS)
        route, sender, rcpt = self._route_parties(rng, status in ("held", "rejected"))
        rcpts = [rcpt]
        if route != "inbound" and rng.random() < 0.15:
            rcpts.append(self.pools.external(rng, False))
        elif rng.random() < 0.1:
            rcpts.append(self.pools.internal(rng)[1])
        disp = {addr: "" for addr in rcpts}
        for uname, uaddr in self.pools.users:
            if uaddr in disp and rng.random() < 0.5:
                disp[uaddr] = uname
        score = {"held": rng.randint(5, 30), "rejected": rng.randint(10, 40)}.get(status, rng.randint(0, 6))
        level = "" if status == "rejected" else rng.choice(["relaxed", "relaxed", "moderate", "aggressive"])
        rec_id = opaque_id(json.dumps({"acc": "C0A0", "seed": self.seed, "n": n, "rcpt": rcpts[0],
                                       "h": rng.getrandbits(64)}))
        self.internet_msgid[rec_id] = self._msgid(rng, sender)
        return {
            "info": TRACK_INFO[status], "id": rec_id, "status": status,
            "fromEnv": {"emailAddress": sender},
            "fromHdr": {"displayableName": "" if status == "rejected" else sender,
                        "emailAddress": "" if status == "rejected" else sender},
            "to": [{"displayableName": disp[a], "emailAddress": a} for a in rcpts],
            "received": fmt_time(t), "subject": self._subject(rng, n),
            "senderIP": self._ip(rng) if route == "inbound" else "10.%d.%d.%d" % (n % 250, n % 7, n % 200 + 1),
            "attachments": rng.random() < 0.3, "route": route, "sent": fmt_time(t - rng.randint(0, 5)),
            "spamScore": score, "detectionLevel": level,
        }

    def message_info(self, rec):
        """get-message-info for a tracked email (§7.2), derived deterministically from its id."""
        rng = random.Random("mimecast-info:%d:%s" % (self.seed, rec["id"]))
        status, route = rec["status"], rec["route"]
        msgid = self.internet_msgid.get(rec["id"], "<unknown@example.invalid>")
        rcpts = [r["emailAddress"] for r in rec["to"]]
        sender = rec["fromEnv"]["emailAddress"]
        risk = {"held": weighted(rng, [("medium", 5), ("high", 4), ("low", 1)]),
                "rejected": "high", "bounced": weighted(rng, [("low", 1), ("medium", 1)]),
                "deferred": "low"}.get(status, weighted(rng, [("negligible", 7), ("low", 3)]))
        headers = ("Received: from mail.%s (mail.%s [%s]) by eu-mta-%d.eu.mimecast.lan\r\n"
                   "Message-ID: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
                   % (sender.split("@")[-1], sender.split("@")[-1], rec["senderIP"], rng.randint(1, 99),
                      msgid, sender, ", ".join(rcpts), rec["subject"], rec["sent"]))
        size = rng.randint(2000, 90000)
        info = {
            "id": rec["id"], "status": status,
            "recipientInfo": {
                "messageInfo": {"fromHeader": rec["fromHdr"]["emailAddress"], "fromEnvelope": sender, "to": rcpts,
                                "cc": [], "subject": rec["subject"], "sent": rec["sent"], "processed": rec["received"],
                                "route": route, "transmissionInfo": "<pre>%s</pre>" % html.escape(headers)},
                "recipientMetaInfo": {
                    "receiptEvent": rng.choice(["Email Received", "Email Received - SPF check failed"]),
                    "spamEvent": "na", "messageExpiresIn": 7,
                    "processingServer": "eu-mta-%d.eu.mimecast.lan" % rng.randint(1, 700),
                    "transmissionSize": size, "binaryEmailSize": size + 60, "remoteIp": rec["senderIP"],
                    "remoteHost": "mail." + sender.split("@")[-1],
                    "remoteServerGreeting": "EHLO mail." + sender.split("@")[-1],
                    "receiptAcknowledgement": "250 %016x Received OK" % rng.getrandbits(64),
                    "transmissionStart": rec["received"], "transmissionEnd": rec["received"], "encryptionInfo": "TLS",
                    "components": [{"type": "Email Transmission File", "name": "transmission.eml", "extension": "eml",
                                    "mimeType": "message/rfc822-stubbed", "size": size,
                                    "hash": "%064x" % rng.getrandbits(256)}]},
                "txInfo": {"queueDetailStatus": {
                    "held": "Held for Review", "bounced": "Hard Bounce - 550 5.1.1 User unknown",
                    "deferred": "Deferred - 421 4.7.0 Try again later", "rejected": "Rejected"}.get(status, ""),
                    "bounceType": {"bounced": "hard", "deferred": "soft"}.get(status, ""),
                    "transmissionComponents": []},
            },
            "retentionInfo": {"currentPurgeDate": fmt_time(parse_iso(rec["received"]) + 30 * 86400),
                              "purgeBasedOn": "original", "retentionAdjustmentDays": -1, "litigationHoldInfo": [],
                              "fbrStamps": [], "smartTags": [], "fbrExpireCheck": [], "audits": []},
            "spamInfo": {"spamScore": rec["spamScore"], "detectionLevel": rec["detectionLevel"],
                         "spamProcessingDetail": {
                             "rbl": {"allow": True, "info": ""}, "greyEmail": rng.random() < 0.3,
                             "spf": {"allow": True, "info": rng.choice(["pass", "fail", "softfail"])},
                             "dkim": {"allow": True, "info": rng.choice(["pass", "unknown"])},
                             "dmarc": {"allow": True, "info": rng.choice(["pass", "unknown"])},
                             "permittedSender": {"allow": True, "info": "none"},
                             "managedSender": {"allow": True, "info": "unknown"}}},
        }
        if rng.random() >= 0.1:  # ~10 % carry no verdict ("messages without risk", seed 003)
            decision = "spam" if risk in ("medium", "high") else "clean"
            info["spamInfo"]["spamProcessingDetail"]["verdict"] = {
                "decision": decision, "description": "", "risk": risk,
                "categories": [{"name": "spam", "risk": risk, "subcategories": []},
                               {"name": "graymail", "risk": "negligible", "subcategories": []}]}
        if status == "held":
            info["queueInfo"] = {"reason": rng.choice(HOLD_REASONS), "id": opaque_id("hold:" + rec["id"][:40])}
        if status in ("archived", "delivery", "accepted"):
            info["deliveredMessage"] = {r: {
                "messageInfo": {"fromHeader": rec["fromHdr"]["emailAddress"], "fromEnvelope": sender, "to": [r],
                                "subject": rec["subject"], "sent": rec["sent"], "route": route},
                "policyInfo": [{"policyType": "Spam Scanning", "policyName": "Relaxed Spam Detection",
                                "inherited": False}],
                "deliveryMetaInfo": {"deliveryEvent": "Email Delivered via Routing Rule", "emailAddress": r}}
                for r in rcpts}
        return info


# ================================================================================================
# record store
# ================================================================================================
class RecordStore:
    """Per stream: entries (epoch, seq, record) kept sorted by (epoch, seq). Records never change
    once made, so query results can share the dicts. seq grows with every insert (the snapshot)."""

    def __init__(self, factory):
        self.factory = factory
        self._lock = threading.Lock()
        self._entries = {name: [] for name in STREAMS}
        self._times = {name: [] for name in STREAMS}
        self._seq = {name: 0 for name in STREAMS}
        self._keys = {name: set() for name in STREAMS}
        self._by_id = {}  # message_tracking id -> record

    def generate(self, count, end, span_seconds):
        for name in STREAMS:
            rng = random.Random("mimecast-times:%d:%s" % (self.factory.seed, name))
            times = sorted(end - rng.randint(0, max(0, int(span_seconds))) for _ in range(count))
            for i in range(1, len(times)):
                if rng.random() < 0.05:  # bursts: several records in one second (§13 dedup traps)
                    times[i] = times[i - 1]
            self.add(name, times)

    def add(self, stream, times):
        out = []
        with self._lock:
            entries, tlist, seen = self._entries[stream], self._times[stream], self._keys[stream]
            for t in times:
                for _ in range(50):  # the unique key of §13.1 must not repeat; re-draw on a clash
                    rec = self.factory.make(stream, t)
                    key = "|".join(str(rec[f]) for f in RECORD_KEYS[stream])
                    if key not in seen:
                        break
                seen.add(key)
                self._seq[stream] += 1
                pos = bisect.bisect_right(tlist, int(t))  # after equal times: seq keeps growing
                entries.insert(pos, (int(t), self._seq[stream], rec))
                tlist.insert(pos, int(t))
                if stream == "message_tracking":
                    self._by_id[rec["id"]] = rec
                out.append(rec)
        return out

    def snapshot(self, stream):
        with self._lock:
            return self._seq[stream]

    def all(self, stream):
        with self._lock:
            return [e[2] for e in self._entries[stream]]

    def by_id(self, rec_id):
        with self._lock:
            return self._by_id.get(rec_id)

    def select(self, stream, query, snap):
        """Matching records in API order (newest first unless oldestFirst)."""
        with self._lock:
            tlist, entries = self._times[stream], self._entries[stream]
            lo = bisect.bisect_left(tlist, query["from"])
            hi = bisect.bisect_right(tlist, query["to"])
            window = entries[lo:hi]
        msgids = self.factory.internet_msgid
        out = [e[2] for e in window
               if (snap is None or e[1] <= snap) and record_matches(stream, query, e[2], msgids)]
        if not query.get("oldestFirst"):
            out.reverse()
        return out


# ================================================================================================
# request filters: parse (request -> normalized query) and match (query, record -> bool)
# ================================================================================================
class FilterError(Exception):
    def __init__(self, field, code, message):
        super().__init__(message)
        self.error = {"field": field, "code": code, "message": message, "retryable": False}


def _enum(item, key, allowed, default):
    value = item.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in allowed:
        raise FilterError(key, "err_validation_invalid_value",
                          "%s must be one of %s" % (key, ", ".join(sorted(allowed))))
    return value.lower()


def _enum_list(item, key, allowed):
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.lower() in allowed for v in value):
        raise FilterError(key, "err_validation_invalid_value",
                          "%s must be a list of %s" % (key, ", ".join(sorted(allowed))))
    return [v.lower() for v in value]


def _bool(item, key, default):
    value = item.get(key, default)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FilterError(key, "err_validation_invalid_value", "%s must be true or false" % key)


def _window(item, now, from_key, to_key):
    out = {}
    for key, default in ((from_key, start_of_day(now)), (to_key, int(now))):
        value = item.get(key)
        if value is None:
            out[key] = default
            continue
        try:
            out[key] = parse_iso(value)
        except ValueError:
            raise FilterError(key, "err_validation_invalid_date",
                              "%s is not a valid date, expected e.g. 2015-11-16T14:49:18+0000" % key)
    if out[from_key] > out[to_key]:
        raise FilterError(from_key, "err_validation_invalid_date_range", "%s is after %s" % (from_key, to_key))
    return out[from_key], out[to_key]


ROUTES = {"inbound", "outbound", "internal", "all"}


def parse_filter(stream, item, now):
    """data[0] of a request -> normalized query (JSON-serialisable, carried in page tokens)."""
    if stream == "message_tracking":
        return _parse_tracking(item, now)
    q = {}
    q["from"], q["to"] = _window(item, now, "from", "to")
    q["oldestFirst"] = bool(_bool(item, "oldestFirst", False))
    if stream == "ttp_attachment":
        q["route"] = _enum(item, "route", ROUTES, "all")
        q["result"] = _enum(item, "result", {"safe", "malicious", "timeout", "error", "unsafe", "all"}, "malicious")
    elif stream == "ttp_url":
        q["route"] = _enum(item, "route", ROUTES, "all")
        q["scanResult"] = _enum(item, "scanResult", {"clean", "malicious", "all"}, "malicious")  # [I] default
    elif stream == "ttp_impersonation":
        q["taggedMalicious"] = _bool(item, "taggedMalicious", None)
        field = item.get("searchField")
        query = item.get("query")
        if field is not None:
            field = _enum(item, "searchField", {"senderaddress", "recipientaddress", "subject", "policy", "all"},
                          "all")
            if not isinstance(query, str) or not query:
                raise FilterError("query", "err_validation_null", "query is required when searchField is set")
        if query is not None:
            if not isinstance(query, str):
                raise FilterError("query", "err_validation_invalid_value", "query must be a string")
            q["search"] = [field or "all", query.lower()]
        q["identifiers"] = _enum_list(item, "identifiers", set(IDENTIFIERS + [
            "advanced_similar_internal_domain", "advanced_custom_external_domain",
            "advanced_mimecast_external_domain", "custom_name_list"]))
        q["actions"] = _enum_list(item, "actions", {"hold", "bounce", "none"})
    return q


TRACK_STATUSES = {s for s, _ in TRACK_STATUS}


def _parse_tracking(item, now):
    q = {}
    q["from"], q["to"] = _window(item, now, "start", "end")
    q["oldestFirst"] = bool(_bool(item, "oldestFirst", False))  # [I] not documented for search
    msgid = item.get("messageId")
    opts = item.get("advancedTrackAndTraceOptions")
    if (msgid is None) == (opts is None):
        raise FilterError("messageId", "err_validation_invalid_search",
                          "exactly one of messageId or advancedTrackAndTraceOptions must be given")
    if msgid is not None:
        if not isinstance(msgid, str) or not msgid.strip():
            raise FilterError("messageId", "err_validation_blank", "messageId must not be blank")
        q["messageId"] = msgid.strip().strip("<>").lower()
    if opts is not None:
        if not isinstance(opts, dict):
            raise FilterError("advancedTrackAndTraceOptions", "err_validation_invalid_value", "must be an object")
        o = {}
        for key in ("from", "to", "subject", "senderIP"):
            value = opts.get(key)
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                raise FilterError(key, "err_validation_invalid_value", "%s must be a string" % key)
            o[key] = value.strip().lower()
        o["route"] = _enum_list(opts, "route", {"inbound", "outbound", "internal"})
        q["opts"] = o
    q["status"] = _enum_list(item, "status", TRACK_STATUSES)
    q["route"] = _enum_list(item, "route", {"inbound", "outbound", "internal"})
    return q


def _addr_matches(pattern, addr):
    addr = (addr or "").lower()
    if "@" in pattern and not pattern.startswith("@"):
        return addr == pattern
    return addr.endswith("@" + pattern.lstrip("@"))


def record_matches(stream, q, rec, internet_msgid):
    """internet_msgid: tracking id -> Internet Message-ID (for the message-finder messageId filter)."""
    if stream == "ttp_attachment":
        return ((q["route"] == "all" or rec["route"] == q["route"])
                and (q["result"] == "all" or rec["result"] == q["result"]))
    if stream == "ttp_url":
        return ((q["route"] == "all" or rec["route"] == q["route"])
                and (q["scanResult"] == "all" or rec["scanResult"] == q["scanResult"]))
    if stream == "ttp_impersonation":
        if q.get("taggedMalicious") is not None and rec["taggedMalicious"] != q["taggedMalicious"]:
            return False
        if q.get("identifiers") and not set(q["identifiers"]) & set(rec["identifiers"]):
            return False
        if q.get("actions") and rec["action"] not in q["actions"]:
            return False
        if q.get("search"):
            field, needle = q["search"]
            fields = {"senderaddress": ["senderAddress"], "recipientaddress": ["recipientAddress"],
                      "subject": ["subject"], "policy": ["definition"],
                      "all": ["senderAddress", "recipientAddress", "subject", "definition"]}[field]
            if not any(needle in rec[f].lower() for f in fields):
                return False
        return True
    # message_tracking
    if q.get("status") and rec["status"] not in q["status"]:
        return False
    if q.get("route") and rec["route"] not in q["route"]:
        return False
    if "messageId" in q:
        return q["messageId"] == internet_msgid.get(rec["id"], "").strip("<>").lower()
    o = q.get("opts") or {}
    if o.get("route") and rec["route"] not in o["route"]:
        return False
    if "from" in o and not (_addr_matches(o["from"], rec["fromEnv"]["emailAddress"])
                            or _addr_matches(o["from"], rec["fromHdr"]["emailAddress"])):
        return False
    if "to" in o and not any(_addr_matches(o["to"], r["emailAddress"]) for r in rec["to"]):
        return False
    if "subject" in o and o["subject"] not in rec["subject"].lower():
        return False
    if "senderIP" in o and rec["senderIP"] != o["senderIP"]:
        return False
    return True



# ================================================================================================
# pagination tokens
# ================================================================================================
class TokenCodec:
    """Opaque page tokens: base64url(zlib(JSON state)). A MAC keyed by the seed detects tampering."""

    def __init__(self, seed):
        self._key = hashlib.sha256(b"mimecast-sim-token:%d" % seed).digest()

    def encode(self, state):
        body = json.dumps(state, sort_keys=True, separators=(",", ":"))
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:16]
        return b64url(zlib.compress(json.dumps({"b": body, "m": mac}).encode(), 9))

    def decode(self, token):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            outer = json.loads(zlib.decompress(raw))
            mac = hmac.new(self._key, outer["b"].encode(), hashlib.sha256).hexdigest()[:16]
            if not hmac.compare_digest(mac, outer["m"]):
                return None
            return json.loads(outer["b"])
        except (ValueError, TypeError, KeyError, zlib.error, AttributeError):
            return None


# ================================================================================================
# auth
# ================================================================================================
class OAuthTokens:
    """Issued API 2.0 bearer tokens: token -> [client_id, expires_at (epoch float), revoked]."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = {}

    def issue(self, client_id, ttl):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        token = "".join(secrets.choice(alphabet) for _ in range(28))
        with self._lock:
            self._tokens[token] = [client_id, time.time() + ttl, False]
        return token

    def check(self, token):
        """-> (client_id, None) or (None, message)."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            return None, "The access token is not valid"
        if entry[2]:
            return None, "The access token has been revoked"
        if time.time() >= entry[1]:
            return None, "The access token has expired"
        return entry[0], None

    def revoke_all(self):
        with self._lock:
            n = 0
            for entry in self._tokens.values():
                if not entry[2]:
                    entry[2] = True
                    n += 1
            return n


class AuthError(Exception):
    def __init__(self, status, fail, bucket):
        super().__init__(status)
        self.status, self.fail, self.bucket = status, fail, bucket


def _v1_fail(code, message):
    return [{"errors": [{"code": code, "message": message, "retryable": False}]}]


def authenticate(headers, path, cfg, tokens):
    """-> rate-limit bucket key of the caller, or raise AuthError."""
    auth = (headers.get("Authorization") or "").strip()
    scheme = auth.split(" ", 1)[0].lower() if auth else ""
    v2_bucket, v1_bucket = "oauth:" + cfg.client_id, "hmac:" + cfg.access_key
    if scheme == "bearer" and cfg.auth_mode in ("any", "2"):
        client, message = tokens.check(auth.split(" ", 1)[1].strip() if " " in auth else "")
        if client is None:
            raise AuthError(401, [{"code": "token_expired", "message": message}], v2_bucket)
        return "oauth:" + client
    if scheme == "mc" and cfg.auth_mode in ("any", "1"):
        return _authenticate_v1(headers, auth, path, cfg, v1_bucket)
    fallback = v1_bucket if cfg.auth_mode == "1" else v2_bucket
    if cfg.auth_mode == "1":
        raise AuthError(401, _v1_fail("err_xdk_missing_header", "Authorization: MC accessKey:signature required"),
                        fallback)
    raise AuthError(401, [{"code": "unauthorized", "message": "Authorization header missing or of an "
                           "unsupported type"}], fallback)


def _authenticate_v1(headers, auth, path, cfg, bucket):
    m = re.match(r"^MC ([^:\s]+):(\S+)$", auth)
    date, req_id, app_id = headers.get("x-mc-date"), headers.get("x-mc-req-id"), headers.get("x-mc-app-id")
    if not m or not date or not req_id:
        raise AuthError(401, _v1_fail("err_xdk_missing_header",
                                      "Authorization (MC key:sig), x-mc-date and x-mc-req-id are required"), bucket)
    if app_id != cfg.app_id:
        raise AuthError(401, _v1_fail("err_developer_key", "The application id is missing or not valid"), bucket)
    access_key, signature = m.group(1), m.group(2)
    if access_key != cfg.access_key:
        raise AuthError(401, _v1_fail("err_xdk_invalid_signature", "0004 Invalid Signature"), bucket)
    if cfg.keys_expired:
        raise AuthError(418, _v1_fail("err_xdk_binding_expired", "Binding Expired"), bucket)
    try:
        when = parse_mc_date(date.strip())
    except ValueError:
        raise AuthError(401, _v1_fail("err_xdk_invalid_date", "x-mc-date is not a valid date "
                                      "(e.g. 'Tue, 24 Nov 2015 12:50:11 UTC')"), bucket)
    if cfg.date_skew_seconds >= 0 and abs(time.time() - when) > cfg.date_skew_seconds:
        raise AuthError(401, _v1_fail("err_xdk_invalid_date", "x-mc-date is outside the allowed window of %d s"
                                      % cfg.date_skew_seconds), bucket)
    expected = sign_v1(cfg.secret_key, date, req_id, path, cfg.app_key)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise AuthError(401, _v1_fail("err_xdk_invalid_signature", "0004 Invalid Signature"), bucket)
    return "hmac:" + access_key


# ================================================================================================
# rate limiting
# ================================================================================================
class RateLimiter:
    """Token bucket per credential: capacity `limit`, one call added back every window/limit ms."""

    def __init__(self, limit, window_ms):
        self._lock = threading.Lock()
        self.configure(limit, window_ms)

    def configure(self, limit, window_ms):
        with self._lock:
            self.limit, self.window_ms = max(1, int(limit)), max(1, int(window_ms))
            self._buckets = {}

    def _bucket(self, key, now):
        interval = self.window_ms / 1000.0 / self.limit
        tokens, last = self._buckets.get(key, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - last) / interval)
        return tokens, interval

    def _headers(self, tokens, interval):
        reset = 0 if tokens >= self.limit else int((1 - (tokens - int(tokens))) * interval * 1000) + 1
        return {"X-RateLimit-Limit": self.limit, "X-RateLimit-Remaining": int(tokens), "X-RateLimit-Reset": reset}

    def take(self, key):
        """-> (allowed, headers). A refused call changes nothing."""
        with self._lock:
            now = time.monotonic()
            tokens, interval = self._bucket(key, now)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            return allowed, self._headers(tokens, interval)

    def peek(self, key):
        with self._lock:
            tokens, interval = self._bucket(key, time.monotonic())
            return self._headers(tokens, interval)


# ================================================================================================
# runtime configuration
# ================================================================================================
class Config:
    """Runtime switches; the mutable ones can be changed through POST /_sim/config."""

    MUTABLE = {
        "token_ttl": int, "last_page_quirk": bool, "keys_expired": bool, "rate_limit": int,
        "rate_window_ms": int, "max_page_size": int, "default_page_size": int, "date_skew_seconds": int,
        "rate_limit_body": ("envelope", "detail"), "auth_mode": ("any", "1", "2"), "snapshot_pages": bool,
    }
    POSITIVE = ("rate_limit", "rate_window_ms", "max_page_size", "default_page_size")

    def __init__(self, args):
        self.client_id, self.client_secret = args.client_id, args.client_secret
        self.app_id, self.app_key = args.app_id, args.app_key
        self.access_key, self.secret_key = args.access_key, args.secret_key
        self.token_ttl = args.token_ttl
        self.last_page_quirk = args.last_page_quirk
        self.keys_expired = args.keys_expired
        self.rate_limit, self.rate_window_ms = args.rate_limit, args.rate_window_ms
        self.max_page_size, self.default_page_size = args.max_page_size, args.default_page_size
        self.date_skew_seconds = args.date_skew_seconds
        self.rate_limit_body = args.rate_limit_body
        self.auth_mode = args.auth_mode
        self.snapshot_pages = not args.live_pagination

    def public(self):
        return {k: getattr(self, k) for k in self.MUTABLE}

    def update(self, changes):
        """Validate everything first, then apply. -> error string or None."""
        staged = {}
        for key, value in changes.items():
            kind = self.MUTABLE.get(key)
            if kind is None:
                return "unknown config key %r (known: %s)" % (key, ", ".join(sorted(self.MUTABLE)))
            if isinstance(kind, tuple):
                if value not in kind:
                    return "%s must be one of %s" % (key, ", ".join(kind))
            elif kind is bool:
                if not isinstance(value, bool):
                    return "%s must be true or false" % key
            elif not isinstance(value, int) or isinstance(value, bool):
                return "%s must be an integer" % key
            if key in self.POSITIVE and value < 1:
                return "%s must be at least 1" % key
            staged[key] = value
        for key, value in staged.items():
            setattr(self, key, value)
        return None


# ================================================================================================
# HTTP handler
# ================================================================================================
def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def envelope(status, data=None, fail=None, pagination=None):
    meta = {"status": status}
    if pagination is not None:
        meta["pagination"] = pagination
    return {"meta": meta, "data": data if data is not None else [], "fail": fail if fail is not None else []}


FAULT_KINDS = {"5xx", "slow", "truncated", "invalid_json", "revoke_token", "429_storm", "fail", "clear"}


class MimecastFaults(Faults):
    """simlib's fault switches plus two targeting params: "stream" (only requests of that stream fire
    the fault) and "after" (that many eligible requests pass before it fires), so a test can break
    page 3 of one stream in the middle of a backfill."""

    def __init__(self):
        super().__init__()
        self._skip = {}

    def arm(self, kind, count=1, **params):
        with self._lock:
            self._armed[kind] = count
            self._params[kind] = params
            self._skip[kind] = max(0, int(params.get("after", 0) or 0))

    def clear(self, kind=None):
        super().clear(kind)
        with self._lock:
            if kind is None:
                self._skip.clear()
            else:
                self._skip.pop(kind, None)

    def take(self, kind, stream=None):
        with self._lock:
            left = self._armed.get(kind)
            if left is None or left == 0:
                return None
            params = self._params.get(kind, {})
            if params.get("stream") not in (None, stream):
                return None
            if self._skip.get(kind, 0) > 0:
                self._skip[kind] -= 1
                return None
            if left > 0:
                self._armed[kind] = left - 1
            return dict(params)


class MimecastHandler(SimHandler):
    server_version = "msfwd-mimecast-sim/1"

    def setup(self):
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every keep-alive request (a 300-page backfill took 8 s more).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- output --------------------------------------------------------------------------------
    def _take(self, kind):
        """Consume one shot of an armed fault that applies to this request (stream, after)."""
        return self.server.faults.take(kind, getattr(self, "_stream", None))

    def _send(self, status, obj, headers=None, fault_suffix=None):
        """Send JSON; for a 200 answer, apply the armed body faults (truncated, invalid_json)."""
        body = dumps(obj)
        if status == 200 and fault_suffix is not None:
            params = self._take("truncated" + fault_suffix)
            if params is not None:
                self._send_truncated(status, body, headers, params)
                return
            params = self._take("invalid_json" + fault_suffix)
            if params is not None:
                bad = params.get("body", '<html><head><title>502 Bad Gateway</title></head>\n'
                                         '<body>{"meta":{"status":200},"data":[{</body></html>\n')
                self.send_raw(status, bad, "application/json", headers)
                return
        self.send_raw(status, body, "application/json", headers)

    def _send_truncated(self, status, body, headers, params):
        cut = body[:max(1, len(body) // 2)]
        declared = len(cut) if params.get("declared") == "cut" else len(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(declared))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if declared != len(cut):
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(cut)
        self.wfile.flush()
        self.close_connection = True
        self.server.count(self.path.split("?", 1)[0], status)

    def _pre_faults(self, suffix, rate_headers):
        """Gateway-level faults before auth. -> True when a response was sent."""
        params = self._take("slow" + suffix)
        if params is not None:
            time.sleep(float(params.get("seconds", params.get("delay", 2))))
        params = self._take("5xx" + suffix)
        if params is not None:
            status = int(params.get("status", 500))
            self._send(status, envelope(status, fail=[{"errors": [{
                "code": "err_internal_server_error", "message": "Internal Server Error", "retryable": True}]}]),
                rate_headers)
            return True
        params = self._take("429_storm" + suffix)
        if params is not None:
            headers = {"X-RateLimit-Limit": self.server.cfg.rate_limit, "X-RateLimit-Remaining": 0,
                       "X-RateLimit-Reset": int(params.get("reset_ms", 200))}
            self._send(429, self._quota_body(), headers)
            return True
        return False

    @staticmethod
    def _fail_body(params):
        """A function-level failure on HTTP 200 (spec §3.3): 1.0 style fail[].errors[], 2.0 style
        fail[].code/message, or (empty) an empty fail[] with only meta.status telling."""
        meta_status = int(params.get("meta_status", 200))
        if params.get("empty"):
            return envelope(meta_status if meta_status != 200 else 500)
        err = {"code": params.get("code", "err_internal_function_failure"),
               "message": params.get("message", "The function failed"),
               "retryable": bool(params.get("retryable", False))}
        if params.get("field"):
            err["field"] = params["field"]
        if params.get("style") == "v2":
            item = {"code": err["code"], "message": err["message"]}
        else:
            item = {"key": {}, "errors": [err]}
        return envelope(meta_status, fail=[item])

    def _quota_body(self):
        if self.server.cfg.rate_limit_body == "detail":
            return {"detail": "Over throttling limit (%d/%s ms)" % (self.server.cfg.rate_limit,
                                                                   self.server.cfg.rate_window_ms)}
        return envelope(429, fail=[{"errors": [{"code": "err_rate_limit_exceeded", "message": "Quota Exceeded",
                                                "retryable": True}]}])

    # -- API dispatch --------------------------------------------------------------------------
    def handle_api(self, method):
        raw = self.read_body()
        path = self.path.split("?", 1)[0]
        if path == "/oauth/token":
            self._stream = "oauth"
            self._oauth(method, raw)
            return
        srv = self.server
        default_bucket = "hmac:" + srv.cfg.access_key if srv.cfg.auth_mode == "1" else "oauth:" + srv.cfg.client_id
        peeked = srv.limiter.peek(default_bucket)  # rate headers for answers given before auth
        stream = PATH_TO_STREAM.get(path)
        self._stream = stream if stream is not None else ("message_info" if path == MESSAGE_INFO_PATH else None)
        if stream is None and path != MESSAGE_INFO_PATH:
            self._send(404, envelope(404, fail=[{"errors": [{"code": "err_not_found",
                                                              "message": "Not Found: " + path, "retryable": False}]}]),
                       peeked)
            return
        if method != "POST":
            self._send(405, envelope(405, fail=[{"errors": [{"code": "err_method_not_allowed",
                                                              "message": "Use POST", "retryable": False}]}]),
                       dict(peeked, Allow="POST"))
            return
        if self._pre_faults("", peeked):
            return
        if self._take("revoke_token") is not None:  # armed with after/stream: revoke mid-walk
            srv.tokens.revoke_all()
        try:
            bucket = authenticate(self.headers, path, srv.cfg, srv.tokens)
        except AuthError as e:
            self._send(e.status, envelope(e.status, fail=e.fail), srv.limiter.peek(e.bucket))
            return
        allowed, rate_headers = srv.limiter.take(bucket)
        if not allowed:
            self._send(429, self._quota_body(), rate_headers)
            return
        params = self._take("fail")
        if params is not None:
            self._send(200, self._fail_body(params), rate_headers)
            return
        try:
            req = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._send(400, envelope(400, fail=[{"errors": [{"code": "err_request_body_not_json",
                                                              "message": "The request body is not valid JSON",
                                                              "retryable": False}]}]), rate_headers)
            return
        if stream is None:
            status, obj = self._message_info(req)
        else:
            status, obj = self._logs(stream, req)
        self._send(status, obj, rate_headers, fault_suffix="")

    # -- /oauth/token --------------------------------------------------------------------------
    def _oauth(self, method, raw):
        if method != "POST":
            self._send(405, {"fail": [{"code": "method_not_allowed", "message": "Use POST"}]}, {"Allow": "POST"})
            return
        if self._pre_faults("@oauth", None):
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self._oauth_fail(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            return
        try:
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            self._oauth_fail(400, "invalid_request", "body is not UTF-8")
            return
        if form.get("grant_type") != "client_credentials":
            self._oauth_fail(400, "unsupported_grant_type", "grant_type must be client_credentials")
            return
        cfg = self.server.cfg
        if not (hmac.compare_digest(form.get("client_id", ""), cfg.client_id)
                and hmac.compare_digest(form.get("client_secret", ""), cfg.client_secret)):
            self._oauth_fail(401, "invalid_client", "Client authentication failed")
            return
        token = self.server.tokens.issue(cfg.client_id, cfg.token_ttl)
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": cfg.token_ttl, "scope": ""},
                   {"Cache-Control": "no-store"}, fault_suffix="@oauth")

    def _oauth_fail(self, status, code, message):
        self._send(status, envelope(status, fail=[{"code": code, "message": message}]))

    # -- log endpoints and message-finder search -----------------------------------------------
    def _logs(self, stream, req):
        srv, cfg = self.server, self.server.cfg
        if not isinstance(req, dict):
            return 200, envelope(200, fail=[{"errors": [{"code": "err_validation_invalid_value",
                                                          "message": "body must be an object", "retryable": False}]}])
        meta = req.get("meta") or {}
        pag = meta.get("pagination") if isinstance(meta, dict) else None
        pag = pag if isinstance(pag, dict) else {}
        data = req.get("data", [])
        if data is None:
            data = []
        item = data[0] if isinstance(data, list) and data else {}

        def fail(field, code, message, key=None):
            return 200, envelope(200, fail=[{"key": key if key is not None else item,
                                             "errors": [{"field": field, "code": code, "message": message,
                                                         "retryable": False}]}])

        size = pag.get("pageSize", cfg.default_page_size)
        try:
            if isinstance(size, bool) or not isinstance(size, (int, str)):
                raise ValueError
            size = int(size)
            if size < 1:
                raise ValueError
        except ValueError:
            return fail("pageSize", "err_validation_invalid_value", "pageSize must be a positive number")
        size = min(size, cfg.max_page_size)
        token = pag.get("pageToken")
        if token not in (None, ""):
            state = srv.codec.decode(token) if isinstance(token, str) else None
            if state is None or state.get("s") != stream:
                return fail("pageToken", "err_pagination_invalid_token", "The page token is not valid")
            query, offset, snap = state["q"], int(state["o"]), state["n"]
        else:
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                return fail("data", "err_validation_invalid_value", "data must be a list of objects", key={})
            if len(data) > 1:
                return fail("data", "err_validation_too_many_items", "only one data item is supported", key={})
            try:
                query = parse_filter(stream, item, time.time())
            except FilterError as e:
                return 200, envelope(200, fail=[{"key": item, "errors": [e.error]}])
            offset = 0
            snap = srv.store.snapshot(stream) if cfg.snapshot_pages else None

        matches = srv.store.select(stream, query, snap)
        total = len(matches)
        page = matches[offset:offset + size]

        def tok(off):
            return srv.codec.encode({"s": stream, "q": query, "o": off, "n": snap})

        pagination = {"pageSize": len(page), "totalCount": total}
        spec = STREAMS[stream]
        if offset + len(page) < total:
            pagination["next"] = tok(offset + len(page))
        elif cfg.last_page_quirk:
            pagination["next"] = tok(offset + len(page))  # last data page -> empty page; empty page -> itself
        if offset > 0:
            pagination["previous"] = tok(max(0, offset - size))
        if not page and cfg.last_page_quirk:
            return 200, envelope(200, data=[], pagination=pagination)
        wrapper = {spec.list_key: page}
        if stream == "ttp_impersonation":
            wrapper["resultCount"] = total
        return 200, envelope(200, data=[wrapper], pagination=pagination)

    def _message_info(self, req):
        data = req.get("data") if isinstance(req, dict) else None
        if not isinstance(data, list) or not data:
            return 200, envelope(200, fail=[{"key": {}, "errors": [{"field": "id", "code": "err_validation_null",
                                                                    "message": "id is required",
                                                                    "retryable": False}]}])
        out, fails = [], []
        for item in data:
            rec_id = item.get("id") if isinstance(item, dict) else None
            rec = self.server.store.by_id(rec_id) if isinstance(rec_id, str) else None
            if rec is None:
                fails.append({"key": item, "errors": [{"field": "id", "code": "err_message_not_found",  # [I]
                                                       "message": "Message not found", "retryable": False}]})
            else:
                out.append(self.server.factory.message_info(rec))
        return 200, envelope(200, data=out, fail=fails)

    # -- control endpoints ---------------------------------------------------------------------
    def handle_sim(self, method, path, obj):
        srv = self.server
        if path == "/_sim/fault" and method == "POST":
            return self._sim_fault(obj)
        if path == "/_sim/add" and method == "POST":
            stream, count = obj.get("stream"), obj.get("count", 1)
            if stream not in STREAMS or not isinstance(count, int) or not 0 < count <= 100000:
                self.send_json(400, {"error": "need stream in %s and 1 <= count <= 100000" % sorted(STREAMS)})
                return True
            dates = obj.get("dates")
            if dates is None:
                dates = [obj["date"]] if obj.get("date") is not None else [None]
            if not isinstance(dates, list) or not 0 < len(dates) * count <= 1000000:
                self.send_json(400, {"error": "dates must be a non-empty list (count x dates <= 1000000)"})
                return True
            times = []
            try:
                for d in dates:
                    times.extend([parse_iso(d) if d is not None else int(time.time())] * count)
            except (ValueError, AttributeError):
                self.send_json(400, {"error": "date must be ISO 8601 with an offset"})
                return True
            recs = srv.store.add(stream, times)
            self.send_raw(200, dumps({"stream": stream, "records": recs}))
            return True
        if path == "/_sim/records" and method == "GET":
            qs = parse_qs(self.path.split("?", 1)[1] if "?" in self.path else "")
            stream = (qs.get("stream") or [""])[0]
            if stream not in STREAMS:
                self.send_json(400, {"error": "stream must be one of %s" % sorted(STREAMS)})
                return True
            recs = srv.store.all(stream)
            out = {"stream": stream, "time_field": STREAMS[stream].time_field, "count": len(recs), "records": recs}
            if stream == "message_tracking" and (qs.get("details") or ["0"])[0] in ("1", "true"):
                out["details"] = {r["id"]: srv.factory.message_info(r) for r in recs}
                out["internetMessageIds"] = {r["id"]: srv.factory.internet_msgid.get(r["id"]) for r in recs}
            self.send_raw(200, dumps(out))
            return True
        if path == "/_sim/config":
            if method == "POST":
                error = srv.cfg.update(obj)
                if error:
                    self.send_json(400, {"error": error})
                    return True
                if "rate_limit" in obj or "rate_window_ms" in obj:
                    srv.limiter.configure(srv.cfg.rate_limit, srv.cfg.rate_window_ms)
            self.send_json(200, srv.cfg.public())
            return True
        return super().handle_sim(method, path, obj)

    def _sim_fault(self, obj):
        kind = obj.get("kind")
        if kind not in FAULT_KINDS:
            self.send_json(400, {"error": "fault kind must be one of %s" % sorted(FAULT_KINDS)})
            return True
        faults = self.server.faults
        if kind == "revoke_token" and "after" not in obj and "stream" not in obj:
            n = self.server.tokens.revoke_all()
            self.send_json(200, {"revoked": n, "armed": faults.snapshot()})
            return True
        if kind == "clear":
            which = obj.get("which")
            faults.clear(which)
            if which:
                faults.clear(which + "@oauth")
            self.send_json(200, {"armed": faults.snapshot()})
            return True
        target = obj.get("target", "api")
        if target not in ("api", "oauth", "all"):
            self.send_json(400, {"error": "target must be api, oauth or all"})
            return True
        params = {k: v for k, v in obj.items() if k not in ("kind", "count", "target")}
        count = int(obj.get("count", 1))
        if target in ("api", "all"):
            faults.arm(kind, count, **params)
        if target in ("oauth", "all"):
            faults.arm(kind + "@oauth", count, **params)
        self.send_json(200, {"armed": faults.snapshot()})
        return True


class MimecastServer(SimServer):
    def __init__(self, args):
        super().__init__(args.port, MimecastHandler, "mimecast", args.verbose)
        self.faults = MimecastFaults()
        self.cfg = Config(args)
        self.tokens = OAuthTokens()
        self.limiter = RateLimiter(args.rate_limit, args.rate_window_ms)
        self.codec = TokenCodec(args.seed)
        self.factory = RecordFactory(args.seed, Pools(args.seed))
        self.store = RecordStore(self.factory)


def build_arg_parser():
    ap = base_arg_parser("Mimecast API simulator (API 1.0 HMAC and 2.0 OAuth; TTP logs, message finder)")
    g = ap.add_argument_group("credentials")
    g.add_argument("--client-id", default="msfwd-client-id", help="API 2.0 client id")
    g.add_argument("--client-secret", default="msfwd-client-secret", help="API 2.0 client secret")
    g.add_argument("--app-id", default="msfwd-app-id", help="API 1.0 application id (x-mc-app-id)")
    g.add_argument("--app-key", default=DEFAULT_APP_KEY, help="API 1.0 application key")
    g.add_argument("--access-key", default="msfwd-access-key", help="API 1.0 access key")
    g.add_argument("--secret-key", default=DEFAULT_SECRET_B64, help="API 1.0 secret key (base64)")
    g.add_argument("--auth-mode", choices=("any", "1", "2"), default="any", help="accepted API auth (default any)")
    g.add_argument("--token-ttl", type=int, default=1799, help="OAuth expires_in seconds (default 1799)")
    g.add_argument("--date-skew-seconds", type=int, default=900,
                   help="allowed |x-mc-date - now| for API 1.0 (default 900; negative disables)")
    g.add_argument("--keys-expired", action="store_true", help="API 1.0 keys answer 418 Binding Expired")
    d = ap.add_argument_group("data")
    d.add_argument("--records", type=int, default=6000, help="records generated per stream (default 6000)")
    d.add_argument("--span-hours", type=float, default=24.0, help="records spread over this many hours (default 24)")
    d.add_argument("--now", help="ISO 8601 end of the generated span (default: server start time)")
    p = ap.add_argument_group("paging and limits")
    p.add_argument("--max-page-size", type=int, default=500, help="larger pageSize is clamped (default 500)")
    p.add_argument("--default-page-size", type=int, default=100, help="pageSize when omitted (default 100)")
    p.add_argument("--last-page-quirk", action="store_true", help="final page carries next and data:[]")
    p.add_argument("--live-pagination", action="store_true",
                   help="re-evaluate every page against the live store instead of a snapshot")
    p.add_argument("--rate-limit", type=int, default=10000, help="calls per window per credential (default 10000)")
    p.add_argument("--rate-window-ms", type=int, default=3600000, help="rate window in ms (default 3600000)")
    p.add_argument("--rate-limit-body", choices=("envelope", "detail"), default="envelope",
                   help="429 body: Mimecast envelope or the SIEM-style {\"detail\": ...}")
    ap.add_argument("--help-gaps", action="store_true", help="print the choices made where the spec is silent")
    return ap


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    if args.help_gaps:
        print(GAP_CHOICES)
        return 0
    try:
        end = parse_iso(args.now) if args.now else int(time.time())
    except ValueError as e:
        print("mimecast_sim: --now: %s" % e, file=sys.stderr)
        return 64
    try:
        base64.b64decode(args.secret_key, validate=True)
    except ValueError:
        print("mimecast_sim: --secret-key must be base64", file=sys.stderr)
        return 64
    server = MimecastServer(args)
    server.store.generate(max(0, args.records), end, args.span_hours * 3600)
    serve(server, args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
