"""Front-end end to end: the real EuRoC fragment, and a synthetic sequence scored against
the renderer's exact depth and the ground-truth poses."""
from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np
import pytest

from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence, make_scene
from datasets.synth.render import StereoRenderer
from vio.frontend import Frontend


@pytest.fixture(scope="module")
def real_run(euroc_micro):
    seq = open_euroc(euroc_micro)
    fe = Frontend(seq.cam0, seq.cam1)
    return [fe.process(frame) for frame in seq.stereo_frames()]


def test_real_fragment_tracks_many_features_with_stereo(real_run):
    assert len(real_run) == 95
    assert np.mean([len(o) for o in real_run]) >= 100
    stereo_share = np.sum([o.n_stereo for o in real_run]) / np.sum([len(o) for o in real_run])
    assert stereo_share > 0.5
    for o in real_run:
        assert o.ids.dtype == np.int64 and len(np.unique(o.ids)) == len(o.ids)
        assert np.all(np.diff(o.ids) > 0)
        assert np.all(np.isnan(o.uv_right[~o.has_right])) and np.all(np.isfinite(o.uv_right[o.has_right]))
        assert o.workloads[0].stage == "frontend" and o.workloads[0].total_ops() > 0


def test_real_fragment_ids_persist_while_nearly_static(real_run):
    first, last = real_run[0], real_run[-1]
    survivors = np.isin(first.ids, last.ids).mean()
    assert survivors > 0.6
    assert np.mean(last.age) > 60  # frames; the vehicle barely moves for 4.7 s
    assert sum(o.n_new for o in real_run[1:]) < 0.5 * len(first)
    ages = {int(i): int(a) for i, a in zip(last.ids, last.age)}
    assert all(ages[i] == 94 for i in first.ids if i in ages)


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    """4 s hall sequence (2 s rest, then motion), processed with gyro-exact rotations."""
    config = SynthConfig(realism="ideal", duration_s=4, seed=7)
    out = tmp_path_factory.mktemp("synth_frontend")
    generate_sequence(out, config)
    scene = make_scene(config)
    seq = open_euroc(out)
    traj = scene.trajectory
    renderer = StereoRenderer(scene.world, (seq.cam0, seq.cam1))
    fe = Frontend(seq.cam0, seq.cam1)
    runs, prev_T_world_cam = [], None
    for frame in seq.stereo_frames():
        s = traj.evaluate([(frame.timestamp_ns - traj.start_ns) * 1e-9])
        T_world_body = np.eye(4)
        T_world_body[:3, :3], T_world_body[:3, 3] = s.R_world_body[0], s.p_world_body[0]
        T_world_cam = T_world_body @ seq.cam0.T_body_cam
        R_pred = None if prev_T_world_cam is None else prev_T_world_cam[:3, :3].T @ T_world_cam[:3, :3]
        out_tracks = fe.process(frame, R_pred)
        range_m, _ = renderer.trace(0, T_world_body)
        uv = np.clip(np.round(out_tracks.uv_left_px).astype(int), 0, [seq.cam0.width - 1, seq.cam0.height - 1])
        xy = (out_tracks.uv_left - seq.cam0.K[:2, 2]) / np.diag(seq.cam0.K)[:2]
        depth = range_m[uv[:, 1], uv[:, 0]] / np.sqrt(1.0 + np.sum(xy**2, axis=1))  # range along the ray -> z
        runs.append((out_tracks, T_world_cam, depth))
        prev_T_world_cam = T_world_cam
    return seq, fe, runs


def test_synthetic_stereo_depth_matches_rendered_depth(synth_run):
    seq, _, runs = synth_run
    T_cam1_cam0 = np.linalg.inv(seq.cam1.T_body_cam) @ seq.cam0.T_body_cam
    P0, P1 = seq.cam0.K @ np.eye(3, 4), seq.cam1.K @ T_cam1_cam0[:3]
    rel = []
    for tracks, _, depth in runs:
        m = tracks.has_right
        X = cv2.triangulatePoints(P0, P1, tracks.uv_left[m].T, tracks.uv_right[m].T)
        rel.append(np.abs(X[2] / X[3] - depth[m]) / depth[m])
    rel = np.concatenate(rel)
    assert len(rel) > 0.6 * sum(len(t) for t, _, _ in runs)
    assert np.median(rel) < 0.02
    assert np.mean(rel < 0.05) > 0.9


def test_synthetic_tracks_follow_ground_truth_motion(synth_run):
    _, fe, runs = synth_run
    errors, moved = [], []
    for (prev, T_prev, depth_prev), (cur, T_cur, _) in pairwise(runs):
        _, ip, ic = np.intersect1d(prev.ids, cur.ids, return_indices=True)
        xy = (prev.uv_left[ip] - fe.und0.K[:2, 2]) / np.diag(fe.und0.K)[:2]
        p_prev = np.column_stack([xy, np.ones(len(ip))]) * depth_prev[ip, None]
        T_cur_prev = np.linalg.inv(T_cur) @ T_prev
        predicted = fe.und0.project(p_prev @ T_cur_prev[:3, :3].T + T_cur_prev[:3, 3])
        errors.append(np.linalg.norm(predicted - cur.uv_left_px[ic], axis=1))
        moved.append(np.linalg.norm(prev.uv_left_px[ip] - cur.uv_left_px[ic], axis=1))
    errors, moved = np.concatenate(errors), np.concatenate(moved)
    assert np.percentile(moved, 90) > 2.0  # the sequence really moves
    assert np.median(errors) < 0.1
    assert np.mean(errors < 1.0) > 0.97


def test_synthetic_keyframes_follow_motion(synth_run):
    _, _, runs = synth_run
    flags = [t.is_keyframe for t, _, _ in runs]
    rest = len(runs) // 2 - 2  # the trajectory rests for the first 2 s
    assert flags[0] and not any(flags[1:rest])
    assert any(flags[rest:])
