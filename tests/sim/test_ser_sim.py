#!/usr/bin/env python3
"""Self-tests of ser_sim.py: run `python3 tests/sim/test_ser_sim.py` (exit 0 = all passed).

Each test starts the simulator on 127.0.0.1 port 0 in a subprocess and kills it afterwards.
"""
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "ser_sim.py")
NOW = "2025-06-15T12:34:56.789Z"
NOW_MS = 1749990896789
SUMMARY = "/v1/sercustomer/report/summary"
STATUS_KEYS = ("success", "failure", "tempFailure", "partialSuccess", "inProgress", "total",
               "recipientsTotal")
DETAIL_KEYS = ("2.X.X", "3.X.X", "4.X.X", "5.X.X")


def fmt(ms, zone="Z"):
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s" % (t[:6] + (ms % 1000, zone))


class Sim:
    """A simulator subprocess on 127.0.0.1 and a tiny HTTP client for it."""

    def __init__(self, script, args):
        self.dir = tempfile.mkdtemp(prefix="simtest-")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "stderr"), "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, script, "--port", "0", "--port-file", port_file] + list(args),
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 15
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                self.log.seek(0)
                raise RuntimeError("simulator did not start: " + self.log.read().decode())
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read().strip())

    def request(self, method, path, body=None, headers=None, timeout=15):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers = dict(headers or {}, **{"Content-Type": "application/json"})
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


class SerTestBase(unittest.TestCase):
    ARGS = ["--seed", "7", "--now", NOW]

    def setUp(self):
        self.sim = Sim(SCRIPT, self.ARGS)

    def tearDown(self):
        self.sim.stop()

    def token_request(self, client_id="ser-client-id", secret="ser-client-secret",
                      grant="client_credentials"):
        form = urlencode({"grant_type": grant, "client_id": client_id, "client_secret": secret})
        return self.sim.json("POST", "/v1/token", form,
                             {"Content-Type": "application/x-www-form-urlencoded"})

    def token(self):
        status, body = self.token_request()
        self.assertEqual(status, 200, body)
        return body["access_token"]

    def summary(self, token, start=None, end=None, raw_query=None):
        q = raw_query
        if q is None:
            params = {}
            if start is not None:
                params["startTimeStamp"] = start if isinstance(start, str) else fmt(start)
            if end is not None:
                params["endTimeStamp"] = end if isinstance(end, str) else fmt(end)
            q = urlencode(params)
        return self.sim.request("GET", SUMMARY + ("?" + q if q else ""),
                                headers={"Authorization": "Bearer " + token})

    def summary_json(self, token, start=None, end=None):
        status, _, data = self.summary(token, start, end)
        self.assertEqual(status, 200, data)
        return json.loads(data)


def counters(report):
    out = {}
    for row in report["applicationUsers"]:
        key = (row["applicationName"], row["applicationUserName"])
        vals = [row["status"][k] for k in STATUS_KEYS]
        vals += [row["messageSizeTotal"], row["deliveredSizeTotal"]]
        vals += [row["details"][k] for k in DETAIL_KEYS]
        out[key] = vals
    return out


class TokenTests(SerTestBase):
    ARGS = SerTestBase.ARGS + ["--token-ttl", "600"]

    def test_token_and_shape(self):
        status, body = self.token_request()
        self.assertEqual(status, 200)
        self.assertEqual(body["token_type"], "bearer")
        self.assertEqual(body["expires_in"], 600)
        rep = self.summary_json(body["access_token"], NOW_MS - 3600_000, NOW_MS)
        self.assertEqual(set(rep), {"applicationUsers", "entitlement"})
        self.assertEqual(len(rep["applicationUsers"]), 4)
        for row in rep["applicationUsers"]:
            for key in ("applicationName", "applicationUserName", "fromEnvelope", "fromHeader",
                        "messageSizeTotal", "deliveredSizeTotal"):
                self.assertIn(key, row)
            self.assertEqual(set(row["status"]), set(STATUS_KEYS))
            self.assertEqual(set(row["details"]), set(DETAIL_KEYS))
            st = row["status"]
            self.assertEqual(st["total"], sum(st[k] for k in STATUS_KEYS[:5]))
            self.assertGreaterEqual(st["recipientsTotal"], st["total"])
        self.assertEqual(set(rep["entitlement"]), {"annual_throughput", "license_start",
                                                   "license_end"})
        self.assertGreater(sum(r["status"]["total"] for r in rep["applicationUsers"]), 0)

    def test_bad_credentials(self):
        status, body = self.token_request(secret="wrong")
        self.assertEqual(status, 401)
        self.assertEqual(body["error"], "invalid_client")
        status, body = self.token_request(client_id="nobody")
        self.assertEqual(status, 401)
        status, body = self.token_request(grant="password")
        self.assertEqual(status, 400)
        status, _, _ = self.sim.request("GET", SUMMARY)
        self.assertEqual(status, 401)
        status, _, _ = self.summary("not-a-token")
        self.assertEqual(status, 401)

    def test_expiry_and_config(self):
        tok = self.token()
        self.assertEqual(self.summary(tok)[0], 200)
        status, cfg = self.sim.json("POST", "/_sim/config", {"advance": 601, "token_ttl": 30})
        self.assertEqual(status, 200)
        self.assertEqual(cfg["token_ttl"], 30)
        self.assertEqual(self.summary(tok)[0], 401)           # expired on the sim clock
        status, body = self.token_request()
        self.assertEqual(body["expires_in"], 30)
        self.assertEqual(self.summary(body["access_token"])[0], 200)
        status, cfg = self.sim.json("POST", "/_sim/config", {"now": "2025-07-01T00:00:00.000Z"})
        self.assertEqual(cfg["now"], "2025-07-01T00:00:00.000Z")
        self.assertEqual(self.summary(body["access_token"])[0], 401)


class RealClockExpiryTests(SerTestBase):
    ARGS = SerTestBase.ARGS + ["--token-ttl", "1"]

    def test_frozen_clock_tokens_still_expire(self):
        tok = self.token()
        self.assertEqual(self.summary(tok)[0], 200)
        time.sleep(1.2)                                    # sim clock frozen, real time passed
        self.assertEqual(self.summary(tok)[0], 401)
        self.assertEqual(self.summary(self.token())[0], 200)


class WindowTests(SerTestBase):

    def test_additivity(self):
        tok = self.token()
        _, cfg = self.sim.json("GET", "/_sim/config")
        rng = random.Random(3)
        lo = NOW_MS - 100 * 86400_000            # before the licence start, too
        hi = NOW_MS + 3600_000                   # and after now
        cases = [(NOW_MS - 86400_000, NOW_MS - 43200_000, NOW_MS),
                 (NOW_MS - 9 * 86400_000, NOW_MS - 8 * 86400_000 + 1, NOW_MS - 60_000)]
        for _ in range(12):
            a = rng.randrange(lo, hi)
            c = rng.randrange(a, hi)
            cases.append((a, rng.randrange(a, c + 1), c))
        for a, b, c in cases:
            whole = counters(self.summary_json(tok, a, c))
            left = counters(self.summary_json(tok, a, b))
            right = counters(self.summary_json(tok, b, c))
            for key, vals in whole.items():
                self.assertEqual(vals, [x + y for x, y in zip(left[key], right[key])],
                                 (key, fmt(a), fmt(b), fmt(c)))
            # ground truth endpoint agrees with the API
            _, truth = self.sim.json("GET", "/_sim/summary?" + urlencode(
                {"start": fmt(a), "end": fmt(c)}))
            self.assertEqual(counters(truth), whole)
        self.assertTrue(cfg["license_start"].endswith("T00:00:00.000Z"))

    def test_defaults_and_offsets(self):
        tok = self.token()
        status, _, data = self.summary(tok)
        self.assertEqual(status, 200)
        _, truth = self.sim.json("GET", "/_sim/summary")
        self.assertEqual(json.loads(data), truth)
        _, cfg = self.sim.json("GET", "/_sim/config")
        explicit = self.summary_json(tok, cfg["license_start"], NOW)
        self.assertEqual(counters(explicit), counters(truth))
        # +0000 is the same instant as Z; +0200 is two hours earlier
        a = self.summary_json(tok, "2025-06-14T00:00:00.000Z", "2025-06-15T00:00:00.000Z")
        b = self.summary_json(tok, "2025-06-14T00:00:00.000+0000", "2025-06-15T00:00:00.000+0000")
        c = self.summary_json(tok, "2025-06-14T02:00:00.000+0200", "2025-06-15T02:00:00.000+0200")
        self.assertEqual(a, b)
        self.assertEqual(a, c)
        # a window after now is empty
        empty = self.summary_json(tok, NOW_MS + 60_000, NOW_MS + 86400_000)
        self.assertTrue(all(r["status"]["total"] == 0 for r in empty["applicationUsers"]))

    def test_bad_timestamps(self):
        tok = self.token()
        bad = ["2020-06-01", "2020-06-01T00:00:00Z", "2020-06-01T00:00:00.000",
               "2020-13-01T00:00:00.000Z", "2020-02-30T00:00:00.000Z", "1735689600000",
               "yesterday", "2020-06-01 00:00:00.000Z"]
        for value in bad:
            for param in ("startTimeStamp", "endTimeStamp"):
                status, _, data = self.summary(tok, raw_query=urlencode({param: value}))
                self.assertEqual(status, 400, (param, value))
                self.assertIn("reason", json.loads(data))
        # an unencoded '+' arrives as a space and is refused
        status, _, _ = self.summary(tok, raw_query="startTimeStamp=2020-06-01T00:00:00.000+0000")
        self.assertEqual(status, 400)
        status, _, _ = self.summary(tok, NOW_MS, NOW_MS - 1)
        self.assertEqual(status, 400)

    def test_temp_failures_resolve(self):
        tok = self.token()
        start, end = NOW_MS - 2 * 86400_000, NOW_MS - 600_000
        # the newest two minutes are still in progress
        recent = self.summary_json(tok, NOW_MS - 60_000, NOW_MS + 1)
        for r in recent["applicationUsers"]:
            self.assertEqual(r["status"]["total"], r["status"]["inProgress"])
        self.assertGreater(sum(r["status"]["inProgress"] for r in recent["applicationUsers"]), 0)
        before = self.summary_json(tok, start, end)
        self.assertGreater(sum(r["status"]["tempFailure"] for r in before["applicationUsers"]),
                           0)
        self.sim.json("POST", "/_sim/config", {"advance": 8 * 86400})
        tok = self.token()
        after = self.summary_json(tok, start, end)
        for b, a in zip(before["applicationUsers"], after["applicationUsers"]):
            self.assertEqual(a["status"]["tempFailure"], 0)
            self.assertEqual(a["status"]["total"], b["status"]["total"])
            self.assertEqual(a["status"]["success"] + a["status"]["failure"],
                             b["status"]["success"] + b["status"]["failure"]
                             + b["status"]["tempFailure"])


class RateLimitTests(SerTestBase):
    ARGS = SerTestBase.ARGS + ["--rate-limit", "5"]

    def test_429_after_limit(self):
        tok = self.token()
        for _ in range(5):
            self.assertEqual(self.summary(tok)[0], 200)
        status, hdrs, data = self.summary(tok)
        self.assertEqual(status, 429)
        self.assertEqual(json.loads(data), {"error": "Too Many Requests"})
        self.assertNotIn("Retry-After", hdrs)
        self.sim.json("POST", "/_sim/config", {"retry_after": 7})
        status, hdrs, _ = self.summary(tok)
        self.assertEqual((status, hdrs.get("Retry-After")), (429, "7"))
        self.sim.json("POST", "/_sim/config", {"reset_rate": True})
        self.assertEqual(self.summary(tok)[0], 200)

    def test_window_slides(self):
        self.sim.json("POST", "/_sim/config", {"rate_limit": 2, "rate_window": 1.0})
        tok = self.token()
        self.assertEqual([self.summary(tok)[0] for _ in range(3)], [200, 200, 429])
        time.sleep(1.1)
        self.assertEqual(self.summary(tok)[0], 200)


class FaultTests(SerTestBase):

    def arm(self, kind, **params):
        status, body = self.sim.json("POST", "/_sim/fault", dict(params, kind=kind))
        self.assertEqual(status, 200, body)

    def test_5xx(self):
        tok = self.token()
        self.arm("5xx", status=503, count=2)
        self.assertEqual(self.summary(tok)[0], 503)
        self.assertEqual(self.summary(tok)[0], 503)
        self.assertEqual(self.summary(tok)[0], 200)

    def test_5xx_on_token_endpoint(self):
        self.arm("5xx", path="/v1/token")
        status, _, data = self.sim.request(
            "POST", "/v1/token", "grant_type=client_credentials&client_id=ser-client-id"
            "&client_secret=ser-client-secret",
            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, data), (500, b"Internal Server Error"))
        self.assertEqual(self.token_request()[0], 200)

    def test_slow(self):
        tok = self.token()
        self.arm("slow", seconds=1.0)
        t0 = time.time()
        self.assertEqual(self.summary(tok)[0], 200)
        self.assertGreaterEqual(time.time() - t0, 0.9)

    def test_truncated(self):
        tok = self.token()
        self.arm("truncated")
        with self.assertRaises(http.client.IncompleteRead):
            self.summary(tok)
        self.assertEqual(self.summary(tok)[0], 200)

    def test_invalid_json(self):
        tok = self.token()
        self.arm("invalid_json")
        status, _, data = self.summary(tok)
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(data)
        self.summary_json(tok)

    def test_revoke_token(self):
        tok = self.token()
        self.arm("revoke_token")
        self.assertEqual(self.summary(tok)[0], 401)
        self.assertEqual(self.summary(tok)[0], 401)            # stays revoked
        self.assertEqual(self.summary(self.token())[0], 200)   # a new token works

    def test_after(self):
        tok = self.token()
        self.arm("5xx", status=503, count=1, after=2)
        self.assertEqual([self.summary(tok)[0] for _ in range(4)], [200, 200, 503, 200])

    def test_429_storm(self):
        tok = self.token()
        self.arm("429_storm", count=3, retry_after=2)
        for _ in range(3):
            status, hdrs, _ = self.summary(tok)
            self.assertEqual((status, hdrs.get("Retry-After")), (429, "2"))
        self.assertEqual(self.summary(tok)[0], 200)
        status, stats = self.sim.json("GET", "/_sim/stats")
        self.assertEqual(stats[SUMMARY]["429"], 3)


class OptionTests(SerTestBase):
    ARGS = ["--seed", "9", "--now", NOW, "--numbers", "string", "--details-in", "both",
            "--envelope", "--license-date-format", "date", "--license-start", "2025-01-01",
            "--apps", "6", "--annual-throughput", "5000", "--timestamp-mode", "lenient",
            "--sizes-in", "both"]

    def test_options(self):
        tok = self.token()
        rep = self.summary_json(tok, "2025-06-01T00:00:00Z", "1749945600000")
        self.assertEqual(rep["status"], {"code": 200, "message": "OK"})
        self.assertEqual(rep["startTimeStamp"], "2025-06-01T00:00:00.000Z")
        self.assertEqual(rep["entitlement"], {"annual_throughput": "5000",
                                              "license_start": "2025-01-01",
                                              "license_end": "2026-01-01"})
        self.assertEqual(len(rep["applicationUsers"]), 6)
        row = rep["applicationUsers"][0]
        self.assertIsInstance(row["status"]["total"], str)
        self.assertEqual(row["status"]["details"], row["details"])
        self.assertEqual(row["status"]["messageSizeTotal"], row["messageSizeTotal"])
        self.assertIsInstance(row["messageSizeTotal"], str)


if __name__ == "__main__":
    unittest.main(verbosity=2)
