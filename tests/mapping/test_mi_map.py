"""MI map: beam lines, FCMI against per-cell beam_mi sums, counting, banks and map files."""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from fsmi_reference import band_lines, line_windows, lockstep_banks

from accel_model.workload import Workload
from mapping.errors import MappingError
from mapping.fsmi import BEAM_CELL_OPS, PAIR_OPS, BankStats, beam_mi
from mapping.mi_map import (
    FCMI_BACK_T1_OPS,
    FCMI_BACK_T2_OPS,
    FCMI_FRONT_TERM_OPS,
    FCMI_H_TERM_OPS,
    FCMI_REMOVAL_OPS,
    FCMI_STEP_OPS,
    LINE_BUILD_CELL_OPS,
    WINDOW_CHECK_OPS,
    beam_lines,
    load_grid2d,
    load_grid3d_slice,
    map_directions,
    map_kind,
    mi_map,
    save_grid2d,
)


def random_map(seed: int, ny: int = 11, nx: int = 14) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grid = rng.uniform(0.02, 0.98, (ny, nx))
    grid[rng.random((ny, nx)) < 0.5] *= 0.3  # more free cells
    return grid


def reference_map(grid, res, n_beams, range_m, sigma_m, truncation, free_threshold=0.5):
    """Sum over directions of beam_mi on each free cell's beam, cell by cell."""
    ny, nx = grid.shape
    out = np.full((ny, nx), np.nan)
    for dx, dy in zip(*map_directions(n_beams)):
        for (ix, iy), cells in line_windows(nx, ny, dx, dy, range_m / res).items():
            if grid[iy, ix] < free_threshold:
                value = beam_mi([grid[cy, cx] for cx, cy in cells], res, sigma_m, truncation=truncation)
                out[iy, ix] = value if np.isnan(out[iy, ix]) else out[iy, ix] + value
    return out


def test_lines_partition_the_grid_into_4_connected_walks():
    ny, nx = 9, 13
    for n_beams in (60, 7):
        for dx, dy in zip(*map_directions(n_beams)):
            starts, cells, u = beam_lines((ny, nx), dx, dy)
            got = [[(int(c) % nx, int(c) // nx) for c in cells[a:b]] for a, b in pairwise(starts) if b > a]
            expected = [[(ix, iy) for _, ix, iy in line] for _, line in sorted(band_lines(nx, ny, dx, dy).items())]
            assert got == expected
            assert sorted(cells.tolist()) == list(range(nx * ny))
            for line in expected:
                for (x0, y0), (x1, y1) in pairwise(line):
                    assert abs(x1 - x0) + abs(y1 - y0) == 1  # 4-connected
                    assert (x1 - x0) * dx >= 0 and (y1 - y0) * dy >= 0  # along the direction
            assert np.allclose(u, [dx * (c % nx + 0.5) + dy * (c // nx + 0.5) for c in cells], rtol=0, atol=0)


@pytest.mark.parametrize("truncation, sigma_m, range_m", [
    (None, 0.12, 0.55),   # short range: windows slide (many removals)
    (None, 0.35, 5.0),    # range beyond the map: suffixes only; wide Gaussian
    (2, 0.1, 0.93),
    (0, 0.1, 0.93),
])
def test_fcmi_and_per_cell_equal_cell_by_cell_beam_mi(truncation, sigma_m, range_m):
    grid = random_map(0)
    expected = reference_map(grid, 0.1, 8, range_m, sigma_m, truncation)
    for method in ("fcmi", "per_cell"):
        got = mi_map(grid, 0.1, n_beams=8, range_m=range_m, sigma_m=sigma_m, truncation=truncation, method=method)
        assert np.array_equal(np.isnan(got), grid >= 0.5)
        free = grid < 0.5
        assert np.max(np.abs(got[free] - expected[free]) / expected[free]) < 1e-9


def test_free_threshold_and_occupied_walls_damp_the_mi():
    grid = random_map(1)
    got = mi_map(grid, 0.1, n_beams=6, range_m=1.0, free_threshold=0.3)
    assert np.array_equal(np.isnan(got), grid >= 0.3)
    # walls around a sensor hide the unknown cells behind them
    unknown = np.full((15, 15), 0.2)
    unknown[5:10, 5:10] = 0.5
    unknown[7, 7] = 0.2
    walled = unknown.copy()
    walled[6:9, 6:9] = 0.97
    walled[7, 7] = 0.2
    seen, hidden = (mi_map(m, 0.1, n_beams=12, range_m=1.0)[7, 7] for m in (unknown, walled))
    assert hidden < 0.7 * seen


def test_workload_tallies_by_hand():
    # one row of 6 free cells, directions 0 and pi, range 3.5 cells: windows of
    # min(4, 6 - a) cells; truncation 1
    grid = np.full((1, 6), 0.2)
    counted = {}
    for method in ("per_cell", "fcmi"):
        wl = Workload("mapping.mi_map")
        mi_map(grid, 0.1, n_beams=2, range_m=0.35, sigma_m=0.1, truncation=1, method=method, workload=wl)
        counted[method] = wl
    windows = [4, 4, 4, 3, 2, 1]
    cells = 2 * sum(windows)
    pairs = 2 * sum(n * 3 - 2 if n > 1 else 1 for n in windows)
    per_cell = counted["per_cell"]
    assert per_cell.buffers["occupancy_map"].reads_words == cells
    assert per_cell.buffers["beam_buffer"].reads_words == pairs
    assert per_cell.total_ops("mul") == (BEAM_CELL_OPS["mul"] * cells + PAIR_OPS["mul"] * pairs
                                         + LINE_BUILD_CELL_OPS["mul"] * 12)
    # FCMI: 12 steps; front terms 2 per step but 1 at each line's last cell; 2 removals per
    # line (the window shrinks from 6 to 4 cells), each with 2 back terms (k = b, j in b-1..b)
    steps, front, removals, back = 12, 2 * (1 + 5 * 2), 4, 8
    h_terms, t2 = front - steps, back - removals
    fcmi = counted["fcmi"]
    assert fcmi.buffers["occupancy_map"].reads_words == steps
    items = ((FCMI_STEP_OPS, steps), (FCMI_FRONT_TERM_OPS, front), (FCMI_H_TERM_OPS, h_terms),
             (FCMI_REMOVAL_OPS, removals), (FCMI_BACK_T1_OPS, back), (FCMI_BACK_T2_OPS, t2),
             (LINE_BUILD_CELL_OPS, 12), (WINDOW_CHECK_OPS, steps + removals))
    for kind in ("mul", "add", "div", "compare"):
        assert fcmi.total_ops(kind) == sum(per_item.get(kind, 0) * n for per_item, n in items), kind
    assert fcmi.buffers["mi_lut"].reads_words == 3 * steps + front + h_terms + back + t2 + removals


def test_workload_does_not_change_the_result():
    grid = random_map(2)
    plain = mi_map(grid, 0.1, n_beams=5, range_m=0.8, truncation=2)
    counted = mi_map(grid, 0.1, n_beams=5, range_m=0.8, truncation=2, workload=Workload("mapping.mi_map"))
    assert np.array_equal(plain, counted, equal_nan=True)


@pytest.mark.parametrize("method", ["fcmi", "per_cell"])
def test_banks_against_lockstep_reference(method):
    grid = random_map(3, ny=8, nx=10)
    ny, nx = grid.shape
    banks = BankStats(n_banks=4, row_stride=2, parallel_units=3)
    wl = Workload("mapping.mi_map")
    mi_map(grid, 0.1, n_beams=7, range_m=0.6, method=method, workload=wl, bank_stats=banks)
    directions = list(zip(*map_directions(7)))
    groups = []
    if method == "fcmi":  # neighbouring lines of a direction, each read from its far end
        for dx, dy in directions:
            lines = [[(ix, iy) for _, ix, iy in reversed(line)] for _, line in sorted(band_lines(nx, ny, dx, dy).items())]
            groups += [lines[i:i + 3] for i in range(0, len(lines), 3)]
    else:  # consecutive beam directions of each free cell
        windows = [line_windows(nx, ny, dx, dy, 6.0) for dx, dy in directions]
        for iy, ix in zip(*np.nonzero(grid < 0.5)):
            beams = [w[(ix, iy)] for w in windows]
            groups += [beams[i:i + 3] for i in range(0, 7, 3)]
    reads, steps, conflicts, cycles, merged = lockstep_banks(groups, 4, 2)
    assert banks.reads.tolist() == reads
    assert (banks.steps, banks.conflicts, banks.cycles, banks.merged) == (steps, conflicts, cycles, merged)
    assert sum(wl.buffers[f"occupancy_bank{b}"].reads_words for b in range(4)) == sum(reads)


def test_mi_map_rejects_bad_input():
    grid = random_map(4)
    with pytest.raises(MappingError, match="method"):
        mi_map(grid, 0.1, method="fast")
    with pytest.raises(MappingError, match="2-D"):
        mi_map(grid[0], 0.1)
    with pytest.raises(MappingError, match="resolution_m"):
        mi_map(grid, 0.0)
    with pytest.raises(MappingError, match="range_m"):
        mi_map(grid, 0.1, range_m=-1)
    with pytest.raises(MappingError, match="truncation"):
        mi_map(grid, 0.1, truncation=-2)
    with pytest.raises(MappingError, match="strictly between"):
        mi_map(np.where(grid > 0.9, 1.0, grid), 0.1)


# --------------------------------------------------------------------------- map files

def test_grid2d_round_trip(tmp_path):
    grid = random_map(5).astype(np.float32)
    path = save_grid2d(tmp_path / "room", grid, (1.5, -2.0), 0.05)
    assert path.name == "room.npz" and map_kind(path) == 2
    loaded, origin, res = load_grid2d(path)
    assert loaded.dtype == np.float64 and np.array_equal(loaded, grid.astype(np.float64))
    assert origin.tolist() == [1.5, -2.0] and res == 0.05


def test_grid3d_slice(tmp_path):
    rng = np.random.default_rng(6)
    log_odds = rng.normal(0, 2, (7, 5, 4))  # [ix, iy, iz]
    path = tmp_path / "map3d.npz"
    np.savez(path, log_odds=log_odds, origin_m=np.array([1.0, 2.0, -0.5]), resolution_m=0.25)
    assert map_kind(path) == 3
    grid, origin, res = load_grid3d_slice(path, 0.3)  # iz = floor(0.8 / 0.25) = 3
    assert grid.shape == (5, 7) and origin.tolist() == [1.0, 2.0] and res == 0.25
    assert grid[2, 6] == pytest.approx(math.exp(log_odds[6, 2, 3]) / (1 + math.exp(log_odds[6, 2, 3])), rel=1e-12)
    with pytest.raises(MappingError, match="map3d.npz: z = 0.6 m is outside"):
        load_grid3d_slice(path, 0.6)


def _write(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@pytest.mark.parametrize("content, needle", [
    (None, "map file not found"),
    (b"not a zip", "cannot read the map"),
    ({"probability": np.full((3, 3), 0.2), "origin_m": np.zeros(2)}, "missing resolution_m"),
    ({"probability": np.full(3, 0.2), "origin_m": np.zeros(2), "resolution_m": 0.1}, "2-D float array"),
    ({"probability": np.full((3, 3), 0.2), "origin_m": np.zeros(3), "resolution_m": 0.1}, "'origin_m' must be 2"),
    ({"probability": np.full((3, 3), 0.2), "origin_m": np.zeros(2), "resolution_m": -0.1}, "resolution_m"),
    ({"probability": np.full((3, 3), 1.5), "origin_m": np.zeros(2), "resolution_m": 0.1}, "strictly between"),
])
def test_bad_map_files_name_the_file(tmp_path, content, needle):
    path = tmp_path / "bad.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        _write(path, **content)
    with pytest.raises(MappingError, match=needle) as info:
        load_grid2d(path)
    assert str(info.value).startswith(str(path))
