#!/usr/bin/env python3
"""Proofpoint Protection Server (PPS) REST API simulator for msfwd's tests.

What it serves (127.0.0.1 only; facts and their evidence grades are in
/work/shared/specs/proofpoint-api.md sections 1-4 and 6, and in the D3 seed 002):
  GET    /rest/v1/quarantine              search (from/rcpt/subject, startdate/enddate, folder,
                                          dlpviolation, messagestatus, limit), or ?guid= raw message
  POST   /rest/v1/quarantine              actions: release, resubmit, forward, move, delete
  GET|POST|PUT|DELETE /rest/v1/enduser/{email-or-uid}
All of them need HTTP Basic auth (--username/--password).

Data: --records per day for --days days ending at --now, spread over --folders, generated from
--seed; on-prem ("folder_id:table_id:dbase_id") and/or cloud (localguid == guid) ids.

Control endpoints (besides simlib's /_sim/health, /_sim/fault, /_sim/stats):
  GET  /_sim/records?folder=F[&visible=1]   ground truth, newest first, every optional field set
  POST /_sim/add {"folder","count","date", optional "spread" (dates drawn from [date, date+spread
                  seconds]), "from","rcpts","subject","id_style","lag"}
  GET  /_sim/actions                         every accepted action, in order
  GET  /_sim/users                           the end-user table
  GET|POST /_sim/config                      {"now","advance","action_delay","delete_delay",
                                              "insert_lag","password","default_limit","max_limit"}
Fault kinds (POST /_sim/fault {"kind": K, "count": N, optional "path"}), on /rest/ by default:
  5xx {"status","body"}, slow {"seconds"}, truncated, invalid_json, revoke_token (the request is
  answered 401 as if the API account had been revoked), 429_storm {"retry_after"}; "after": N lets
  the first N targeted requests through first (a fault in the middle of a backfill).
"""
import base64
import calendar
import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import SimHandler, SimServer, base_arg_parser, serve  # noqa: E402
from ser_sim import SimClock, TargetedFaults, parse_instant  # noqa: E402

QUARANTINE_PATH = "/rest/v1/quarantine"
ENDUSER_PREFIX = "/rest/v1/enduser/"
DAY = 86400
GUID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

# Module type of well-known folders: deletedfolder/targetfolder must have the same type.
KNOWN_TYPES = {
    "Quarantine": "spam", "Spam": "spam", "Phish": "spam", "Adult": "spam", "Bulk": "spam",
    "Suspect": "spam", "Outbound Spam": "spam", "Deleted Messages": "spam",
    "Virus": "virus", "Deleted Viruses": "virus",
    "HIPAA": "dlp", "PCI": "dlp", "BitCoin Wallet": "dlp", "Deleted Incidents": "dlp",
}

SENDERS = ["john@doe.com", "billing@invoices-secure.net", "promo@deals.example.org",
           "noreply@lottery-winner.biz", "ceo@examp1e.com", "alerts@bank-security.co",
           "newsletter@shop.example.net", "sender@example.com", "hr@example.com",
           "partner@good.example", "jane.roe@sub.partner.example"]
RECIPIENTS = ["jdoe@example.com", "asmith@example.com", "finance@example.com",
              "hr@example.com", "it-help@example.com", "mwong@sub.example.com",
              "foo@bar.com", "user@test.com", "rcpt@example.com"]
SUBJECTS = {
    "spam": ["Loan", "Loan approved today", "Lottery Winning 3", "Your invoice is overdue",
             "Re: Payment confirmation", "You have won!", "Urgent: verify your account",
             "20% off $1000 Payday Loans now",
             "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"],
    "dlp": ["Patient list Q3", "Claims export", "Card numbers for reconciliation",
            "Lab results - confidential", "SSN batch upload"],
    "virus": ["Scanned document", "Invoice attached", "Shipping label"],
}
DLP_RULES = {
    "HIPAA": ("HIPAA Protected Health Information", "high", "patients_q3.xlsx"),
    "PCI": ("PCI Credit Card Numbers", "critical", "cards.csv"),
}
USER_ATTRIBUTES = ("spam_threshold", "language", "digest_frequency", "spam_action", "timezone")


def fmt_pps_date(ts, offset_min=0):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ts) + offset_min * 60))


def parse_pps_date(text, offset_min=0):
    """'YYYY-MM-DD HH:MM:SS' (appliance zone, UTC by default) -> epoch seconds, or ValueError."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})", text or "")
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s = (int(x) for x in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]
            and h < 24 and mi < 60 and s < 60):
        raise ValueError(text)
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - offset_min * 60


def parse_any_date(value, offset_min=0):
    if isinstance(value, str):
        try:
            return parse_pps_date(value, offset_min)
        except ValueError:
            pass
    return int(parse_instant(value))


def match_address(pattern, address):
    """PPS from/rcpt matching: equals, starts with, ends with (via *), or in a domain."""
    p, a = pattern.strip().lower(), (address or "").lower()
    if p in ("", "*"):
        return True
    if "*" in p:
        return re.fullmatch(".*".join(re.escape(part) for part in p.split("*")), a) is not None
    if p.startswith("@"):
        return a.endswith(p)
    if "@" not in p:                    # a bare domain: the address is in it (or a subdomain)
        dom = a.rsplit("@", 1)[-1]
        return dom == p or dom.endswith("." + p)
    return a == p


def match_subject(pattern, subject, plain_mode):
    p, s = pattern.lower(), (subject or "").lower()
    if p == "*":
        return True
    if "*" in p:
        return re.fullmatch(".*".join(re.escape(part) for part in p.split("*")), s) is not None
    return s == p if plain_mode == "equals" else p in s


def split_list(value):
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


class PpsServer(SimServer):
    def __init__(self, args):
        super().__init__(args.port, PpsHandler, "pps_sim", args.verbose)
        self.faults = TargetedFaults()
        self.args = args
        self.lock = threading.RLock()
        self.clock = SimClock(parse_instant(args.now) if args.now else None, args.advance_clock)
        self.password = args.password
        self.action_delay = args.action_delay
        self.delete_delay = args.delete_delay
        self.insert_lag = args.insert_lag
        self.default_limit = args.default_limit
        self.max_limit = args.max_limit
        self.modules = set(split_list(args.modules.lower()))
        self.folders = {}                 # name -> {"type", "id"}
        self.record_folders = []
        for spec in split_list(args.folders):
            self._add_folder(spec, generated=True)
        for spec in split_list(args.extra_folders):
            self._add_folder(spec, generated=False)
        self.next_db = {}
        self.records = []
        self.seq = 0
        self.pending = []                 # [(due monotonic, fn)]
        self.actions = []
        self.users = {}                   # uid -> user
        self.rng = random.Random(args.seed)
        self._generate()
        self._generate_users()

    def _add_folder(self, spec, generated):
        name, _, ftype = spec.partition(":")
        name = name.strip()
        if name in self.folders:
            return
        ftype = ftype.strip() or KNOWN_TYPES.get(name, "spam")
        self.folders[name] = {"type": ftype, "id": 2 + 2 * len(self.folders)}
        if generated:
            self.record_folders.append(name)

    # -- data ------------------------------------------------------------------------------------
    def _new_guid(self, rng):
        return "".join(rng.choice(GUID_CHARS) for _ in range(32))

    def _localguid(self, folder, cloud, guid):
        if cloud:
            return guid
        fid = self.folders[folder]["id"]
        self.next_db[folder] = self.next_db.get(folder, 0) + 1
        return "%d:%d:%d" % (fid, fid, self.next_db[folder])

    def _cloud_pick(self, rng):
        style = self.args.id_style
        if style == "mixed":
            return rng.random() < self.args.cloud_fraction
        return style == "cloud"

    def make_record(self, rng, folder, ts, overrides=None):
        o = overrides or {}
        ftype = self.folders[folder]["type"]
        style = o.get("id_style")
        cloud = (style == "cloud") if style in ("cloud", "onprem") else self._cloud_pick(rng)
        guid = self._new_guid(rng)
        sender = o.get("from") or rng.choice(SENDERS)
        rcpts = split_list(o.get("rcpts")) or rng.sample(RECIPIENTS, rng.choice((1, 1, 1, 2, 3)))
        subject = o["subject"] if o.get("subject") is not None else rng.choice(
            SUBJECTS.get(ftype, SUBJECTS["spam"]))
        ip = "%d.%d.%d.%d" % (rng.choice((52, 40, 185, 203)), rng.randrange(256),
                              rng.randrange(256), rng.randrange(1, 255))
        if cloud:
            server = "m%07d.ppops.net" % rng.randrange(10 ** 7)
            host_ip = "mail-%s%d.outbound.example-relay.com [%s]" % (
                rng.choice(("westeurope", "eastus", "norwayeast")), rng.randrange(10 ** 5), ip)
        else:
            server = "pps%02d.corp.example.com" % rng.randrange(1, 4)
            host_ip = "[%s] [%s]" % (ip, ip)
        self.seq += 1
        rec = {
            "seq": self.seq, "ts": int(ts), "folder": folder, "cloud": cloud, "guid": guid,
            "localguid": self._localguid(folder, cloud, guid), "processingserver": server,
            "subject": subject, "from": sender, "rcpts": rcpts, "host_ip": host_ip,
            "messageid": "%s.%d@%s" % (
                "".join(rng.choice(GUID_CHARS[:26] + GUID_CHARS[52:62]) for _ in range(20)),
                rng.randrange(10 ** 9), sender.rsplit("@", 1)[-1]),
            "size": int(o.get("size") or rng.randrange(2000, 120000)),
            "spamscore": 0 if ftype != "spam" else rng.choice((100, 100, 99, 95, 80, 60)),
            "phishscore": rng.choice((0, 0, 0, 20, 80, 100)),
            "client_ip": ip, "lag": o.get("lag"),
            "statuses": [{"user": "", "comment": "", "id": 0, "date": int(ts),
                          "statusdesc": "New", "status": 0}],
            "numstr": (self.args.numbers == "string"
                       or (self.args.numbers == "mixed" and rng.random() < 0.5)),
        }
        self.records.append(rec)
        return rec

    def _generate(self):
        rng = self.rng
        now = int(self.clock.now())
        if not self.record_folders:
            return
        for k in range(self.args.days - 1, -1, -1):
            lo, hi = now - (k + 1) * DAY + 1, now - k * DAY
            stamps = sorted(rng.randint(lo, hi) for _ in range(self.args.records))
            for i in range(1, len(stamps)):          # bursts: identical timestamps happen
                if rng.random() < 0.08:
                    stamps[i] = stamps[i - 1]
            for ts in stamps:
                self.make_record(rng, rng.choice(self.record_folders), ts)

    def _generate_users(self):
        names = [("John", "Doe"), ("Alice", "Smith"), ("Finance", "Team"), ("HR", "Team"),
                 ("IT", "Help"), ("May", "Wong"), ("Foo", "Bar"), ("Test", "User")]
        created = int(self.clock.now()) - 400 * DAY
        for i, (email, (first, last)) in enumerate(zip(RECIPIENTS, names)):
            if i >= self.args.users:
                break
            self._create_user(email, {
                "firstname": first, "lastname": last,
                "alias": [email.replace("@", ".alias@")] if i % 2 == 0 else [],
                "groups": ["Sales"] if i % 3 == 0 else ["Staff"],
                "safelist": ["partner@good.example"] if i % 2 == 0 else [],
                "blocklist": ["spam@bad.example"] if i % 3 == 0 else [],
                "attributes": {"spam_threshold": "50", "language": "en"},
                "type": 1 if email.startswith(("finance", "hr")) else 0,
            }, created + i * 3600, source=1)

    # -- visibility / lookups --------------------------------------------------------------------
    def apply_pending(self):
        now = time.monotonic()
        with self.lock:
            due = [p for p in self.pending if p[0] <= now]
            self.pending = [p for p in self.pending if p[0] > now]
        for _, fn in sorted(due, key=lambda p: p[0]):
            fn()

    def schedule(self, delay, fn):
        if delay <= 0:
            fn()
        else:
            with self.lock:
                self.pending.append((time.monotonic() + delay, fn))

    def visible(self, rec, now):
        lag = rec["lag"] if rec["lag"] is not None else self.insert_lag
        return rec["ts"] + lag <= now

    def in_folder(self, folder):
        return [r for r in self.records if r["folder"] == folder]

    # -- rendering -------------------------------------------------------------------------------
    def render(self, rec, dlp=None, status=False):
        off = self.args.tz_offset_minutes

        def num(v):
            return str(v) if rec["numstr"] else v
        out = {
            "processingserver": rec["processingserver"], "date": fmt_pps_date(rec["ts"], off),
            "subject": rec["subject"], "messageid": rec["messageid"], "folder": rec["folder"],
            "size": num(rec["size"]), "rcpts": list(rec["rcpts"]), "from": rec["from"],
            "spamscore": num(rec["spamscore"]), "guid": rec["guid"], "host_ip": rec["host_ip"],
            "localguid": rec["localguid"],
        }
        if self.args.phishscore:
            out["phishscore"] = num(rec["phishscore"])
        if dlp in ("t", "details"):
            if self.folders.get(rec["folder"], {}).get("type") == "dlp":
                name, sev, fname = DLP_RULES.get(rec["folder"], ("Regulatory Compliance",
                                                                 "medium", "export.txt"))
                v = {"source": "smtp", "reasons": [{"name": name, "severity": sev}]}
                if dlp == "details":
                    v["components"] = {"files": [{"name": fname}],
                                       "events": [{"ip": rec["client_ip"]}],
                                       "users": [{"email": rec["from"]}]}
                out["dlpviolation"] = v
            elif self.args.dlp_na:
                out["dlpviolation"] = "Not Applicable"
        if status:
            out["messagestatus"] = [dict(s, date=fmt_pps_date(s["date"], off))
                                    for s in rec["statuses"]]
        return out

    def raw_message(self, rec):
        rng = random.Random(rec["guid"])
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(rec["ts"]))
        head = [
            "Received: from %s by %s with ESMTPS id %s; %s" % (
                rec["host_ip"], rec["processingserver"], rec["guid"][:14], date),
            "X-Proofpoint-GUID: %s" % rec["guid"],
            "X-Proofpoint-Spam-Details: rule=quarantine score=%d" % rec["spamscore"],
            "From: <%s>" % rec["from"],
            "To: %s" % ", ".join("<%s>" % r for r in rec["rcpts"]),
            "Subject: %s" % rec["subject"],
            "Date: %s" % date,
            "Message-ID: <%s>" % rec["messageid"],
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii",
            "", "This message was quarantined (simulated by msfwd's pps_sim).", "",
        ]
        text = "\r\n".join(head) + "\r\n"
        pad = max(0, (rec["size"] - len(text)) // 78)  # pad to about the advertised size
        text += "".join(base64.b64encode(rng.randbytes(57)).decode() + "\r\n"
                        for _ in range(pad))
        return text.encode()

    # -- users -----------------------------------------------------------------------------------
    def _create_user(self, email, body, created, source=0):
        uid = hashlib.sha1(("%d:%s" % (self.args.seed, email.lower())).encode()).hexdigest()[:24]
        user = {
            "uid": uid, "email": email, "firstname": "", "lastname": "", "alias": [],
            "groups": [], "suborg": "", "type": 0, "safelist": [], "blocklist": [],
            "attributes": {}, "created": fmt_pps_date(created), "lastmodified": "",
            "lastpasswordchange": "", "lastsignon": "", "creationsource": source,
        }
        self._update_user(user, body, replace_lists=True)
        user["lastmodified"] = user["created"]
        self.users[uid] = user
        return user

    def _update_user(self, user, body, replace_lists=None):
        replace = (self.args.list_update == "replace") if replace_lists is None else replace_lists
        for key in ("firstname", "lastname", "suborg"):
            if isinstance(body.get(key), str):
                user[key] = body[key]
        if body.get("type") in (0, 1, "0", "1"):
            user["type"] = int(body["type"])
        for key in ("alias", "safelist", "blocklist", "groups"):
            if key in body and body[key] is not None:
                vals = split_list(body[key])
                if replace:
                    user[key] = vals
                else:
                    user[key] = user[key] + [v for v in vals if v not in user[key]]
        for g in split_list(body.get("addgroup")):
            if g not in user["groups"]:
                user["groups"].append(g)
        for g in split_list(body.get("removegroup")):
            if g in user["groups"]:
                user["groups"].remove(g)
        attrs = body.get("attributes")
        if isinstance(attrs, dict):
            for k, v in attrs.items():
                if k in USER_ATTRIBUTES:  # names are case-sensitive; unknown ones are ignored
                    user["attributes"][k] = v

    def find_user(self, ident):
        with self.lock:
            if ident in self.users:
                return self.users[ident]
            low = ident.lower()
            for u in self.users.values():
                if u["email"].lower() == low:
                    return u
        return None

    def config_view(self):
        return {
            "now": fmt_pps_date(self.clock.now()), "clock_frozen": self.clock.frozen(),
            "action_delay": self.action_delay, "delete_delay": self.delete_delay,
            "insert_lag": self.insert_lag, "default_limit": self.default_limit,
            "max_limit": self.max_limit, "modules": sorted(self.modules),
            "folders": {k: dict(v) for k, v in self.folders.items()},
            "record_folders": list(self.record_folders), "id_style": self.args.id_style,
            "tz_offset_minutes": self.args.tz_offset_minutes,
        }


def _user_error(status, text):
    return {"status": status, "errors": {"invalidarguments": [{"error": text}]}}


class PpsHandler(SimHandler):

    def _query(self):
        qs = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {k: v[0] for k, v in qs.items()}

    def _fault(self, kind, path):
        return self.server.faults.take_for(kind, path, ("/rest/",))

    def _text(self, status, text, headers=None):
        self._reply(status, text.encode(), "text/plain; charset=utf-8", False, headers)

    def _json(self, status, obj):
        self._reply(status, json.dumps(obj).encode(), "application/json", True)

    def _reply(self, status, body, ctype, is_json, headers=None):
        path = self.path.split("?", 1)[0]
        if is_json and self._fault("invalid_json", path) is not None:
            self.send_raw(status, body[: max(1, len(body) // 3)] + b'\n<html><body>Internal',
                          ctype, headers)
            return
        if self._fault("truncated", path) is not None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.server.count(path, "%d-truncated" % status)
            return
        self.send_raw(status, body, ctype, headers)

    # -- API -------------------------------------------------------------------------------------
    def handle_api(self, method):
        srv = self.server
        path = self.path.split("?", 1)[0]
        body = self.read_body() if method in ("POST", "PUT", "DELETE") else b""
        srv.apply_pending()
        if path.startswith("/rest/"):
            p = self._fault("slow", path)
            if p is not None:
                time.sleep(float(p.get("seconds", 3)))
            p = self._fault("5xx", path)
            if p is not None:
                self._text(int(p.get("status", 500)), p.get("body", "Internal Server Error"))
                return
            p = self._fault("429_storm", path)
            if p is not None:
                self._text(429, "Too Many Requests",
                           {"Retry-After": p["retry_after"]} if p.get("retry_after") else None)
                return
            revoked = self._fault("revoke_token", path) is not None
            if revoked or not self._auth_ok():
                self._text(401, "Unauthorized",
                           {"WWW-Authenticate": 'Basic realm="Proofpoint Protection Server"'})
                return
        if path == QUARANTINE_PATH:
            if "quarantine" not in srv.modules:
                self._text(403, "Forbidden: the API role does not manage module Quarantine")
            elif method == "GET":
                self._search()
            elif method == "POST":
                self._action(body)
            else:
                self._text(405, "Method Not Allowed")
        elif path.startswith(ENDUSER_PREFIX) and len(path) > len(ENDUSER_PREFIX):
            if "enduser" not in srv.modules:
                self._text(403, "Forbidden: the API role does not manage module enduser")
            else:
                self._enduser(method, unquote(path[len(ENDUSER_PREFIX):]), body)
        else:
            self._text(404, "Not Found")

    def _auth_ok(self):
        auth = self.headers.get("Authorization") or ""
        if auth[:6].lower() != "basic ":
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.server.args.username and pw == self.server.password

    # -- search ----------------------------------------------------------------------------------
    def _search(self):
        srv = self.server
        a = srv.args
        q = self._query()
        now = srv.clock.now()
        if q.get("guid"):
            with srv.lock:
                rec = next((r for r in srv.records
                            if r["guid"] == q["guid"] and r["folder"] is not None
                            and srv.visible(r, now)), None)
                raw = srv.raw_message(rec) if rec else None
            if raw is None:
                self._text(404, "Message not found")
            else:
                self._reply(200, raw, a.raw_content_type, False)
            return
        folder = q.get("folder") or "Quarantine"
        if folder not in srv.folders:
            self._text(a.folder_not_found_status, "Folder '%s' not found" % folder)
            return
        if not any(q.get(k) for k in ("from", "rcpt", "subject")):
            self._text(400, "At least one of the following parameters must be specified: "
                            "from, rcpt, subject")
            return
        off = a.tz_offset_minutes
        try:
            end = parse_pps_date(q["enddate"], off) if q.get("enddate") else int(now)
        except ValueError:
            self._text(400, "Invalid argument: enddate")
            return
        try:
            start = parse_pps_date(q["startdate"], off) if q.get("startdate") else end - DAY
        except ValueError:
            self._text(400, "Invalid argument: startdate")
            return
        if start > end:
            self._text(400, "Invalid argument: startdate is after enddate")
            return
        limit = srv.default_limit
        if q.get("limit"):
            try:
                limit = int(q["limit"])
                if limit < 1:
                    raise ValueError
            except ValueError:
                self._text(400, "Invalid argument: limit")
                return
            limit = min(limit, srv.max_limit)
        dlp = q.get("dlpviolation") or None
        if dlp not in (None, "t", "details", "f"):
            self._text(400, "Invalid argument: dlpviolation")
            return
        want_status = q.get("messagestatus") == "t"
        with srv.lock:
            hits = []
            for r in srv.in_folder(folder):
                if not srv.visible(r, now):
                    continue
                if r["ts"] < start or r["ts"] > end or (a.enddate_exclusive and r["ts"] == end):
                    continue
                if q.get("from") and not match_address(q["from"], r["from"]):
                    continue
                if q.get("rcpt") and not any(match_address(q["rcpt"], x) for x in r["rcpts"]):
                    continue
                if q.get("subject") and not match_subject(q["subject"], r["subject"],
                                                          a.subject_plain):
                    continue
                hits.append(r)
            hits.sort(key=lambda r: (r["ts"], r["seq"]), reverse=True)
            out = [srv.render(r, dlp, want_status) for r in hits[:limit]]
        body = {"count": len(out), "records": out}
        if a.meta:
            body["meta"] = {"limit": limit, "query_params": q}
        self._json(200, body)

    # -- actions ---------------------------------------------------------------------------------
    def _action(self, raw):
        srv = self.server
        try:
            req = json.loads(raw or b"null")
        except ValueError:
            req = None
        if not isinstance(req, dict):
            self._text(400, "Invalid argument: request body must be a JSON object")
            return
        action = req.get("action")
        if action not in ("release", "resubmit", "forward", "move", "delete"):
            self._text(400, "Invalid argument: action")
            return
        folder = req.get("folder")
        if not isinstance(folder, str) or folder not in srv.folders:
            self._text(400, "Invalid argument: folder")
            return
        ids = split_list(req.get("localguid"))
        with srv.lock:
            present = {r["localguid"]: r for r in srv.in_folder(folder)}
            recs = [present.get(i) for i in ids]
        if not ids or any(r is None for r in recs):
            self._text(400, "Invalid argument: localguid")
            return
        for flag in ("scan", "appendoldsubject"):
            if req.get(flag) is not None and req[flag] not in ("t", "f"):
                self._text(400, "Invalid argument: " + flag)
                return
        ftype = srv.folders[folder]["type"]

        def dest_ok(name):
            return (isinstance(name, str) and name in srv.folders and name != folder
                    and srv.folders[name]["type"] == ftype)
        deleted = req.get("deletedfolder")
        if action in ("release", "forward", "delete") and deleted is not None:
            if not dest_ok(deleted):
                self._text(400, "Invalid argument: deletedfolder")
                return
        target = req.get("targetfolder")
        if action == "move" and not dest_ok(target):
            self._text(400, "Invalid argument: targetfolder")
            return
        if action == "forward":
            to = split_list(req.get("to"))
            if not to or any("@" not in t for t in to):
                self._text(400, "Invalid argument: to")
                return
        idtext = ",".join(ids)
        now = int(srv.clock.now())
        with srv.lock:
            srv.actions.append({"action": action, "folder": folder, "localguid": ids,
                                "guids": [r["guid"] for r in recs],
                                "params": {k: v for k, v in req.items()
                                           if k not in ("action", "folder", "localguid")},
                                "at": fmt_pps_date(now)})

        def mark(desc, code):
            with srv.lock:
                for r in recs:
                    r["statuses"].insert(0, {"user": srv.args.username, "comment": "",
                                             "id": len(r["statuses"]), "date": now,
                                             "statusdesc": desc, "status": code})

        def relocate(dest):
            def run():
                with srv.lock:
                    for r in recs:
                        if r["folder"] != folder:   # already acted on
                            continue
                        if dest is None:
                            r["folder"] = None
                        else:
                            r["folder"] = dest
                            r["localguid"] = srv._localguid(dest, r["cloud"], r["guid"])
            return run
        if action == "release":
            mark("Released", 1)
            if deleted:
                srv.schedule(srv.action_delay, relocate(deleted))
            self._text(202, "Request sent. Message %s will be released momentarily" % idtext)
        elif action == "resubmit":
            mark("Resubmitted", 3)
            srv.schedule(srv.action_delay, relocate(None))
            self._text(202, "Request sent. Message %s will be resubmitted momentarily" % idtext)
        elif action == "forward":
            mark("Forwarded", 2)
            if deleted:
                srv.schedule(srv.action_delay, relocate(deleted))
            self._text(202, "Request sent. Message %s will be forwarded momentarily" % idtext)
        elif action == "move":
            srv.schedule(srv.delete_delay, relocate(target))
            self._json(200, {"status": "Successfully moved message %s" % idtext})
        else:
            srv.schedule(srv.delete_delay, relocate(deleted))
            self._json(200, {"status": "Successfully deleted message %s" % idtext})

    # -- end users -------------------------------------------------------------------------------
    def _enduser(self, method, ident, raw):
        srv = self.server
        body = {}
        if method in ("POST", "PUT") and raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._json(400, _user_error(400, "Invalid JSON"))
                return
        with srv.lock:
            user = srv.find_user(ident)
            if method == "GET":
                if user is None:
                    self._json(404, _user_error(404, "User not found"))
                else:
                    self._json(200, user)
            elif method == "POST":
                if user is not None:
                    self._json(400, _user_error(400, "User already exists"))
                elif not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", ident):
                    self._json(400, _user_error(400, "Invalid email address"))
                else:
                    self._json(200, srv._create_user(ident, body, srv.clock.now()))
            elif method == "PUT":
                if user is None:
                    self._json(404, _user_error(404, "User not found"))
                else:
                    srv._update_user(user, body)
                    user["lastmodified"] = fmt_pps_date(srv.clock.now())
                    self._json(200, user)
            elif method == "DELETE":
                if user is None:
                    self._json(404, _user_error(404, "User not found"))
                else:
                    del srv.users[user["uid"]]
                    self._json(200, {"status": 200, "message": "User %s deleted" % user["email"]})
            else:
                self._text(405, "Method Not Allowed")

    # -- control ---------------------------------------------------------------------------------
    def handle_sim(self, method, path, obj):
        srv = self.server
        srv.apply_pending()
        if path == "/_sim/records" and method == "GET":
            q = self._query()
            now = srv.clock.now()
            with srv.lock:
                recs = [r for r in srv.records if r["folder"] is not None
                        and (not q.get("folder") or r["folder"] == q["folder"])
                        and (q.get("visible") != "1" or srv.visible(r, now))]
                recs.sort(key=lambda r: (r["ts"], r["seq"]), reverse=True)
                out = [srv.render(r, "details", True) for r in recs]
            self.send_json(200, {"count": len(out), "records": out})
        elif path == "/_sim/add" and method == "POST":
            folder = obj.get("folder") or "Quarantine"
            if folder not in srv.folders:
                self.send_json(400, {"error": "unknown folder " + folder})
                return True
            try:
                ts = (parse_any_date(obj["date"], srv.args.tz_offset_minutes)
                      if obj.get("date") else int(srv.clock.now()))
                count = int(obj.get("count", 1))
            except (TypeError, ValueError) as e:
                self.send_json(400, {"error": "bad date or count: %s" % e})
                return True
            try:
                spread = int(obj.get("spread") or 0)
                if spread < 0:
                    raise ValueError("negative spread")
            except (TypeError, ValueError) as e:
                self.send_json(400, {"error": "bad spread: %s" % e})
                return True
            with srv.lock:
                rng = random.Random("%d:add:%d" % (srv.args.seed, srv.seq))
                stamps = sorted(rng.randint(ts, ts + spread) for _ in range(count))
                added = [srv.make_record(rng, folder, t, obj) for t in stamps]
                out = [srv.render(r, "details", True) for r in added]
            self.send_json(200, {"added": out})
        elif path == "/_sim/actions" and method == "GET":
            with srv.lock:
                self.send_json(200, {"actions": list(srv.actions)})
        elif path == "/_sim/users" and method == "GET":
            with srv.lock:
                self.send_json(200, {"users": list(srv.users.values())})
        elif path == "/_sim/config" and method == "GET":
            self.send_json(200, srv.config_view())
        elif path == "/_sim/config" and method == "POST":
            try:
                if "now" in obj:
                    srv.clock.set(None if obj["now"] is None else parse_any_date(obj["now"]),
                                  bool(obj.get("advance_clock", False)))
                if "advance" in obj:
                    srv.clock.advance(float(obj["advance"]))
                for key in ("action_delay", "delete_delay", "insert_lag"):
                    if key in obj:
                        setattr(srv, key, float(obj[key]))
                for key in ("default_limit", "max_limit"):
                    if key in obj:
                        setattr(srv, key, int(obj[key]))
                if "password" in obj:
                    srv.password = str(obj["password"])
                if "modules" in obj:
                    srv.modules = set(split_list(str(obj["modules"]).lower()))
            except (TypeError, ValueError) as e:
                self.send_json(400, {"error": str(e)})
                return True
            self.send_json(200, srv.config_view())
        else:
            return super().handle_sim(method, path, obj)
        return True


def build_arg_parser():
    ap = base_arg_parser("Proofpoint Protection Server quarantine/end-user REST API simulator")
    ap.add_argument("--username", default="apiadmin")
    ap.add_argument("--password", default="apipassword")
    ap.add_argument("--now", help="freeze the simulated clock here (ISO-8601, "
                    "'YYYY-MM-DD HH:MM:SS' UTC or epoch); default: the real clock")
    ap.add_argument("--advance-clock", action="store_true",
                    help="with --now: start there and let the clock run in real time")
    ap.add_argument("--records", type=int, default=200, help="generated records per day")
    ap.add_argument("--days", type=int, default=3, help="days of generated records before now")
    ap.add_argument("--folders", default="Quarantine,HIPAA",
                    help="folders that get generated records; 'Name:type' sets the module type "
                    "(spam, virus, dlp)")
    ap.add_argument("--extra-folders",
                    default="Spam,Virus,Phish,PCI,Deleted Incidents,Deleted Messages",
                    help="folders that exist but start empty (targets for move/deletedfolder)")
    ap.add_argument("--id-style", choices=("onprem", "cloud", "mixed"), default="onprem",
                    help="localguid style: folder_id:table_id:dbase_id, cloud (== guid) or mixed")
    ap.add_argument("--cloud-fraction", type=float, default=0.5,
                    help="share of cloud-style records with --id-style mixed")
    ap.add_argument("--numbers", choices=("string", "int", "mixed"), default="string",
                    help="JSON type of size/spamscore/phishscore [fixtures show strings]")
    ap.add_argument("--phishscore", action="store_true",
                    help="add a phishscore field (never seen in a real fixture) [inferred]")
    ap.add_argument("--dlp-na", action="store_true",
                    help="non-DLP records get dlpviolation \"Not Applicable\" when asked "
                    "(default: key left out) [inferred]")
    ap.add_argument("--default-limit", type=int, default=100, help="[inferred] default limit")
    ap.add_argument("--max-limit", type=int, default=1000,
                    help="[inferred] cap; a larger limit is clamped to it")
    ap.add_argument("--enddate-exclusive", action="store_true",
                    help="[inferred] treat enddate as exclusive (default: inclusive, both ends)")
    ap.add_argument("--subject-plain", choices=("contains", "equals"), default="contains",
                    help="[inferred] how a subject filter without '*' matches")
    ap.add_argument("--folder-not-found-status", type=int, default=400,
                    help="[inferred] status for an unknown search folder (text has 'not found')")
    ap.add_argument("--meta", action="store_true",
                    help="[inferred] add meta{limit,query_params} to search responses")
    ap.add_argument("--raw-content-type", default="application/octet-stream",
                    help="[inferred] Content-Type of ?guid= downloads")
    ap.add_argument("--tz-offset-minutes", type=int, default=0,
                    help="[inferred] appliance zone: record dates and startdate/enddate are "
                    "local time this far from UTC (default 0 = UTC, as documented)")
    ap.add_argument("--insert-lag", type=float, default=0.0,
                    help="records show up in searches only this many seconds after their date")
    ap.add_argument("--action-delay", type=float, default=0.0,
                    help="seconds before release/resubmit/forward take effect on the folder")
    ap.add_argument("--delete-delay", type=float, default=0.0,
                    help="seconds before move/delete take effect on the folder")
    ap.add_argument("--modules", default="quarantine,enduser",
                    help="managed modules of the API role; others answer 403")
    ap.add_argument("--users", type=int, default=5, help="end users created at start (max 8)")
    ap.add_argument("--list-update", choices=("replace", "append"), default="replace",
                    help="[inferred] PUT safelist/blocklist/alias semantics")
    return ap


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    serve(PpsServer(args), args.port_file)


if __name__ == "__main__":
    main()
