"""Natural textures: mip bank, trilinear kernel against a slow reference, tiles, fitted profiles,
user images, calibration error."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from datasets.calibration import euroc_cameras
from datasets.errors import DatasetError
from datasets.synth import _kernels
from datasets.synth.calibration_error import CalibrationErrorConfig, true_camera
from datasets.synth.texture import (TextureConfig, build_bank, dead_leaves, image_tiles, load_parameters,
                                    mip_bank, natural_tile, quantile_map, resolve_profile)
from datasets.synth.world import build_hall


def _bilinear_ref(level: np.ndarray, x: float, y: float) -> float:
    n = level.shape[0]
    x, y = x - 0.5, y - 0.5
    x0, y0 = math.floor(x), math.floor(y)
    ax, ay = x - x0, y - y0
    v = lambda i, j: float(level[j % n, i % n])  # noqa: E731
    return ((1 - ay) * ((1 - ax) * v(x0, y0) + ax * v(x0 + 1, y0))
            + ay * ((1 - ax) * v(x0, y0 + 1) + ax * v(x0 + 1, y0 + 1)))


def _trilinear_ref(levels: list[np.ndarray], x: float, y: float, footprint: float) -> float:
    level = math.log2(footprint / 2) if footprint > 2 else 0.0
    if level >= len(levels) - 1:
        return float(levels[-1][0, 0])
    lo = math.floor(level)
    w = level - lo
    a = _bilinear_ref(levels[lo], x / 2**lo, y / 2**lo)
    b = _bilinear_ref(levels[lo + 1], x / 2**(lo + 1), y / 2**(lo + 1)) if w else 0.0
    return a * (1 - w) + b * w


def test_mip_levels_are_periodic_box_means():
    tile = np.random.default_rng(0).uniform(size=(16, 16)).astype(np.float32)
    bank = mip_bank([tile, 1 - tile], 0.01)
    assert bank.n_tiles == 2 and bank.offset.shape == (2, 5)
    level1 = bank.data[bank.offset[0, 1]:bank.offset[0, 1] + 64].reshape(8, 8)
    np.testing.assert_allclose(level1, tile.reshape(8, 2, 8, 2).mean(axis=(1, 3)), rtol=1e-6)
    assert bank.data[bank.offset[1, 4]] == pytest.approx(1 - tile.mean(), rel=1e-5)


def test_sample_tile_matches_the_slow_reference():
    rng = np.random.default_rng(1)
    tile = rng.uniform(size=(32, 32)).astype(np.float32)
    bank = mip_bank([tile], 0.01)
    levels = [bank.data[bank.offset[0, lv]:bank.offset[0, lv] + (32 >> lv) ** 2].reshape(32 >> lv, 32 >> lv)
              for lv in range(bank.offset.shape[1])]
    for x, y, f in zip(rng.uniform(-100, 100, 300), rng.uniform(-100, 100, 300), rng.uniform(0.1, 80, 300)):
        got = _kernels.sample_tile(bank.data, bank.offset, bank.size, 0, x, y, f)
        assert got == pytest.approx(_trilinear_ref(levels, x, y, f), abs=1e-5)


def test_dead_leaves_is_periodic_and_scale_free():
    image = dead_leaves(256, 2.0, 100.0, np.random.default_rng(2))
    assert image.shape == (256, 256) and 0 <= image.min() and image.max() < 1
    # periodic: a wrapped copy has no seam, so the gradient across the border is like any other
    seam = np.abs(image[:, 0] - image[:, -1]).mean()
    inner = np.abs(np.diff(image, axis=1)).mean()
    assert seam < 3 * inner
    assert len(np.unique(image)) > 500  # many leaves are visible


def test_quantile_map_gives_the_target_distribution():
    image = np.random.default_rng(3).standard_normal((200, 200))
    q = tuple(np.linspace(0.1, 0.7, 9) ** 1.5)
    mapped = quantile_map(image, q)
    np.testing.assert_allclose(np.quantile(mapped, np.linspace(0.05, 0.95, 7)),
                               np.interp(np.linspace(0.05, 0.95, 7), np.linspace(0, 1, 9), q), atol=2e-3)
    assert np.corrcoef(mapped.ravel(), image.ravel())[0, 1] > 0.95  # order kept


def test_shipped_profiles_load_and_match_their_fit():
    for profile in ("machine_hall", "vicon_room"):
        params = load_parameters(None, profile)
        tile = 255 * natural_tile(params, 256, 0.002, np.random.default_rng(4))
        np.testing.assert_allclose(np.quantile(tile / 255, [0.25, 0.5, 0.75]),
                                   np.interp([0.25, 0.5, 0.75], np.linspace(0, 1, len(params.quantiles)),
                                             params.quantiles), atol=0.01)
    assert resolve_profile(TextureConfig(), "x/V2_01_easy.txt") == "vicon_room"
    assert resolve_profile(TextureConfig(), "MH_03_medium.txt") == "machine_hall"
    assert resolve_profile(TextureConfig(profile="vicon_room"), None) == "vicon_room"
    with pytest.raises(DatasetError, match="not found"):
        load_parameters(None, "moon_base")


def test_user_images_become_mirrored_periodic_tiles(tmp_path):
    image = (np.arange(40 * 60).reshape(40, 60) % 251).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    tiles = image_tiles(tmp_path, 32)
    assert len(tiles) == 1 and tiles[0].shape == (32, 32)
    np.testing.assert_array_equal(tiles[0][:, :16], tiles[0][:, 16:][:, ::-1])
    np.testing.assert_array_equal(tiles[0][:16], tiles[0][16:][::-1])
    bank = build_bank(TextureConfig(source=str(tmp_path), tile_texels=32), None, 0)
    assert bank.n_tiles == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        image_tiles(tmp_path / "empty", 32)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read"):
        image_tiles(tmp_path, 32)


@pytest.mark.parametrize("options", [{"model": "fractal"}, {"tiles": 0}, {"tile_texels": 1000},
                                     {"texel_m": 0.0}, {"texel_m": float("nan")}])
def test_bad_texture_config(options):
    with pytest.raises(DatasetError):
        TextureConfig.from_dict(options)


def test_hall_surfaces_take_tiles_and_texture_points_reads_them():
    bank = mip_bank([np.full((16, 16), 0.25, np.float32), np.full((16, 16), 0.75, np.float32)], 0.01)
    hall = build_hall(seed=3, bank=bank)
    assert hall.surface_tile is not None and set(np.unique(hall.surface_tile)) <= {0, 1}
    centres = hall.surface_corners + 0.5 * hall.surface_edges.sum(axis=1)
    ids = 2 * np.arange(hall.n_surfaces)
    values = hall.surface_intensity(centres, ids)
    np.testing.assert_allclose(values, np.where(hall.surface_tile == 0, 0.25, 0.75), atol=1e-6)


def test_calibration_error_has_the_configured_spread():
    cam = euroc_cameras()[0]
    rng = np.random.default_rng(5)
    config = CalibrationErrorConfig(rotation_deg=0.1, translation_mm=2.0, focal_fraction=0.002,
                                    principal_point_px=1.0)
    draws = [true_camera(cam, config, rng) for _ in range(400)]
    dt = np.array([np.linalg.inv(cam.T_body_cam)[:3] @ np.append(d.T_body_cam[:3, 3], 1) for d in draws])
    assert np.std(dt * 1e3) == pytest.approx(2.0, rel=0.1)
    df = np.array([d.intrinsics[0] / cam.intrinsics[0] - 1 for d in draws])
    assert np.std(df) == pytest.approx(0.002, rel=0.15)
    dc = np.array([d.intrinsics[2] - cam.intrinsics[2] for d in draws])
    assert np.std(dc) == pytest.approx(1.0, rel=0.15)
    assert true_camera(cam, CalibrationErrorConfig(enabled=False), rng) is cam
    with pytest.raises(DatasetError):
        CalibrationErrorConfig(rotation_deg=-1.0)
