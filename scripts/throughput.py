"""Pages per minute of `ecgtrace digitize` on 1 and 2 local workers and a 2-worker LocalCluster.

    python scripts/throughput.py /tmp/drill/in --n 60

Digitizes the first N `page_*.png` of a folder (made by scripts/batch_demo.py render) three
times into fresh output folders, each run a separate `ecgtrace digitize` process, and prints
pages per minute and the peak resident memory of each worker process (the largest `peak_mb`
any input reported from it), as a table and JSON (throughput.json beside the folder).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = {
    "1 local worker": ["--workers", "1"],
    "2 local workers": ["--workers", "2"],
    "LocalCluster, 2 workers": ["--cluster", "local:2"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--n", type=int, default=60)
    a = ap.parse_args()
    pages = sorted(a.folder.glob("page_*.png"))[: a.n]
    work = Path(tempfile.mkdtemp(prefix="ecgtrace-throughput-"))
    listing = work / "pages.txt"
    listing.write_text("\n".join(str(p) for p in pages) + "\n")
    report = {"pages": len(pages), "cpu_count": os.cpu_count(), "runs": {}}
    for name, extra in RUNS.items():
        out = work / name.replace(" ", "_").replace(",", "")
        # The peak memory per worker comes from summary.csv (each input's worker and peak_mb).
        code = (
            "import sys, json; from ecgtrace.cli import app; sys.argv=['ecgtrace', 'digitize', "
            f"'@{listing}', '-o', '{out}', '--format', 'wfdb,json', *{extra!r}]; app()"
        )
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        with (out / "summary.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        ok = sum(1 for r in rows if r["status"] == "ok")
        peaks: dict[str, float] = {}
        for r in rows:
            if r["worker"]:
                peaks[r["worker"]] = max(peaks.get(r["worker"], 0.0), float(r["peak_mb"]))
        report["runs"][name] = {
            "wall_s": round(wall, 1),
            "ok": ok,
            "exit": proc.returncode,
            "pages_per_min": round(60 * ok / wall, 1),
            "peak_mb_per_worker": peaks,
        }
        print(f"{name:26s} {ok} pages in {wall:6.1f} s: {60 * ok / wall:6.1f} pages/min; "
              f"peak MB per worker {peaks}", flush=True)  # fmt: skip
    (a.folder.parent / "throughput.json").write_text(json.dumps(report, indent=1) + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
