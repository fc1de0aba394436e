"""The ``navion`` command line: ``synth`` and ``info`` (more commands arrive with later stages).

Known errors (bad paths, malformed files, invalid options) print one line
``navion: error: ...`` and exit with code 2; they never show a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__, energy_cli, launch_cli, mimap_cli, sweep_cli
from .twin_gap import cli as twin_gap_cli
from .errors import KNOWN_ERRORS, CliError
from .sequences import open_sequence

EXIT_USAGE = 2


def _cmd_synth(args: argparse.Namespace) -> int:
    from datasets.synth.config import SynthConfig
    from datasets.synth.generate import generate_sequence

    from .progress import progress_bar

    options = SynthConfig.from_yaml(args.config).to_dict() if args.config else {}
    for key in ("duration_s", "seed", "imu_noise_scale", "image_noise_sigma", "time_offset_ms",
                "drop_frames", "start_offset_s", "renderer", "realism", "camera_rate_hz", "imu_rate_hz"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    if args.texture_source is not None:
        options["texture"] = {**options.get("texture", {}), "source": args.texture_source}
    if args.exposure_flicker:
        options["exposure_flicker"] = True
    config = SynthConfig.from_dict(options)
    if args.trajectory is not None and not Path(args.trajectory).is_file():
        raise CliError(f"{args.trajectory}: trajectory file not found")
    with progress_bar("rendering", unit="frames") as advance:
        meta = generate_sequence(args.out, config, trajectory_path=args.trajectory,
                                 overwrite=args.overwrite, progress=advance)
    print(f"wrote {meta['stereo_frames']} stereo pairs, {meta['imu_samples']} IMU samples, "
          f"{meta['duration_s']:.1f} s to {Path(args.out) / 'mav0'}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from vio.pipeline import PipelineConfig

    from .progress import progress_bar
    from .replay import replay

    config = PipelineConfig.from_yaml(args.config) if args.config else PipelineConfig()
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError(f"--max-frames must be >= 1, got {args.max_frames}")
    map_config = _map_config(args)
    seq = open_sequence(args.path, calibration=args.calibration)
    if args.perturb:
        from datasets.perturb import PerturbConfig, PerturbedSequence

        seq = PerturbedSequence(seq, PerturbConfig.from_cli(args.perturb))
    with progress_bar("replay", unit="frames", realtime=True) as advance:
        summary = replay(seq, args.out, config, max_frames=args.max_frames, progress=advance)
    if args.count_instructions:
        from .replay_instructions import add_to_summary, count_replay_instructions

        measured = count_replay_instructions(_replay_options(args), summary["frames"])
        add_to_summary(args.out, measured)
        print(f"measured {measured['instructions']:.3g} instructions ({measured['instructions_note']})")
    ate = summary["ate_rmse_m"]
    print(f"{summary['frames']} frames, {summary['resets']} resets, {summary['fps']:.1f} fps "
          f"({summary['realtime_factor']:.2f}x real time), ATE RMSE "
          + ("n/a (no ground truth)" if ate is None else f"{ate:.3f} m") + f"; outputs in {args.out}")
    if map_config is not None:
        from .replay import replay_map

        with progress_bar("map", unit="frames") as advance:
            figures = replay_map(seq, args.out, map_config, z_m=args.map_z_m, progress=advance)
        print(f"map: {figures['frames_integrated']} frames at {figures['poses']} poses, "
              f"{figures['occupied_voxels']} occupied and {figures['free_voxels']} free voxels of "
              f"{figures['resolution_m']:g} m, {figures['ms_per_frame']:.0f} ms per frame")
    return 0


def _replay_options(args: argparse.Namespace) -> list[str]:
    """The sequence and the VIO options of a replay command line (for child replays)."""
    options = [args.path]
    for flag, value in (("--config", args.config), ("--calibration", args.calibration)):
        if value:
            options += [flag, value]
    return options + (["--perturb", *args.perturb] if args.perturb else [])


def _map_config(args: argparse.Namespace):
    """The MapBuildConfig of ``replay --map`` (validated before the run), or None without --map."""
    from mapping.occupancy.integrate import MapBuildConfig

    given = [flag for flag, value in (("--map-resolution-m", args.map_resolution_m), ("--map-every", args.map_every),
                                      ("--map-z-m", args.map_z_m), ("--map-config", args.map_config))
             if value is not None]
    if not args.map:
        if given:
            raise CliError(f"{given[0]} needs --map")
        return None
    options = MapBuildConfig.from_yaml(args.map_config).to_dict() if args.map_config else {}
    if args.map_resolution_m is not None:
        options.setdefault("occupancy", {})["resolution_m"] = args.map_resolution_m
    if args.map_every is not None:
        options["every_n_frames"] = args.map_every
    return MapBuildConfig.from_dict(options, source="--map options")


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import print_summary

    seq = open_sequence(args.path, quiet=args.json, calibration=args.calibration)
    summary = seq.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(args.path, summary)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, load_poses, plot_errors, plot_trajectories
    from .evaluation.table import print_result

    gt = load_poses(args.gt, quiet=args.json)
    est = load_poses(args.est, quiet=args.json)
    result = evaluate(gt, est, align=args.align, max_diff_s=args.max_diff_s, rpe_delta_m=args.delta_m)
    if args.plot is not None:
        out = Path(args.plot)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"{out}: cannot create the plot folder: {exc.strerror or exc}") from None
        plot_trajectories(gt, result.est_aligned, out / "trajectory.png")
        plot_errors(result, out / "errors.png")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_result(result, gt_name=args.gt, est_name=args.est)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="navion", description="Navion-style VIO, mapping and hardware-cost simulation.")
    parser.add_argument("--version", action="version", version=f"navion-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    synth = sub.add_parser("synth", help="synthesise a EuRoC-format stereo-inertial sequence",
                           description="Render a textured hall along a trajectory and write the "
                                       "EuRoC ASL layout with exact ground truth.")
    synth.add_argument("--out", required=True, help="output folder (mav0/ is created inside)")
    synth.add_argument("--trajectory", metavar="TUM_FILE",
                       help="follow this TUM trajectory (an EuRoC twin) instead of the built-in one")
    synth.add_argument("--config", metavar="YAML", help="synth options as yaml (flags override it)")
    synth.add_argument("--duration", dest="duration_s", type=float, metavar="S",
                       help="sequence length [s] (default: the whole trajectory; built-in 60 s)")
    synth.add_argument("--start-offset", dest="start_offset_s", type=float, metavar="S",
                       help="start this far into the TUM trajectory [s]")
    synth.add_argument("--seed", type=int, help="random seed (default 0)")
    synth.add_argument("--imu-noise-scale", dest="imu_noise_scale", type=float, metavar="S",
                       help="scale of EuRoC's IMU noise and bias walk (0 = noise-free; default 1)")
    synth.add_argument("--image-noise", dest="image_noise_sigma", type=float, metavar="SIGMA",
                       help="Gaussian image noise std [grey levels] (default 1)")
    synth.add_argument("--time-offset-ms", dest="time_offset_ms", type=float, metavar="MS",
                       help="camera stamp minus true capture time [ms] (default 0)")
    synth.add_argument("--drop-frames", dest="drop_frames", type=float, metavar="FRACTION",
                       help="fraction of stereo frames to drop (default 0)")
    synth.add_argument("--renderer", choices=("boxes", "open3d"),
                       help="ray tracer: numba box tracer (default, faster) or open3d RaycastingScene")
    synth.add_argument("--realism", choices=("realistic", "ideal"),
                       help="realistic sensors (default: natural texture, optics, IMU vibration, calibration "
                            "error; docs/synth_realism.md) or the idealised ones of unit tests")
    synth.add_argument("--texture-source", metavar="DIR",
                       help="texture the hall with the images in DIR instead of the fitted natural texture")
    synth.add_argument("--camera-rate", dest="camera_rate_hz", type=float, metavar="HZ",
                       help="stereo frame rate [Hz] (default 20); must divide the IMU rate")
    synth.add_argument("--imu-rate", dest="imu_rate_hz", type=float, metavar="HZ",
                       help="IMU rate [Hz] (default 200)")
    synth.add_argument("--exposure-flicker", action="store_true", help="vary exposure frame to frame")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing sequence in --out")
    synth.set_defaults(func=_cmd_synth)

    info = sub.add_parser("info", help="summarise a sequence (EuRoC folder or zip, or ROS bag)",
                          description="Summarise a EuRoC sequence: a mav0 folder, the folder above "
                                      "it, its .zip, or a .bag.")
    info.add_argument("path", help="sequence path")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--calibration", metavar="DIR",
                      help="for bags: folder with cam0/cam1/imu0 sensor.yaml (default: EuRoC's)")
    info.set_defaults(func=_cmd_info)

    rp = sub.add_parser("replay", help="run stereo VIO over a sequence and write the run folder",
                        description="Replay a EuRoC folder, zip or bag (or a synthetic sequence) through "
                                    "the VIO pipeline; writes trajectory.tum, summary.json, workloads.jsonl "
                                    "and, with ground truth, trajectory.png and errors.png.")
    rp.add_argument("path", help="sequence path")
    rp.add_argument("--out", default="out/replay", help="output folder (default out/replay)")
    rp.add_argument("--max-frames", dest="max_frames", type=int, metavar="N", help="stop after N stereo frames")
    rp.add_argument("--config", metavar="YAML", help="pipeline options (sections frontend, window, solver, ...)")
    rp.add_argument("--calibration", metavar="DIR", help="for bags: folder with cam0/cam1/imu0 sensor.yaml")
    rp.add_argument("--perturb", nargs="+", metavar="YAML|KEY=VALUE",
                    help="hard conditions (docs/robustness.md): a yaml file or options such as imu_noise_factor=5 "
                         "drop_fraction=0.05 time_offset_ms=5 flicker_gain=[0.6,1.4] wall_start_s=20")
    rp.add_argument("--map", action="store_true",
                    help="then build an occupancy map along the estimated trajectory: map.npz, map.ply, "
                         "map_slice.png, map_workloads.jsonl")
    rp.add_argument("--map-resolution-m", dest="map_resolution_m", type=float, metavar="M",
                    help="map cell edge [m] (default 0.1)")
    rp.add_argument("--map-every", dest="map_every", type=int, metavar="N",
                    help="integrate every N-th stereo frame into the map (default 5)")
    rp.add_argument("--map-z-m", dest="map_z_m", type=float, metavar="Z",
                    help="height of map_slice.png [m, world] (default: the median camera height)")
    rp.add_argument("--map-config", dest="map_config", metavar="YAML",
                    help="map options (every_n_frames, sections occupancy and stereo); the --map-* flags override it")
    rp.add_argument("--count-instructions", dest="count_instructions", action="store_true",
                    help="then count the run's user-space instructions (perf, else valgrind: slow) into "
                         "summary.json for the energy report's measured line")
    rp.set_defaults(func=_cmd_replay)

    ev = sub.add_parser("eval", help="ATE and RPE of an estimated trajectory against ground truth",
                        description="Associate stamps, align the estimate onto the ground truth "
                                    "(Umeyama 1991) and report ATE and RPE with evo's definitions: "
                                    "the figures equal evo_ape/evo_rpe on the same files.")
    ev.add_argument("--gt", required=True, metavar="FILE",
                    help="ground truth: TUM file, EuRoC data.csv, or EuRoC sequence folder/zip")
    ev.add_argument("--est", required=True, metavar="FILE", help="estimated trajectory (TUM file)")
    ev.add_argument("--align", default="se3", metavar="{se3,sim3,none}",
                    help="se3 = evo -a (default), sim3 = evo -as (monocular), none = no alignment")
    ev.add_argument("--max-diff", dest="max_diff_s", type=float, default=0.01, metavar="S",
                    help="association tolerance [s] (evo's --t_max_diff; default 0.01)")
    ev.add_argument("--delta", dest="delta_m", type=float, default=1.0, metavar="D",
                    help="RPE pair distance along the path (default 1.0)")
    ev.add_argument("--delta-unit", choices=("m",), default="m",
                    help="unit of --delta: m (path metres, as evo_rpe --delta_unit m)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--plot", metavar="DIR", help="write trajectory.png and errors.png into DIR")
    ev.set_defaults(func=_cmd_eval)

    energy_cli.add_parser(sub)
    mimap_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    launch_cli.add_parser(sub)
    twin_gap_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KNOWN_ERRORS as exc:
        print(f"navion: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("navion: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
