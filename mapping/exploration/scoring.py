"""FSMI score of candidate views: the sum of beam mutual information over a camera's beams.

The camera is level (pitch and roll 0) and looks along its yaw; its beams form a pinhole
grid over the field of view (:func:`camera_bearings`). Each beam is walked through the 3-D
map with the occupancy package's DDA up to ``range_m``; the occupancy probabilities of its
cells (the map's, or :func:`scoring_probability`), in beam order, give FSMI's beam MI
(Zhang, Henderson, Karaman, Sze, ICRA 2019, Sec. IV; :mod:`mapping._kernels`), with the cell
width ``resolution_m`` and the map's own inverse sensor model as the odds factors
``delta_occ = p_hit / (1 - p_hit)``, ``delta_emp = p_miss / (1 - p_miss)``. A view's
score is the sum over its beams [nats]. Beams overlap near the camera, where cells are
counted by several beams; FSMI treats beams as independent, as the paper does.
"""
from __future__ import annotations

import math

import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload

from .. import fsmi
from .._kernels import N_TALLY, T_BEAMS, T_CELLS, T_WALK_STEPS
from ..errors import MappingError
from ..occupancy import FREE, OCCUPIED
from . import _kernels

def camera_bearings(beams_h: int, beams_v: int, fov_h_deg: float, fov_v_deg: float) -> np.ndarray:
    """Unit beam directions (beams_v * beams_h, 3) in the camera frame (OpenCV: x right,
    y down, z forward), row-major from the top-left: beam (i, j) passes through
    ``x = tan(fov_h / 2) (2 (i + 1/2) / beams_h - 1)``, ``y = tan(fov_v / 2) (2 (j + 1/2) / beams_v - 1)``
    on the image plane z = 1 (the pixel centres of a beams_h x beams_v pinhole camera)."""
    for name, n in (("beams_h", beams_h), ("beams_v", beams_v)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise MappingError(f"{name} must be a positive integer, got {n!r}")
    for name, fov in (("fov_h_deg", fov_h_deg), ("fov_v_deg", fov_v_deg)):
        if not (math.isfinite(fov) and 0 < fov < 180):
            raise MappingError(f"{name} must lie in (0, 180) degrees, got {fov!r}")
    x = math.tan(math.radians(fov_h_deg) / 2) * (2 * (np.arange(beams_h) + 0.5) / beams_h - 1)
    y = math.tan(math.radians(fov_v_deg) / 2) * (2 * (np.arange(beams_v) + 0.5) / beams_v - 1)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    b = np.stack([xx, yy, np.ones_like(xx)], axis=-1).reshape(-1, 3)
    return b / np.linalg.norm(b, axis=1, keepdims=True)


def level_camera_rotation(yaw_rad: float) -> np.ndarray:
    """R_world_cam (3, 3) of a level camera looking along (cos yaw, sin yaw, 0) in the z-up
    world: camera x (right) = (sin yaw, -cos yaw, 0), y (down) = (0, 0, -1), z = the view axis."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    return np.array([[s, 0.0, c], [-c, 0.0, s], [0.0, -1.0, 0.0]])


def odds_factors(grid) -> tuple[float, float]:
    """FSMI's (delta_occ, delta_emp): odds factors of a hit and a miss of the map's sensor model."""
    return float(math.exp(grid.config.l_hit)), float(math.exp(grid.config.l_miss))


def scoring_probability(grid, classes: np.ndarray | None = None, unknown_probability: float = 0.5) -> np.ndarray:
    """Occupancy probability for scoring with known cells taken as certain: FREE 0,
    OCCUPIED 1, UNKNOWN ``unknown_probability`` (float64 of the grid's shape; ``classes`` =
    ``grid.classify()``)."""
    classes = grid.classify() if classes is None else classes
    out = np.full(classes.shape, float(unknown_probability))
    out[classes == FREE] = 0.0
    out[classes == OCCUPIED] = 1.0
    return out


def max_beam_cells(range_m: float, resolution_m: float) -> int:
    """Upper bound on the cells of one unit-direction beam of range_m [m] (see
    :func:`mapping.occupancy.raycast.max_ray_cells`: at most 1 + 3 + sum_a ceil(|d_a| r / res),
    and sum_a |d_a| <= sqrt 3)."""
    return int(7 + math.ceil(math.sqrt(3.0) * range_m / resolution_m))


# per-item costs of the 3-D beams, in the style of mapping.fsmi's table (docs/mapping.md, "Workload")
VIEW_SETUP_OPS = {"sin": 2}                              # cos and sin of the candidate's yaw
BEAM_SETUP_3D_OPS = {"mul": 4, "add": 5, "div": 6}       # level-camera rotation, tDelta, tMax per axis
WALK_STEP_3D_OPS = {"add": 2, "compare": 12}             # min of 3 tMax, range check, tie checks, bounds


def record_mi_workload(workload: Workload, tally: np.ndarray, n_views: int, g_len: int, max_cells: int,
                       map_cells: int) -> None:
    """Operations and traffic of one scoring call (tally rows in FSMI's T_* slots) into ``workload``:
    FSMI's per-cell, per-pair and per-beam costs and map reads (:mod:`mapping.fsmi`), plus the
    3-D beam setup and DDA steps above."""
    if not workload.enabled:
        return
    total = np.asarray(tally, dtype=np.int64).reshape(-1, N_TALLY).sum(axis=0)
    fsmi.record_beam_evaluations(workload, total, g_len, max_cells)
    fsmi.add_ops(workload, VIEW_SETUP_OPS, n_views)
    fsmi.add_ops(workload, BEAM_SETUP_3D_OPS, int(total[T_BEAMS]))
    fsmi.add_ops(workload, WALK_STEP_3D_OPS, int(total[T_WALK_STEPS]))
    fsmi.record_map_reads(workload, int(total[T_CELLS]), None, None, None, map_cells)


def score_views(grid, positions_m, yaws_rad, bearings_cam, range_m: float, sigma_m: float,
                truncation_cells: int | None = None, workload: Workload = NULL_WORKLOAD,
                probability: np.ndarray | None = None) -> np.ndarray:
    """FSMI score (N,) [nats] of level-camera views at positions_m (N, 3) [m, world] with yaws_rad (N,).

    grid: a 3-D occupancy grid (``log_odds``, ``origin_m``, ``resolution_m``, ``shape``,
    ``config``); bearings_cam (B, 3) unit beams in the camera frame; range_m [m]: beam
    length; sigma_m [m]: FSMI's range noise; truncation_cells: FSMI's Gaussian truncation
    [cells] (None: exact). ``probability`` (the grid's occupancy probability as float64) may be
    passed to save recomputing it. Counts into ``workload`` (stage "mi") when enabled.
    """
    pos = np.ascontiguousarray(positions_m, dtype=np.float64).reshape(-1, 3)
    yaws = np.ascontiguousarray(yaws_rad, dtype=np.float64).reshape(-1)
    if len(pos) != len(yaws) or not (np.isfinite(pos).all() and np.isfinite(yaws).all()):
        raise MappingError(f"need finite positions (N, 3) and yaws (N,), got {pos.shape} and {yaws.shape}")
    bearings = np.ascontiguousarray(bearings_cam, dtype=np.float64)
    if bearings.ndim != 2 or bearings.shape[1] != 3 or not np.allclose(np.linalg.norm(bearings, axis=1), 1.0):
        raise MappingError(f"bearings must be unit vectors (B, 3), got shape {bearings.shape}")
    range_m = fsmi.check_positive("range_m", range_m)
    sigma_m = fsmi.check_positive("sigma_m", sigma_m)
    truncation_cells = fsmi.check_truncation(truncation_cells)
    if probability is None:
        probability = grid.probability()
    prob = np.ascontiguousarray(probability, dtype=np.float64)
    if prob.shape != tuple(grid.shape):
        raise MappingError(f"probability must have the grid's shape {tuple(grid.shape)}, got {prob.shape}")
    if not ((prob >= 0.0) & (prob <= 1.0)).all():
        raise MappingError("probability must lie in [0, 1] (and not be NaN)")
    res = grid.resolution_m
    max_cells = max_beam_cells(range_m, res)
    g, k = fsmi.gaussian_table(res, sigma_m, truncation_cells, max_cells)
    delta_occ, delta_emp = odds_factors(grid)
    out = np.empty(len(pos))
    counting = workload.enabled
    tally = np.zeros((len(pos) if counting else 0, N_TALLY), dtype=np.int64)
    _kernels.score_views(prob, np.ascontiguousarray(grid.origin_m, dtype=np.float64), float(res),
                         np.asarray(grid.shape, dtype=np.int64), pos, yaws, bearings, range_m, g, k,
                         delta_occ, delta_emp, max_cells, counting, out, tally)
    record_mi_workload(workload, tally, len(pos), len(g), max_cells, int(prob.size))
    return out
