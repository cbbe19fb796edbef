"""The archive drill: a 1,000-page batch with bad files mixed in, killed halfway and resumed.

    python scripts/batch_demo.py render /tmp/drill/in --n 1000      # pages + 20 bad files
    python scripts/batch_demo.py run /tmp/drill/in /tmp/drill/out   # time it, kill, resume

``render`` draws N pages from PTB-XL training records (mixed layouts, 100-150 DPI: an archive
of modest scans) with 2 processes, then adds 20 bad files from tests/fixtures/nasty and a few
made here (a blank photo, noise, a folder named like an image). ``run`` digitizes the folder
with `ecgtrace digitize --workers 2`, kills it (SIGKILL, the harshest case) once half the
inputs are done, resumes it, and checks that every good page has all its outputs, every bad
file has a failed row, no output was written twice (modification times of the first run's
outputs unchanged) and no partial record exists. Prints a report and writes report.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FORMATS = "wfdb,json"


def _render(args: tuple[Path, int]) -> None:
    from ecgtrace.data import available_fs, load_record, split_ids
    from ecgtrace.io.files import write_png
    from ecgtrace.render import random_spec, render_page

    folder, k = args
    rng = np.random.default_rng([2026, k])
    ids = [i for i in split_ids("train") if 500 in available_fs(i)]
    rec = load_record(int(rng.choice(ids)), fs=500)
    spec = random_spec(rng, dpi=(100.0, 150.0), layouts=("3x4", "6x2", "12x1"))
    page = render_page(rec.p_signal, rec.fs, spec, rng=rng)
    write_png(folder / f"page_{k:04d}.png", page.image)


def render(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_render, [(folder, k) for k in range(n)], chunksize=8))
    nasty = sorted((REPO / "tests" / "fixtures" / "nasty").iterdir())
    bad = [p for p in nasty if p.is_file() and p.suffix.lower() != ".md"][:16]
    for p in bad:
        shutil.copy(p, folder / f"bad_{p.name}")
    from ecgtrace.io.files import write_png

    write_png(folder / "bad_blank_photo.png", np.full((900, 1200, 3), 235, np.uint8))
    noise = np.random.default_rng(0).integers(0, 256, (900, 1200, 3)).astype(np.uint8)
    write_png(folder / "bad_noise.png", noise)
    (folder / "bad_folder.png").mkdir(exist_ok=True)
    (folder / "bad_zero.jpg").write_bytes(b"")
    n_bad = len(bad) + 4
    print(f"{n} pages and {n_bad} bad inputs in {folder}")


def _outputs(out: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}


def _cli(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "ecgtrace", "digitize", str(folder), "-o", str(out),
            "--workers", "2", "--format", FORMATS]  # fmt: skip


def run(folder: Path, out: Path) -> None:
    inputs = sorted(p for p in folder.iterdir())
    good = [p for p in inputs if p.name.startswith("page_")]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # First run: killed once half the pages have their JSON (written last per page).
    t0 = time.perf_counter()
    proc = subprocess.Popen(_cli(folder, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    while proc.poll() is None:
        done = sum(1 for p in out.glob("page_*.json"))
        if done >= len(good) // 2:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait()
    t_first = time.perf_counter() - t0
    before = _outputs(out)
    n_before = sum(1 for n in before if n.startswith("page_") and n.endswith(".json"))
    tmp_left = [n for n in os.listdir(out) if n.startswith(".")]
    # Pages the kill caught mid-write: some outputs but not the JSON (written last).
    stems = {n.split(".")[0] for n in before if n.startswith("page_")}
    complete = {s for s in stems if f"{s}.json" in before}
    caught = sorted(stems - complete)
    # Resume.
    t1 = time.perf_counter()
    resumed = subprocess.run(_cli(folder, out), capture_output=True, text=True)
    t_second = time.perf_counter() - t1
    after = _outputs(out)
    with (out / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    status = {Path(r["file"]).name: r["status"] for r in rows}
    rewritten = [n for n, t in before.items() if n.split(".")[0] in complete and after.get(n) != t]
    missing = [
        p.name for p in good
        if not all((out / f"{p.stem}{ext}").exists() for ext in (".hea", ".dat", ".json"))
    ]  # fmt: skip
    bad = [p for p in inputs if not p.name.startswith("page_")]
    report = {
        "pages": len(good),
        "bad_inputs": len(bad),
        "first_run_s_until_kill": round(t_first, 1),
        "pages_done_before_kill": n_before,
        "temp_files_left_by_kill": len(tmp_left),
        "pages_caught_mid_write": caught,
        "resume_s": round(t_second, 1),
        "resume_exit_code": resumed.returncode,
        "resumed_ok": sum(s == "ok" for s in status.values()),
        "resumed_skipped": sum(s == "skipped" for s in status.values()),
        "failed": sorted(n for n, s in status.items() if s == "failed"),
        "bad_reported_failed": all(status.get(p.name) == "failed" for p in bad),
        "good_pages_missing_outputs": missing,
        "outputs_of_first_run_rewritten": rewritten,
        "pages_per_min_resume": round(
            60 * sum(s == "ok" for s in status.values()) / max(t_second, 1e-9), 1
        ),
    }
    (out.parent / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("folder", type=Path)
    r.add_argument("--n", type=int, default=1000)
    u = sub.add_parser("run")
    u.add_argument("folder", type=Path)
    u.add_argument("out", type=Path)
    a = ap.parse_args()
    if a.cmd == "render":
        render(a.folder, a.n)
    else:
        run(a.folder, a.out)


if __name__ == "__main__":
    main()
