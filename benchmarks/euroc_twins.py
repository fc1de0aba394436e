"""Accuracy on all eleven EuRoC twins: synthesise (cached), replay, tabulate.

Each twin follows a real EuRoC ground-truth trajectory (../shared/data/euroc_groundtruth)
through the synthetic hall with EuRoC's calibration, with the default synth settings
(``--realism realistic``: fitted textures, camera model, IMU vibration, calibration
error) or the idealised ones (``--realism ideal``). Twins are cached per realism under
``--cache``. Prints one row per sequence: length, ATE RMSE (SE3 alignment), RPE over
1 m, resets, fps (fps is only comparable between runs with ``--jobs 1``).

Run: .venv/bin/python benchmarks/euroc_twins.py [SEQ ...] [--realism R] [--cache DIR] [--jobs N]
"""
from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from navion.replay import replay

ROOT = Path(__file__).resolve().parent
GROUNDTRUTH = ROOT.parent.parent / "shared" / "data" / "euroc_groundtruth"
SEQUENCES = ("MH_01_easy", "MH_02_easy", "MH_03_medium", "MH_04_difficult", "MH_05_difficult",
             "V1_01_easy", "V1_02_medium", "V1_03_difficult", "V2_01_easy", "V2_02_medium", "V2_03_difficult")


def run_twin(name: str, cache: Path, realism: str) -> dict:
    seq_dir, run_dir = cache / name, cache / f"{name}_run"
    if not (seq_dir / "navion_synth.json").is_file():
        generate_sequence(seq_dir, SynthConfig(seed=0, realism=realism), trajectory_path=GROUNDTRUTH / f"{name}.txt",
                          overwrite=True)
    if not (run_dir / "summary.json").is_file():
        replay(open_euroc(seq_dir, quiet=True), run_dir)
    return json.loads((run_dir / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sequences", nargs="*", default=list(SEQUENCES))
    parser.add_argument("--realism", choices=("realistic", "ideal"), default="realistic")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache", help="twins go to CACHE/twins_<realism>")
    parser.add_argument("--jobs", type=int, default=1, help="twins synthesised and replayed in parallel")
    args = parser.parse_args()
    cache = args.cache / f"twins_{args.realism}"
    print(f"realism: {args.realism}; cache: {cache}")
    print(f"{'twin':18s} {'frames':>7s} {'ATE [m]':>8s} {'RPE 1m [m]':>10s} {'resets':>6s} {'fps':>6s}")
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_twin, name, cache, args.realism) for name in args.sequences]
        for name, future in zip(args.sequences, futures):
            s = future.result()
            rpe = (s.get("rpe") or {}).get("rmse_m")
            ate = s.get("ate_rmse_m")
            print(f"{name:18s} {s['frames']:7d} {ate if ate is None else f'{ate:.3f}':>8} "
                  f"{rpe if rpe is None else f'{rpe:.3f}':>10} {s['resets']:6d} {s['fps']:6.1f}", flush=True)


if __name__ == "__main__":
    main()
