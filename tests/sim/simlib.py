"""Shared plumbing for msfwd's vendor simulators and the HEC receiver.

Every simulator is a stdlib-only HTTP server bound to 127.0.0.1. Conventions (tests rely on them):
  --port N        0 picks a free port
  --port-file F   the chosen port is written here once the server listens (atomic rename)
  --seed N        all generated data is a pure function of the seed
  GET  /_sim/health          -> 200 {"ok": true}
  POST /_sim/fault           -> arm a fault switch, body {"kind": ..., "count": N, ...}
  GET  /_sim/stats           -> request counters per path and status
Each simulator adds its own /_sim/ endpoints (adding records, reading back ground truth).
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Faults:
    """Armed fault switches: kind -> remaining count (-1 = until cleared). Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._armed = {}
        self._params = {}

    def arm(self, kind, count=1, **params):
        with self._lock:
            self._armed[kind] = count
            self._params[kind] = params

    def clear(self, kind=None):
        with self._lock:
            if kind is None:
                self._armed.clear()
                self._params.clear()
            else:
                self._armed.pop(kind, None)
                self._params.pop(kind, None)

    def take(self, kind):
        """Consume one shot of a fault. Returns its params dict, or None when not armed."""
        with self._lock:
            left = self._armed.get(kind)
            if left is None or left == 0:
                return None
            if left > 0:
                self._armed[kind] = left - 1
            return dict(self._params.get(kind, {}))

    def snapshot(self):
        with self._lock:
            return dict(self._armed)


class SimHandler(BaseHTTPRequestHandler):
    """Base handler: JSON helpers, request counting and the common /_sim/ endpoints.

    Subclasses implement handle_api(method) and may extend handle_sim(method, path, body).
    """

    protocol_version = "HTTP/1.1"
    server_version = "msfwd-sim/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.server.sim_name, fmt % args))

    # -- helpers -------------------------------------------------------------------------------
    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_raw(self, status, body, content_type="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.count(self.path.split("?", 1)[0], status)

    def send_json(self, status, obj, headers=None):
        self.send_raw(status, json.dumps(obj), "application/json", headers)

    # -- dispatch ------------------------------------------------------------------------------
    def _dispatch(self, method):
        path = self.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            body = self.read_body() if method in ("POST", "PUT") else b""
            try:
                obj = json.loads(body) if body else {}
            except ValueError:
                self.send_json(400, {"error": "control body is not JSON"})
                return
            if not self.handle_sim(method, path, obj):
                self.send_json(404, {"error": "unknown control endpoint " + path})
            return
        self.handle_api(method)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def handle_sim(self, method, path, obj):
        if path == "/_sim/health":
            self.send_json(200, {"ok": True})
        elif path == "/_sim/fault" and method == "POST":
            kind = obj.get("kind")
            if not kind:
                self.send_json(400, {"error": "fault needs a kind"})
                return True
            if kind == "clear":
                self.server.faults.clear(obj.get("which"))
            else:
                params = {k: v for k, v in obj.items() if k not in ("kind", "count")}
                self.server.faults.arm(kind, int(obj.get("count", 1)), **params)
            self.send_json(200, {"armed": self.server.faults.snapshot()})
        elif path == "/_sim/stats":
            self.send_json(200, self.server.stats())
        else:
            return False
        return True

    def handle_api(self, method):
        self.send_json(404, {"error": "not found"})


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, handler, sim_name, verbose=False):
        super().__init__(("127.0.0.1", port), handler)
        self.sim_name = sim_name
        self.verbose = verbose
        self.faults = Faults()
        self._stats_lock = threading.Lock()
        self._stats = {}

    def count(self, path, status):
        with self._stats_lock:
            per_path = self._stats.setdefault(path, {})
            per_path[str(status)] = per_path.get(str(status), 0) + 1

    def stats(self):
        with self._stats_lock:
            return json.loads(json.dumps(self._stats))


def base_arg_parser(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    ap.add_argument("--port-file", help="write the listening port here once ready")
    ap.add_argument("--seed", type=int, default=1, help="seed for the generated data")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return ap


def serve(server, port_file=None):
    """Announce the port (stdout line 'listening 127.0.0.1:PORT' and the port file), then serve."""
    port = server.server_address[1]
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, port_file)
    print("listening 127.0.0.1:%d" % port, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
