#!/usr/bin/env python3
"""Splunk HTTP Event Collector (HEC) receiver for msfwd's tests.

Imitates the parts of HEC that the forwarder's Splunk output uses (see
shared/specs/outputs-protocols.md section 1) and records what it "indexed".

Usage:
  hec_receiver.py --port 0 --port-file F --token T [--ack] [--ack-delay S]
                  [--indexes a,b] [--out FILE] [--max-content-length N]
                  [--tls-cert C --tls-key K] [--verbose]

HEC API (127.0.0.1 only):
  POST /services/collector/event, /services/collector/event/1.0, /services/collector
      Authorization: Splunk <token>  (missing -> 401 code 2, other form -> 401 code 3,
      wrong token -> 403 code 4). Channel from X-Splunk-Request-Channel or ?channel=;
      it must be a GUID (else 400 code 11) and is required with --ack (400 code 10).
      Body: concatenated JSON objects (any or no whitespace between them, not an array),
      optionally Content-Encoding: gzip. Empty body -> 400 code 5, bad JSON -> 400 code 6.
      Per event: not an object / `time` not a number / host, source, sourcetype, index
      not strings -> code 6; no `event` -> 12; blank `event` (null, "", whitespace,
      {}) -> 13; `fields` not an object of strings or arrays of strings -> 15; `index`
      not in --indexes -> 7. Errors carry "invalid-event-number". A request is atomic:
      either all its events are indexed or none.
      Success: {"text":"Success","code":0} plus "ackId":N with --ack (per channel, from 0).
  POST /services/collector/ack (also /ack/1.0), body {"acks":[ids]}
      -> {"acks":{"7":true,...}}. An id is true once --ack-delay seconds have passed since
      its request; after it answered true it is released and answers false. Unknown ids
      answer false. Without --ack -> 400 code 14.
  GET /services/collector/health (also /health/1.0) -> 200 {"text":"HEC is healthy","code":17};
      a wrong token in a given Authorization header -> 400 {"text":"Invalid HEC token"...}.
  /services/collector/raw is not implemented (404). --max-content-length N answers 413 to
  bodies over N bytes as received (before gzip decoding).

Control endpoints (besides simlib's /_sim/health, /_sim/fault, /_sim/stats):
  GET  /_sim/events    indexed events: the envelope plus _ackId, _channel, _request (seq)
  GET  /_sim/requests  one summary per event POST (seq, path, status, code, events, indexed,
                       gzip, expect, channel, ackId, ack_dropped, bytes, fault)
  GET  /_sim/acks      one summary per ack query (channel, asked, true, status, code)
  GET  /_sim/channels  per channel: next ackId, pending ids, released ids
  POST /_sim/reset     clear events, requests and ack queries; {"all": true} also clears
                       channels, faults and truncates the --out file
  --out FILE gets each indexed envelope (as sent, without the _ keys) as one JSON line,
  flushed after each request.

Fault kinds (POST /_sim/fault {"kind": K, "count": N, ...params}; count -1 = until cleared).
Every kind takes param "on": "event" (default), "ack", "health" or "any" (which endpoint it
hits); a shot is used only by a request it applies to. Checked in this order:
  slow       delay=S (default 1): process the request normally (events ARE indexed), then wait S
             seconds before answering; a client timing out produces duplicates on re-send.
  404        proxy-style 404 with an HTML body.
  413        413 {"text":"Content request too large","code":413}.
  401        401, code=2 (default, "Token is required") or 3 ("Invalid authorization").
  403        403, code=4 (default, "Invalid token") or 1 ("Token disabled").
  500        500 {"text":"Internal server error","code":8}.
  503        503 {"text":"Server is busy","code":9,"invalid-event-number":0};
             retry_after=N adds a Retry-After: N header. On /health: 503 code 18.
  400_code6  (event only; applies to requests that pass auth, channel and validation)
             400 {"text":"Invalid data format","code":6,"invalid-event-number":k} with
             k = event_number (default 0), or with match="text": k = index of the first
             event whose JSON text contains "text"; requests without a match pass and do
             not use a shot. Nothing of a rejected request is indexed.
  drop_ack   (with --ack; no "on") the next N successful requests get an ackId that never turns true
             (their events are still recorded as indexed, with ack_dropped in /_sim/requests).
"""
import gzip
import json
import math
import os
import re
import socket
import ssl
import sys
import threading
import time
import zlib
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Faults, SimHandler, SimServer, base_arg_parser, serve  # noqa: E402

EVENT_PATHS = ("/services/collector/event", "/services/collector/event/1.0", "/services/collector")
ACK_PATHS = ("/services/collector/ack", "/services/collector/ack/1.0")
HEALTH_PATHS = ("/services/collector/health", "/services/collector/health/1.0")

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")

# HEC code -> (HTTP status, text), as in the spec's table (section 1.6).
HEC_CODES = {
    0: (200, "Success"),
    1: (403, "Token disabled"),
    2: (401, "Token is required"),
    3: (401, "Invalid authorization"),
    4: (403, "Invalid token"),
    5: (400, "No data"),
    6: (400, "Invalid data format"),
    7: (400, "Incorrect index"),
    8: (500, "Internal server error"),
    9: (503, "Server is busy"),
    10: (400, "Data channel is missing"),
    11: (400, "Invalid data channel"),
    12: (400, "Event field is required"),
    13: (400, "Event field cannot be blank"),
    14: (400, "ACK is disabled"),
    15: (400, "Error in handling indexed fields"),
    17: (200, "HEC is healthy"),
    18: (503, "HEC is unhealthy, queues are full"),
}

# Error faults, in the order they are checked.
ERROR_FAULTS = ("404", "413", "401", "403", "500", "503")

PROXY_404_HTML = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class HecError(Exception):
    """A HEC error answer: code (see HEC_CODES) and optional invalid-event-number."""

    def __init__(self, code, event_number=None):
        super().__init__(HEC_CODES[code][1])
        self.code = code
        self.event_number = event_number

    def body(self):
        obj = {"text": HEC_CODES[self.code][1], "code": self.code}
        if self.event_number is not None:
            obj["invalid-event-number"] = self.event_number
        return obj


class HecFaults(Faults):
    """simlib's Faults plus take_if(): consume a shot only if the armed params pass a test."""

    def take_if(self, kind, predicate):
        with self._lock:
            left = self._armed.get(kind)
            if left is None or left == 0:
                return None
            params = dict(self._params.get(kind, {}))
            if not predicate(params):
                return None
            if left > 0:
                self._armed[kind] = left - 1
            return params


class Channel:
    """Indexer-acknowledgement state of one channel: ackIds increase from 0."""

    def __init__(self, name):
        self.name = name
        self.next_id = 0
        self.pending = {}  # ackId -> monotonic time it turns true (math.inf = never)
        self.released = []  # ackIds that answered true once (now answer false)

    def new_ack(self, delay, dropped):
        ack_id = self.next_id
        self.next_id += 1
        self.pending[ack_id] = math.inf if dropped else time.monotonic() + delay
        return ack_id

    def query(self, ack_ids):
        now = time.monotonic()
        answer = {}
        for ack_id in ack_ids:
            ready = self.pending.get(ack_id)
            if ready is not None and ready <= now:
                del self.pending[ack_id]
                self.released.append(ack_id)
                answer[str(ack_id)] = True
            else:
                answer[str(ack_id)] = False
        return answer

    def snapshot(self):
        return {
            "next_ackId": self.next_id,
            "pending": sorted(self.pending),
            "never": sorted(k for k, v in self.pending.items() if v == math.inf),
            "released": list(self.released),
        }


class AckRegistry:
    """All channels, thread-safe."""

    def __init__(self, delay):
        self.delay = delay
        self._lock = threading.Lock()
        self._channels = {}

    def new_ack(self, channel, dropped=False):
        with self._lock:
            chan = self._channels.setdefault(channel, Channel(channel))
            return chan.new_ack(self.delay, dropped)

    def query(self, channel, ack_ids):
        with self._lock:
            chan = self._channels.setdefault(channel, Channel(channel))
            return chan.query(ack_ids)

    def snapshot(self):
        with self._lock:
            return {name: chan.snapshot() for name, chan in self._channels.items()}

    def clear(self):
        with self._lock:
            self._channels.clear()


class EventStore:
    """Indexed events, request and ack-query summaries, and the --out file. Thread-safe."""

    def __init__(self, out_path=None):
        self._lock = threading.Lock()
        self._events = []
        self._requests = []
        self._acks = []
        self._seq = 0
        self._out_path = out_path
        self._out = open(out_path, "a", encoding="utf-8") if out_path else None

    def record_request(self, summary, envelopes=(), ack_id=None, channel=None):
        """Log one event POST; index its envelopes (all of them, atomically). Returns seq."""
        with self._lock:
            self._seq += 1
            summary = dict(summary, seq=self._seq, indexed=len(envelopes))
            self._requests.append(summary)
            for env in envelopes:
                rec = dict(env)
                rec["_ackId"] = ack_id
                rec["_channel"] = channel
                rec["_request"] = self._seq
                self._events.append(rec)
            if self._out is not None and envelopes:
                for env in envelopes:
                    line = json.dumps(env, separators=(",", ":"), ensure_ascii=False)
                    self._out.write(line + "\n")
                self._out.flush()
            return self._seq

    def record_ack_query(self, summary):
        with self._lock:
            self._acks.append(summary)

    def events(self):
        with self._lock:
            return list(self._events)

    def requests(self):
        with self._lock:
            return list(self._requests)

    def ack_queries(self):
        with self._lock:
            return list(self._acks)

    def reset(self, truncate_out=False):
        with self._lock:
            self._events.clear()
            self._requests.clear()
            self._acks.clear()
            if truncate_out and self._out is not None:
                self._out.close()
                self._out = open(self._out_path, "w", encoding="utf-8")


def _reject_constant(name):
    raise ValueError("invalid JSON constant " + name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WS = " \t\r\n"


def split_objects(text):
    """Parse concatenated JSON values. Returns [(value, raw_text)]; HecError(6, k) on bad JSON."""
    out = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WS:
            pos += 1
        if pos >= end:
            return out
        try:
            value, stop = _DECODER.raw_decode(text, pos)
        except ValueError:
            raise HecError(6, len(out))
        out.append((value, text[pos:stop]))
        pos = stop


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_event(env, number, allowed_indexes):
    """Raise HecError for the first problem of envelope `env` (the number-th of its request)."""
    if not isinstance(env, dict):
        raise HecError(6, number)
    if "event" not in env:
        raise HecError(12, number)
    ev = env["event"]
    if ev is None or (isinstance(ev, str) and ev.strip() == "") or ev == {}:
        raise HecError(13, number)
    if "time" in env and not _is_number(env["time"]):
        raise HecError(6, number)
    for key in ("host", "source", "sourcetype", "index"):
        if key in env and not isinstance(env[key], str):
            raise HecError(6, number)
    if "fields" in env:
        fields = env["fields"]
        if not isinstance(fields, dict):
            raise HecError(15, number)
        for value in fields.values():
            if isinstance(value, str):
                continue
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                continue
            raise HecError(15, number)
    if allowed_indexes is not None and "index" in env and env["index"] not in allowed_indexes:
        raise HecError(7, number)


class HecHandler(SimHandler):
    # -- request plumbing ----------------------------------------------------------------------
    def read_body(self):
        """simlib's read_body plus chunked transfer encoding."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return super().read_body()

    def _query(self):
        return parse_qs(urlsplit(self.path).query)

    def _decode(self, raw):
        """Body bytes -> text, undoing Content-Encoding. HecError(6, 0) if undecodable."""
        enc = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        try:
            if enc == "gzip":
                raw = gzip.decompress(raw)
            elif enc != "identity":
                raise HecError(6, 0)
            return raw.decode("utf-8")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError):
            raise HecError(6, 0)

    def _check_auth(self):
        auth = self.headers.get("Authorization")
        if auth is None:
            raise HecError(2)
        scheme, _, token = auth.strip().partition(" ")
        if scheme != "Splunk" or not token.strip():
            raise HecError(3)
        if token.strip() != self.server.token:
            raise HecError(4)

    def _channel(self):
        """The request's channel or None; HecError 10/11 per the ack setting and GUID form."""
        chan = self.headers.get("X-Splunk-Request-Channel")
        if chan is None:
            values = self._query().get("channel")
            chan = values[0] if values else None
        if chan is None or chan == "":
            if self.server.ack_enabled:
                raise HecError(10)
            return None
        if not GUID_RE.match(chan):
            raise HecError(11)
        return chan

    def _armed_fault(self, endpoint):
        """Take one shot of the first armed error fault that applies to `endpoint`.

        Returns (kind, status, code, send) where send() writes the answer, or None.
        """
        faults = self.server.faults

        def applies(params):
            return params.get("on", "event") in ("any", endpoint)

        for kind in ERROR_FAULTS:
            params = faults.take_if(kind, applies)
            if params is None:
                continue
            headers = None
            if kind == "404":
                return kind, 404, None, lambda: self.send_raw(404, PROXY_404_HTML, "text/html")
            if kind == "413":
                body = {"text": "Content request too large", "code": 413}
                return kind, 413, None, lambda: self.send_json(413, body)
            if kind == "401":
                code = 3 if int(params.get("code", 2)) == 3 else 2
            elif kind == "403":
                code = 1 if int(params.get("code", 4)) == 1 else 4
            elif kind == "500":
                code = 8
            else:  # 503
                code = 18 if endpoint == "health" else 9
                if "retry_after" in params:
                    headers = {"Retry-After": params["retry_after"]}
            status, text = HEC_CODES[code]
            body = {"text": text, "code": code}
            if code == 9:
                body["invalid-event-number"] = 0
            return kind, status, code, lambda: self.send_json(status, body, headers)
        return None

    def _slow_delay(self, endpoint):
        params = self.server.faults.take_if(
            "slow", lambda p: p.get("on", "event") in ("any", endpoint))
        return float(params.get("delay", 1.0)) if params is not None else 0.0

    # -- dispatch ------------------------------------------------------------------------------
    def handle_api(self, method):
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path in EVENT_PATHS:
            if method != "POST":
                self.send_json(405, {"text": "Method not allowed", "code": 405})
            else:
                self.handle_event()
        elif path in ACK_PATHS:
            if method != "POST":
                self.send_json(405, {"text": "Method not allowed", "code": 405})
            else:
                self.handle_ack()
        elif path in HEALTH_PATHS and method == "GET":
            self.handle_health()
        else:
            if method in ("POST", "PUT"):
                self.read_body()
            self.send_json(404, {"text": "The requested URL was not found on this server.",
                                 "code": 404})

    def handle_sim(self, method, path, obj):
        store = self.server.store
        if path == "/_sim/events" and method == "GET":
            self.send_json(200, store.events())
        elif path == "/_sim/requests" and method == "GET":
            self.send_json(200, store.requests())
        elif path == "/_sim/acks" and method == "GET":
            self.send_json(200, store.ack_queries())
        elif path == "/_sim/channels" and method == "GET":
            self.send_json(200, self.server.acks.snapshot())
        elif path == "/_sim/reset" and method == "POST":
            everything = bool(obj.get("all"))
            store.reset(truncate_out=everything)
            if everything:
                self.server.acks.clear()
                self.server.faults.clear()
            self.send_json(200, {"reset": True, "all": everything})
        else:
            return super().handle_sim(method, path, obj)
        return True

    # -- /services/collector/event -------------------------------------------------------------
    def handle_event(self):
        raw = self.read_body()
        summary = {
            "path": urlsplit(self.path).path,
            "status": None,
            "code": None,
            "events": 0,
            "gzip": (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip",
            "expect": self.headers.get("Expect") is not None,
            "channel": self.headers.get("X-Splunk-Request-Channel")
            or (self._query().get("channel") or [None])[0],
            "ackId": None,
            "ack_dropped": False,
            "bytes": len(raw),
            "fault": None,
        }
        delay = self._slow_delay("event")
        # Decide and record the outcome first (events are indexed now), answer after the delay.
        status, code, send, envelopes, ack_id, channel = self._event_outcome(raw, summary)
        if delay:
            summary["fault"] = "slow" if summary["fault"] is None else "slow+" + summary["fault"]
        summary["status"], summary["code"] = status, code
        self.server.store.record_request(summary, envelopes, ack_id, channel)
        if delay:
            time.sleep(delay)
        send()

    def _event_outcome(self, raw, summary):
        """Process an event POST. Returns (status, code, send, envelopes, ackId, channel)."""
        fault = self._armed_fault("event")
        if fault is not None:
            kind, status, code, send = fault
            summary["fault"] = kind
            return status, code, send, (), None, None

        limit = self.server.max_content_length
        if limit and len(raw) > limit:
            body = {"text": "Content-Length of %d too large (maximum is %d)" % (len(raw), limit),
                    "code": 413}
            return 413, None, lambda: self.send_json(413, body), (), None, None
        try:
            self._check_auth()
            channel = self._channel()
            text = self._decode(raw)
            if text.strip() == "":
                raise HecError(5)
            objects = split_objects(text)
            summary["events"] = len(objects)
            allowed = self.server.allowed_indexes
            for number, (env, _) in enumerate(objects):
                validate_event(env, number, allowed)
            k = self._code6_fault([raw_text for _, raw_text in objects])
            if k is not None:
                summary["fault"] = "400_code6"
                raise HecError(6, k)
        except HecError as err:
            status = HEC_CODES[err.code][0]
            body = err.body()
            return status, err.code, lambda: self.send_json(status, body), (), None, None

        envelopes = [env for env, _ in objects]
        body = {"text": "Success", "code": 0}
        ack_id = None
        if self.server.ack_enabled:
            dropped = self.server.faults.take("drop_ack") is not None
            ack_id = self.server.acks.new_ack(channel, dropped)
            body["ackId"] = ack_id
            summary["ackId"] = ack_id
            summary["ack_dropped"] = dropped
        return 200, 0, lambda: self.send_json(200, body), envelopes, ack_id, channel

    def _code6_fault(self, raw_texts):
        """Index k for an armed 400_code6 fault that applies to these events, else None."""
        found = {}

        def applies(params):
            if params.get("on", "event") not in ("event", "any"):
                return False
            match = params.get("match")
            if match is None:
                found["k"] = int(params.get("event_number", 0))
                return True
            for number, text in enumerate(raw_texts):
                if str(match) in text:
                    found["k"] = number
                    return True
            return False

        if self.server.faults.take_if("400_code6", applies) is None:
            return None
        return found["k"]

    # -- /services/collector/ack ---------------------------------------------------------------
    def handle_ack(self):
        raw = self.read_body()
        delay = self._slow_delay("ack")
        if delay:
            time.sleep(delay)
        fault = self._armed_fault("ack")
        if fault is not None:
            fault[3]()
            return
        summary = {"channel": None, "asked": [], "true": [], "status": None, "code": None}
        try:
            self._check_auth()
            if not self.server.ack_enabled:
                raise HecError(14)
            channel = self._channel()
            summary["channel"] = channel
            try:
                obj = json.loads(self._decode(raw))
            except ValueError:
                raise HecError(6)
            acks = obj.get("acks") if isinstance(obj, dict) else None
            if not isinstance(acks, list) or not all(
                    isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in acks):
                raise HecError(6)
        except HecError as err:
            summary["status"], summary["code"] = HEC_CODES[err.code][0], err.code
            self.server.store.record_ack_query(summary)
            self.send_json(HEC_CODES[err.code][0], err.body())
            return
        answer = self.server.acks.query(channel, acks)
        summary.update(asked=acks, true=[int(k) for k, v in answer.items() if v], status=200)
        self.server.store.record_ack_query(summary)
        self.send_json(200, {"acks": answer})

    # -- /services/collector/health ------------------------------------------------------------
    def handle_health(self):
        delay = self._slow_delay("health")
        if delay:
            time.sleep(delay)
        fault = self._armed_fault("health")
        if fault is not None:
            fault[3]()
            return
        auth = self.headers.get("Authorization")
        if auth is not None:
            try:
                self._check_auth()
            except HecError:
                self.send_json(400, {"text": "Invalid HEC token", "code": 4})
                return
        self.send_json(200, {"text": HEC_CODES[17][1], "code": 17})


class HecServer(SimServer):
    def __init__(self, port, args):
        super().__init__(port, HecHandler, "hec", args.verbose)
        self.faults = HecFaults()
        self.token = args.token
        self.ack_enabled = args.ack
        self.allowed_indexes = (
            {i.strip() for i in args.indexes.split(",") if i.strip()} if args.indexes else None)
        self.max_content_length = args.max_content_length
        self.acks = AckRegistry(args.ack_delay)
        self.store = EventStore(args.out)
        self.ssl_context = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key or None)
            self.ssl_context = ctx

    def finish_request(self, request, client_address):
        """Runs in the per-connection thread: do the TLS handshake here, not in accept()."""
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            if self.verbose:
                sys.stderr.write("hec TLS handshake failed: %s\n" % err)
            return
        tls.settimeout(None)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, ssl.SSLError, socket.timeout)):
            if self.verbose:  # a client that hung up or timed out: no traceback
                sys.stderr.write("hec %s: %s\n" % (client_address[0], err))
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = base_arg_parser("Splunk HEC receiver for msfwd tests")
    ap.add_argument("--token", required=True, help="the accepted HEC token")
    ap.add_argument("--ack", action="store_true", help="enable indexer acknowledgement (useACK)")
    ap.add_argument("--ack-delay", type=float, default=0.0,
                    help="seconds until an ackId turns true (default 0)")
    ap.add_argument("--indexes", help="comma-separated allowed indexes (default: any)")
    ap.add_argument("--out", help="append each indexed envelope here as one JSON line")
    ap.add_argument("--max-content-length", type=int, default=0,
                    help="answer 413 to bodies larger than this many bytes (0 = no limit)")
    ap.add_argument("--tls-cert", help="PEM certificate (serve HTTPS)")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = ap.parse_args(argv)
    if args.tls_key and not args.tls_cert:
        ap.error("--tls-key needs --tls-cert")
    server = HecServer(args.port, args)
    serve(server, args.port_file)


if __name__ == "__main__":
    main()
