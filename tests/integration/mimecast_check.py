#!/usr/bin/env python3
"""Compares what msfwd delivered (file output, JSON lines) with the Mimecast simulator's ground truth.

The comparison is on the vendor records themselves (the "raw" member, as JSON with sorted keys), per
source type, before any mapping could drop clean verdicts: the tests point mappings_dir at an empty
directory, so every record travels in the generic envelope {id, time, source_type, raw}.

  mimecast_check.py --sim URL --out FILE --streams ttp_url,ttp_attachment [--max-dups N]
                    [--tracking-filter JSON]

--max-dups 0 (default) requires every record exactly once; N > 0 allows up to N extra copies in
total (a crash between spooling a page and saving the cursor), never a missing record.
--tracking-filter applies the Google SecOps connector filters the input was configured with
({"domains": [...], "status": [...], "route": [...], "min_risk": "medium", "include_no_risk": false,
"queue_reasons": [...]}) to the ground truth of message_tracking.
"""
import argparse
import collections
import json
import sys
import urllib.request

SOURCE = {"ttp_url": "mimecast:ttp:url", "ttp_attachment": "mimecast:ttp:attachment",
          "ttp_impersonation": "mimecast:ttp:impersonation", "message_tracking": "mimecast:message-tracking"}
RISKS = ["negligible", "low", "medium", "high"]


def canon(rec):
    return json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def addr_match(pattern, addr):
    addr = (addr or "").lower()
    pattern = pattern.lower()
    if "@" in pattern and not pattern.startswith("@"):
        return addr == pattern
    return addr.endswith("@" + pattern.lstrip("@"))


def tracking_expected(truth, details, flt):
    out = []
    for rec in truth:
        if flt.get("domains"):
            hit = False
            for d in flt["domains"]:
                if any(addr_match(d, t["emailAddress"]) for t in rec["to"]) or \
                        addr_match(d, rec["fromEnv"]["emailAddress"]) or addr_match(d, rec["fromHdr"]["emailAddress"]):
                    hit = True
            if not hit:
                continue
        if flt.get("status") and rec["status"] not in flt["status"]:
            continue
        if flt.get("route") and rec["route"] not in flt["route"]:
            continue
        info = details[rec["id"]]
        if flt.get("min_risk"):
            risk = info["spamInfo"]["spamProcessingDetail"].get("verdict", {}).get("risk")
            if risk is None:
                if not flt.get("include_no_risk"):
                    continue
            elif RISKS.index(risk) < RISKS.index(flt["min_risk"]):
                continue
        if flt.get("queue_reasons"):
            reason = (info.get("queueInfo") or {}).get("reason", "")
            if reason.lower() not in [r.lower() for r in flt["queue_reasons"]]:
                continue
        out.append(rec)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--streams", required=True)
    ap.add_argument("--max-dups", type=int, default=0)
    ap.add_argument("--tracking-filter")
    ap.add_argument("--min-total", type=int, default=0, help="fail unless the truth holds this many records")
    args = ap.parse_args()

    delivered = collections.defaultdict(collections.Counter)
    with open(args.out, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            ev = json.loads(line)
            delivered[ev["source_type"]][canon(ev["raw"])] += 1

    ok = True
    total_truth = 0
    total_dups = 0
    for stream in args.streams.split(","):
        url = "%s/_sim/records?stream=%s%s" % (args.sim, stream, "&details=1" if stream == "message_tracking" else "")
        with urllib.request.urlopen(url, timeout=30) as r:
            truth_obj = json.load(r)
        truth = truth_obj["records"]
        if stream == "message_tracking" and args.tracking_filter:
            truth = tracking_expected(truth, truth_obj["details"], json.loads(args.tracking_filter))
        want = collections.Counter(canon(r) for r in truth)
        got = delivered.pop(SOURCE[stream], collections.Counter())
        missing = want - got
        unknown = [k for k in got if k not in want]
        dups = sum(c - 1 for k, c in got.items() if c > 1)
        total_truth += len(truth)
        total_dups += dups
        print("# %-18s truth %5d delivered %5d distinct %5d missing %d unknown %d duplicates %d"
              % (stream, len(truth), sum(got.values()), len(got), sum(missing.values()), len(unknown), dups))
        if missing:
            ok = False
            for k in list(missing)[:3]:
                print("#   missing: %s" % k[:300])
        if unknown:
            ok = False
            for k in unknown[:3]:
                print("#   not in the simulator: %s" % k[:300])
        if args.max_dups == 0 and dups:
            ok = False
            for k, c in list((k, c) for k, c in got.items() if c > 1)[:3]:
                print("#   %d copies: %s" % (c, k[:300]))
    if total_dups > args.max_dups:
        print("# %d duplicates in total, more than the %d allowed" % (total_dups, args.max_dups))
        ok = False
    for source, got in delivered.items():
        print("# unexpected source type %s: %d events" % (source, sum(got.values())))
        ok = False
    if total_truth < args.min_total:
        print("# the simulator holds %d records, fewer than the %d the test needs" % (total_truth, args.min_total))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
