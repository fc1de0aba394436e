"""Pareto ranks against a brute-force O(n^2) dominance reference; the config ranking rule."""
from __future__ import annotations

import numpy as np
import pytest

from navion.sweep.outputs import rank_configs
from navion.sweep.pareto import pareto_ranks


def brute_force_ranks(points: np.ndarray) -> np.ndarray:
    """Peel fronts by checking every pair for dominance (NaN rows: rank 0)."""
    n = len(points)
    ranks = np.zeros(n, dtype=int)
    remaining = {i for i in range(n) if not np.isnan(points[i]).any()}
    rank = 1
    while remaining:
        front = {i for i in remaining
                 if not any(np.all(points[j] <= points[i]) and np.any(points[j] < points[i]) for j in remaining)}
        for i in front:
            ranks[i] = rank
        remaining -= front
        rank += 1
    return ranks


@pytest.mark.parametrize("seed", range(30))
def test_ranks_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    if seed % 3 == 0:  # small integer grid: many ties and duplicates
        points = rng.integers(0, 5, (n, 2)).astype(float)
    else:
        points = rng.normal(size=(n, 2))
    if seed % 5 == 0:
        points[rng.random(n) < 0.2, int(rng.integers(2))] = np.nan
    np.testing.assert_array_equal(pareto_ranks(points), brute_force_ranks(points))


def test_simple_front():
    points = [[1, 5], [2, 2], [5, 1], [3, 3], [1, 5], [6, 6]]
    assert pareto_ranks(points).tolist() == [1, 1, 1, 2, 1, 3]
    assert pareto_ranks(np.empty((0, 2))).tolist() == []


def _row(config, sequence, ate, energy):
    return {"config": config, "sequence": sequence, "k": config, "ate_rmse_m": ate, "energy_per_frame_uj": energy,
            "power_mw": energy / 50, "peak_onchip_bytes": 1000.0, "resets": 0}


def test_configs_ranked_by_front_then_energy_with_failures_last():
    rows = [_row("a", "s1", 0.10, 10.0), _row("a", "s2", 0.20, 30.0),   # mean (0.15, 20)
            _row("b", "s1", 0.05, 50.0), _row("b", "s2", 0.05, 50.0),   # (0.05, 50): front
            _row("c", "s1", 0.30, 30.0), _row("c", "s2", 0.30, 30.0),   # (0.30, 30): dominated by a
            _row("d", "s1", None, 1.0), _row("d", "s2", 0.01, 1.0)]     # no ATE on s1: not ranked
    ranked = rank_configs(rows, ["k"])
    assert [c["config"] for c in ranked] == ["a", "b", "c", "d"]
    assert [c["pareto_rank"] for c in ranked] == [1, 1, 2, 0]
    assert ranked[0]["ate_mean_m"] == pytest.approx(0.15) and ranked[0]["ate_max_m"] == pytest.approx(0.20)
    assert ranked[0]["energy_per_frame_uj"] == pytest.approx(20.0) and ranked[3]["ate_mean_m"] is None
