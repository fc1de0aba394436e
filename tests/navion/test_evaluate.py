"""The trajectory evaluator: agreement with evo on real estimates, Umeyama, association, ATE, RPE."""
from __future__ import annotations

import math

import numpy as np
import pytest
from data_paths import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from datasets.tum import write_tum
from navion.evaluation import (
    EvaluationError,
    PoseSeries,
    Sim3,
    associate,
    evaluate,
    load_poses,
    plot_errors,
    plot_trajectories,
    umeyama,
)
from navion.evaluation.metrics import pairs_by_path

# evo 1.38.1 on these files: `evo_ape tum GT EST -a` (-as for mono) and
# `evo_rpe tum GT EST -a|-as --delta 1 --delta_unit m [-r angle_deg]`.
# Columns: estimate, ground truth, alignment, matched poses, ATE (rmse, mean, median, std,
# min, max) [m], RPE pairs, RPE translation rmse [m], RPE rotation rmse [deg].
EVO = [
    ("MH_01_vio_mono_estimate.txt", "MH_01_easy.txt", "sim3", 3638,
     (0.119133, 0.108613, 0.104027, 0.048948, 0.016964, 0.260609), 81, 0.051290, 0.332151),
    ("MH_01_vio_stereo_estimate.txt", "MH_01_easy.txt", "se3", 3638,
     (0.081336, 0.076556, 0.078897, 0.027472, 0.015744, 0.188745), 79, 0.030810, 0.245993),
    ("MH_03_vio_mono_estimate.txt", "MH_03_medium.txt", "sim3", 2565,
     (0.136330, 0.127448, 0.137448, 0.048403, 0.018245, 0.371052), 127, 0.066750, 9.206601),
    ("MH_03_vio_stereo_estimate.txt", "MH_03_medium.txt", "se3", 2631,
     (0.111092, 0.107786, 0.106565, 0.026903, 0.035416, 0.176071), 127, 0.043059, 0.310402),
    ("V2_01_vio_mono_estimate.txt", "V2_01_easy.txt", "sim3", 2165,
     (0.083680, 0.062355, 0.045583, 0.055805, 0.005291, 0.293529), 37, 0.057877, 1.387637),
    ("V2_01_vio_stereo_estimate.txt", "V2_01_easy.txt", "se3", 2240,
     (0.053591, 0.046398, 0.036783, 0.026818, 0.007474, 0.106675), 36, 0.031869, 0.628132),
]


@pytest.mark.parametrize("est_name, gt_name, align, matched, ate, pairs, rpe_m, rpe_deg", EVO,
                         ids=[row[0].replace("_estimate.txt", "") for row in EVO])
def test_agrees_with_evo(est_name, gt_name, align, matched, ate, pairs, rpe_m, rpe_deg):
    gt = load_poses(shared_data(f"euroc_groundtruth/{gt_name}"))
    est = load_poses(shared_data(f"peer_estimates/{est_name}"))
    result = evaluate(gt, est, align=align).to_dict()
    assert result["matched_poses"] == matched
    for key, expected in zip(("rmse_m", "mean_m", "median_m", "std_m", "min_m", "max_m"), ate):
        assert result["ate"][key] == pytest.approx(expected, abs=1e-4), key
    assert result["rpe"]["pairs"] == pairs
    assert result["rpe"]["rmse_m"] == pytest.approx(rpe_m, abs=1e-4)
    assert result["rpe"]["rot_rmse_deg"] == pytest.approx(rpe_deg, abs=1e-4)
    assert (result["scale"] == 1.0) == (align == "se3")


# -- synthetic trajectories --------------------------------------------------------------------

def _random_series(rng: np.random.Generator, n: int, start_ns: int = 1_000_000_000,
                   step_ns: int = 50_000_000) -> PoseSeries:
    """A smooth random walk of n poses."""
    p = np.cumsum(rng.normal(0.0, 0.1, (n, 3)), axis=0)
    rotvec = np.cumsum(rng.normal(0.0, 0.05, (n, 3)), axis=0)
    return PoseSeries(start_ns + step_ns * np.arange(n), p, Rotation.from_rotvec(rotvec).as_matrix())


def _random_sim3(rng: np.random.Generator, with_scale: bool) -> Sim3:
    R = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    return Sim3(R, rng.uniform(-10, 10, 3), float(rng.uniform(0.2, 5.0)) if with_scale else 1.0)


def _inverse(sim3: Sim3) -> Sim3:
    R_inv = sim3.R_ref_est.T
    return Sim3(R_inv, -R_inv @ sim3.t_ref_est / sim3.scale, 1.0 / sim3.scale)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), with_scale=st.booleans(), n=st.integers(3, 200),
       planar=st.booleans())
def test_umeyama_recovers_a_known_transform(seed, with_scale, n, planar):
    rng = np.random.default_rng(seed)
    p_est = rng.uniform(-5, 5, (n, 3))
    if planar:  # rank-2 points: the sign correction of eq. (43) must still give a rotation
        p_est[:, 2] = 0.0
    truth = _random_sim3(rng, with_scale)
    fit = umeyama(p_est, truth.apply_points(p_est), with_scale=with_scale)
    np.testing.assert_allclose(fit.R_ref_est, truth.R_ref_est, atol=1e-9)
    np.testing.assert_allclose(fit.t_ref_est, truth.t_ref_est, atol=1e-8)
    assert fit.scale == pytest.approx(truth.scale, rel=1e-10)
    assert np.linalg.det(fit.R_ref_est) == pytest.approx(1.0)


def test_umeyama_rejects_degenerate_input():
    with pytest.raises(EvaluationError, match="at least 3"):
        umeyama(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(EvaluationError, match="coincide"):
        umeyama(np.ones((5, 3)), np.random.default_rng(0).normal(size=(5, 3)), with_scale=True)


@pytest.mark.parametrize("align", ["se3", "sim3"])
def test_ate_is_zero_for_a_transformed_copy(align):
    rng = np.random.default_rng(7)
    gt = _random_series(rng, 300)
    world_shift = _random_sim3(rng, with_scale=align == "sim3")
    est = _inverse(world_shift).apply_poses(gt)  # the same motion seen in another world frame
    result = evaluate(gt, est, align=align)
    assert result.ate_stats.max < 1e-9
    assert result.rpe.translation_stats.max < 1e-9 and result.rpe.rotation_stats.max < 1e-5
    assert result.sim3.scale == pytest.approx(world_shift.scale)
    np.testing.assert_allclose(result.est_aligned.p_world_body, gt.p_world_body, atol=1e-9)
    np.testing.assert_allclose(result.est_aligned.R_world_body, gt.R_world_body, atol=1e-12)


def test_no_alignment_measures_raw_offset():
    gt = _random_series(np.random.default_rng(3), 50)
    est = PoseSeries(gt.timestamps_ns, gt.p_world_body + [0.3, 0.0, 0.4], gt.R_world_body)
    result = evaluate(gt, est, align="none")
    assert result.ate_stats.rmse == pytest.approx(0.5) and result.ate_stats.std < 1e-12
    assert result.sim3.scale == 1.0


# -- association --------------------------------------------------------------------------------

def _evo_reference_association(ref_ns, est_ns, max_diff_ns):
    """Brute force, as evo describes it: each stamp of the shorter trajectory (the estimate
    when equally long) takes its nearest stamp in the other (earliest on ties)."""
    est_short = len(ref_ns) >= len(est_ns)
    short, long = (est_ns, ref_ns) if est_short else (ref_ns, est_ns)
    pairs = [(int(np.argmin(np.abs(long - s))), k) for k, s in enumerate(short)]
    pairs = [(i, k) for i, k in pairs if abs(long[i] - short[k]) <= max_diff_ns]
    i_long = np.array([i for i, _ in pairs], dtype=np.int64)
    i_short = np.array([k for _, k in pairs], dtype=np.int64)
    return (i_long, i_short) if est_short else (i_short, i_long)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ref=st.integers(1, 80), n_est=st.integers(1, 80),
       max_diff_ms=st.sampled_from([0, 1, 10, 30]))
def test_association_matches_evo_semantics(seed, n_ref, n_est, max_diff_ms):
    rng = np.random.default_rng(seed)
    ref = np.cumsum(rng.integers(1, 40_000_000, n_ref))  # irregular stamps, ties possible
    est = np.cumsum(rng.integers(1, 40_000_000, n_est))
    max_diff_ns = max_diff_ms * 1_000_000
    expected = _evo_reference_association(ref, est, max_diff_ns)
    if len(expected[0]) == 0:
        with pytest.raises(EvaluationError, match="no poses matched"):
            associate(ref, est, max_diff_ns)
        return
    got = associate(ref, est, max_diff_ns)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_association_with_jitter_and_tolerance():
    step_ns = 50_000_000
    ref = 1_000_000_000 + step_ns * np.arange(400)                  # 20 Hz ground truth
    jitter = np.tile([3_000_000, -4_000_000, 12_000_000, 0], 50)     # 12 ms exceeds 10 ms
    est = ref[1:201] + jitter                                        # its stamps, jittered
    i_ref, i_est = associate(ref, est, 10_000_000)
    np.testing.assert_array_equal(i_est, np.flatnonzero(np.abs(jitter) <= 10_000_000))
    np.testing.assert_array_equal(i_ref, i_est + 1)
    assert len(associate(ref, est, 12_000_000)[0]) == 200


def test_association_ties_and_many_to_one():
    # The estimate is longer here, so the reference stamps pick their nearest estimate stamp;
    # 15 ms lies as far from 10 ms as from 20 ms: the earlier one wins.
    ref = np.array([15, 40]) * 1_000_000
    est = np.array([10, 20, 41, 50]) * 1_000_000
    np.testing.assert_array_equal(associate(ref, est, 10_000_000)[1], [0, 2])
    # Two estimate stamps may share one reference pose (evo does not pair one-to-one).
    i_ref, i_est = associate(np.array([0, 100_000_000, 200_000_000]), np.array([95, 105]) * 1_000_000)
    np.testing.assert_array_equal(i_ref, [1, 1])
    np.testing.assert_array_equal(i_est, [0, 1])


def test_no_overlap_and_too_few_matches_are_clear_errors():
    gt = _random_series(np.random.default_rng(1), 100)
    late = PoseSeries(gt.timestamps_ns + 10**12, gt.p_world_body, gt.R_world_body)
    with pytest.raises(EvaluationError, match=r"no poses matched within 0.01 s: reference has 100 poses"):
        evaluate(gt, late)
    two = PoseSeries(gt.timestamps_ns[:2], gt.p_world_body[:2], gt.R_world_body[:2])
    with pytest.raises(EvaluationError, match="only 2 poses matched .* at least 3"):
        evaluate(gt, two, align="sim3")
    assert evaluate(gt, two, align="none").to_dict()["matched_poses"] == 2
    with pytest.raises(EvaluationError, match="unknown alignment 'foo'"):
        evaluate(gt, gt, align="foo")
    with pytest.raises(EvaluationError, match="RPE delta"):
        evaluate(gt, gt, rpe_delta_m=0.0)


# -- RPE -----------------------------------------------------------------------------------------

def _line(n: int, step_m: float, yaw_step_rad: float = 0.0) -> PoseSeries:
    """Poses advancing ``step_m`` along the body's x axis and turning ``yaw_step_rad`` per step."""
    R = Rotation.from_euler("z", yaw_step_rad * np.arange(n)[:, None]).as_matrix()
    p = np.zeros((n, 3))
    for k in range(1, n):
        p[k] = p[k - 1] + R[k - 1] @ [step_m, 0.0, 0.0]
    return PoseSeries(10**9 + 10**8 * np.arange(n), p, R)


@pytest.mark.parametrize("align", ["none", "se3"])
def test_rpe_of_constant_scale_drift(align):
    """The estimate travels 1.25 m for each metre of ground truth: every pair spans 8
    estimate steps (1.25 m of path) and has 0.25 m of translation error."""
    gt, est = _line(200, 0.125), _line(200, 0.15625)
    result = evaluate(gt, est, align=align, rpe_delta_m=1.25 - 1e-9)
    np.testing.assert_array_equal(result.rpe.pairs[:3], [[0, 8], [8, 16], [16, 24]])
    assert len(result.rpe.pairs) == 199 // 8
    # SE(3) alignment moves the poses but not their relative motion.
    np.testing.assert_allclose(result.rpe.translation_m, 0.25, atol=1e-9)
    assert result.rpe.rotation_stats.max < 1e-6


def test_rpe_of_constant_yaw_drift():
    """A straight ground-truth line; the estimate turns omega per step. Over n steps of
    length a the estimate's relative translation is a * sum_k (cos k omega, sin k omega),
    the ground truth's (n a, 0): the error norm is a |sum_k e^(i k omega) - n| and the
    rotation error n omega."""
    a, omega, n = 0.125, math.radians(0.5), 8
    result = evaluate(_line(161, a), _line(161, a, omega), align="none", rpe_delta_m=n * a - 1e-9)
    assert len(result.rpe.pairs) == 160 // n
    expected_m = a * abs(sum(np.exp(1j * k * omega) for k in range(n)) - n)
    np.testing.assert_allclose(result.rpe.translation_m, expected_m, rtol=1e-9)
    np.testing.assert_allclose(result.rpe.rotation_deg, n * 0.5, rtol=1e-9)


def test_rpe_without_pairs_reports_none():
    gt = _line(20, 0.01)
    result = evaluate(gt, gt, rpe_delta_m=5.0)
    rpe = result.to_dict()["rpe"]
    assert rpe["pairs"] == 0 and rpe["rmse_m"] is None and rpe["rot_max_deg"] is None


def test_pairs_by_path_follows_evo():
    p = np.array([[0, 0, 0], [0.6, 0, 0], [1.2, 0, 0], [1.3, 0, 0], [2.5, 0, 0], [2.6, 0, 0]])
    np.testing.assert_array_equal(pairs_by_path(p, 1.0), [[0, 2], [2, 4]])
    assert pairs_by_path(p[:2], 1.0).shape == (0, 2)


# -- files and plots -------------------------------------------------------------------------------

def test_load_poses_reads_tum_and_euroc_csv_alike(tmp_path):
    rng = np.random.default_rng(5)
    stamps = 1_403_636_580_838_555_648 + 5_000_000 * np.arange(20)
    p = rng.normal(size=(20, 3))
    q_xyzw = Rotation.random(20, random_state=5).as_quat()
    write_tum(tmp_path / "gt.txt", stamps, p, q_xyzw)
    rows = [",".join([str(t), *map(repr, pi.tolist()), *map(repr, q[[3, 0, 1, 2]].tolist())])
            for t, pi, q in zip(stamps, p, q_xyzw)]
    (tmp_path / "data.csv").write_text("#timestamp,p_x,p_y,p_z,q_w,q_x,q_y,q_z\n" + "\n".join(rows) + "\n")
    (tmp_path / "gt_no_ext").write_text("\n".join(rows) + "\n")
    tum = load_poses(tmp_path / "gt.txt")
    for other in (load_poses(tmp_path / "data.csv"), load_poses(tmp_path / "gt_no_ext", quiet=True)):
        np.testing.assert_array_equal(other.timestamps_ns, stamps)
        np.testing.assert_array_equal(other.p_world_body, tum.p_world_body)
        np.testing.assert_allclose(other.R_world_body, tum.R_world_body, atol=1e-15)
    np.testing.assert_allclose(tum.R_world_body, Rotation.from_quat(q_xyzw).as_matrix(), atol=1e-15)


def test_load_poses_reads_a_euroc_sequence(euroc_micro):
    gt = load_poses(euroc_micro, quiet=True)
    assert len(gt) > 1000 and gt.timestamps_ns.dtype == np.int64


def test_plots_are_written(tmp_path):
    rng = np.random.default_rng(11)
    gt = _random_series(rng, 400)
    est = PoseSeries(gt.timestamps_ns, gt.p_world_body + rng.normal(0, 0.05, (400, 3)), gt.R_world_body)
    result = evaluate(gt, est, rpe_delta_m=0.5)
    for path in (plot_trajectories(gt, result.est_aligned, tmp_path / "trajectory.png"),
                 plot_errors(result, tmp_path / "errors.png")):
        assert path.is_file() and path.stat().st_size > 20_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
