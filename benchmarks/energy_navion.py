"""The hardware model against Navion's published figures (issue #5's acceptance table).

Replays the real V1_01 fragment and the full V1_01 twin (synthesised once into the
cache) with the back-end solved every frame and at keyframes only, prices each run on
``navion65`` and the ``cpu`` preset, and prints: ATE, navion65 energy per frame and power
with the ratio to Navion's 2 mW at 20 fps (target within 3x), the energy categories, the
memory reduction with its ratio to Navion's 4.1x (target within +-30 %), and the CPU
model's power with the CPU/accelerator ratio (published: 2-3 orders of magnitude), and
the ranges of the Navion and CPU ratios under the shipped navion65 sensitivity ranges
(all settings at their lowest- and at their highest-energy alternative, docs/energy_model.md).

Run: .venv/bin/python benchmarks/energy_navion.py [--cache DIR] [--fragment-only]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from accel_model.hardware import load_preset
from accel_model.report import build_report
from accel_model.sensitivity import load_ranges, sensitivity, shipped_ranges
from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from navion.replay import replay
from vio.pipeline import PipelineConfig

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent.parent / "shared" / "data"
RATES = ("every_frame", "keyframes")


def v101_twin(cache: Path) -> Path:
    out = cache / "V1_01_easy"
    if not (out / "navion_synth.json").is_file():
        print(f"synthesising the V1_01 twin into {out} (once, about 5 min) ...", flush=True)
        generate_sequence(out, SynthConfig(seed=0), trajectory_path=DATA / "euroc_groundtruth" / "V1_01_easy.txt",
                          overwrite=True)
    return out


def row(name: str, sequence: Path, rate: str, tmp: Path) -> dict:
    run_dir = tmp / f"{name}_{rate}"
    with open_euroc(sequence, quiet=True) as seq:
        summary = replay(seq, run_dir, PipelineConfig(backend_rate=rate))
    hw = load_preset("navion65")
    report = build_report(run_dir, hw, sequence=sequence)
    corners = sensitivity(run_dir, hw, load_ranges(shipped_ranges("navion65"), hw), sequence=sequence)["corners"]
    low, high = corners["lowest"], corners["highest"]
    acc, cpu, pub = report["accelerator"], report["cpu"], report["published"]
    c = acc["categories"]
    return {"run": f"{name}, {rate}", "ate_m": summary["ate_rmse_m"], "uj": acc["energy_per_frame_uj"],
            "mw": acc["power_mw"], "x_navion": pub["power_over_navion"],
            "cats": "/".join(f"{c[k]:.0f}" for k in ("compute_uj", "onchip_memory_uj", "offchip_memory_uj", "leakage_uj")),
            "reduction": report["memory"]["reduction_factor"], "x_reduction": pub["reduction_over_navion"],
            "cpu_mw": cpu["power_mw"], "cpu_ratio": report["ratio_cpu_over_accelerator"],
            "cpu_util": cpu["utilisation"], "spilled_kb": (report["memory"]["total_bytes"]
                                                           - report["memory"]["peak_onchip_bytes"]) / 1024,
            "x_range": f"{low['power_over_navion']:.2f}-{high['power_over_navion']:.2f}",
            "cpu_range": f"{high['ratio_cpu_over_accelerator']:.0f}-{low['ratio_cpu_over_accelerator']:.0f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "twins")
    parser.add_argument("--fragment-only", action="store_true", help="skip the full-length twin")
    args = parser.parse_args()
    runs = [("fragment", DATA / "euroc_v101_micro")]
    if not args.fragment_only:
        runs.append(("V1_01 twin", v101_twin(args.cache)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, sequence in runs:
            for rate in RATES:
                print(f"replaying {name} with backend_rate={rate} ...", flush=True)
                rows.append(row(name, sequence, rate, Path(tmp)))
    print(f"\n{'run':26s} {'ATE[m]':>7s} {'uJ/fr':>6s} {'mW':>6s} {'xNavion':>7s} {'comp/on/off/leak uJ':>20s} "
          f"{'reduct':>6s} {'x4.1':>5s} {'spill kB':>8s} {'CPU mW':>7s} {'CPU/acc':>7s} {'CPU util':>8s} "
          f"{'xNavion range':>13s} {'CPU/acc range':>13s}")
    for r in rows:
        ate = "n/a" if r["ate_m"] is None else f"{r['ate_m']:.3f}"
        print(f"{r['run']:26s} {ate:>7s} {r['uj']:6.0f} {r['mw']:6.2f} {r['x_navion']:7.2f} {r['cats']:>20s} "
              f"{r['reduction']:6.2f} {r['x_reduction']:5.2f} {r['spilled_kb']:8.0f} {r['cpu_mw']:7.0f} "
              f"{r['cpu_ratio']:7.1f} {r['cpu_util']:8.2f} {r['x_range']:>13s} {r['cpu_range']:>13s}")
    print("\ntargets: power within 3x of Navion (xNavion <= 3), reduction within +-30 % (x4.1 in 0.7-1.3), "
          "CPU/accelerator 100-1000x")


if __name__ == "__main__":
    main()
