"""Human-readable rendering of a sequence summary (``navion info``)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_summary(path: str, summary: dict) -> None:
    """Prints the stream counts and rates, the warnings, then one row per camera."""
    console = Console()
    streams = Table(title=f"sequence {path}", show_header=False)
    for key in ("stereo_pairs", "camera_frames", "imu_samples", "groundtruth_samples"):
        streams.add_row(key.replace("_", " "), str(summary.get(key)))
    streams.add_row("duration", f"{summary['duration_s']:.3f} s")
    for key in ("camera_rate_hz", "imu_rate_hz"):
        value = summary.get(key)
        streams.add_row(key.replace("_hz", "").replace("_", " "),
                        "n/a" if value is None else f"{value:.2f} Hz")
    warnings = summary.get("warnings") or {}
    streams.add_row("warnings", ", ".join(f"{k}: {v}" for k, v in warnings.items()) or "none")
    console.print(streams)

    cams = Table(title="cameras")
    for col in ("camera", "resolution", "fu, fv, cu, cv [px]", "distortion", "p_body_cam [m]"):
        cams.add_column(col)
    for name in ("cam0", "cam1"):
        cam = summary.get(name)
        if not cam:
            continue
        T = cam["T_body_cam"]
        cams.add_row(name, "x".join(str(v) for v in cam["resolution"]),
                     ", ".join(f"{v:.3f}" for v in cam["intrinsics"]),
                     cam["distortion_model"] + " " + ", ".join(f"{v:.4g}" for v in cam["distortion_coefficients"]),
                     ", ".join(f"{T[i][3]:.4f}" for i in range(3)))
    console.print(cams)
