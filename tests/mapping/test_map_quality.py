"""Map quality acceptance: a map built from SGBM depth at true poses against the true world.

The synthetic sequence is rendered lazily (only the frames the map integrates), along the
moving part of the built-in hall trajectory. Definitions of precision (within one voxel of
a true surface) and recall (exact, of the surface voxels the true rays hit) are in :mod:`mapping.occupancy.quality`; benchmarks/map_quality.py runs the same
on a whole generated sequence.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from datasets.calibration import euroc_cameras
from datasets.messages import CameraFrame, StereoFrame
from datasets.synth.config import SynthConfig
from datasets.synth.generate import make_scene
from datasets.synth.render import StereoRenderer
from mapping.occupancy import OccupancyGrid3D
from mapping.occupancy.integrate import MapBuildConfig, build_map
from mapping.occupancy.quality import map_quality
from mapping.occupancy.stereo_depth import StereoDepth

T0_S, T1_S, STEP_S = 4.0, 11.0, 0.5  # moving part of the default trajectory, 2 frames per second


class RenderedSequence:
    """The part of the sequence interface build_map uses; each frame renders on first access."""

    def __init__(self, scene, times_s: np.ndarray):
        self.cam0, self.cam1 = euroc_cameras()
        self._renderer = StereoRenderer(scene.world, (self.cam0, self.cam1), image_noise_sigma=1.0)
        truth = scene.trajectory.evaluate(times_s)
        self._T = np.tile(np.eye(4), (len(times_s), 1, 1))
        self._T[:, :3, :3], self._T[:, :3, 3] = truth.R_world_body, truth.p_world_body
        self.stereo_timestamps_ns = scene.trajectory.start_ns + np.round(times_s * 1e9).astype(np.int64)
        self.poses = SimpleNamespace(timestamps_ns=self.stereo_timestamps_ns, p_world_body=truth.p_world_body,
                                     R_world_body=truth.R_world_body)

    def _pair(self, k: int, cache: dict) -> list:
        if not cache:
            cache["pair"] = self._renderer.render(self._T[k], rng=np.random.default_rng(k))
        return cache["pair"]

    def stereo_frames(self):
        for k, t in enumerate(self.stereo_timestamps_ns.tolist()):
            cache: dict = {}
            yield StereoFrame(t, CameraFrame(t, "cam0", "<render>", loader=lambda k=k, c=cache: self._pair(k, c)[0]),
                              CameraFrame(t, "cam1", "<render>", loader=lambda k=k, c=cache: self._pair(k, c)[1]))


def test_map_precision_and_recall_at_true_poses():
    config = SynthConfig(realism="ideal", duration_s=T1_S + 1.0)
    scene = make_scene(config)
    sequence = RenderedSequence(scene, np.arange(T0_S, T1_S + 1e-9, STEP_S))
    build_config = MapBuildConfig(every_n_frames=1, count_workload=False)
    build = build_map(sequence, sequence.poses, build_config)
    assert len(build.timestamps_ns) == len(sequence.stereo_timestamps_ns)
    stereo = StereoDepth(sequence.cam0, sequence.cam1, build_config.stereo)
    quality = map_quality(build.grid, scene.world, build.T_world_body @ stereo.T_body_rect, stereo)
    assert quality["observed_surface_voxels"] > 2000  # the frames see a good part of the hall
    assert quality["precision"] >= 0.9 and quality["recall"] >= 0.7, quality
    # the same map displaced by three voxels must fail the check: the measure can fail
    grid = build.grid
    shifted = OccupancyGrid3D(grid.origin_m + 0.3, grid.resolution_m, grid.shape, grid.config,
                              log_odds=grid.log_odds)
    assert map_quality(shifted, scene.world, build.T_world_body @ stereo.T_body_rect, stereo)["precision"] < 0.7
