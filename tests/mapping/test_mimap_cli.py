"""navion mi-map: outputs of a good map, 3-D slices, and one-line errors for bad input."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "navion"))
from cli_runner import expect_one_line_error, run

from mapping.mi_map import load_grid2d, mi_map, save_grid2d


@pytest.fixture()
def room(tmp_path) -> Path:
    """A 3 m x 2 m room at 0.1 m: free inside, walls around, an unknown corner."""
    grid = np.full((20, 30), 0.15)
    grid[[0, -1], :] = grid[:, [0, -1]] = 0.95
    grid[12:, 20:] = 0.5
    return save_grid2d(tmp_path / "room.npz", grid, (-1.0, 0.5), 0.1)


def test_writes_png_and_npy(capsys, room, tmp_path):
    out = tmp_path / "figs" / "mi.png"
    code, stdout, stderr = run(capsys, "mi-map", room, "--beams", 12, "--range-m", 1.5, "--truncation", 2,
                               "--out", out)
    assert code == 0, stderr
    assert out.stat().st_size > 5000 and "free cells" in stdout
    grid, _, res = load_grid2d(room)
    expected = mi_map(grid, res, n_beams=12, range_m=1.5, truncation=2)
    assert np.array_equal(np.load(out.with_suffix(".npy")), expected, equal_nan=True)


def test_json_summary(capsys, room, tmp_path):
    out = tmp_path / "mi.png"
    code, stdout, _ = run(capsys, "mi-map", room, "--beams", 8, "--range-m", 1.0, "--out", out, "--json")
    assert code == 0
    summary = json.loads(stdout)
    mi = np.load(out.with_suffix(".npy"))
    assert summary["free_cells"] == int(np.isfinite(mi).sum()) == 18 * 28 - 7 * 9  # interior minus the unknown corner
    assert summary["mi_max_nats"] == pytest.approx(np.nanmax(mi))
    iy, ix = np.unravel_index(np.nanargmax(mi), mi.shape)
    assert summary["best_xy_m"] == pytest.approx([-1.0 + (ix + 0.5) * 0.1, 0.5 + (iy + 0.5) * 0.1])


def test_slice_of_a_3d_map(capsys, tmp_path):
    log_odds = np.full((12, 10, 3), -2.0)  # [ix, iy, iz]
    log_odds[:, :, 1] = 0.0  # unknown middle layer
    path = tmp_path / "map3d.npz"
    with open(path, "wb") as f:
        np.savez(f, log_odds=log_odds, origin_m=np.array([0.0, 0.0, 0.0]), resolution_m=0.2)
    out = tmp_path / "slice.png"
    code, _, stderr = run(capsys, "mi-map", path, "--z-m", 0.1, "--beams", 6, "--out", out)
    assert code == 0, stderr
    mi = np.load(out.with_suffix(".npy"))
    assert mi.shape == (10, 12) and np.isfinite(mi).all()
    code, stdout, _ = run(capsys, "mi-map", path, "--z-m", 0.3, "--out", out)
    assert code == 0 and "no free cells" in stdout and np.isnan(np.load(out.with_suffix(".npy"))).all()
    expect_one_line_error(capsys, ["mi-map", path, "--out", out], "map3d.npz", "--z-m")
    expect_one_line_error(capsys, ["mi-map", path, "--z-m", 5.0, "--out", out], "outside the map's heights")


def test_bad_input_is_one_line(capsys, room, tmp_path):
    out = tmp_path / "x.png"
    junk = tmp_path / "junk.npz"
    junk.write_text("not a map")
    other = tmp_path / "other.npz"
    with open(other, "wb") as f:
        np.savez(f, something=np.zeros(3))
    expect_one_line_error(capsys, ["mi-map", junk, "--out", out], "junk.npz", "cannot read")
    expect_one_line_error(capsys, ["mi-map", other, "--out", out], "other.npz", "not a map file")
    expect_one_line_error(capsys, ["mi-map", tmp_path / "nope.npz", "--out", out], "nope.npz", "not found")
    expect_one_line_error(capsys, ["mi-map", room, "--z-m", 1.0, "--out", out], "2-D map")
    expect_one_line_error(capsys, ["mi-map", room, "--beams", 0, "--out", out], "--beams")
    expect_one_line_error(capsys, ["mi-map", room, "--sigma-m", -1, "--out", out], "--sigma-m")
    expect_one_line_error(capsys, ["mi-map", room, "--truncation", -1, "--out", out], "--truncation")
    expect_one_line_error(capsys, ["mi-map", room, "--out", tmp_path / "x.jpg"], ".png")
