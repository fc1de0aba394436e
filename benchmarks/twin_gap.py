"""The twin gap on both real fragments: `navion twin-gap` on MH_01 (moving) and V1_01 (at rest,
with the whole IMU stream against the original 200 Hz ground truth), each table printed.

The figure of merit is the number of rows outside their band (reference: 0, a twin that
measures like the real data). Prints the wall time of each run against real time.

Run: .venv/bin/python benchmarks/twin_gap.py [--out DIR] [--max-frames N] [--seed N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from navion.progress import progress_bar
from navion.twin_gap.gap import twin_gap
from navion.twin_gap.report import print_table

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent.parent / "shared" / "data"
CASES = (("mh01_moving", DATA / "euroc_mh01_moving", None),
         ("v101_micro", DATA / "euroc_v101_micro", DATA / "euroc_groundtruth" / "V1_01_easy.txt"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "twin_gap")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    summary = []
    for name, real, gt in CASES:
        if not real.exists():
            print(f"{name}: skipped ({real} not found)")
            continue
        start = time.perf_counter()
        gap = twin_gap(real, args.out / name, groundtruth=gt, seed=args.seed, max_frames=args.max_frames,
                       progress_bar=progress_bar)
        wall = time.perf_counter() - start
        meta = gap["meta"]
        print_table(gap["rows"], f"{name}: twin gap over {meta['span_s']} s ({meta['real_frames']} frames)")
        flagged = [r.key for r in gap["rows"] if r.flag == "OUT"]
        banded = [r for r in gap["rows"] if r.flag]
        summary.append((name, len(flagged), len(banded), wall, meta["span_s"]))
    print(f"{'fragment':14s} {'out of band':>11s} {'banded rows':>11s} {'wall [s]':>9s} {'x real time':>11s}")
    for name, n_out, n_band, wall, span in summary:
        print(f"{name:14s} {n_out:>11d} {n_band:>11d} {wall:>9.1f} {wall / span:>11.2f}  (reference: 0 out of band)")


if __name__ == "__main__":
    main()
