"""Map exports: ``map.npz`` (the grid), ``map.ply`` (occupied voxel centres, open3d),
``map_slice.png`` (one horizontal layer: free, occupied, unknown) and
``map_workloads.jsonl`` (one line per integrated frame, the format of ``workloads.jsonl``:
``{"timestamp_ns": ..., "stages": [Workload.to_dict(), ...]}``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import MappingError
from ._grid import FREE, OCCUPIED, UNKNOWN, classify_log_odds
from .grid3d import Grid3D

SLICE_COLOURS = {UNKNOWN: ("#9e9e9e", "unknown"), FREE: ("#ffffff", "free"), OCCUPIED: ("#111111", "occupied")}
SLICE_SIZE_PX = (900, 700)
SLICE_DPI = 100


def _metres(value: float) -> str:
    """Two decimals without a negative zero."""
    return f"{round(float(value), 2) + 0.0:.2f}"


def write_ply(grid: Grid3D, path: str | Path) -> Path:
    """Occupied voxel centres [m, world] as an open3d point cloud coloured by height."""
    import open3d as o3d
    from matplotlib import colormaps

    centres = grid.occupied_centers()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(centres))
    if len(centres):
        z = centres[:, 2]
        span = max(float(np.ptp(z)), grid.resolution_m)
        cloud.colors = o3d.utility.Vector3dVector(colormaps["viridis"]((z - z.min()) / span)[:, :3])
    if not o3d.io.write_point_cloud(str(path), cloud):
        raise MappingError(f"{path}: cannot write the point cloud")
    return Path(path)


def write_slice_png(grid: Grid3D, path: str | Path, z_m: float, trajectory_xy: np.ndarray | None = None) -> Path:
    """The layer holding height z_m [m] in three colours with a legend, axes in metres
    (world x right, y up); ``trajectory_xy`` (K, 2) [m] is drawn on top when given."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    cls = classify_log_odds(grid.layer_log_odds(z_m))  # (nx, ny), [ix, iy]
    lo, hi = grid.bounds_min_m, grid.bounds_max_m
    order = (UNKNOWN, FREE, OCCUPIED)
    fig = Figure(figsize=(SLICE_SIZE_PX[0] / SLICE_DPI, SLICE_SIZE_PX[1] / SLICE_DPI))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.09, 0.09, 0.88, 0.82))
    ax.imshow((cls.T - UNKNOWN).astype(np.int8), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
              cmap=ListedColormap([SLICE_COLOURS[c][0] for c in order]), vmin=0, vmax=2, interpolation="nearest")
    if trajectory_xy is not None and len(trajectory_xy):
        ax.plot(trajectory_xy[:, 0], trajectory_xy[:, 1], "-", color="tab:red", lw=1.2, label="camera path")
    handles = [Patch(facecolor=SLICE_COLOURS[c][0], edgecolor="k", label=SLICE_COLOURS[c][1]) for c in order]
    if trajectory_xy is not None and len(trajectory_xy):
        handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="best", framealpha=0.9)
    known = np.argwhere(cls != UNKNOWN)
    if len(known):  # zoom onto the observed part of the layer (and the path), 1 m around it
        xy = grid.index_to_world(np.column_stack([known, np.zeros(len(known), np.int64)]))[:, :2]
        if trajectory_xy is not None and len(trajectory_xy):
            xy = np.concatenate([xy, trajectory_xy])
        view_lo = np.maximum(xy.min(axis=0) - 1.0, lo[:2])
        view_hi = np.minimum(xy.max(axis=0) + 1.0, hi[:2])
        ax.set(xlim=(view_lo[0], view_hi[0]), ylim=(view_lo[1], view_hi[1]))
    z0 = grid.origin_m[2] + grid.z_index(z_m) * grid.resolution_m
    ax.set(xlabel="x [m]", ylabel="y [m]", aspect="equal",
           title=f"occupancy at z = {_metres(z_m)} m (layer {_metres(z0)}..{_metres(z0 + grid.resolution_m)} m, "
                 f"{grid.resolution_m:g} m cells)")
    try:
        fig.savefig(path, dpi=SLICE_DPI)
    except OSError as exc:
        raise MappingError(f"{path}: cannot write the slice image: {exc.strerror or exc}") from None
    return Path(path)


def write_workloads(path: str | Path, timestamps_ns: np.ndarray, workloads: list) -> Path:
    """One JSON line per frame: ``{"timestamp_ns", "stages": [...]}``."""
    with open(path, "w", encoding="utf-8") as f:
        for t, workload in zip(np.asarray(timestamps_ns).tolist(), workloads):
            f.write(json.dumps({"timestamp_ns": int(t), "stages": [workload.to_dict()]}) + "\n")
    return Path(path)


def write_map_outputs(out_dir: str | Path, build, z_m: float | None = None) -> dict:
    """Writes map.npz, map.ply, map_slice.png (at z_m, default the median camera height) and
    map_workloads.jsonl of a :class:`mapping.occupancy.integrate.MapBuild` into out_dir;
    returns the build's summary with the slice height."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    grid = build.grid
    if z_m is None:
        z_m = float(np.median(build.camera_positions_m[:, 2]))
    grid.z_index(z_m)  # a bad height fails before any file is written
    grid.save(out / "map.npz")
    write_ply(grid, out / "map.ply")
    write_slice_png(grid, out / "map_slice.png", z_m, build.camera_positions_m[:, :2])
    write_workloads(out / "map_workloads.jsonl", build.timestamps_ns, build.workloads)
    return {**build.summary(), "slice_z_m": z_m}
