"""Stereo depth: SGBM points of a rendered pair against the true ranges of the world mesh."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import open3d as o3d
import pytest

from datasets.calibration import euroc_cameras
from datasets.synth.config import SynthConfig
from datasets.synth.generate import make_scene
from datasets.synth.render import StereoRenderer
from mapping.errors import MappingError
from mapping.occupancy.stereo_depth import StereoDepth, StereoDepthConfig, block_disparities


def test_sgbm_points_match_the_true_ranges():
    """World points of one rendered EuRoC-calibrated pair: median range error < 2 %, few outliers.

    The true range along each point's own bearing comes from open3d's RaycastingScene on the
    world mesh, cast from the rectified camera centre, so a frame error (rectification,
    T_body_cam, pose) would show as a large error."""
    scene = make_scene(SynthConfig(realism="ideal", duration_s=12.0))
    cam0, cam1 = euroc_cameras()
    sample = scene.trajectory.evaluate(np.array([10.0]))
    T_world_body = np.eye(4)
    T_world_body[:3, :3], T_world_body[:3, 3] = sample.R_world_body[0], sample.p_world_body[0]
    left, right = StereoRenderer(scene.world, (cam0, cam1), image_noise_sigma=1.0).render(
        T_world_body, rng=np.random.default_rng(0))
    stereo = StereoDepth(cam0, cam1, StereoDepthConfig(max_depth_m=6.0))
    assert stereo.baseline_m == pytest.approx(0.110, abs=1e-3)  # EuRoC's cam0-cam1 distance
    body = stereo.points_body(left, right)
    assert len(body) > 10_000  # most of the 22 k blocks (752 x 480 / 4^2 inside the border)
    T_world_rect = T_world_body @ stereo.T_body_rect
    centre = T_world_rect[:3, 3]
    world = body @ T_world_body[:3, :3].T + T_world_body[:3, 3]
    offset = world - centre
    rng = np.linalg.norm(offset, axis=1)
    mesh = o3d.t.geometry.RaycastingScene()
    mesh.add_triangles(scene.world.mesh)
    rays = np.concatenate([np.broadcast_to(centre, offset.shape), offset / rng[:, None]], axis=1)
    true = mesh.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))["t_hit"].numpy()
    rel = np.abs(rng - true) / true
    assert np.median(rel) < 0.02 and np.mean(rel > 0.1) < 0.02, (np.median(rel), np.mean(rel > 0.1))
    # depth (rectified z) never beyond the configured maximum
    assert stereo.points_rect(left, right)[:, 2].max() <= 6.0


def test_block_disparities_against_a_loop():
    rng = np.random.default_rng(0)
    cols = np.arange(45)
    disp = (5 + 0.02 * cols + 3.0 * (cols >= 20) + rng.normal(0, 0.2, (37, 45))).astype(np.float32)  # a depth edge
    disp[rng.random(disp.shape) < 0.02] = -1.0  # invalid matches
    u, v, d = block_disparities(disp, 4, 3, 1.2)
    want = []
    for r in range(3, 37 - 3 - 3, 4):
        for c in range(3, 45 - 3 - 3, 4):
            block = disp[r:r + 4, c:c + 4]
            if block.min() > 0 and block.max() - block.min() <= 1.2:
                want.append((c + 1.5, r + 1.5, float(np.median(block))))
    assert 20 < len(want) < 63  # some blocks kept, some dropped
    np.testing.assert_allclose(np.column_stack([u, v, d]), np.array(want), rtol=1e-6)


def test_bad_stereo_inputs():
    cam0, cam1 = euroc_cameras()
    with pytest.raises(MappingError, match="equidistant"):
        StereoDepth(replace(cam0, distortion_model="equidistant"), cam1)
    with pytest.raises(MappingError, match="multiple of 16"):
        StereoDepthConfig(num_disparities=40)
    with pytest.raises(MappingError, match="block_size"):
        StereoDepthConfig(block_size=4)
    stereo = StereoDepth(cam0, cam1)
    with pytest.raises(MappingError, match="uint8"):
        stereo.points_rect(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8))
