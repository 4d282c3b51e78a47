#!/usr/bin/env python3
"""Self-test of tests/sim/hec_receiver.py. Run from the repo root:

    python3 tests/sim/test_hec_receiver.py

Each test starts the receiver in a subprocess on 127.0.0.1 (port 0) and kills it in tearDown.
"""
import gzip
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVER = os.path.join(HERE, "hec_receiver.py")
TOKEN = "11111111-2222-3333-4444-555555555555"
CHAN_A = "0b6a3f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
CHAN_B = "f0e1d2c3-b4a5-4968-8776-655443322110"
EVENT_PATH = "/services/collector/event"


def ev(i, **extra):
    env = {"time": 1717171717.123 + i, "host": "mx-gw-01", "source": "pps:mail",
           "sourcetype": "_json", "event": {"msgid": "<m%d@x>" % i, "score": i}}
    env.update(extra)
    return env


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


class ReceiverTest(unittest.TestCase):
    """Starts one receiver per test with extra_args(); helpers for HTTP calls."""

    def extra_args(self):
        return []

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hec_receiver_test.")
        self.out_path = os.path.join(self.tmp, "out.jsonl")
        port_file = os.path.join(self.tmp, "port")
        cmd = [sys.executable, RECEIVER, "--port", "0", "--port-file", port_file,
               "--token", TOKEN, "--out", self.out_path] + self.extra_args()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                self.fail("receiver exited: %s" % self.proc.stderr.read().decode())
            if time.monotonic() > deadline:
                self.fail("receiver did not write its port file")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())

    def tearDown(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- HTTP helpers --------------------------------------------------------------------------
    def connect(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict lower-cased, body bytes)."""
        own = conn is None
        conn = conn or self.connect()
        try:
            if isinstance(body, str):
                body = body.encode("utf-8")
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()

    def post_events(self, body, token=TOKEN, channel=None, path=EVENT_PATH, headers=None):
        """POST a HEC body (str/bytes or list of envelopes, sent newline-separated)."""
        if isinstance(body, list):
            body = "\n".join(dumps(e) for e in body)
        hdrs = {"Content-Type": "application/json"}
        if token is not None:
            hdrs["Authorization"] = "Splunk " + token
        if channel is not None:
            hdrs["X-Splunk-Request-Channel"] = channel
        hdrs.update(headers or {})
        status, _, data = self.call("POST", path, body, hdrs)
        return status, json.loads(data)

    def query_acks(self, ids, channel=CHAN_A, token=TOKEN, path="/services/collector/ack"):
        hdrs = {"Authorization": "Splunk " + token, "Content-Type": "application/json"}
        if channel is not None:
            hdrs["X-Splunk-Request-Channel"] = channel
        status, _, data = self.call("POST", path, dumps({"acks": ids}), hdrs)
        return status, json.loads(data)

    def sim_get(self, what):
        status, _, data = self.call("GET", "/_sim/" + what)
        self.assertEqual(status, 200)
        return json.loads(data)

    def fault(self, kind, count=1, **params):
        body = dict(params, kind=kind, count=count)
        status, _, data = self.call("POST", "/_sim/fault", dumps(body))
        self.assertEqual(status, 200, data)

    def assert_hec(self, result, status, code, **extra):
        got_status, body = result
        self.assertEqual((got_status, body.get("code")), (status, code), body)
        for key, value in extra.items():
            self.assertEqual(body.get(key.replace("_", "-")), value, body)

    def events(self):
        return self.sim_get("events")

    def out_lines(self):
        if not os.path.exists(self.out_path):
            return []
        with open(self.out_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


class TestNoAck(ReceiverTest):
    def extra_args(self):
        return ["--indexes", "main,email", "--max-content-length", "200000"]

    def test_token_errors(self):
        self.assert_hec(self.post_events([ev(1)], token=None), 401, 2)
        for bad in ("Bearer " + TOKEN, "Splunk", "Splunk ", "splunk " + TOKEN, TOKEN):
            with self.subTest(auth=bad):
                result = self.post_events([ev(1)], token=None, headers={"Authorization": bad})
                self.assert_hec(result, 401, 3)
        self.assert_hec(self.post_events([ev(1)], token="wrong-token"), 403, 4)
        self.assertEqual(self.events(), [])

    def test_success_on_every_event_path(self):
        for path in (EVENT_PATH, EVENT_PATH + "/1.0", "/services/collector"):
            with self.subTest(path=path):
                status, body = self.post_events([ev(1)], path=path)
                self.assertEqual((status, body), (200, {"text": "Success", "code": 0}))
        self.assertEqual(len(self.events()), 3)
        status, _, _ = self.call("POST", "/services/collector/raw", "x",
                                 {"Authorization": "Splunk " + TOKEN})
        self.assertEqual(status, 404)

    def test_concatenated_without_separator(self):
        envs = [ev(i) for i in range(3)]
        self.assert_hec(self.post_events("".join(dumps(e) for e in envs)), 200, 0)
        got = self.events()
        self.assertEqual([{k: v for k, v in g.items() if not k.startswith("_")} for g in got], envs)
        self.assertEqual([g["_request"] for g in got], [1, 1, 1])
        self.assertEqual([g["_ackId"] for g in got], [None] * 3)

    def test_whitespace_and_newline_separators(self):
        envs = [ev(i) for i in range(4)]
        body = "\n" + dumps(envs[0]) + "\n" + dumps(envs[1]) + "\r\n  \t" \
            + json.dumps(envs[2], indent=2) + " " + dumps(envs[3]) + "\n\n"
        self.assert_hec(self.post_events(body), 200, 0)
        self.assertEqual([g["event"] for g in self.events()], [e["event"] for e in envs])

    def test_gzip_body(self):
        envs = [ev(i) for i in range(5)]
        body = gzip.compress("\n".join(dumps(e) for e in envs).encode())
        self.assert_hec(self.post_events(body, headers={"Content-Encoding": "gzip"}), 200, 0)
        self.assertEqual(len(self.events()), 5)
        self.assertTrue(self.sim_get("requests")[0]["gzip"])
        # Not gzip data under a gzip header -> invalid data format.
        self.assert_hec(self.post_events(b"{not gzip", headers={"Content-Encoding": "gzip"}),
                        400, 6)
        self.assertEqual(len(self.events()), 5)

    def test_chunked_body(self):
        conn = self.connect()
        try:
            chunks = iter([dumps(ev(1)).encode(), b"\n", dumps(ev(2)).encode()])
            conn.request("POST", EVENT_PATH, body=chunks, encode_chunked=True,
                         headers={"Authorization": "Splunk " + TOKEN})
            resp = conn.getresponse()
            self.assertEqual((resp.status, json.loads(resp.read())["code"]), (200, 0))
        finally:
            conn.close()
        self.assertEqual(len(self.events()), 2)

    def test_validation_codes(self):
        good = dumps(ev(0))
        cases = [
            ("empty body", "", 5, None),
            ("blank body", " \n ", 5, None),
            ("bad JSON", good + "\n{\"event\": ", 6, 1),
            ("NaN", good + '{"event":"x","time":NaN}', 6, 1),
            ("array body", "[" + good + "]", 6, 0),
            ("not an object", good + ' "text"', 6, 1),
            ("missing event", good + dumps({"time": 1.5, "host": "h"}), 12, 1),
            ("empty string event", good + dumps({"event": ""}), 13, 1),
            ("whitespace event", good + dumps({"event": "  \t"}), 13, 1),
            ("null event", dumps({"event": None}), 13, 0),
            ("empty object event", good + good + dumps({"event": {}}), 13, 2),
            ("time string", good + dumps({"event": "x", "time": "1717171717.1"}), 6, 1),
            ("time bool", good + dumps({"event": "x", "time": True}), 6, 1),
            ("host not string", good + dumps({"event": "x", "host": 5}), 6, 1),
            ("fields not object", good + dumps({"event": "x", "fields": ["a"]}), 15, 1),
            ("fields nested", good + dumps({"event": "x", "fields": {"a": {"b": "c"}}}), 15, 1),
            ("fields number", good + dumps({"event": "x", "fields": {"a": 1}}), 15, 1),
            ("fields list of numbers", good + dumps({"event": "x", "fields": {"a": ["b", 2]}}),
             15, 1),
            ("index not allowed", good + dumps({"event": "x", "index": "secret"}), 7, 1),
            ("index not a string", good + dumps({"event": "x", "index": 3}), 6, 1),
        ]
        for name, body, code, number in cases:
            with self.subTest(case=name):
                status, resp = self.post_events(body)
                self.assertEqual((status, resp["code"]), (400, code), resp)
                self.assertEqual(resp.get("invalid-event-number"), number, resp)
        # A request is atomic: the good events before the bad one were not indexed either.
        self.assertEqual(self.events(), [])
        self.assertEqual(self.out_lines(), [])
        accepted = [
            dumps({"event": "plain text"}),
            dumps({"event": {"a": 1}, "time": 1717171717, "index": "email",
                   "fields": {"tenant": "acme", "rcpt": ["a@x", "b@y"]}}),
            dumps({"event": 0}),
        ]
        self.assert_hec(self.post_events("".join(accepted)), 200, 0)
        self.assertEqual(len(self.events()), 3)
        reqs = self.sim_get("requests")
        self.assertEqual(len(reqs), len(cases) + 1)
        self.assertEqual([r["indexed"] for r in reqs], [0] * len(cases) + [3])

    def test_channel_rules_without_ack(self):
        self.assert_hec(self.post_events([ev(1)]), 200, 0)  # no channel is fine
        self.assert_hec(self.post_events([ev(2)], channel=CHAN_A), 200, 0)
        status, _, data = self.call("POST", EVENT_PATH + "?channel=" + CHAN_B, dumps(ev(3)),
                                    {"Authorization": "Splunk " + TOKEN})
        self.assertEqual((status, json.loads(data)), (200, {"text": "Success", "code": 0}))
        self.assert_hec(self.post_events([ev(4)], channel="not-a-guid"), 400, 11)
        self.assertEqual([e["_channel"] for e in self.events()], [None, CHAN_A, CHAN_B])
        self.assert_hec(self.query_acks([0]), 400, 14)

    def test_health(self):
        status, _, data = self.call("GET", "/services/collector/health")
        self.assertEqual((status, json.loads(data)["code"]), (200, 17))
        status, _, data = self.call("GET", "/services/collector/health/1.0",
                                    headers={"Authorization": "Splunk " + TOKEN})
        self.assertEqual(status, 200)
        status, _, data = self.call("GET", "/services/collector/health",
                                    headers={"Authorization": "Splunk nope"})
        self.assertEqual((status, json.loads(data)["text"]), (400, "Invalid HEC token"))

    def test_request_summary_and_expect_header(self):
        self.post_events([ev(1), ev(2)], channel=CHAN_A, headers={"Expect": "100-continue"})
        self.post_events([ev(3)], token="bad")
        reqs = self.sim_get("requests")
        self.assertEqual(len(reqs), 2)
        first, second = reqs
        self.assertEqual((first["seq"], first["status"], first["code"], first["events"],
                          first["indexed"], first["gzip"], first["expect"], first["channel"]),
                         (1, 200, 0, 2, 2, False, True, CHAN_A))
        self.assertEqual((second["seq"], second["status"], second["code"], second["expect"],
                          second["indexed"]), (2, 403, 4, False, 0))

    def test_out_file_and_reset(self):
        envs = [ev(i) for i in range(3)]
        self.post_events(envs[:2])
        self.post_events([ev(9, index="secret")])  # rejected, not written
        self.post_events(envs[2:])
        self.assertEqual(self.out_lines(), envs)  # plain envelopes, no _ keys
        status, _, _ = self.call("POST", "/_sim/reset", "{}")
        self.assertEqual(status, 200)
        self.assertEqual((self.events(), self.sim_get("requests")), ([], []))
        self.assertEqual(len(self.out_lines()), 3)  # plain reset keeps the file
        self.post_events([ev(5)])
        self.assertEqual(self.events()[0]["_request"], 4)  # seq keeps counting
        self.call("POST", "/_sim/reset", dumps({"all": True}))
        self.assertEqual(self.out_lines(), [])
        self.post_events([ev(6)])
        self.assertEqual(self.out_lines(), [ev(6)])

    def test_max_content_length(self):
        big = [ev(i, event="x" * 1000) for i in range(250)]
        status, body = self.post_events(big)
        self.assertEqual(status, 413, body)
        self.assertEqual(self.events(), [])
        # The same data gzip-compressed is under the limit as received.
        body = gzip.compress("\n".join(dumps(e) for e in big).encode())
        self.assert_hec(self.post_events(body, headers={"Content-Encoding": "gzip"}), 200, 0)
        self.assertEqual(len(self.events()), 250)

    # -- faults --------------------------------------------------------------------------------
    def test_fault_503_with_retry_after(self):
        self.fault("503", count=2, retry_after=7)
        for _ in range(2):
            status, headers, data = self.call("POST", EVENT_PATH, dumps(ev(1)),
                                              {"Authorization": "Splunk " + TOKEN})
            self.assertEqual((status, json.loads(data)),
                             (503, {"text": "Server is busy", "code": 9,
                                    "invalid-event-number": 0}))
            self.assertEqual(headers.get("retry-after"), "7")
        self.assertEqual(self.events(), [])
        self.assert_hec(self.post_events([ev(1)]), 200, 0)
        self.assertEqual([r["fault"] for r in self.sim_get("requests")], ["503", "503", None])

    def test_fault_500_404_413_401_403(self):
        cases = [
            ("500", {}, 500, 8),
            ("404", {}, 404, None),
            ("413", {}, 413, 413),
            ("401", {}, 401, 2),
            ("401", {"code": 3}, 401, 3),
            ("403", {}, 403, 4),
            ("403", {"code": 1}, 403, 1),
        ]
        for kind, params, status, code in cases:
            with self.subTest(kind=kind, params=params):
                self.fault(kind, **params)
                got_status, headers, data = self.call(
                    "POST", EVENT_PATH, dumps(ev(1)), {"Authorization": "Splunk " + TOKEN})
                self.assertEqual(got_status, status)
                if kind == "404":
                    self.assertTrue(headers["content-type"].startswith("text/html"))
                    self.assertIn(b"404 Not Found", data)
                else:
                    self.assertEqual(json.loads(data)["code"], code)
                self.assert_hec(self.post_events([ev(2)]), 200, 0)  # one shot only
        self.assertEqual(len(self.events()), len(cases))

    def test_fault_until_cleared(self):
        self.fault("500", count=-1)
        for _ in range(3):
            self.assert_hec(self.post_events([ev(1)]), 500, 8)
        self.call("POST", "/_sim/fault", dumps({"kind": "clear", "which": "500"}))
        self.assert_hec(self.post_events([ev(1)]), 200, 0)

    def test_fault_400_code6_event_number(self):
        self.fault("400_code6", event_number=2)
        result = self.post_events([ev(i) for i in range(4)])
        self.assert_hec(result, 400, 6, invalid_event_number=2)
        self.assertEqual(result[1]["text"], "Invalid data format")
        self.assertEqual(self.events(), [])
        self.assert_hec(self.post_events([ev(i) for i in range(4)]), 200, 0)
        self.assertEqual(len(self.events()), 4)

    def test_fault_400_code6_match(self):
        self.fault("400_code6", count=-1, match="POISON")
        self.assert_hec(self.post_events([ev(1), ev(2)]), 200, 0)  # no match: passes
        batch = [ev(1), ev(2), ev(3, event="has POISON inside"), ev(4, event="POISON again")]
        self.assert_hec(self.post_events(batch), 400, 6, invalid_event_number=2)
        self.assert_hec(self.post_events(batch[:2] + batch[4:]), 200, 0)
        self.assert_hec(self.post_events([batch[3]]), 400, 6, invalid_event_number=0)
        self.assertEqual(len(self.events()), 4)
        self.assertEqual(len(self.out_lines()), 4)

    def test_fault_slow(self):
        self.fault("slow", delay=0.5)
        start = time.monotonic()
        self.assert_hec(self.post_events([ev(1)]), 200, 0)
        self.assertGreaterEqual(time.monotonic() - start, 0.45)
        start = time.monotonic()
        self.assert_hec(self.post_events([ev(2)]), 200, 0)
        self.assertLess(time.monotonic() - start, 0.4)
        # A client that gives up still leaves the events indexed (duplicate risk on re-send).
        self.fault("slow", delay=1.0)
        conn = self.connect(timeout=0.2)
        with self.assertRaises(OSError):
            self.call("POST", EVENT_PATH, dumps(ev(3)), {"Authorization": "Splunk " + TOKEN},
                      conn=conn)
        conn.close()
        self.assertEqual(len(self.events()), 3)
        self.assertEqual(self.sim_get("requests")[-1]["fault"], "slow")

    def test_fault_on_health(self):
        self.fault("503", on="health")
        self.assert_hec(self.post_events([ev(1)]), 200, 0)  # event path not hit
        status, _, data = self.call("GET", "/services/collector/health")
        self.assertEqual((status, json.loads(data)["code"]), (503, 18))
        status, _, _ = self.call("GET", "/services/collector/health")
        self.assertEqual(status, 200)

    def test_keep_alive_across_errors(self):
        conn = self.connect()
        try:
            hdrs = {"Authorization": "Splunk " + TOKEN}
            self.fault("503")
            self.assertEqual(self.call("POST", EVENT_PATH, dumps(ev(1)), hdrs, conn)[0], 503)
            self.assertEqual(self.call("POST", EVENT_PATH, "{bad", hdrs, conn)[0], 400)
            self.assertEqual(self.call("POST", EVENT_PATH, dumps(ev(2)), {}, conn)[0], 401)
            self.assertEqual(self.call("POST", EVENT_PATH, dumps(ev(3)), hdrs, conn)[0], 200)
        finally:
            conn.close()
        self.assertEqual([e["event"] for e in self.events()], [ev(3)["event"]])

    def test_concurrent_posts(self):
        errors = []

        def worker(n):
            try:
                conn = self.connect()
                for i in range(15):
                    hdrs = {"Authorization": "Splunk " + TOKEN}
                    status = self.call("POST", EVENT_PATH, dumps(ev(n * 100 + i)) * 2, hdrs,
                                       conn)[0]
                    if status != 200:
                        errors.append(status)
                conn.close()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        events = self.events()
        self.assertEqual(len(events), 8 * 15 * 2)
        self.assertEqual(len(self.out_lines()), 8 * 15 * 2)
        seqs = [r["seq"] for r in self.sim_get("requests")]
        self.assertEqual(sorted(seqs), list(range(1, 8 * 15 + 1)))


class TestAck(ReceiverTest):
    def extra_args(self):
        return ["--ack", "--ack-delay", "0.3"]

    def test_channel_required(self):
        self.assert_hec(self.post_events([ev(1)]), 400, 10)
        self.assert_hec(self.post_events([ev(1)], channel="1234"), 400, 11)
        self.assert_hec(self.post_events([ev(1)], channel=CHAN_A + "0"), 400, 11)
        self.assert_hec(self.query_acks([0], channel=None), 400, 10)
        self.assert_hec(self.query_acks([0], channel="abc"), 400, 11)
        self.assert_hec(self.query_acks([0], token="bad"), 403, 4)
        self.assertEqual(self.events(), [])

    def test_ack_ids_per_channel(self):
        self.assert_hec(self.post_events([ev(1)], channel=CHAN_A), 200, 0, ackId=0)
        self.assert_hec(self.post_events([ev(2), ev(3)], channel=CHAN_A), 200, 0, ackId=1)
        self.assert_hec(self.post_events([ev(4)], channel=CHAN_B), 200, 0, ackId=0)
        self.assert_hec(self.post_events([ev(5)], channel=CHAN_A, token="x"), 403, 4)
        status, _, data = self.call("POST", EVENT_PATH + "?channel=" + CHAN_A, dumps(ev(6)),
                                    {"Authorization": "Splunk " + TOKEN})
        self.assertEqual((status, json.loads(data)["ackId"]), (200, 2))
        got = [(e["_channel"], e["_ackId"], e["_request"]) for e in self.events()]
        self.assertEqual(got, [(CHAN_A, 0, 1), (CHAN_A, 1, 2), (CHAN_A, 1, 2), (CHAN_B, 0, 3),
                               (CHAN_A, 2, 5)])

    def test_ack_flow(self):
        self.post_events([ev(1)], channel=CHAN_A)
        self.post_events([ev(2)], channel=CHAN_A)
        self.assertEqual(self.query_acks([0, 1, 99]),
                         (200, {"acks": {"0": False, "1": False, "99": False}}))
        time.sleep(0.35)
        self.assertEqual(self.query_acks([0]), (200, {"acks": {"0": True}}))
        self.assertEqual(self.query_acks([0, 1], path="/services/collector/ack/1.0"),
                         (200, {"acks": {"0": False, "1": True}}))  # 0 was released
        self.assertEqual(self.query_acks([1]), (200, {"acks": {"1": False}}))
        # Another channel does not see these ids.
        self.assertEqual(self.query_acks([0], channel=CHAN_B), (200, {"acks": {"0": False}}))
        # ?channel= works for /ack too.
        self.post_events([ev(3)], channel=CHAN_B)
        time.sleep(0.35)
        status, _, data = self.call("POST", "/services/collector/ack?channel=" + CHAN_B,
                                    dumps({"acks": [0]}), {"Authorization": "Splunk " + TOKEN})
        self.assertEqual((status, json.loads(data)), (200, {"acks": {"0": True}}))
        queries = self.sim_get("acks")
        self.assertEqual([q["true"] for q in queries], [[], [0], [1], [], [], [0]])
        chans = self.sim_get("channels")
        self.assertEqual(chans[CHAN_A]["released"], [0, 1])
        self.assertEqual(chans[CHAN_A]["next_ackId"], 2)

    def test_bad_ack_body(self):
        hdrs = {"Authorization": "Splunk " + TOKEN, "X-Splunk-Request-Channel": CHAN_A}
        for body in ("", "{", '{"acks": "0"}', '{"acks": [-1]}', '{"acks": ["1"]}', "[1]"):
            with self.subTest(body=body):
                status, _, data = self.call("POST", "/services/collector/ack", body, hdrs)
                self.assertEqual((status, json.loads(data)["code"]), (400, 6))

    def test_drop_ack(self):
        self.fault("drop_ack")
        self.assert_hec(self.post_events([ev(1)], channel=CHAN_A), 200, 0, ackId=0)
        self.assert_hec(self.post_events([ev(2)], channel=CHAN_A), 200, 0, ackId=1)
        time.sleep(0.35)
        self.assertEqual(self.query_acks([0, 1]), (200, {"acks": {"0": False, "1": True}}))
        self.assertEqual(self.query_acks([0]), (200, {"acks": {"0": False}}))
        self.assertEqual([r["ack_dropped"] for r in self.sim_get("requests")], [True, False])
        self.assertEqual(len(self.events()), 2)  # indexed, only the ack is lost
        self.assertEqual(self.sim_get("channels")[CHAN_A]["never"], [0])

    def test_failed_request_takes_no_ack_id(self):
        self.fault("503")
        self.assert_hec(self.post_events([ev(1)], channel=CHAN_A), 503, 9)
        self.assert_hec(self.post_events([{"event": ""}], channel=CHAN_A), 400, 13)
        self.assert_hec(self.post_events([ev(1)], channel=CHAN_A), 200, 0, ackId=0)

    def test_fault_on_ack_endpoint(self):
        self.post_events([ev(1)], channel=CHAN_A)
        self.fault("500", on="ack")
        self.fault("slow", delay=0.4, on="ack")
        self.assert_hec(self.post_events([ev(2)], channel=CHAN_A), 200, 0, ackId=1)
        start = time.monotonic()
        self.assert_hec(self.query_acks([0]), 500, 8)
        self.assertGreaterEqual(time.monotonic() - start, 0.35)
        self.assertEqual(self.query_acks([0, 1]), (200, {"acks": {"0": True, "1": True}}))


def make_cert(directory):
    """Self-signed EC certificate for 127.0.0.1, or None when openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class TestTls(ReceiverTest):
    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="hec_receiver_tls.")
        cls.pair = make_cert(cls.cert_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.cert_dir, ignore_errors=True)

    def extra_args(self):
        if self.pair is None:
            self.skipTest("openssl not installed")
        return ["--tls-cert", self.pair[0], "--tls-key", self.pair[1]]

    def https(self, context):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5, context=context)

    def test_tls(self):
        hdrs = {"Authorization": "Splunk " + TOKEN}
        # Default trust store: the self-signed certificate is refused (verify_tls on).
        conn = self.https(ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.call("POST", EVENT_PATH, dumps(ev(1)), hdrs, conn=conn)
        conn.close()
        # With the certificate as CA (ca_file) the request goes through.
        conn = self.https(ssl.create_default_context(cafile=self.pair[0]))
        try:
            status, _, data = self.call("POST", EVENT_PATH, dumps(ev(1)), hdrs, conn=conn)
            self.assertEqual((status, json.loads(data)["code"]), (200, 0))
            # Plain HTTP against the TLS port fails without killing the receiver.
            plain = self.connect(timeout=2)
            with self.assertRaises((OSError, http.client.HTTPException)):
                self.call("GET", "/_sim/health", conn=plain)
            plain.close()
            status, _, data = self.call("GET", "/_sim/events", conn=conn)  # same connection
            self.assertEqual((status, len(json.loads(data))), (200, 1))
        finally:
            conn.close()
        self.assertEqual(len(self.out_lines()), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
