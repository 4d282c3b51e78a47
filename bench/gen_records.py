#!/usr/bin/env python3
"""Writes N Mimecast TTP URL click records as JSON lines for bench/run.sh (stdlib only).

The records come from the Mimecast simulator's own generator (tests/sim/mimecast_sim.py,
RecordFactory), so they have the shapes, sizes and verdict mix of the simulator: about 740 bytes
each, about 30 % clean (dropped by the mapping), tagMap on most malicious ones. Seeded: the same
N and seed give the same file.

usage: gen_records.py N SEED OUT
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "sim"))
import mimecast_sim  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 64
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    factory = mimecast_sim.RecordFactory(seed, mimecast_sim.Pools(seed))
    start = 1795000000  # 2026-11-18; one record per 0.4 s, as a busy tenant
    total = clean = 0
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(n):
            rec = factory.make("ttp_url", start + (i * 2) // 5)
            line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
            total += len(line.encode("utf-8"))
            clean += rec["scanResult"] == "clean"
            f.write(line)
            f.write("\n")
    os.replace(tmp, out)
    print("%d records, %.0f bytes each on average, %.1f %% clean"
          % (n, total / max(n, 1), 100.0 * clean / max(n, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
