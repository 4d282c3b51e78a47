#!/usr/bin/env python3
"""Self-test of tests/sim/mimecast_sim.py: run it on 127.0.0.1 in a subprocess and check it against the
spec (/work/shared/specs/mimecast-api.md). Run from the repo root: python3 tests/sim/test_mimecast_sim.py
"""
import base64
import calendar
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "mimecast_sim.py")

CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"
APP_ID, ACCESS_KEY = "test-app-id", "test-access-key"
# the spec's §1.1 test vector
VEC_SECRET = "c2ltdWxhdG9yLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5"
VEC_APP_KEY = "00000000-1111-2222-3333-444444444444"
VEC_DATE = "Tue, 24 Nov 2015 12:50:11 UTC"
VEC_REQ_ID = "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297"
VEC_URI = "/api/ttp/url/get-logs"
VEC_SIGNATURE = "hMv/W3c9qXgjcexojzB5/pkJIUs="

PATHS = {
    "ttp_attachment": "/api/ttp/attachment/get-logs",
    "ttp_impersonation": "/api/ttp/impersonation/get-logs",
    "ttp_url": "/api/ttp/url/get-logs",
    "message_tracking": "/api/message-finder/search",
}
LIST_KEY = {"ttp_attachment": "attachmentLogs", "ttp_impersonation": "impersonationLogs",
            "ttp_url": "clickLogs", "message_tracking": "trackedEmails"}
TIME_FIELD = {"ttp_attachment": "date", "ttp_impersonation": "eventTime", "ttp_url": "date",
              "message_tracking": "received"}
UNIQUE_KEY = {"ttp_attachment": ("messageId", "date", "fileHash", "recipientAddress"),
              "ttp_impersonation": ("id",), "ttp_url": ("messageId", "date", "userEmailAddress", "url"),
              "message_tracking": ("id",)}
WIDE_FROM, WIDE_TO = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00+0000"


def sign(secret_b64, date, req_id, uri, app_key):
    """Independent implementation of the API 1.0 signature (§1.1)."""
    mac = hmac.new(base64.b64decode(secret_b64), ":".join([date, req_id, uri, app_key]).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def epoch(ts):
    """'2024-11-17T20:16:00+0000' -> epoch."""
    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%S+0000"))


def iso(t, style="+0000"):
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return base + {"+0000": "+0000", "+00:00": "+00:00", "Z": "Z"}[style]


def key_of(stream, rec):
    return "|".join(str(rec[f]) for f in UNIQUE_KEY[stream])


class Sim:
    """The simulator in a subprocess, and a small HTTP client for it."""

    def __init__(self, *extra, seed=42):
        self.tmp = tempfile.TemporaryDirectory(prefix="mcsim-")
        port_file = os.path.join(self.tmp.name, "port")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--port", "0", "--port-file", port_file, "--seed", str(seed),
             "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, "--app-id", APP_ID,
             "--app-key", VEC_APP_KEY, "--access-key", ACCESS_KEY, "--secret-key", VEC_SECRET] + list(extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.stop()
                raise RuntimeError("simulator did not start: " + err)
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        self.tmp.cleanup()

    def raw(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def call(self, method, path, body=None, headers=None):
        status, hdrs, data = self.raw(method, path, body, headers)
        return status, hdrs, json.loads(data) if data else None

    def token_response(self, client_id=CLIENT_ID, secret=CLIENT_SECRET, grant="client_credentials"):
        form = "client_id=%s&client_secret=%s&grant_type=%s" % (client_id, secret, grant)
        return self.call("POST", "/oauth/token", form, {"Content-Type": "application/x-www-form-urlencoded"})

    def token(self):
        status, _, obj = self.token_response()
        assert status == 200, obj
        return obj["access_token"]

    def api(self, path, body, token):
        return self.call("POST", path, body, {"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json", "Accept": "application/json"})

    def records(self, stream, details=False):
        _, _, obj = self.call("GET", "/_sim/records?stream=%s%s" % (stream, "&details=1" if details else ""))
        return obj

    def control(self, path, body):
        status, _, obj = self.call("POST", path, body, {"Content-Type": "application/json"})
        assert status == 200, obj
        return obj

    def walk(self, stream, item, token, page_size=500, resend_data=True, limit=1000):
        """Follow next until it is missing or a page is empty. -> (records, pages)."""
        out, pages, page_token = [], [], None
        for _ in range(limit):
            pagination = {"pageSize": page_size}
            body = {"meta": {"pagination": pagination}, "data": [item]}
            if page_token:
                pagination["pageToken"] = page_token
                if not resend_data:
                    del body["data"]
            status, _, obj = self.api(PATHS[stream], body, token)
            assert status == 200 and obj["fail"] == [], (status, obj)
            pages.append(obj)
            recs = obj["data"][0][LIST_KEY[stream]] if obj["data"] else []
            out.extend(recs)
            page_token = obj["meta"]["pagination"].get("next")
            if not page_token or not recs:
                return out, pages
        raise AssertionError("pagination did not end")


class SimTestCase(unittest.TestCase):
    SIM_ARGS = ("--records", "1200")

    def setUp(self):
        self.sim = Sim(*self.SIM_ARGS)

    def tearDown(self):
        self.sim.stop()

    def assertFail(self, obj, field=None, code=None):
        self.assertTrue(obj["fail"], obj)
        err = obj["fail"][0]["errors"][0]
        if field:
            self.assertEqual(err.get("field"), field, obj)
        if code:
            self.assertEqual(err["code"], code, obj)
        self.assertEqual(obj["data"], [])


class TestAuth20(SimTestCase):
    def test_token_flow_and_bad_credentials(self):
        status, hdrs, obj = self.sim.token_response()
        self.assertEqual(status, 200)
        self.assertEqual(obj["token_type"], "Bearer")
        self.assertEqual(obj["expires_in"], 1799)
        self.assertEqual(obj["scope"], "")
        token = obj["access_token"]
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": []}, token)
        self.assertEqual((status, obj["meta"]["status"], obj["fail"]), (200, 200, []))

        status, _, obj = self.sim.token_response(secret="wrong")
        self.assertEqual(status, 401)
        self.assertEqual(obj["fail"][0]["code"], "invalid_client")
        status, _, obj = self.sim.token_response(client_id="nobody")
        self.assertEqual(status, 401)
        status, _, obj = self.sim.token_response(grant="password")
        self.assertEqual(status, 400)
        status, _, _ = self.sim.call("POST", "/oauth/token", {"client_id": CLIENT_ID},
                                     {"Content-Type": "application/json"})
        self.assertEqual(status, 400)

        # bearer checked on every call: none, unknown
        status, hdrs, obj = self.sim.call("POST", PATHS["ttp_url"], {"data": []})
        self.assertEqual(status, 401)
        self.assertIn("x-ratelimit-limit", hdrs)
        status, _, obj = self.sim.api(PATHS["ttp_attachment"], {"data": []}, "not-a-token")
        self.assertEqual(status, 401)
        self.assertEqual(obj["fail"][0]["code"], "token_expired")
        self.assertEqual(obj["meta"]["status"], 401)

    def test_expiry_and_revocation(self):
        self.sim.control("/_sim/config", {"token_ttl": 1})
        status, _, obj = self.sim.token_response()
        self.assertEqual(obj["expires_in"], 1)
        token = obj["access_token"]
        self.assertEqual(self.sim.api(PATHS["ttp_url"], {}, token)[0], 200)
        time.sleep(1.1)
        status, _, obj = self.sim.api(PATHS["ttp_url"], {}, token)
        self.assertEqual(status, 401)
        self.assertEqual(obj["fail"][0]["code"], "token_expired")

        self.sim.control("/_sim/config", {"token_ttl": 1799})
        token = self.sim.token()
        self.assertEqual(self.sim.api(PATHS["ttp_url"], {}, token)[0], 200)
        self.assertEqual(self.sim.control("/_sim/fault", {"kind": "revoke_token"})["revoked"], 2)
        status, _, obj = self.sim.api(PATHS["ttp_url"], {}, token)
        self.assertEqual((status, obj["fail"][0]["code"]), (401, "token_expired"))
        self.assertEqual(self.sim.api(PATHS["ttp_url"], {}, self.sim.token())[0], 200)


class TestAuth10(SimTestCase):
    def v1(self, date, req_id, signature, path=VEC_URI, app_id=APP_ID):
        return self.sim.call("POST", path, {"data": [{"scanResult": "all"}]}, {
            "Authorization": "MC %s:%s" % (ACCESS_KEY, signature), "x-mc-app-id": app_id,
            "x-mc-date": date, "x-mc-req-id": req_id, "Content-Type": "application/json"})

    def test_hmac_vector_bad_signature_stale_date_expired_keys(self):
        self.assertEqual(sign(VEC_SECRET, VEC_DATE, VEC_REQ_ID, VEC_URI, VEC_APP_KEY), VEC_SIGNATURE)
        # with the date window opened, the simulator accepts the spec's exact vector
        self.sim.control("/_sim/config", {"date_skew_seconds": 2 * 10 ** 9})
        status, hdrs, obj = self.v1(VEC_DATE, VEC_REQ_ID, VEC_SIGNATURE)
        self.assertEqual((status, obj["fail"]), (200, []), obj)
        self.assertIn("x-ratelimit-remaining", hdrs)
        status, _, obj = self.v1(VEC_DATE, VEC_REQ_ID, VEC_SIGNATURE.replace("h", "H", 1))
        self.assertEqual(status, 401)
        self.assertEqual(obj["fail"][0]["errors"][0]["code"], "err_xdk_invalid_signature")
        # the vector's date is stale under the default window
        self.sim.control("/_sim/config", {"date_skew_seconds": 900})
        status, _, obj = self.v1(VEC_DATE, VEC_REQ_ID, VEC_SIGNATURE)
        self.assertEqual(status, 401)
        self.assertEqual(obj["fail"][0]["errors"][0]["code"], "err_xdk_invalid_date")
        # a fresh, correctly signed request (GMT accepted as well as UTC); the signature covers the path
        for zone in ("UTC", "GMT"):
            date = time.strftime("%a, %d %b %Y %H:%M:%S " + zone, time.gmtime())
            rid = str(uuid.uuid4())
            path = PATHS["message_tracking"]
            status, _, obj = self.v1(date, rid, sign(VEC_SECRET, date, rid, path, VEC_APP_KEY), path=path)
            self.assertEqual(status, 200)
            status, _, obj = self.v1(date, rid, sign(VEC_SECRET, date, rid, VEC_URI, VEC_APP_KEY), path=path)
            self.assertEqual(status, 401)
        date = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(time.time() - 3600))
        status, _, _ = self.v1(date, VEC_REQ_ID, sign(VEC_SECRET, date, VEC_REQ_ID, VEC_URI, VEC_APP_KEY))
        self.assertEqual(status, 401)
        date = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())
        good = sign(VEC_SECRET, date, VEC_REQ_ID, VEC_URI, VEC_APP_KEY)
        status, _, obj = self.v1(date, VEC_REQ_ID, good, app_id="other-app")
        self.assertEqual((status, obj["fail"][0]["errors"][0]["code"]), (401, "err_developer_key"))
        self.sim.control("/_sim/config", {"keys_expired": True})
        status, _, obj = self.v1(date, VEC_REQ_ID, good)
        self.assertEqual(status, 418)
        self.assertEqual(obj["fail"][0]["errors"][0]["code"], "err_xdk_binding_expired")
        self.sim.control("/_sim/config", {"keys_expired": False})
        self.assertEqual(self.v1(date, VEC_REQ_ID, good)[0], 200)


class TestPagination(SimTestCase):
    SIM_ARGS = ()  # default: 6000 records per stream

    def test_full_walk_equals_ground_truth(self):
        token = self.sim.token()
        default_filter = {
            "ttp_attachment": lambda r: r["result"] == "malicious",
            "ttp_url": lambda r: r["scanResult"] == "malicious",
            "ttp_impersonation": lambda r: True,
            "message_tracking": lambda r: True,
        }
        for stream in PATHS:
            truth = self.sim.records(stream)
            self.assertEqual(truth["count"], 6000)
            recs = truth["records"]
            self.assertEqual(len({key_of(stream, r) for r in recs}), len(recs), "unique ids " + stream)
            self.assertEqual([epoch(r[TIME_FIELD[stream]]) for r in recs],
                             sorted(epoch(r[TIME_FIELD[stream]]) for r in recs))
            expected = [r for r in recs if default_filter[stream](r)]
            if stream == "message_tracking":
                item = {"start": WIDE_FROM, "end": WIDE_TO, "oldestFirst": True, "advancedTrackAndTraceOptions": {}}
            else:
                item = {"from": WIDE_FROM, "to": WIDE_TO, "oldestFirst": True}
            got, pages = self.sim.walk(stream, item, token, page_size=500 if stream != "ttp_url" else "500")
            self.assertGreater(len(pages), 5)
            self.assertEqual(len({key_of(stream, r) for r in got}), len(got), "duplicates in " + stream)
            self.assertEqual(got, expected, stream)
            self.assertNotIn("next", pages[-1]["meta"]["pagination"])
            self.assertEqual(pages[0]["meta"]["pagination"]["totalCount"], len(expected))
            self.assertEqual(pages[0]["meta"]["pagination"]["pageSize"], 500)
            self.assertIn("previous", pages[1]["meta"]["pagination"])
            if stream == "ttp_impersonation":
                self.assertEqual(pages[0]["data"][0]["resultCount"], len(expected))
            if stream in ("ttp_url", "ttp_attachment"):  # about 30 % clean
                field = "scanResult" if stream == "ttp_url" else "result"
                clean = sum(1 for r in recs if r[field] in ("clean", "safe")) / len(recs)
                self.assertTrue(0.25 < clean < 0.35, clean)
            # newest first (the default), Elastic httpjson style: the token alone on later pages
            item.pop("oldestFirst")
            got, _ = self.sim.walk(stream, item, token, page_size=333, resend_data=False)
            self.assertEqual(got, list(reversed(expected)), stream + " newest first")

    def test_page_size_clamp_and_bad_requests(self):
        token = self.sim.token()
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"meta": {"pagination": {"pageSize": 5000}},
                                                         "data": [{"from": WIDE_FROM, "to": WIDE_TO}]}, token)
        self.assertEqual(obj["meta"]["pagination"]["pageSize"], 500)
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"meta": {"pagination": {"pageSize": 0}}, "data": []}, token)
        self.assertEqual(status, 200)
        self.assertFail(obj, field="pageSize")
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"meta": {"pagination": {"pageToken": "eNoBogus"}}}, token)
        self.assertEqual(status, 200)
        self.assertFail(obj, field="pageToken")
        status, _, first = self.sim.api(PATHS["ttp_url"], {"data": [{"from": WIDE_FROM}]}, token)
        status, _, obj = self.sim.api(PATHS["ttp_attachment"], {"meta": {"pagination": {
            "pageToken": first["meta"]["pagination"]["next"]}}}, token)
        self.assertFail(obj, field="pageToken")  # a token of another endpoint
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": [{}, {}]}, token)
        self.assertFail(obj, code="err_validation_too_many_items")
        status, _, obj = self.sim.api(PATHS["ttp_attachment"], {"data": [{"result": "bogus"}]}, token)
        self.assertEqual(status, 200)
        self.assertFail(obj, field="result")
        self.assertEqual(obj["fail"][0]["key"], {"result": "bogus"})
        status, _, _ = self.sim.call("POST", PATHS["ttp_url"], "{not json",
                                     {"Authorization": "Bearer " + token})
        self.assertEqual(status, 400)
        self.assertEqual(self.sim.call("GET", PATHS["ttp_url"], None, {"Authorization": "Bearer " + token})[0], 405)
        self.assertEqual(self.sim.call("POST", "/api/nope", {}, {"Authorization": "Bearer " + token})[0], 404)


class TestFilters(SimTestCase):
    def test_from_to_route_result(self):
        token = self.sim.token()
        recs = self.sim.records("ttp_url")["records"]
        times = [epoch(r["date"]) for r in recs]
        t_a, t_b = times[len(times) // 4], times[len(times) // 2]
        for f_style, t_style in (("+0000", "Z"), ("+00:00", "+0000"), ("Z", "+00:00")):
            item = {"from": iso(t_a, f_style), "to": iso(t_b, t_style), "scanResult": "all", "route": "inbound",
                    "oldestFirst": True}
            got, _ = self.sim.walk("ttp_url", item, token, page_size=100)
            expected = [r for r in recs if t_a <= epoch(r["date"]) <= t_b and r["route"] == "inbound"]
            self.assertTrue(expected)
            self.assertEqual(got, expected, (f_style, t_style))
        # an offset other than UTC is honoured
        item = {"from": time.strftime("%Y-%m-%dT%H:%M:%S+02:00", time.gmtime(t_a + 7200)),
                "to": iso(t_b), "scanResult": "clean", "oldestFirst": True}
        got, _ = self.sim.walk("ttp_url", item, token)
        self.assertEqual(got, [r for r in recs if t_a <= epoch(r["date"]) <= t_b and r["scanResult"] == "clean"])
        # attachment result filter; impersonation taggedMalicious / identifiers / search
        att = self.sim.records("ttp_attachment")["records"]
        got, _ = self.sim.walk("ttp_attachment", {"from": WIDE_FROM, "result": "safe", "oldestFirst": True}, token)
        self.assertEqual(got, [r for r in att if r["result"] == "safe"])
        imp = self.sim.records("ttp_impersonation")["records"]
        got, _ = self.sim.walk("ttp_impersonation", {"from": WIDE_FROM, "taggedMalicious": True,
                                                     "identifiers": ["internal_user_name"], "oldestFirst": True}, token)
        self.assertEqual(got, [r for r in imp if r["taggedMalicious"] and "internal_user_name" in r["identifiers"]])
        got, _ = self.sim.walk("ttp_impersonation", {"from": WIDE_FROM, "searchField": "subject",
                                                     "query": "INVOICE", "oldestFirst": True}, token)
        self.assertEqual(got, [r for r in imp if "invoice" in r["subject"].lower()])
        # defaults: from = start of the current UTC day, to = now
        now = time.time()
        got, _ = self.sim.walk("ttp_url", {"scanResult": "all", "oldestFirst": True}, token)
        self.assertEqual(got, [r for r in recs if epoch(r["date"]) >= int(now) - int(now) % 86400])
        # bad requests answer HTTP 200 with fail[]
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": [{"from": "yesterday"}]}, token)
        self.assertEqual(status, 200)
        self.assertFail(obj, field="from")
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": [{"from": "2024-01-01T00:00:00"}]}, token)
        self.assertFail(obj, field="from")
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": [{"from": iso(t_b), "to": iso(t_a)}]}, token)
        self.assertFail(obj)

    def test_message_finder(self):
        token = self.sim.token()
        truth = self.sim.records("message_tracking", details=True)
        recs = truth["records"]
        item = {"start": WIDE_FROM, "end": WIDE_TO, "oldestFirst": True, "status": ["held"], "route": ["inbound"],
                "advancedTrackAndTraceOptions": {"to": "acme.example"}}
        got, _ = self.sim.walk("message_tracking", item, token, page_size=50)
        expected = [r for r in recs if r["status"] == "held" and r["route"] == "inbound"
                    and any(t["emailAddress"].endswith("@acme.example") for t in r["to"])]
        self.assertTrue(expected)
        self.assertEqual(got, expected)
        sender = expected[0]["fromEnv"]["emailAddress"]
        got, _ = self.sim.walk("message_tracking", {"start": WIDE_FROM, "advancedTrackAndTraceOptions": {
            "from": sender.upper()}}, token)
        self.assertEqual(sorted(r["id"] for r in got),
                         sorted(r["id"] for r in recs if sender in (r["fromEnv"]["emailAddress"],
                                                                     r["fromHdr"]["emailAddress"])))
        mid = truth["internetMessageIds"][expected[0]["id"]]
        got, _ = self.sim.walk("message_tracking", {"start": WIDE_FROM, "messageId": mid}, token)
        self.assertEqual([r["id"] for r in got], [expected[0]["id"]])
        for bad in ({"start": WIDE_FROM}, {"messageId": mid, "advancedTrackAndTraceOptions": {}},
                    {"advancedTrackAndTraceOptions": {}, "status": ["nope"]}):
            status, _, obj = self.sim.api(PATHS["message_tracking"], {"data": [bad]}, token)
            self.assertEqual(status, 200)
            self.assertFail(obj)
        # get-message-info carries the risk (spamInfo.spamProcessingDetail.verdict.risk) and the queue reason
        ids = [r["id"] for r in expected[:3]]
        status, _, obj = self.sim.api("/api/message-finder/get-message-info", {"data": [{"id": i} for i in ids]},
                                      token)
        self.assertEqual([d["id"] for d in obj["data"]], ids)
        self.assertEqual(obj["data"], [truth["details"][i] for i in ids])
        self.assertTrue(all("reason" in d["queueInfo"] for d in obj["data"]))
        risks = {d["spamInfo"]["spamProcessingDetail"].get("verdict", {}).get("risk")
                 for d in truth["details"].values()}
        self.assertTrue({"negligible", "low", "medium", "high", None} <= risks, risks)
        self.assertIn("message-id: &lt;", obj["data"][0]["recipientInfo"]["messageInfo"]["transmissionInfo"].lower())
        status, _, obj = self.sim.api("/api/message-finder/get-message-info", {"data": [{"id": "nope"}]}, token)
        self.assertEqual(status, 200)
        self.assertEqual(obj["fail"][0]["key"], {"id": "nope"})


class TestLastPageQuirk(SimTestCase):
    SIM_ARGS = ("--records", "700", "--last-page-quirk")

    def test_quirk(self):
        token = self.sim.token()
        recs = self.sim.records("ttp_url")["records"]
        got, pages = self.sim.walk("ttp_url", {"from": WIDE_FROM, "scanResult": "all", "oldestFirst": True}, token,
                                   page_size=200)
        self.assertEqual(got, recs)
        self.assertEqual(pages[-1]["data"], [])
        self.assertEqual(pages[-1]["meta"]["pagination"]["pageSize"], 0)
        self.assertIn("next", pages[-1]["meta"]["pagination"])
        self.assertIn("next", pages[-2]["meta"]["pagination"])
        self.assertTrue(pages[-2]["data"][0]["clickLogs"])
        # following the quirk page's next gives the same empty page again
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"meta": {"pagination": {
            "pageToken": pages[-1]["meta"]["pagination"]["next"]}}}, token)
        self.assertEqual((obj["data"], "next" in obj["meta"]["pagination"]), ([], True))
        # no match at all: the quirk page straight away
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": [{"from": "2001-01-01T00:00:00Z",
                                                                   "to": "2001-01-02T00:00:00Z"}]}, token)
        self.assertEqual((obj["data"], "next" in obj["meta"]["pagination"]), ([], True))
        # switched off at run time: the last page has records and no next
        self.sim.control("/_sim/config", {"last_page_quirk": False})
        got, pages = self.sim.walk("ttp_url", {"from": WIDE_FROM, "scanResult": "all", "oldestFirst": True}, token,
                                   page_size=200)
        self.assertEqual(got, recs)
        self.assertNotIn("next", pages[-1]["meta"]["pagination"])
        self.assertTrue(pages[-1]["data"][0]["clickLogs"])
        status, _, obj = self.sim.api(PATHS["ttp_url"], {"data": [{"from": "2001-01-01T00:00:00Z",
                                                                   "to": "2001-01-02T00:00:00Z"}]}, token)
        self.assertEqual(obj["data"], [{"clickLogs": []}])
        self.assertNotIn("next", obj["meta"]["pagination"])


class TestRateLimit(SimTestCase):
    def test_headers_exhaustion_and_no_side_effect(self):
        token = self.sim.token()
        status, hdrs, _ = self.sim.api(PATHS["ttp_url"], {}, token)
        self.assertEqual(hdrs["x-ratelimit-limit"], "10000")
        self.assertEqual(hdrs["x-ratelimit-remaining"], "9999")
        self.assertGreaterEqual(int(hdrs["x-ratelimit-reset"]), 0)
        self.sim.control("/_sim/config", {"rate_limit": 3, "rate_window_ms": 1500})
        remaining = [self.sim.api(PATHS["ttp_url"], {}, token)[1]["x-ratelimit-remaining"] for _ in range(3)]
        self.assertEqual(remaining, ["2", "1", "0"])
        for _ in range(3):
            status, hdrs, obj = self.sim.api(PATHS["ttp_attachment"], {}, token)
            self.assertEqual(status, 429)
            self.assertEqual(hdrs["x-ratelimit-remaining"], "0")
            self.assertEqual(obj["data"], [])
            self.assertEqual(obj["meta"]["status"], 429)
        reset = int(hdrs["x-ratelimit-reset"])
        self.assertTrue(0 < reset <= 501, reset)
        # refused calls took nothing: after Reset ms exactly one call is allowed again
        time.sleep(reset / 1000.0 + 0.02)
        status, hdrs, _ = self.sim.api(PATHS["ttp_url"], {}, token)
        self.assertEqual((status, hdrs["x-ratelimit-remaining"]), (200, "0"))
        self.assertEqual(self.sim.api(PATHS["ttp_url"], {}, token)[0], 429)

    def test_429_storm(self):
        token = self.sim.token()
        self.sim.control("/_sim/fault", {"kind": "429_storm", "count": 3, "reset_ms": 50})
        for _ in range(3):
            status, hdrs, _ = self.sim.api(PATHS["ttp_impersonation"], {}, token)
            self.assertEqual((status, hdrs["x-ratelimit-reset"], hdrs["x-ratelimit-remaining"]), (429, "50", "0"))
        status, hdrs, _ = self.sim.api(PATHS["ttp_impersonation"], {}, token)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["x-ratelimit-remaining"], "9999")  # the storm consumed nothing


class TestAdd(SimTestCase):
    def test_add_identical_timestamps(self):
        token = self.sim.token()
        when = int(time.time()) - 3600
        for stream in PATHS:
            added = self.sim.control("/_sim/add", {"stream": stream, "count": 5, "date": iso(when, "+00:00")})
            self.assertEqual(len(added["records"]), 5)
            self.assertEqual({r[TIME_FIELD[stream]] for r in added["records"]}, {iso(when)})
            truth = self.sim.records(stream)["records"]
            self.assertEqual(len({key_of(stream, r) for r in truth}), len(truth))
            self.assertEqual(truth.count(added["records"][0]), 1)
            if stream == "message_tracking":
                item = {"start": iso(when), "end": iso(when, "Z"), "advancedTrackAndTraceOptions": {}}
            else:
                item = {"from": iso(when), "to": iso(when, "Z"), "result": "all", "scanResult": "all"}
            item["oldestFirst"] = True
            got, _ = self.sim.walk(stream, item, token, page_size=2)
            self.assertEqual(got, [r for r in truth if r[TIME_FIELD[stream]] == iso(when)])
            self.assertEqual(got[-5:], added["records"])
        added = self.sim.control("/_sim/add", {"stream": "ttp_url", "count": 2})
        self.assertTrue(abs(epoch(added["records"][0]["date"]) - time.time()) < 5)
        added = self.sim.control("/_sim/add", {"stream": "ttp_attachment", "count": 3,
                                               "dates": [iso(when + 10), iso(when + 11, "Z")]})
        self.assertEqual([r["date"] for r in added["records"]], [iso(when + 10)] * 3 + [iso(when + 11)] * 3)
        self.assertEqual(self.sim.call("POST", "/_sim/add", {"stream": "nope", "count": 1})[0], 400)

    def test_snapshot_pages_and_determinism(self):
        token = self.sim.token()
        item = {"from": WIDE_FROM, "scanResult": "all"}
        status, _, first = self.sim.api(PATHS["ttp_url"], {"meta": {"pagination": {"pageSize": 100}},
                                                           "data": [item]}, token)
        total = first["meta"]["pagination"]["totalCount"]
        self.assertEqual(first["data"][0]["clickLogs"], self.sim.records("ttp_url")["records"][:-101:-1])
        self.sim.control("/_sim/add", {"stream": "ttp_url", "count": 3})
        status, _, nxt = self.sim.api(PATHS["ttp_url"], {"meta": {"pagination": {
            "pageSize": 100, "pageToken": first["meta"]["pagination"]["next"]}}}, token)
        self.assertEqual(nxt["meta"]["pagination"]["totalCount"], total)  # the walk does not see new records
        self.assertEqual(nxt["data"][0]["clickLogs"][0], self.sim.records("ttp_url")["records"][-104])
        # same seed and --now: identical data; another seed: different data
        now = "2026-01-02T03:04:05Z"
        a, b, c = Sim("--records", "200", "--now", now), Sim("--records", "200", "--now", now), \
            Sim("--records", "200", "--now", now, seed=7)
        try:
            for stream in PATHS:
                ra, rb, rc = (s.records(stream)["records"] for s in (a, b, c))
                self.assertEqual(ra, rb)
                self.assertNotEqual(ra, rc)
                self.assertEqual(ra[-1][TIME_FIELD[stream]][:10], "2026-01-02")
        finally:
            for s in (a, b, c):
                s.stop()


class TestFaults(SimTestCase):
    def test_fault_kinds(self):
        token = self.sim.token()
        body = {"data": [{"from": WIDE_FROM, "scanResult": "all"}]}
        # 5xx: the next N API calls; /oauth/token is not affected unless targeted
        self.sim.control("/_sim/fault", {"kind": "5xx", "count": 2})
        self.assertEqual(self.sim.token_response()[0], 200)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 500)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 500)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.sim.control("/_sim/fault", {"kind": "5xx", "count": 1, "status": 503, "target": "oauth"})
        self.assertEqual(self.sim.token_response()[0], 503)
        self.assertEqual(self.sim.token_response()[0], 200)
        # slow
        self.sim.control("/_sim/fault", {"kind": "slow", "count": 1, "seconds": 0.5})
        started = time.time()
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.assertGreaterEqual(time.time() - started, 0.5)
        # truncated: full Content-Length, body cut, connection closed
        self.sim.control("/_sim/fault", {"kind": "truncated", "count": 1})
        with self.assertRaises(http.client.IncompleteRead):
            self.sim.raw("POST", PATHS["ttp_url"], body, {"Authorization": "Bearer " + token})
        # truncated with a Content-Length that matches the cut body: valid HTTP, broken JSON
        self.sim.control("/_sim/fault", {"kind": "truncated", "count": 1, "declared": "cut"})
        status, hdrs, data = self.sim.raw("POST", PATHS["ttp_url"], body, {"Authorization": "Bearer " + token})
        self.assertEqual((status, int(hdrs["content-length"])), (200, len(data)))
        self.assertRaises(ValueError, json.loads, data)
        # invalid_json
        self.sim.control("/_sim/fault", {"kind": "invalid_json", "count": 1})
        status, _, data = self.sim.raw("POST", PATHS["ttp_url"], body, {"Authorization": "Bearer " + token})
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, data)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        # revoke_token: at once, or armed for a later request
        self.sim.control("/_sim/fault", {"kind": "revoke_token"})
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 401)
        token = self.sim.token()
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.sim.control("/_sim/fault", {"kind": "revoke_token", "after": 1})
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 401)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, self.sim.token())[0], 200)
        # clear, unknown kinds, stats
        self.sim.control("/_sim/fault", {"kind": "5xx", "count": -1})
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 500)
        self.sim.control("/_sim/fault", {"kind": "clear"})
        token = self.sim.token()
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.assertEqual(self.sim.call("POST", "/_sim/fault", {"kind": "bogus"})[0], 400)
        stats = self.sim.call("GET", "/_sim/stats")[2]
        self.assertGreaterEqual(stats[PATHS["ttp_url"]]["500"], 3)

    def test_fail_fault_and_targeting(self):
        token = self.sim.token()
        body = {"data": [{"from": WIDE_FROM, "scanResult": "all"}]}
        # fail[] on HTTP 200, API 1.0 style (errors[] inside the item) with its meta.status
        self.sim.control("/_sim/fault", {"kind": "fail", "code": "err_xdk_binding_expired",
                                         "message": "Binding Expired", "meta_status": 418})
        status, _, obj = self.sim.api(PATHS["ttp_url"], body, token)
        self.assertEqual((status, obj["meta"]["status"], obj["data"]), (200, 418, []))
        self.assertEqual(obj["fail"][0]["errors"][0]["code"], "err_xdk_binding_expired")
        self.assertFalse(obj["fail"][0]["errors"][0]["retryable"])
        # API 2.0 style (code/message in the item), and a refused page token (field pageToken)
        self.sim.control("/_sim/fault", {"kind": "fail", "style": "v2", "code": "token_expired"})
        status, _, obj = self.sim.api(PATHS["ttp_url"], body, token)
        self.assertEqual((status, obj["fail"][0]["code"]), (200, "token_expired"))
        self.sim.control("/_sim/fault", {"kind": "fail", "field": "pageToken",
                                         "code": "err_pagination_invalid_token"})
        status, _, obj = self.sim.api(PATHS["ttp_url"], body, token)
        self.assertEqual(obj["fail"][0]["errors"][0]["field"], "pageToken")
        # empty fail[] with only meta.status telling
        self.sim.control("/_sim/fault", {"kind": "fail", "empty": True, "meta_status": 403})
        status, _, obj = self.sim.api(PATHS["ttp_url"], body, token)
        self.assertEqual((status, obj["meta"]["status"], obj["fail"], obj["data"]), (200, 403, [], []))
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        # stream + after: the third request of ttp_attachment fails; other streams pass untouched
        self.sim.control("/_sim/fault", {"kind": "5xx", "status": 502, "stream": "ttp_attachment", "after": 2})
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.assertEqual(self.sim.api(PATHS["ttp_attachment"], body, token)[0], 200)
        self.assertEqual(self.sim.api(PATHS["ttp_url"], body, token)[0], 200)
        self.assertEqual(self.sim.api(PATHS["ttp_attachment"], body, token)[0], 200)
        self.assertEqual(self.sim.api(PATHS["ttp_attachment"], body, token)[0], 502)
        self.assertEqual(self.sim.api(PATHS["ttp_attachment"], body, token)[0], 200)
        # body faults honour the targeting too
        self.sim.control("/_sim/fault", {"kind": "invalid_json", "stream": "message_info"})
        status, _, data = self.sim.raw("POST", PATHS["ttp_url"], body, {"Authorization": "Bearer " + token})
        json.loads(data)
        status, _, data = self.sim.raw("POST", "/api/message-finder/get-message-info", {"data": [{"id": "x"}]},
                                       {"Authorization": "Bearer " + token})
        self.assertRaises(ValueError, json.loads, data)


if __name__ == "__main__":
    unittest.main(verbosity=2)
