"""``navion eval``: JSON output, the table, plots, and one-line errors with exit code 2."""
from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import run
from data_paths import shared_data
from scipy.spatial.transform import Rotation

from datasets.tum import write_tum
from navion.cli import main

ATE_KEYS = {"rmse_m", "mean_m", "median_m", "std_m", "min_m", "max_m"}
RPE_KEYS = ATE_KEYS | {"delta_m", "pairs"} | {f"rot_{k[:-2]}_deg" for k in ATE_KEYS}


@pytest.fixture()
def pair(tmp_path):
    """A 20 s ground truth at 200 Hz (TUM) and a noisy 20 Hz estimate of it in another world frame."""
    rng = np.random.default_rng(0)
    t_ns = 1_403_636_580_000_000_000 + 5_000_000 * np.arange(4000)
    s = np.arange(4000) * 0.005
    p = np.column_stack([2 * np.cos(0.3 * s), 2 * np.sin(0.3 * s), 0.2 * np.sin(s)])
    q = Rotation.from_euler("z", 0.3 * s[:, None]).as_quat()
    gt = write_tum(tmp_path / "gt.txt", t_ns, p, q)
    shift = Rotation.from_euler("xyz", [0.1, -0.2, 1.0])
    sub = slice(0, None, 10)
    p_est = shift.apply(p[sub] + rng.normal(0, 0.01, p[sub].shape)) + [5.0, -1.0, 0.5]
    est = write_tum(tmp_path / "est.txt", t_ns[sub] + 1_000_000, p_est, (shift * Rotation.from_quat(q[sub])).as_quat())
    return gt, est


def test_json_keys_and_values(capsys, pair):
    gt, est = pair
    code, out, err = run(capsys, "eval", "--gt", gt, "--est", est, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"ate", "rpe", "matched_poses", "alignment", "scale"}
    assert set(result["ate"]) == ATE_KEYS and set(result["rpe"]) == RPE_KEYS
    assert result["matched_poses"] == 400 and result["alignment"] == "se3" and result["scale"] == 1.0
    assert 0.005 < result["ate"]["rmse_m"] < 0.03
    assert result["rpe"]["delta_m"] == 1.0 and result["rpe"]["pairs"] > 10


def test_options_reach_the_evaluation(capsys, pair):
    gt, est = pair
    code, out, _ = run(capsys, "eval", "--gt", gt, "--est", est, "--json", "--align", "sim3",
                       "--delta", "2", "--delta-unit", "m", "--max-diff", "0.0005")
    assert code == 2  # the estimate is 1 ms late: nothing within 0.5 ms
    code, out, _ = run(capsys, "eval", "--gt", gt, "--est", est, "--json", "--align", "sim3", "--delta", "2")
    result = json.loads(out)
    assert result["alignment"] == "sim3" and result["scale"] != 1.0 and result["rpe"]["delta_m"] == 2.0


def test_table_and_plots(capsys, pair, tmp_path):
    gt, est = pair
    code, out, _ = run(capsys, "eval", "--gt", gt, "--est", est, "--plot", tmp_path / "plots")
    assert code == 0
    assert "ATE [m]" in out and "rmse" in out and "400 matched poses" in out
    for name in ("trajectory.png", "errors.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 20_000


def test_euroc_csv_ground_truth(capsys, pair, tmp_path):
    from datasets.tum import read_tum

    gt, est = pair
    traj = read_tum(gt)
    rows = [",".join([str(t), *map(repr, p.tolist()), *map(repr, q.tolist())])
            for t, p, q in zip(traj.timestamps_ns.tolist(), traj.p_world_body, traj.q_world_body_wxyz)]
    csv = tmp_path / "data.csv"
    csv.write_text("#timestamp [ns],p_RS_R_x [m],p_RS_R_y [m],p_RS_R_z [m],"
                   "q_RS_w [],q_RS_x [],q_RS_y [],q_RS_z []\n" + "\n".join(rows) + "\n")
    from_tum = json.loads(run(capsys, "eval", "--gt", gt, "--est", est, "--json")[1])
    from_csv = json.loads(run(capsys, "eval", "--gt", csv, "--est", est, "--json")[1])
    assert from_csv == from_tum


def test_real_peer_estimate(capsys):
    gt = shared_data("euroc_groundtruth/MH_01_easy.txt")
    est = shared_data("peer_estimates/MH_01_vio_stereo_estimate.txt")
    code, out, _ = run(capsys, "eval", "--gt", gt, "--est", est, "--json")
    assert code == 0 and json.loads(out)["ate"]["rmse_m"] == pytest.approx(0.081336, abs=1e-4)


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file or folder"),
    ("malformed", "bad.txt:3: expected 8 columns"),
    ("no_overlap", "no poses matched within 0.01 s"),
    ("too_few", "only 2 poses matched within 0.01 s; se3 alignment needs at least 3"),
    ("bad_align", "unknown alignment 'affine' (choose se3, sim3 or none)"),
    ("bad_delta", "the RPE delta must be a positive distance"),
])
def test_errors_are_one_line_with_exit_code_2(capsys, pair, tmp_path, case, message):
    gt, est = pair
    lines = est.read_text().splitlines()
    argv = {
        "missing": ["--est", tmp_path / "nope.txt"],
        "malformed": ["--est", _write(tmp_path / "bad.txt", "\n".join(lines[:2] + ["1.0 2.0 3.0"]) + "\n")],
        "no_overlap": ["--est", _write(tmp_path / "late.txt", "1.0 0 0 0 0 0 0 1\n2.0 0 0 0 0 0 0 1\n")],
        "too_few": ["--est", _write(tmp_path / "short.txt", "\n".join(lines[:3]) + "\n")],
        "bad_align": ["--est", est, "--align", "affine"],
        "bad_delta": ["--est", est, "--delta", "0"],
    }[case]
    code, out, err = run(capsys, "eval", "--gt", gt, *argv)
    assert code == 2 and out == ""
    assert err.startswith("navion: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    assert "--align" in help_text and "--max-diff" in help_text and "--plot" in help_text
