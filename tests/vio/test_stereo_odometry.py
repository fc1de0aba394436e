"""Stereo PnP odometry against ground-truth relative poses of a synthetic window."""
import numpy as np

from vio.backend.problem import make_window_problem
from vio.stereo_odometry import StereoOdometry, relative_pose


class _Tracks:
    def __init__(self, ids, uv_left, uv_right):
        self.ids, self.uv_left, self.uv_right = ids, uv_left, uv_right
        self.has_right = np.ones(len(ids), bool)


def _frames(problem):
    obs = problem.observations
    for k in range(len(problem.states_true)):
        sel = obs.keyframe == k
        order = np.argsort(obs.landmark[sel])
        yield _Tracks(obs.landmark[sel][order], obs.uv_left[sel][order], obs.uv_right[sel][order])


def test_chained_poses_match_truth():
    problem = make_window_problem(n_keyframes=6, n_landmarks=150, obs_per_landmark=5, pixel_sigma=0.3, seed=2)
    odo = StereoOdometry(problem.rig)
    for t, tracks in zip(problem.timestamps_ns, _frames(problem)):
        assert odo.add(t, tracks)
    truth = problem.poses_true()
    T0_inv = np.linalg.inv(truth[0])
    for T_est, T_true in zip(odo.poses, truth):
        T_rel = T0_inv @ T_true
        assert np.linalg.norm(T_est[:3, 3] - T_rel[:3, 3]) < 0.03
        angle = np.arccos(np.clip((np.trace(T_est[:3, :3].T @ T_rel[:3, :3]) - 1) / 2, -1, 1))
        assert np.degrees(angle) < 0.5


def test_pnp_fails_cleanly_without_common_tracks():
    problem = make_window_problem(n_keyframes=3, n_landmarks=40, seed=1)
    a, b, _ = _frames(problem)
    b.ids = b.ids + 10_000
    assert relative_pose(problem.rig, a, b) is None
    odo = StereoOdometry(problem.rig)
    odo.add(0, a)
    assert not odo.add(1, b) and len(odo) == 1
