#!/usr/bin/env python3
"""Self-tests of pps_sim.py: run `python3 tests/sim/test_pps_sim.py` (exit 0 = all passed).

Each test starts the simulator on 127.0.0.1 port 0 in a subprocess and kills it afterwards.
"""
import base64
import calendar
import http.client
import json
import os
import re
import sys
import time
import unittest
from urllib.parse import quote, urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_ser_sim import Sim  # noqa: E402

SCRIPT = os.path.join(HERE, "pps_sim.py")
NOW = "2025-06-15 12:00:00"
NOW_TS = calendar.timegm((2025, 6, 15, 12, 0, 0, 0, 0, 0))
Q = "/rest/v1/quarantine"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"apiadmin:apipassword").decode()}
ONPREM = re.compile(r"^\d+:\d+:\d+$")


def ts(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def date(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


class PpsTestBase(unittest.TestCase):
    ARGS = ["--seed", "5", "--now", NOW, "--records", "300", "--days", "2"]

    def setUp(self):
        self.sim = Sim(SCRIPT, self.ARGS)

    def tearDown(self):
        self.sim.stop()

    def get(self, path, headers=AUTH):
        return self.sim.request("GET", path, headers=headers)

    def search(self, **params):
        status, _, data = self.get(Q + "?" + urlencode(params))
        self.assertEqual(status, 200, data)
        return json.loads(data)

    def call(self, method, path, body=None):
        status, _, data = self.sim.request(method, path, body, AUTH)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data.decode()

    def truth(self, folder):
        return self.sim.json("GET", "/_sim/records?" + urlencode({"folder": folder}))[1]["records"]

    def arm(self, kind, **params):
        status, body = self.sim.json("POST", "/_sim/fault", dict(params, kind=kind))
        self.assertEqual(status, 200, body)


class AuthAndSearchTests(PpsTestBase):

    def test_auth(self):
        status, hdrs, _ = self.get(Q + "?rcpt=*", headers={})
        self.assertEqual(status, 401)
        self.assertTrue(hdrs["WWW-Authenticate"].startswith("Basic"))
        bad = {"Authorization": "Basic " + base64.b64encode(b"apiadmin:nope").decode()}
        self.assertEqual(self.get(Q + "?rcpt=*", headers=bad)[0], 401)
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)
        self.sim.json("POST", "/_sim/config", {"password": "rotated"})
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 401)

    def test_required_filter_and_folder(self):
        status, hdrs, data = self.get(Q + "?folder=Quarantine")
        self.assertEqual(status, 400)
        self.assertTrue(hdrs["Content-Type"].startswith("text/plain"))
        status, _, data = self.get(Q + "?rcpt=*&folder=NoSuchFolder")
        self.assertGreaterEqual(status, 400)
        self.assertIn("not found", data.decode().lower())
        for bad in ("startdate=2025-06-15T10:00:00", "enddate=yesterday", "limit=0",
                    "limit=x", "startdate=2025-06-15+10:00:00&enddate=2025-06-14+10:00:00"):
            self.assertEqual(self.get(Q + "?rcpt=*&" + bad)[0], 400, bad)

    def test_default_window_newest_first_and_limit(self):
        body = self.search(rcpt="*")                       # folder Quarantine, last 24 h, 100
        truth = [r for r in self.truth("Quarantine") if ts(r["date"]) >= NOW_TS - 86400]
        self.assertGreater(len(truth), 100)
        self.assertEqual(body["count"], 100)
        self.assertEqual([r["guid"] for r in body["records"]], [r["guid"] for r in truth[:100]])
        dates = [r["date"] for r in body["records"]]
        self.assertEqual(dates, sorted(dates, reverse=True))
        self.assertTrue(all(r["folder"] == "Quarantine" for r in body["records"]))
        small = self.search(rcpt="*", limit=7)
        self.assertEqual([r["guid"] for r in small["records"]], [r["guid"] for r in truth[:7]])
        self.assertNotIn("dlpviolation", small["records"][0])
        self.assertNotIn("messagestatus", small["records"][0])

    def test_date_window_inclusive(self):
        start, end = NOW_TS - 30 * 3600, NOW_TS - 20 * 3600
        body = self.search(rcpt="*", folder="HIPAA", startdate=date(start), enddate=date(end),
                           limit=1000)
        truth = [r for r in self.truth("HIPAA") if start <= ts(r["date"]) <= end]
        self.assertEqual([r["guid"] for r in body["records"]], [r["guid"] for r in truth])
        # identical timestamps, both ends inclusive
        stamp = date(NOW_TS - 3 * 86400)
        _, added = self.sim.json("POST", "/_sim/add",
                                 {"folder": "HIPAA", "count": 4, "date": stamp})
        self.assertEqual({r["date"] for r in added["added"]}, {stamp})
        body = self.search(rcpt="*", folder="HIPAA", startdate=stamp, enddate=stamp)
        self.assertEqual(sorted(r["guid"] for r in body["records"]),
                         sorted(r["guid"] for r in added["added"]))

    def test_string_numbers_and_ids(self):
        rec = self.search(rcpt="*", limit=1)["records"][0]
        for key in ("processingserver", "date", "subject", "messageid", "folder", "size",
                    "rcpts", "from", "spamscore", "guid", "host_ip", "localguid"):
            self.assertIn(key, rec)
        self.assertIsInstance(rec["size"], str)
        self.assertIsInstance(rec["spamscore"], str)
        self.assertTrue(rec["size"].isdigit())
        self.assertRegex(rec["guid"], r"^[A-Za-z0-9_-]{32}$")
        self.assertRegex(rec["localguid"], ONPREM)
        self.assertRegex(rec["host_ip"], r"^\[[\d.]+\] \[[\d.]+\]$")
        self.assertRegex(rec["date"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")

    def test_matching(self):
        base = {"folder": "Quarantine", "startdate": date(NOW_TS - 2 * 86400), "limit": 1000}
        everything = self.search(rcpt="*", **base)["records"]

        def guids(**flt):
            return {r["guid"] for r in self.search(**dict(base, **flt))["records"]}

        def expect(pred):
            return {r["guid"] for r in everything if pred(r)}
        self.assertEqual(guids(**{"from": "john@doe.com"}),
                         expect(lambda r: r["from"] == "john@doe.com"))
        self.assertEqual(guids(**{"from": "*@doe.com"}),
                         expect(lambda r: r["from"].endswith("@doe.com")))
        self.assertEqual(guids(**{"from": "john*"}),
                         expect(lambda r: r["from"].startswith("john")))
        self.assertEqual(guids(**{"from": "partner.example"}),
                         expect(lambda r: r["from"].endswith("partner.example")))
        self.assertEqual(guids(rcpt="@example.com"),
                         expect(lambda r: any(x.endswith("@example.com") for x in r["rcpts"])))
        self.assertEqual(guids(subject="Loan*"),
                         expect(lambda r: r["subject"].startswith("Loan")))
        self.assertEqual(guids(subject="*Loans now"),
                         expect(lambda r: r["subject"].endswith("Loans now")))
        self.assertEqual(guids(subject="20*$1000 Payday Loans*"),
                         expect(lambda r: r["subject"].startswith("20% off $1000 Payday")))
        self.assertTrue(guids(**{"from": "john@doe.com"}))
        self.assertEqual(guids(rcpt="*", subject="Loan", **{"from": "john@doe.com"}),
                         expect(lambda r: "loan" in r["subject"].lower()
                                and r["from"] == "john@doe.com"))

    def test_dlp_and_messagestatus(self):
        rec = self.search(rcpt="*", folder="HIPAA", dlpviolation="details",
                          messagestatus="t", limit=1)["records"][0]
        dlp = rec["dlpviolation"]
        self.assertTrue(dlp["reasons"][0]["name"])
        self.assertIn("severity", dlp["reasons"][0])
        self.assertTrue(dlp["components"]["files"][0]["name"])
        self.assertTrue(dlp["components"]["events"][0]["ip"])
        self.assertEqual(dlp["components"]["users"][0]["email"], rec["from"])
        self.assertEqual(rec["messagestatus"][0]["statusdesc"], "New")
        self.assertEqual(rec["messagestatus"][0]["status"], 0)
        basic = self.search(rcpt="*", folder="HIPAA", dlpviolation="t", limit=1)["records"][0]
        self.assertNotIn("components", basic["dlpviolation"])
        spam = self.search(rcpt="*", dlpviolation="details", limit=1)["records"][0]
        self.assertNotIn("dlpviolation", spam)

    def test_raw_message_by_guid(self):
        rec = self.search(rcpt="*", limit=1)["records"][0]
        status, hdrs, data = self.get(Q + "?guid=" + rec["guid"] + "&folder=Nope")
        self.assertEqual(status, 200)                       # folder is ignored with guid
        self.assertIn(("Message-ID: <%s>" % rec["messageid"]).encode(), data)
        self.assertIn(("Subject: %s" % rec["subject"]).encode(), data)
        self.assertLess(abs(len(data) - int(rec["size"])), 200)
        self.assertEqual(self.get(Q + "?guid=" + "x" * 32)[0], 404)

    def test_add_spread(self):
        start = NOW_TS - 86400
        _, added = self.sim.json("POST", "/_sim/add", {"folder": "HIPAA", "count": 50,
                                                       "date": date(start), "spread": 3600})
        stamps = [ts(r["date"]) for r in added["added"]]
        self.assertTrue(all(start <= t <= start + 3600 for t in stamps))
        self.assertGreater(len(set(stamps)), 40)
        self.assertEqual(self.sim.json("POST", "/_sim/add", {"spread": -1})[0], 400)

    def test_insert_lag(self):
        self.sim.json("POST", "/_sim/config", {"insert_lag": 300})
        _, added = self.sim.json("POST", "/_sim/add", {"folder": "Quarantine", "count": 2,
                                                       "subject": "lagged one"})
        self.assertEqual(self.search(subject="lagged one")["count"], 0)
        self.sim.json("POST", "/_sim/config", {"advance": 301})
        self.assertEqual(self.search(subject="lagged one")["count"], 2)


class LimitCapTests(PpsTestBase):
    ARGS = ["--seed", "6", "--now", NOW, "--records", "1100", "--days", "1",
            "--folders", "Quarantine"]

    def test_cap_1000(self):
        body = self.search(rcpt="*", limit=5000)
        self.assertEqual(body["count"], 1000)
        truth = self.truth("Quarantine")
        self.assertEqual(len(truth), 1100)
        self.assertEqual([r["guid"] for r in body["records"]], [r["guid"] for r in truth[:1000]])


class IdStyleTests(PpsTestBase):
    ARGS = ["--seed", "5", "--now", NOW, "--records", "60", "--days", "1",
            "--id-style", "mixed", "--numbers", "int", "--meta"]

    def test_mixed_ids(self):
        recs = self.search(rcpt="*", limit=1000)["records"]
        cloud = [r for r in recs if r["localguid"] == r["guid"]]
        onprem = [r for r in recs if ONPREM.match(r["localguid"])]
        self.assertTrue(cloud and onprem)
        self.assertEqual(len(cloud) + len(onprem), len(recs))
        self.assertIsInstance(recs[0]["size"], int)
        self.assertTrue(all(r["host_ip"].endswith("]") for r in recs))
        body = self.search(rcpt="*", limit=3)
        self.assertEqual(body["meta"]["limit"], 3)
        # an action addresses a cloud record by its guid
        rec = cloud[0]
        status, out = self.call("POST", Q, {"action": "delete", "folder": rec["folder"],
                                            "localguid": rec["guid"]})
        self.assertEqual(status, 200, out)


class ActionTests(PpsTestBase):

    def newest(self, folder="Quarantine"):
        return self.search(rcpt="*", folder=folder, limit=1)["records"][0]

    def present(self, folder, guid):
        return any(r["guid"] == guid for r in self.truth(folder))

    def test_release_forward_resubmit(self):
        rec = self.newest()
        status, text = self.call("POST", Q, {"action": "release", "folder": "Quarantine",
                                             "localguid": rec["localguid"], "scan": "t",
                                             "brandtemplate": None})
        self.assertEqual(status, 202)
        self.assertEqual(text, "Request sent. Message %s will be released momentarily"
                         % rec["localguid"])
        self.assertTrue(self.present("Quarantine", rec["guid"]))    # release keeps it
        st = self.search(rcpt="*", limit=1, messagestatus="t")["records"][0]["messagestatus"]
        self.assertEqual(st[0]["statusdesc"], "Released")
        status, text = self.call("POST", Q, {"action": "forward", "folder": "Quarantine",
                                             "localguid": rec["localguid"]})
        self.assertEqual((status, text), (400, "Invalid argument: to"))
        status, text = self.call("POST", Q, {"action": "forward", "folder": "Quarantine",
                                             "localguid": rec["localguid"],
                                             "to": "a@x.com,b@y.com", "appendoldsubject": "t"})
        self.assertEqual(status, 202)
        self.assertIn("forwarded momentarily", text)
        status, text = self.call("POST", Q, {"action": "resubmit", "folder": "Quarantine",
                                             "localguid": rec["localguid"]})
        self.assertEqual(status, 202)
        self.assertIn("resubmitted momentarily", text)
        self.assertFalse(self.present("Quarantine", rec["guid"]))
        _, log = self.sim.json("GET", "/_sim/actions")
        self.assertEqual([a["action"] for a in log["actions"]],
                         ["release", "forward", "resubmit"])

    def test_move_and_delete(self):
        a, b = self.search(rcpt="*", folder="HIPAA", limit=2)["records"]
        status, out = self.call("POST", Q, {"action": "move", "folder": "HIPAA",
                                            "localguid": a["localguid"], "targetfolder": "PCI"})
        self.assertEqual((status, out), (200, {"status": "Successfully moved message %s"
                                               % a["localguid"]}))
        moved = [r for r in self.truth("PCI") if r["guid"] == a["guid"]]
        self.assertEqual(len(moved), 1)
        self.assertNotEqual(moved[0]["localguid"], a["localguid"])
        self.assertFalse(self.present("HIPAA", a["guid"]))
        status, out = self.call("POST", Q, {"action": "delete", "folder": "HIPAA",
                                            "localguid": b["localguid"],
                                            "deletedfolder": "Deleted Incidents"})
        self.assertEqual((status, out), (200, {"status": "Successfully deleted message %s"
                                               % b["localguid"]}))
        self.assertTrue(self.present("Deleted Incidents", b["guid"]))
        # plain delete: gone everywhere, raw download 404
        c = self.newest()
        self.assertEqual(self.call("POST", Q, {"action": "delete", "folder": "Quarantine",
                                               "localguid": c["localguid"]})[0], 200)
        self.assertFalse(self.present("Quarantine", c["guid"]))
        self.assertEqual(self.get(Q + "?guid=" + c["guid"])[0], 404)

    def test_validation_errors(self):
        rec = self.newest()
        lg = rec["localguid"]
        cases = [
            ({"action": "explode", "folder": "Quarantine", "localguid": lg}, "action"),
            ({"action": "move", "folder": "Quarantine", "localguid": lg,
              "targetfolder": "HIPAA"}, "targetfolder"),            # other module type
            ({"action": "move", "folder": "Quarantine", "localguid": lg,
              "targetfolder": "Nope"}, "targetfolder"),
            ({"action": "move", "folder": "Quarantine", "localguid": lg}, "targetfolder"),
            ({"action": "delete", "folder": "Quarantine", "localguid": lg,
              "deletedfolder": "Deleted Incidents"}, "deletedfolder"),
            ({"action": "delete", "folder": "Quarantine", "localguid": "999:999:999"},
             "localguid"),
            ({"action": "delete", "folder": "Quarantine", "localguid": lg + ",9:9:9"},
             "localguid"),
            ({"action": "release", "folder": "Quarantine", "localguid": lg, "scan": "yes"},
             "scan"),
            ({"action": "release", "folder": "Nope", "localguid": lg}, "folder"),
        ]
        for body, param in cases:
            status, text = self.call("POST", Q, body)
            self.assertEqual((status, text), (400, "Invalid argument: " + param), body)
        self.assertTrue(self.present("Quarantine", rec["guid"]))

    def test_bulk_and_delay(self):
        self.sim.json("POST", "/_sim/config", {"delete_delay": 0.6, "action_delay": 0.6})
        recs = self.search(rcpt="*", limit=3)["records"]
        ids = ",".join(r["localguid"] for r in recs)
        status, out = self.call("POST", Q, {"action": "delete", "folder": "Quarantine",
                                            "localguid": ids})
        self.assertEqual(status, 200)
        self.assertIn(ids, out["status"])
        self.assertTrue(all(self.present("Quarantine", r["guid"]) for r in recs))
        time.sleep(0.8)
        self.assertFalse(any(self.present("Quarantine", r["guid"]) for r in recs))
        nxt = self.search(rcpt="*", limit=1)["records"][0]
        self.assertEqual(self.call("POST", Q, {"action": "resubmit", "folder": "Quarantine",
                                               "localguid": nxt["localguid"]})[0], 202)
        self.assertEqual(self.search(rcpt="*", limit=1)["records"][0]["guid"], nxt["guid"])
        time.sleep(0.8)
        self.assertNotEqual(self.search(rcpt="*", limit=1)["records"][0]["guid"], nxt["guid"])


class EndUserTests(PpsTestBase):
    U = "/rest/v1/enduser/"

    def test_crud(self):
        status, user = self.call("GET", self.U + "jdoe@example.com")
        self.assertEqual(status, 200)
        for key in ("uid", "email", "firstname", "lastname", "alias", "groups", "suborg", "type",
                    "safelist", "blocklist", "attributes", "created", "lastmodified",
                    "lastpasswordchange", "lastsignon", "creationsource"):
            self.assertIn(key, user)
        self.assertEqual(self.call("GET", self.U + user["uid"])[1], user)
        status, err = self.call("GET", self.U + "nobody@example.com")
        self.assertEqual(status, 404)
        self.assertEqual(err["status"], 404)
        self.assertEqual(err["errors"]["invalidarguments"][0]["error"], "User not found")
        new = "new.user@example.com"
        status, created = self.call("POST", self.U + quote(new), {
            "firstname": "New", "lastname": "User", "addgroup": "Sales",
            "attributes": {"spam_threshold": "70", "NoSuchAttr": "x"}})
        self.assertEqual(status, 200, created)
        self.assertEqual((created["email"], created["groups"]), (new, ["Sales"]))
        self.assertEqual(created["attributes"], {"spam_threshold": "70"})
        status, err = self.call("POST", self.U + quote(new), {"firstname": "Again"})
        self.assertEqual(status, 400)
        self.assertEqual(err["errors"]["invalidarguments"][0]["error"], "User already exists")
        self.sim.json("POST", "/_sim/config", {"advance": 3600})
        status, upd = self.call("PUT", self.U + created["uid"], {"blocklist": "bad@sender.com"})
        self.assertEqual(status, 200)
        self.assertEqual(upd["blocklist"], ["bad@sender.com"])
        self.assertEqual(upd["lastmodified"], "2025-06-15 13:00:00")
        status, upd = self.call("PUT", self.U + new, {"safelist": ["a@x.com", "b@y.com"],
                                                      "firstname": "Renamed"})
        self.assertEqual((upd["safelist"], upd["firstname"]), (["a@x.com", "b@y.com"], "Renamed"))
        self.assertEqual(self.call("PUT", self.U + "ghost@example.com", {"firstname": "x"})[0],
                         404)
        status, _ = self.call("DELETE", self.U + new)
        self.assertEqual(status, 200)
        status, err = self.call("DELETE", self.U + new)
        self.assertEqual(status, 404)
        self.assertEqual(err["errors"]["invalidarguments"][0]["error"], "User not found")
        _, users = self.sim.json("GET", "/_sim/users")
        self.assertNotIn(new, [u["email"] for u in users["users"]])


class ModuleTests(PpsTestBase):
    ARGS = PpsTestBase.ARGS + ["--modules", "quarantine"]

    def test_403_without_module(self):
        self.assertEqual(self.get("/rest/v1/enduser/jdoe@example.com")[0], 403)
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)


class FaultTests(PpsTestBase):

    def test_5xx(self):
        self.arm("5xx", status=502, count=2)
        self.assertEqual([self.get(Q + "?rcpt=*")[0] for _ in range(3)], [502, 502, 200])

    def test_slow(self):
        self.arm("slow", seconds=1.0)
        t0 = time.time()
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)
        self.assertGreaterEqual(time.time() - t0, 0.9)

    def test_truncated(self):
        self.arm("truncated")
        with self.assertRaises(http.client.IncompleteRead):
            self.get(Q + "?rcpt=*")
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)

    def test_invalid_json(self):
        self.arm("invalid_json")
        status, _, data = self.get(Q + "?rcpt=*")
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(data)

    def test_revoke_token(self):
        self.arm("revoke_token", count=2)
        self.assertEqual([self.get(Q + "?rcpt=*")[0] for _ in range(3)], [401, 401, 200])

    def test_429_storm(self):
        self.arm("429_storm", count=1, retry_after=3)
        status, hdrs, _ = self.get(Q + "?rcpt=*")
        self.assertEqual((status, hdrs.get("Retry-After")), (429, "3"))
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)

    def test_after(self):
        self.arm("invalid_json", after=1)
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)
        status, _, data = self.get(Q + "?rcpt=*")
        with self.assertRaises(ValueError):
            json.loads(data)
        json.loads(self.get(Q + "?rcpt=*")[2])

    def test_targeted_fault(self):
        self.arm("5xx", path="/rest/v1/enduser/")
        self.assertEqual(self.get(Q + "?rcpt=*")[0], 200)
        self.assertEqual(self.get("/rest/v1/enduser/jdoe@example.com")[0], 500)


class ZoneTests(PpsTestBase):
    ARGS = PpsTestBase.ARGS + ["--tz-offset-minutes", "-300", "--enddate-exclusive"]

    def test_local_time_appliance(self):
        stamp = NOW_TS - 7200
        self.sim.json("POST", "/_sim/add", {"folder": "Quarantine", "count": 1,
                                            "date": stamp, "subject": "zoned"})
        rec = self.search(subject="zoned")["records"][0]
        self.assertEqual(rec["date"], date(stamp - 300 * 60))
        local = date(stamp - 300 * 60)
        self.assertEqual(self.search(subject="zoned", startdate=local, enddate=local)["count"],
                         0)                                   # enddate exclusive
        self.assertEqual(self.search(subject="zoned", startdate=local,
                                     enddate=date(stamp - 300 * 60 + 1))["count"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
