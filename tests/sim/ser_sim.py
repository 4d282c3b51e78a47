#!/usr/bin/env python3
"""Proofpoint Secure Email Relay (SER) reporting API simulator for msfwd's tests.

What it serves (127.0.0.1 only; see /work/shared/specs/proofpoint-api.md section 5 and the vendor
overview in seeds 000/001):
  POST /v1/token                              OAuth2 client_credentials (form body), bearer tokens
  GET  /v1/sercustomer/report/summary         applicationUsers + entitlement for [start, end)

Traffic model. Every application user gets per-bucket (default 60 s) message counts that are a pure
function of --seed. All messages of a bucket happen at the bucket's start instant, so the counts of
a window are the sum of the buckets whose start lies in [startTimeStamp, endTimeStamp), and
summary(A,C) == summary(A,B) + summary(B,C) for every counter. Day totals are drawn first and then
spread over the day's buckets, so long windows cost O(days), not O(buckets).

Status follows the vendor overview: a message that got a 4xx is retried for 7 days and counts as
tempFailure until it succeeds (success) or the 7 days pass (failure); messages from the last
--in-progress-seconds are inProgress. For a fixed "now" the data never changes; when "now" moves,
recent windows change (tempFailure resolves), exactly as a real relay would report.

Control endpoints (besides simlib's /_sim/health, /_sim/fault, /_sim/stats):
  GET  /_sim/summary?start=..&end=..   ground truth for a window (same shape, no auth/limits/faults)
  GET  /_sim/config                    current knobs
  POST /_sim/config                    {"token_ttl", "now", "advance", "rate_limit", "rate_window",
                                        "retry_after", "reset_rate", "revoke_tokens"}
  GET  /_sim/tokens                    issued tokens and their expiry (sim clock)
Fault kinds (POST /_sim/fault {"kind": K, "count": N, "path": optional path prefix, ...}):
  5xx {"status": 503, "body": ..., "retry_after": S}, slow {"seconds": S}, truncated,
  invalid_json, revoke_token (invalidates every issued token, that request gets 401),
  429_storm {"retry_after": S}. Default target: the summary endpoint; "path": "/v1/token" targets
  the token endpoint. "after": N lets the first N targeted requests through (a fault mid-backfill).

Tokens expire after expires_in seconds on the simulated clock OR on the real clock, whichever comes
first: with a frozen clock (stable data) a short --token-ttl still expires mid-run.
"""
import bisect
import calendar
import hashlib
import itertools
import json
import os
import random
import re
import sys
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Faults, SimHandler, SimServer, base_arg_parser, serve  # noqa: E402

TOKEN_PATH = "/v1/token"
SUMMARY_PATH = "/v1/sercustomer/report/summary"
DAY = 86400

# ------------------------------------------------------------------------------------------------
# time helpers


def _timegm(y, mo, d, h=0, mi=0, s=0):
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def _valid_date(y, mo, d, h, mi, s):
    if not (1 <= mo <= 12 and 0 <= h <= 23 and 0 <= mi <= 59 and 0 <= s <= 59):
        return False
    return 1 <= d <= calendar.monthrange(y, mo)[1]


def _zone_seconds(zone):
    if zone in ("Z", "z"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


# The documented format yyyy-MM-dd'T'HH:mm:ss.SSSZ, with "Z" or an RFC 822 offset such as +0000.
STRICT_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})(Z|[+-]\d{4})$")
# Lenient: optional fraction (1-9 digits), optional zone (UTC), zone also as +HH:MM.
LENIENT_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$")


def parse_api_timestamp(text, mode):
    """Parse a startTimeStamp/endTimeStamp value into epoch milliseconds, or raise ValueError.

    mode: "iso" (strict documented format), "lenient" (ISO variants and epoch milliseconds),
    "epoch_ms" (digits only, as the spec's inferred shape proposes).
    """
    if mode in ("lenient", "epoch_ms") and re.fullmatch(r"-?\d{1,16}", text or ""):
        return int(text)
    if mode == "epoch_ms":
        raise ValueError("expected epoch milliseconds")
    m = (STRICT_TS if mode == "iso" else LENIENT_TS).match(text or "")
    if not m:
        raise ValueError("expected yyyy-MM-dd'T'HH:mm:ss.SSSZ")
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    if not _valid_date(y, mo, d, h, mi, s):
        raise ValueError("no such date")
    frac = (m.group(7) or "0")
    ms = int((frac + "000")[:3])
    zone = m.group(8) or "Z"
    return (_timegm(y, mo, d, h, mi, s) - _zone_seconds(zone)) * 1000 + ms


def parse_instant(text):
    """Loose parser for CLI and control values: epoch s/ms, ISO-8601, 'YYYY-MM-DD[ HH:MM:SS]'.

    Returns float epoch seconds.
    """
    if isinstance(text, (int, float)):
        value = float(text)
        return value / 1000.0 if value > 1e11 else value
    text = str(text).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        value = float(text)
        return value / 1000.0 if value > 1e11 else value
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        if not _valid_date(y, mo, d, 0, 0, 0):
            raise ValueError("bad date " + text)
        return float(_timegm(y, mo, d))
    return parse_api_timestamp(text, "lenient") / 1000.0


def fmt_ts_ms(ms):
    """Epoch milliseconds -> yyyy-MM-dd'T'HH:mm:ss.SSSZ (UTC, literal Z)."""
    ms = int(ms)
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t[0], t[1], t[2], t[3], t[4], t[5], ms % 1000)


class SimClock:
    """Simulated 'now': frozen at an instant, or the real clock shifted by an offset."""

    def __init__(self, now=None, advance=False):
        self._lock = threading.Lock()
        self._frozen = None
        self._offset = 0.0
        if now is not None:
            self.set(now, advance)

    def set(self, now, advance=False):
        with self._lock:
            if now is None:
                self._frozen, self._offset = None, 0.0
            elif advance:
                self._frozen, self._offset = None, float(now) - time.time()
            else:
                self._frozen = float(now)

    def advance(self, seconds):
        with self._lock:
            if self._frozen is not None:
                self._frozen += float(seconds)
            else:
                self._offset += float(seconds)

    def frozen(self):
        with self._lock:
            return self._frozen is not None

    def now(self):
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset


class TargetedFaults(Faults):
    """simlib's Faults plus a path filter (a shot is only consumed by requests it targets) and
    "after": N (the first N targeted requests pass untouched, so a fault can hit mid-run)."""

    def take_for(self, kind, path, default_prefixes):
        with self._lock:
            left = self._armed.get(kind)
            if left is None or left == 0:
                return None
            params = self._params.get(kind, {})
            target = params.get("path")
            prefixes = [target] if target else list(default_prefixes)
            if not any(path.startswith(p) for p in prefixes):
                return None
            skip = int(params.get("after", 0) or 0)
            if skip > 0:                    # let this many targeted requests through first
                params["after"] = skip - 1
                return None
            if left > 0:
                self._armed[kind] = left - 1
            return dict(params)


# ------------------------------------------------------------------------------------------------
# traffic model

# The application users the simulator knows. fromEnvelope/fromHeader follow the seed: a value
# with no local part means "any address at that domain".
APP_POOL = [
    {"applicationName": "Salesforce", "applicationUserName": "sfdc_marketing",
     "fromEnvelope": "bounce.example.com", "fromHeader": "news@example.com",
     "daily": 24000, "profile": "business", "weekend": 0.25, "size": 38000, "rcpt_extra": 0.02},
    {"applicationName": "Salesforce", "applicationUserName": "sfdc_service",
     "fromEnvelope": "support@example.com", "fromHeader": "support@example.com",
     "daily": 6000, "profile": "steady", "weekend": 0.6, "size": 22000, "rcpt_extra": 0.35},
    {"applicationName": "Workday", "applicationUserName": "workday_notify",
     "fromEnvelope": "workday@hr.example.com", "fromHeader": "hr.example.com",
     "daily": 900, "profile": "business", "weekend": 0.05, "size": 15000, "rcpt_extra": 0.1},
    {"applicationName": "Custom Application", "applicationUserName": "billing-prod",
     "fromEnvelope": "invoices@billing.example.com", "fromHeader": "billing.example.com",
     "daily": 3000, "profile": "batch", "weekend": 1.0, "size": 95000, "rcpt_extra": 0.05},
    {"applicationName": "ServiceNow", "applicationUserName": "snow_prod",
     "fromEnvelope": "instance@itsm.example.com", "fromHeader": "itsm.example.com",
     "daily": 1500, "profile": "steady", "weekend": 0.5, "size": 18000, "rcpt_extra": 0.5},
    {"applicationName": "Zendesk", "applicationUserName": "zd_tickets",
     "fromEnvelope": "example.zendesk.com", "fromHeader": "help@example.com",
     "daily": 120, "profile": "sparse", "weekend": 0.5, "size": 12000, "rcpt_extra": 0.0},
]

COUNTERS = ("success", "failure", "tempFailure", "partialSuccess", "inProgress",
            "recipientsTotal", "messageSizeTotal", "deliveredSizeTotal", "d2", "d3", "d4", "d5")


def _alloc(total, weights, wsum):
    """Spread integer total over the weights exactly (cumulative floor). Each share <= its
    weight when total <= wsum and weights are integers."""
    if total <= 0 or wsum <= 0:
        return [0] * len(weights)
    cum = [total * c // wsum for c in itertools.accumulate(weights)]
    return [b - a for a, b in zip([0] + cum[:-1], cum)]


def _prefix(values):
    return list(itertools.accumulate(values, initial=0))


class Traffic:
    """Deterministic per-bucket traffic of every application user, with window sums."""

    def __init__(self, seed, apps, bucket_seconds, retry_days, in_progress_seconds):
        if DAY % bucket_seconds:
            raise ValueError("--bucket-seconds must divide 86400")
        self.seed = seed
        self.apps = apps
        self.bucket = bucket_seconds
        self.per_day = DAY // bucket_seconds
        self.retry_s = int(retry_days * DAY)
        self.inprog = int(in_progress_seconds)
        self._lock = threading.Lock()
        self._totals = {}                 # (app, day) -> day totals (small, kept forever)
        self._leaves = OrderedDict()      # (app, day) -> leaf prefix sums + retry list (LRU)
        self._profiles = {}

    def _rng(self, *parts):
        key = ":".join(str(p) for p in (self.seed,) + parts).encode()
        return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))

    # -- day level -------------------------------------------------------------------------------
    def day_totals(self, ai, day):
        key = (ai, day)
        with self._lock:
            got = self._totals.get(key)
        if got is not None:
            return got
        app = self.apps[ai]
        rng = self._rng(ai, day, "day")
        weekend = (day + 3) % 7 >= 5          # 1970-01-01 was a Thursday
        v = int(app["daily"] * (app["weekend"] if weekend else 1.0) * rng.uniform(0.75, 1.25))
        f = int(v * rng.uniform(0.004, 0.02))
        r = int(v * rng.uniform(0.004, 0.012))
        p = int(v * rng.uniform(0.0, 0.002))
        x = int(v * app["rcpt_extra"] * rng.uniform(0.8, 1.2))
        sx = int(v * app["size"] * rng.uniform(0.1, 0.6))
        d3 = 1 if (v > 0 and rng.random() < 0.05) else 0
        de = int((v - f - r) * app["size"] * rng.uniform(0.01, 0.03))
        delays = self._delays(ai, day, r)
        r_ok = sum(1 for d in delays if d < self.retry_s)
        got = {"v": v, "f": f, "r": r, "p": p, "x": x, "sx": sx, "d3": d3, "de": de, "r_ok": r_ok}
        with self._lock:
            self._totals[key] = got
        return got

    def _delays(self, ai, day, r):
        """Seconds until each retried message is delivered (>= retry window means it fails)."""
        rng = self._rng(ai, day, "retry")
        out = []
        for _ in range(r):
            if rng.random() < 0.92:
                out.append(int(300 + rng.expovariate(1.0 / 5400)))
            else:
                out.append(int(rng.uniform(DAY, 10 * DAY)))
        return out

    def _profile(self, kind):
        got = self._profiles.get(kind)
        if got is not None:
            return got
        prof = []
        for i in range(self.per_day):
            hour = (i * self.bucket) / 3600.0
            if kind == "business":
                w = 1.0 if 7 <= hour < 19 else 0.08
            elif kind == "batch":
                w = 12.0 if (2.0 <= hour < 2.5 or 14.0 <= hour < 14.5) else 0.05
            else:                              # steady, sparse (sparse is thinned per day)
                w = 1.0
            prof.append(w)
        self._profiles[kind] = prof
        return prof

    def leaves(self, ai, day):
        key = (ai, day)
        with self._lock:
            got = self._leaves.get(key)
            if got is not None:
                self._leaves.move_to_end(key)
                return got
        app = self.apps[ai]
        t = self.day_totals(ai, day)
        rng = self._rng(ai, day, "leaves")
        prof = self._profile(app["profile"])
        rnd = rng.random
        if app["profile"] == "sparse":
            hot = set(rng.sample(range(self.per_day), min(self.per_day, 40)))
            w = [int(1000 * (0.2 + rnd())) if i in hot else 0 for i in range(self.per_day)]
        else:
            w = [int(p * 1000 * (0.3 + rnd())) + 1 for p in prof]
        v = _alloc(t["v"], w, sum(w))
        f = _alloc(t["f"], v, t["v"])
        rem = [a - b for a, b in zip(v, f)]
        r = _alloc(t["r"], rem, t["v"] - t["f"])
        rem = [a - b for a, b in zip(rem, r)]
        p = _alloc(t["p"], rem, t["v"] - t["f"] - t["r"])
        s = [a - b for a, b in zip(rem, p)]
        sp = [a + b for a, b in zip(s, p)]
        got = {
            "v": _prefix(v), "f": _prefix(f), "p": _prefix(p), "s": _prefix(s),
            "x": _prefix(_alloc(t["x"], v, t["v"])),
            "sx": _prefix(_alloc(t["sx"], v, t["v"])),
            "d3": _prefix(_alloc(t["d3"], v, t["v"])),
            "de": _prefix(_alloc(t["de"], sp, t["v"] - t["f"] - t["r"])),
            "rpos": [i for i, c in enumerate(r) for _ in range(c)],
            "delays": self._delays(ai, day, t["r"]),
        }
        with self._lock:
            self._leaves[key] = got
            while len(self._leaves) > 256:
                self._leaves.popitem(last=False)
        return got

    # -- sums ------------------------------------------------------------------------------------
    def _add_settled_day(self, acc, ai, day):
        t = self.day_totals(ai, day)
        base = self.apps[ai]["size"]
        success = t["v"] - t["f"] - t["r"] - t["p"] + t["r_ok"]
        failure = t["f"] + t["r"] - t["r_ok"]
        acc["success"] += success
        acc["failure"] += failure
        acc["partialSuccess"] += t["p"]
        acc["recipientsTotal"] += t["v"] + t["x"]
        acc["messageSizeTotal"] += t["v"] * base + t["sx"]
        acc["deliveredSizeTotal"] += (success + t["p"]) * base + t["de"]
        acc["d2"] += success + t["p"]
        acc["d3"] += t["d3"]
        acc["d4"] += t["r"]
        acc["d5"] += failure + t["p"]

    def _add_leaf_range(self, acc, ai, day, a, b, now):
        """Add local buckets [a, b) of a day as they stand at 'now' (a<b, all start <= now)."""
        lv = self.leaves(ai, day)
        base = self.apps[ai]["size"]
        first_g = day * self.per_day
        # buckets that started within the last in-progress seconds are still in progress
        ip = int((now - self.inprog) // self.bucket) + 1 - first_g
        ip = max(a, min(b, ip))
        if ip > a:                      # settled-state part [a, ip)
            def rs(name):
                return lv[name][ip] - lv[name][a]
            s, f, p = rs("s"), rs("f"), rs("p")
            acc["recipientsTotal"] += rs("v") + rs("x")
            acc["messageSizeTotal"] += rs("v") * base + rs("sx")
            acc["deliveredSizeTotal"] += (s + p) * base + rs("de")
            acc["partialSuccess"] += p
            acc["d3"] += rs("d3")
            ok = fail = temp = 0
            lo = bisect.bisect_left(lv["rpos"], a)
            hi = bisect.bisect_left(lv["rpos"], ip)
            for k in range(lo, hi):
                t_msg = (first_g + lv["rpos"][k]) * self.bucket
                delay = lv["delays"][k]
                if delay < self.retry_s and t_msg + delay <= now:
                    ok += 1
                elif delay >= self.retry_s and t_msg + self.retry_s <= now:
                    fail += 1
                else:
                    temp += 1
            acc["success"] += s + ok
            acc["failure"] += f + fail
            acc["tempFailure"] += temp
            acc["deliveredSizeTotal"] += ok * base
            acc["d2"] += s + ok + p
            acc["d4"] += hi - lo
            acc["d5"] += f + fail + p
        if b > ip:                      # in-progress part [ip, b)
            v = lv["v"][b] - lv["v"][ip]
            acc["inProgress"] += v
            acc["recipientsTotal"] += v + lv["x"][b] - lv["x"][ip]
            acc["messageSizeTotal"] += v * base + lv["sx"][b] - lv["sx"][ip]

    def window(self, start_ms, end_ms, now, license_start):
        """Counters per application user for buckets starting in [start_ms, end_ms) and <= now."""
        bms = self.bucket * 1000
        gs = max(-(-int(start_ms) // bms), -(-int(license_start * 1000) // bms))
        ge = min(-(-int(end_ms) // bms), int(now // self.bucket) + 1)
        out = []
        for ai in range(len(self.apps)):
            acc = dict.fromkeys(COUNTERS, 0)
            g = gs
            while g < ge:
                day = g // self.per_day
                d0 = day * self.per_day
                d1 = d0 + self.per_day
                stop = min(ge, d1)
                last_start = (d1 - 1) * self.bucket
                settled = last_start + self.retry_s <= now and last_start <= now - self.inprog
                if g == d0 and stop == d1 and settled:
                    self._add_settled_day(acc, ai, day)
                else:
                    self._add_leaf_range(acc, ai, day, g - d0, stop - d0, now)
                g = stop
            out.append(acc)
        return out


# ------------------------------------------------------------------------------------------------
# server


class SerServer(SimServer):
    def __init__(self, args):
        super().__init__(args.port, SerHandler, "ser_sim", args.verbose)
        self.faults = TargetedFaults()
        self.args = args
        self.lock = threading.Lock()
        self.clock = SimClock(parse_instant(args.now) if args.now else None, args.advance_clock)
        if args.license_start:
            self.license_start = parse_instant(args.license_start)
        else:
            today = int(self.clock.now() // DAY) * DAY
            self.license_start = float(today - args.license_age_days * DAY)
        self.license_end = (parse_instant(args.license_end) if args.license_end
                            else self.license_start + 365 * DAY)
        self.token_ttl = args.token_ttl
        self.rate_limit = args.rate_limit
        self.rate_window = args.rate_window
        self.retry_after = args.retry_after
        self.tokens = {}                  # token -> (expiry on the sim clock, monotonic expiry)
        self.token_counter = 0
        self.hits = deque()               # monotonic times of counted summary requests
        apps = APP_POOL[:max(1, min(len(APP_POOL), args.apps))]
        self.traffic = Traffic(args.seed, apps, args.bucket_seconds, args.retry_days,
                               args.in_progress_seconds)

    # -- tokens ----------------------------------------------------------------------------------
    def issue_token(self):
        with self.lock:
            self.token_counter += 1
            raw = "%d:%d:%d:%f" % (self.args.seed, self.token_counter, os.getpid(), time.time())
            token = "eyJ" + hashlib.sha256(raw.encode()).hexdigest()
            self.tokens[token] = (self.clock.now() + self.token_ttl,
                                  time.monotonic() + self.token_ttl)
            return token, self.token_ttl

    def token_ok(self, token):
        with self.lock:
            exp = self.tokens.get(token)
            return (exp is not None and self.clock.now() < exp[0]
                    and time.monotonic() < exp[1])

    def revoke_tokens(self):
        with self.lock:
            self.tokens.clear()

    # -- rate limit (real time: the product limits requests per wall-clock minute) ----------------
    def rate_take(self):
        now = time.monotonic()
        with self.lock:
            while self.hits and self.hits[0] <= now - self.rate_window:
                self.hits.popleft()
            if self.rate_limit > 0 and len(self.hits) >= self.rate_limit:
                return False
            self.hits.append(now)
            return True

    # -- report ----------------------------------------------------------------------------------
    def num(self, value):
        return str(value) if self.args.numbers == "string" else value

    def fmt_license(self, seconds):
        style = self.args.license_date_format
        if style == "date":
            return time.strftime("%Y-%m-%d", time.gmtime(seconds))
        if style == "epoch_ms":
            return int(seconds * 1000)
        return fmt_ts_ms(seconds * 1000)

    def report(self, start_ms, end_ms):
        now = self.clock.now()
        rows = []
        for app, acc in zip(self.traffic.apps,
                            self.traffic.window(start_ms, end_ms, now, self.license_start)):
            total = (acc["success"] + acc["failure"] + acc["tempFailure"]
                     + acc["partialSuccess"] + acc["inProgress"])
            if total == 0 and self.args.omit_idle:
                continue
            n = self.num
            status = {
                "success": n(acc["success"]), "failure": n(acc["failure"]),
                "tempFailure": n(acc["tempFailure"]), "partialSuccess": n(acc["partialSuccess"]),
                "inProgress": n(acc["inProgress"]), "total": n(total),
                "recipientsTotal": n(acc["recipientsTotal"]),
            }
            details = {"2.X.X": n(acc["d2"]), "3.X.X": n(acc["d3"]),
                       "4.X.X": n(acc["d4"]), "5.X.X": n(acc["d5"])}
            row = {
                "applicationName": app["applicationName"],
                "applicationUserName": app["applicationUserName"],
                "fromEnvelope": app["fromEnvelope"],
                "fromHeader": app["fromHeader"],
                "status": status,
            }
            sizes = {"messageSizeTotal": n(acc["messageSizeTotal"]),
                     "deliveredSizeTotal": n(acc["deliveredSizeTotal"])}
            if self.args.sizes_in in ("top", "both"):
                row.update(sizes)
            if self.args.sizes_in in ("status", "both"):
                status.update(sizes)
            if self.args.details_in in ("top", "both"):
                row["details"] = details
            if self.args.details_in in ("status", "both"):
                status["details"] = dict(details)
            rows.append(row)
        body = {}
        if self.args.envelope:
            body["status"] = {"code": 200, "message": "OK"}
            body["startTimeStamp"] = fmt_ts_ms(start_ms)
            body["endTimeStamp"] = fmt_ts_ms(end_ms)
        body["applicationUsers"] = rows
        body["entitlement"] = {
            "annual_throughput": self.num(self.args.annual_throughput),
            "license_start": self.fmt_license(self.license_start),
            "license_end": self.fmt_license(self.license_end),
        }
        return body

    def config_view(self):
        return {
            "now": fmt_ts_ms(self.clock.now() * 1000), "clock_frozen": self.clock.frozen(),
            "token_ttl": self.token_ttl, "rate_limit": self.rate_limit,
            "rate_window": self.rate_window, "retry_after": self.retry_after,
            "license_start": fmt_ts_ms(self.license_start * 1000),
            "license_end": fmt_ts_ms(self.license_end * 1000),
            "bucket_seconds": self.traffic.bucket, "timestamp_mode": self.args.timestamp_mode,
            "applications": [a["applicationName"] + "/" + a["applicationUserName"]
                             for a in self.traffic.apps],
        }


class SerHandler(SimHandler):

    # -- helpers ---------------------------------------------------------------------------------
    def _query(self):
        qs = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {k: v[0] for k, v in qs.items()}

    def _fault(self, kind, path):
        return self.server.faults.take_for(kind, path, (SUMMARY_PATH,))

    def _send_body(self, status, obj, headers=None):
        """Send a JSON reply, honouring the truncated / invalid_json faults."""
        path = self.path.split("?", 1)[0]
        body = json.dumps(obj).encode()
        if self._fault("invalid_json", path) is not None:
            self.send_raw(200, body[: max(1, len(body) // 3)] + b',,"<html>oops', headers=headers)
            return
        if self._fault("truncated", path) is not None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.server.count(path, "%d-truncated" % status)
            return
        self.send_json(status, obj, headers)

    def _pre_faults(self, path):
        """slow / 5xx / 429_storm. Returns True when a reply was already sent."""
        p = self._fault("slow", path)
        if p is not None:
            time.sleep(float(p.get("seconds", 3)))
        p = self._fault("5xx", path)
        if p is not None:
            hdrs = {"Retry-After": p["retry_after"]} if p.get("retry_after") else None
            self.send_raw(int(p.get("status", 500)), p.get("body", "Internal Server Error"),
                          "text/plain; charset=utf-8", hdrs)
            return True
        p = self._fault("429_storm", path)
        if p is not None:
            self._too_many(p.get("retry_after"))
            return True
        return False

    def _too_many(self, retry_after=None):
        ra = retry_after if retry_after is not None else self.server.retry_after
        self.send_json(429, {"error": "Too Many Requests"},
                       {"Retry-After": ra} if ra else None)

    # -- API -------------------------------------------------------------------------------------
    def handle_api(self, method):
        path = self.path.split("?", 1)[0]
        if path == TOKEN_PATH:
            if method != "POST":
                self.read_body()
                self.send_json(405, {"error": "Method Not Allowed"})
                return
            self._token()
        elif path == SUMMARY_PATH:
            if method != "GET":
                self.read_body()
                self.send_json(405, {"error": "Method Not Allowed"})
                return
            self._summary()
        else:
            self.read_body()
            self.send_json(404, {"error": "Not Found"})

    def _token(self):
        body = self.read_body()
        if self._pre_faults(TOKEN_PATH):
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "form body expected"})
            return
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if not grant:
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "grant_type is required"})
            return
        if grant != "client_credentials":
            self.send_json(400, {"error": "unsupported_grant_type",
                                 "error_description": "grant_type must be client_credentials"})
            return
        a = self.server.args
        if form.get("client_id") != a.client_id or form.get("client_secret") != a.client_secret:
            self.send_json(a.bad_credentials_status,
                           {"error": "invalid_client",
                            "error_description": "Bad client credentials"})
            return
        token, ttl = self.server.issue_token()
        self._send_body(200, {"access_token": token, "token_type": "bearer", "expires_in": ttl})

    def _summary(self):
        srv = self.server
        if self._pre_faults(SUMMARY_PATH):
            return
        if not srv.rate_take():
            self._too_many()
            return
        if self._fault("revoke_token", SUMMARY_PATH) is not None:
            srv.revoke_tokens()
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or not srv.token_ok(token):
            self.send_json(401, {"error": "Unauthorized"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return
        window = self._window(self._query(), srv.args.timestamp_mode)
        if isinstance(window, str):
            rid = hashlib.md5(("%s%f" % (self.path, time.time())).encode()).hexdigest()
            self.send_json(400, {"request_id": rid, "reason": window})
            return
        self._send_body(200, srv.report(*window))

    def _window(self, q, mode):
        """(start_ms, end_ms), or an error text."""
        srv = self.server
        try:
            start = (parse_api_timestamp(q["startTimeStamp"], mode) if "startTimeStamp" in q
                     else int(srv.license_start * 1000))
        except ValueError as e:
            return "startTimeStamp is invalid: %s" % e
        try:
            end = (parse_api_timestamp(q["endTimeStamp"], mode) if "endTimeStamp" in q
                   else int(srv.clock.now() * 1000))
        except ValueError as e:
            return "endTimeStamp is invalid: %s" % e
        if start > end:
            return "startTimeStamp must not be after endTimeStamp"
        return start, end

    # -- control ---------------------------------------------------------------------------------
    def handle_sim(self, method, path, obj):
        srv = self.server
        if path == "/_sim/summary" and method == "GET":
            q = self._query()
            ren = {"startTimeStamp": q.get("start", q.get("startTimeStamp")),
                   "endTimeStamp": q.get("end", q.get("endTimeStamp"))}
            window = self._window({k: v for k, v in ren.items() if v is not None}, "lenient")
            if isinstance(window, str):
                self.send_json(400, {"error": window})
            else:
                self.send_json(200, srv.report(*window))
            return True
        if path == "/_sim/config" and method == "GET":
            self.send_json(200, srv.config_view())
            return True
        if path == "/_sim/config" and method == "POST":
            try:
                if "token_ttl" in obj:
                    srv.token_ttl = int(obj["token_ttl"])
                if "now" in obj:
                    srv.clock.set(None if obj["now"] is None else parse_instant(obj["now"]),
                                  bool(obj.get("advance_clock", False)))
                if "advance" in obj:
                    srv.clock.advance(float(obj["advance"]))
                if "rate_limit" in obj:
                    srv.rate_limit = int(obj["rate_limit"])
                if "rate_window" in obj:
                    srv.rate_window = float(obj["rate_window"])
                if "retry_after" in obj:
                    srv.retry_after = obj["retry_after"] or None
            except (TypeError, ValueError) as e:
                self.send_json(400, {"error": str(e)})
                return True
            if obj.get("reset_rate"):
                with srv.lock:
                    srv.hits.clear()
            if obj.get("revoke_tokens"):
                srv.revoke_tokens()
            self.send_json(200, srv.config_view())
            return True
        if path == "/_sim/tokens" and method == "GET":
            with srv.lock:
                toks = {t[:12] + "...": fmt_ts_ms(e[0] * 1000) for t, e in srv.tokens.items()}
            self.send_json(200, {"tokens": toks})
            return True
        return super().handle_sim(method, path, obj)


def build_arg_parser():
    ap = base_arg_parser("Proofpoint SER reporting API simulator")
    ap.add_argument("--client-id", default="ser-client-id")
    ap.add_argument("--client-secret", default="ser-client-secret")
    ap.add_argument("--now", help="freeze the simulated clock here (ISO-8601 or epoch); "
                    "default: the real clock")
    ap.add_argument("--advance-clock", action="store_true",
                    help="with --now: start there and let the clock run in real time")
    ap.add_argument("--license-start", help="licence start (default: midnight UTC "
                    "--license-age-days before now)")
    ap.add_argument("--license-age-days", type=int, default=90)
    ap.add_argument("--license-end", help="licence end (default: start + 365 days)")
    ap.add_argument("--license-date-format", choices=("iso", "date", "epoch_ms"), default="iso",
                    help="how entitlement.license_start/_end are written [inferred]")
    ap.add_argument("--annual-throughput", type=int, default=1099511627776,
                    help="entitlement.annual_throughput in bytes")
    ap.add_argument("--token-ttl", type=int, default=43200, help="expires_in of new tokens (s)")
    ap.add_argument("--bad-credentials-status", type=int, choices=(400, 401), default=401)
    ap.add_argument("--rate-limit", type=int, default=1000,
                    help="summary requests per --rate-window before 429 (0 = unlimited)")
    ap.add_argument("--rate-window", type=float, default=60.0, help="seconds (sliding window)")
    ap.add_argument("--retry-after", type=int, default=0,
                    help="send Retry-After: N with 429 (0 = no header, the documented default)")
    ap.add_argument("--timestamp-mode", choices=("iso", "lenient", "epoch_ms"), default="iso",
                    help="iso: exactly yyyy-MM-dd'T'HH:mm:ss.SSSZ (Z or +hhmm); lenient: ISO "
                    "variants and epoch ms; epoch_ms: digits only [inferred alternative]")
    ap.add_argument("--apps", type=int, default=4, help="application users (1-%d)" % len(APP_POOL))
    ap.add_argument("--bucket-seconds", type=int, default=60, help="traffic bucket size")
    ap.add_argument("--retry-days", type=float, default=7.0,
                    help="a 4xx-retried message counts as tempFailure until delivered or this "
                    "many days have passed (then failure)")
    ap.add_argument("--in-progress-seconds", type=int, default=120,
                    help="messages younger than this count as inProgress")
    ap.add_argument("--details-in", choices=("top", "status", "both"), default="top",
                    help="where the DSN details block sits in each application user [inferred]")
    ap.add_argument("--sizes-in", choices=("top", "status", "both"), default="top",
                    help="where messageSizeTotal/deliveredSizeTotal sit in each application user "
                    "(the vendor's table is ambiguous) [inferred]")
    ap.add_argument("--numbers", choices=("int", "string"), default="int",
                    help="JSON type of the counters [inferred]")
    ap.add_argument("--omit-idle", action="store_true",
                    help="leave out application users with no traffic in the window [inferred]")
    ap.add_argument("--envelope", action="store_true",
                    help="also send status{code,message}, startTimeStamp, endTimeStamp [inferred]")
    return ap


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    serve(SerServer(args), args.port_file)


if __name__ == "__main__":
    main()
