"""``navion twin-gap REAL [--twin TWIN] [--groundtruth FILE] --out DIR``."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Registers ``twin-gap`` on the ``navion`` subparsers ``sub``."""
    p = sub.add_parser(
        "twin-gap", help="measure how far a synthetic twin is from the real sequence it copies",
        description="Synthesise (or take) the twin of a real EuRoC sequence over their common span and measure "
                    "both the same way: image statistics, IMU spectra and high-pass noise, front-end and back-end "
                    "diagnostics, ATE/RPE and energy. Writes gap.json, gap.md and plots; rows outside their "
                    "band are flagged (docs/twin_gap.md).")
    p.add_argument("real", metavar="REAL_SEQUENCE", help="real EuRoC sequence (folder, mav0 or zip)")
    p.add_argument("--twin", metavar="TWIN_SEQUENCE", help="an existing twin (default: synthesise one)")
    p.add_argument("--groundtruth", metavar="FILE",
                   help="ground truth (TUM file or EuRoC csv) when the sequence's own is missing or short")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, help="twin synthesis seed (default: SynthConfig's)")
    p.add_argument("--synth-config", dest="synth_config", metavar="YAML", help="synth options for the twin")
    p.add_argument("--max-frames", dest="max_frames", type=int, metavar="N",
                   help="use only the first N stereo frames of the common span (and 2 s of IMU after them)")
    p.add_argument("--image-frames", dest="image_frames", type=int, default=40, metavar="N",
                   help="image statistics on at most N frames spread over the span (default 40)")
    p.add_argument("--no-vio", dest="vio", action="store_false",
                   help="skip the replays (no front-end, back-end, VIO and energy rows)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from navion.progress import progress_bar

    from .gap import twin_gap
    from .report import print_table

    gap = twin_gap(args.real, args.out, twin_path=args.twin, groundtruth=args.groundtruth, seed=args.seed,
                   synth_config=args.synth_config, max_frames=args.max_frames, image_frames=args.image_frames,
                   vio=args.vio, progress_bar=progress_bar)
    meta = gap["meta"]
    print_table(gap["rows"], f"twin gap over {meta['span_s']} s ({meta['real_frames']} real, "
                             f"{meta['twin_frames']} twin frames)")
    if "warning" in meta:
        print(f"warning: {meta['warning']}")
    flagged = [r for r in gap["rows"] if r.flag == "OUT"]
    print(f"{len(flagged)} rows outside their band; wrote gap.json, gap.md, imu_psd.png, gradient_histogram.png, "
          f"frames.png, vignetting.png to {args.out}")
    return 0
