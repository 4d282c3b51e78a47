#!/usr/bin/env python3
"""Ground truth and counting for the durability tests (crash.sh, outage.sh, backpressure.sh,
spool_corrupt.sh). Standard library only.

  durability_check.py expected --msfwd BIN --mappings DIR --out IDS
                      [--sim URL --streams a,b,...] [--records FILE --source TYPE]...
      The ids of the events msfwd must deliver: the vendor records (the Mimecast simulator's
      ground truth per stream, or JSON-lines files) mapped with `msfwd map`, so clean verdicts
      are dropped exactly as the forwarder drops them. Writes one id per line; prints the counts.

  durability_check.py count --expected IDS --kind hec|syslog|kafka|file --max-dups N FILE...
      Counts what one output delivered (by event id): every expected id at least once, nothing
      unexpected, at most N duplicates. Prints one '# ' line with the figures; exit 1 on failure.
      Files: hec = the receiver's --out (one envelope per line), syslog = syslog-ng's $RAWMSG lines
      (LEEF eventId=), kafka = message keys one per line (kcat -f '%k\\n'), file = JSON lines.
      --missing-ok IDS: ids that may be missing (reported, not a failure); --forbid IDS: ids that
      must not appear.

  durability_check.py wait --expected IDS --timeout S KIND=FILE...
      Waits until every file holds every expected id (files are read incrementally). Exit 1 on
      timeout, after printing how far each got.

  durability_check.py metric URL NAME
      Sums the samples of one Prometheus metric at URL (e.g. msfwd_output_lag_bytes).

  durability_check.py feed --template JSONL --out FILE --from N (--count C | --rate R --seconds S
                      [--stop-file F])
      Appends Mimecast URL-click records (the template's records, each with its own messageId
      <dur-N@example.com> and a malicious verdict, so the mapping keeps every one) to FILE: C at
      once, or R per second, in whole lines, until S seconds have passed or F exists. Prints the
      next N at exit.

  durability_check.py frames SEGMENT
      Lists the records of a spool segment file (16-byte header, then u32 length | u32 CRC32 |
      payload, little endian): 'INDEX OFFSET LENGTH crc-ok|crc-bad ID', then 'end OFFSET'.
"""
import argparse
import collections
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

SOURCE = {"ttp_url": "mimecast:ttp:url", "ttp_attachment": "mimecast:ttp:attachment",
          "ttp_impersonation": "mimecast:ttp:impersonation",
          "message_tracking": "mimecast:message-tracking"}
LEEF_ID = re.compile(rb"eventId=([0-9a-f]{16,128})")


def map_ids(msfwd, mappings, source, path):
    out = subprocess.run([msfwd, "map", "--source", source, "--mappings", mappings, path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    ids, dropped, rejected = [], 0, 0
    for line in out.splitlines():
        if line.startswith(b"{"):
            ids.append(json.loads(line)["id"])
        elif line.startswith(b"dropped"):
            dropped += 1
        else:
            rejected += 1
    return ids, dropped, rejected


def cmd_expected(a):
    jobs = []  # (source type, path)
    tmp = tempfile.mkdtemp(prefix="durability-")
    if a.sim:
        for stream in a.streams.split(","):
            with urllib.request.urlopen("%s/_sim/records?stream=%s" % (a.sim, stream), timeout=60) as r:
                recs = json.load(r)["records"]
            path = os.path.join(tmp, stream + ".jsonl")
            with open(path, "w") as f:
                for rec in recs:
                    f.write(json.dumps(rec) + "\n")
            jobs.append((SOURCE[stream], path))
    for i, path in enumerate(a.records or []):
        jobs.append((a.source[i], path))
    ids, records, dropped, rejected = [], 0, 0, 0
    for source, path in jobs:
        got, d, r = map_ids(a.msfwd, a.mappings, source, path)
        ids += got
        dropped += d
        rejected += r
        with open(path, "rb") as f:
            records += sum(1 for _ in f)
    for _, path in jobs:
        if path.startswith(tmp):
            os.unlink(path)
    os.rmdir(tmp)
    if len(set(ids)) != len(ids):
        sys.exit("expected: %d ids but only %d distinct" % (len(ids), len(set(ids))))
    with open(a.out, "w") as f:
        f.write("".join(i + "\n" for i in ids))
    print("%d records, %d events, %d dropped by the mappings, %d rejected"
          % (records, len(ids), dropped, rejected))


def ids_of_line(kind, line):
    if kind == "hec":
        return json.loads(line)["event"]["id"]
    if kind == "file":
        return json.loads(line)["id"]
    if kind == "kafka":
        return line.decode().strip()
    m = LEEF_ID.search(line)
    return m.group(1).decode() if m else None


class Tail:
    """Reads whole lines of a growing file, from where it stopped last time."""

    def __init__(self, kind, path):
        self.kind, self.path, self.pos, self.counts, self.bad = kind, path, 0, collections.Counter(), 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        self.pos += end + 1
        for line in data[:end].split(b"\n"):
            if not line.strip():
                continue
            try:
                i = ids_of_line(self.kind, line)
            except (ValueError, KeyError, TypeError):
                i = None
            if i is None:
                self.bad += 1
            else:
                self.counts[i] += 1


def read_ids(path):
    with open(path) as f:
        return [l.strip() for l in f if l.strip()]


def cmd_count(a):
    expected = read_ids(a.expected)
    want = set(expected)
    counts = collections.Counter()
    bad = 0
    for path in a.files:
        t = Tail(a.kind, path)
        t.poll()
        counts.update(t.counts)
        bad += t.bad
    may_miss = set(read_ids(a.missing_ok)) if a.missing_ok else set()
    forbid = set(read_ids(a.forbid)) if a.forbid else set()
    missing = [i for i in expected if i not in counts and i not in may_miss]
    missing_ok = [i for i in expected if i not in counts and i in may_miss]
    unexpected = [i for i in counts if i not in want]
    forbidden = [i for i in counts if i in forbid]
    dups = sum(n - 1 for n in counts.values())
    top = max(counts.values()) if counts else 0
    total = sum(counts.values())
    print("# %s: %d expected, %d delivered (%d distinct), %d missing%s, %d unexpected, %d lines "
          "without an id, %d duplicates (limit %d), at most %d copies of one event"
          % (a.kind, len(want), total, len(counts), len(missing),
             " (+%d allowed)" % len(missing_ok) if may_miss else "", len(unexpected), bad, dups,
             a.max_dups, top))
    ok = not missing and not unexpected and not bad and not forbidden and dups <= a.max_dups
    if missing:
        print("# missing, e.g. %s" % missing[:3])
    if unexpected:
        print("# unexpected, e.g. %s" % unexpected[:3])
    if forbidden:
        print("# %d ids that must not appear, e.g. %s" % (len(forbidden), forbidden[:3]))
    sys.exit(0 if ok else 1)


def cmd_wait(a):
    want = set(read_ids(a.expected))
    tails = []
    for spec in a.files:
        kind, _, path = spec.partition("=")
        tails.append(Tail(kind, path))
    deadline = time.time() + a.timeout
    while True:
        done = True
        for t in tails:
            t.poll()
            if len(want - t.counts.keys()) > 0:
                done = False
        if done:
            return
        if time.time() > deadline:
            for t in tails:
                print("# %s: %d of %d expected events after %ds" %
                      (t.kind, len(want & t.counts.keys()), len(want), a.timeout))
            sys.exit(1)
        time.sleep(0.5)


def cmd_metric(a):
    with urllib.request.urlopen(a.url, timeout=10) as r:
        text = r.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith(a.name + "{") or line.startswith(a.name + " "):
            total += float(line.rsplit(" ", 1)[1])
    print(int(total))


def cmd_frames(a):
    with open(a.segment, "rb") as f:
        data = f.read()
    off, i = 16, 0
    while off + 8 <= len(data):
        length, crc = struct.unpack_from("<II", data, off)
        payload = data[off + 8: off + 8 + length]
        if len(payload) < length:
            break
        good = zlib.crc32(payload) & 0xffffffff == crc
        m = re.search(rb'"id":"([^"]*)"', payload)
        print("%d %d %d %s %s" % (i, off, length, "crc-ok" if good else "crc-bad",
                                  m.group(1).decode() if m else "-"))
        off += 8 + length
        i += 1
    print("end %d" % off)


def cmd_feed(a):
    with open(a.template) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    n = a.start
    t0 = time.time()
    with open(a.out, "a") as out:
        while time.time() - t0 < a.seconds and not (a.stop_file and os.path.exists(a.stop_file)):
            due = a.start + int((time.time() - t0) * a.rate)
            if a.count is not None:
                due = a.start + a.count
            lines = []
            while n < due:
                r = dict(recs[n % len(recs)])
                r["messageId"] = "<dur-%d@example.com>" % n
                r["scanResult"] = "malicious"
                lines.append(json.dumps(r) + "\n")
                n += 1
            if lines:
                out.write("".join(lines))
                out.flush()
            if a.count is not None:
                break
            time.sleep(0.05)
    print(n)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("expected")
    p.add_argument("--msfwd", required=True)
    p.add_argument("--mappings", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sim")
    p.add_argument("--streams", default=",".join(SOURCE))
    p.add_argument("--records", action="append")
    p.add_argument("--source", action="append")
    p = sub.add_parser("count")
    p.add_argument("--expected", required=True)
    p.add_argument("--kind", required=True, choices=("hec", "syslog", "kafka", "file"))
    p.add_argument("--max-dups", type=int, default=0)
    p.add_argument("--missing-ok")
    p.add_argument("--forbid")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("wait")
    p.add_argument("--expected", required=True)
    p.add_argument("--timeout", type=int, default=60)
    p.add_argument("files", nargs="+")
    p = sub.add_parser("metric")
    p.add_argument("url")
    p.add_argument("name")
    p = sub.add_parser("feed")
    p.add_argument("--template", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--from", dest="start", type=int, default=0)
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--stop-file")
    p.add_argument("--count", type=int, help="write this many records at once, then exit")
    p = sub.add_parser("frames")
    p.add_argument("segment")
    a = ap.parse_args()
    {"expected": cmd_expected, "count": cmd_count, "wait": cmd_wait, "metric": cmd_metric,
     "feed": cmd_feed, "frames": cmd_frames}[a.cmd](a)


if __name__ == "__main__":
    main()
