"""FSMI beam and sensor MI against the brute-force references in fsmi_reference.py."""
from __future__ import annotations

import math

import numpy as np
import pytest
from fsmi_reference import beam_mi as reference_beam_mi
from fsmi_reference import info_gain as reference_info_gain
from fsmi_reference import lockstep_banks, ray_cells
from numba import njit

from accel_model.workload import NULL_WORKLOAD, Workload
from mapping import _kernels as K
from mapping.errors import MappingError
from mapping.fsmi import (
    BEAM_CELL_OPS,
    BEAM_OPS,
    BEAM_SETUP_OPS,
    PAIR_OPS,
    WALK_STEP_OPS,
    BankStats,
    beam_mi,
    beam_offsets,
    sensor_mi,
)


def random_beams(seed: int, count: int):
    """(p, cell size [m], sigma [m]) with n in 1..300, o in (0.01, 0.99), sigma 0.2..5 cells."""
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 3, 300] + list(rng.integers(1, 120, count - 4))
    for n in sizes:
        s = float(rng.choice([0.05, 0.1, 1.0]))
        yield rng.uniform(0.01, 0.99, n), s, float(rng.uniform(0.2, 5.0)) * s


def test_exact_equals_brute_force():
    for p, s, sigma in random_beams(0, 24):
        expected = reference_beam_mi(list(p), s, sigma)
        assert beam_mi(p, s, sigma) == pytest.approx(expected, rel=1e-9, abs=0)


def test_other_deltas_and_extreme_probabilities():
    rng = np.random.default_rng(1)
    for delta_occ, delta_emp in ((2.0, 0.5), (1.1, 0.3), (4.0, 0.9)):
        p = np.concatenate([rng.uniform(0.01, 0.99, 30), [1e-6, 1 - 1e-6, 0.5]])
        rng.shuffle(p)
        expected = reference_beam_mi(list(p), 0.1, 0.15, delta_occ, delta_emp)
        assert beam_mi(p, 0.1, 0.15, delta_occ, delta_emp) == pytest.approx(expected, rel=1e-9, abs=0)


def test_single_cell_by_hand():
    # one cell: MI = o G_00 f(delta_occ, r), G_00 = erf(s / (2 sqrt(2) sigma))
    o, s, sigma = 0.3, 0.1, 0.07
    r = o / (1 - o)
    f_occ = math.log((r + 1) / (r + 1 / 1.5)) - math.log(1.5) / (1.5 * r + 1)
    assert beam_mi([o], s, sigma) == pytest.approx(o * math.erf(s / (2 * math.sqrt(2) * sigma)) * f_occ, rel=1e-12)


def test_info_gain_matches_issue_form_and_is_positive():
    for p in np.linspace(0.001, 0.999, 57):
        for delta in (1.5, 1 / 1.5, 3.0, 0.2):
            value = K.info_gain(delta, p)
            assert value == pytest.approx(reference_info_gain(delta, p / (1 - p)), rel=1e-9, abs=1e-15)
            assert value > 0


def test_truncated_within_one_percent_and_equals_truncated_brute_force():
    for p, s, sigma in random_beams(2, 16):
        k = math.ceil(3 * sigma / s)
        exact = beam_mi(p, s, sigma)
        truncated = beam_mi(p, s, sigma, truncation=k)
        assert truncated == pytest.approx(exact, rel=0.01)
        assert truncated == pytest.approx(reference_beam_mi(list(p), s, sigma, truncation=k), rel=1e-9, abs=0)


def test_truncation_extremes():
    p = np.random.default_rng(3).uniform(0.05, 0.95, 12)
    assert beam_mi(p, 1.0, 2.0, truncation=11) == pytest.approx(beam_mi(p, 1.0, 2.0), rel=1e-14)
    assert beam_mi(p, 1.0, 2.0, truncation=500) == pytest.approx(beam_mi(p, 1.0, 2.0), rel=1e-14)
    zero = reference_beam_mi(list(p), 1.0, 2.0, truncation=0)
    assert beam_mi(p, 1.0, 2.0, truncation=0) == pytest.approx(zero, rel=1e-12)
    assert isinstance(beam_mi(p, 1.0, 2.0), float)


@njit
def _from_njit(p, k):
    return K.beam_mi_exact(p, 0.1, 0.2, 1.5, 1 / 1.5), K.beam_mi_truncated(p, 0.1, 0.2, 1.5, 1 / 1.5, k)


def test_kernels_callable_from_njit_code():
    p = np.random.default_rng(4).uniform(0.05, 0.95, 40)
    exact, truncated = _from_njit(p, 3)
    assert exact == pytest.approx(beam_mi(p, 0.1, 0.2), rel=1e-14)
    assert truncated == pytest.approx(beam_mi(p, 0.1, 0.2, truncation=3), rel=1e-14)


@pytest.mark.parametrize("kwargs, needle", [
    ({"p_occupied": [0.2, 1.0]}, "strictly between 0 and 1"),
    ({"p_occupied": [0.0, 0.4]}, "entry 0"),
    ({"p_occupied": [0.2, float("nan")]}, "entry 1"),
    ({"p_occupied": [[0.2, 0.3]]}, "1-D"),
    ({"p_occupied": "abc"}, "p_occupied"),
    ({"cell_size_m": 0.0}, "cell_size_m"),
    ({"sigma_m": -1.0}, "sigma_m"),
    ({"sigma_m": float("inf")}, "sigma_m"),
    ({"delta_occ": 1.0}, "delta_occ must be > 1"),
    ({"delta_emp": 1.2}, "delta_emp must be < 1"),
    ({"delta_emp": 0.0}, "delta_emp"),
    ({"truncation": -1}, "truncation"),
    ({"truncation": 2.5}, "truncation"),
    ({"truncation": True}, "truncation"),
])
def test_beam_mi_rejects_bad_input(kwargs, needle):
    args = {"p_occupied": [0.2, 0.6], "cell_size_m": 0.1, "sigma_m": 0.05, **kwargs}
    with pytest.raises(MappingError, match=needle):
        beam_mi(**args)


# --------------------------------------------------------------------------- sensors

def random_scene(seed: int, ny: int = 13, nx: int = 16, poses: int = 5):
    rng = np.random.default_rng(seed)
    grid = rng.uniform(0.02, 0.98, (ny, nx))
    origin, res = np.array([-1.3, 2.1]), 0.2
    xy = origin + rng.uniform(0, 1, (poses, 2)) * [nx * res, ny * res]
    return grid, origin, res, np.column_stack([xy, rng.uniform(-4, 4, poses)])


def reference_beams(grid, origin, res, pose, n_beams, fov, range_m):
    ny, nx = grid.shape
    x0, y0 = (pose[0] - origin[0]) / res, (pose[1] - origin[1]) / res
    return [ray_cells(x0, y0, math.cos(pose[2] + off), math.sin(pose[2] + off), range_m / res, nx, ny)
            for off in beam_offsets(n_beams, fov)]


@pytest.mark.parametrize("n_beams, fov, range_m, truncation", [(9, 2 * math.pi, 1.7, None), (5, 1.2, 10.0, 2)])
def test_sensor_mi_equals_per_beam_reference(n_beams, fov, range_m, truncation):
    grid, origin, res, poses = random_scene(5)
    got = sensor_mi(grid, origin, res, poses, n_beams=n_beams, fov_rad=fov, range_m=range_m, sigma_m=0.15,
                    truncation=truncation)
    for q, pose in enumerate(poses):
        beams = reference_beams(grid, origin, res, pose, n_beams, fov, range_m)
        expected = sum(beam_mi([grid[iy, ix] for ix, iy in cells], res, 0.15, truncation=truncation)
                       for cells in beams)
        assert got[q] == pytest.approx(expected, rel=1e-9, abs=0)


def test_sensor_on_cell_edge_and_single_pose():
    grid = np.full((4, 6), 0.3)
    # x exactly on the edge between cells 2 and 3: the beam towards -x starts in cell 2
    (one,) = sensor_mi(grid, (0.0, 0.0), 1.0, (3.0, 1.5, math.pi), n_beams=1, fov_rad=0.01, range_m=10)
    assert one == pytest.approx(beam_mi([0.3] * 3, 1.0, 0.05), rel=1e-12)


def test_sensor_mi_rejects_bad_input():
    grid, origin, res, poses = random_scene(6)
    with pytest.raises(MappingError, match="pose 1 .* outside the map"):
        sensor_mi(grid, origin, res, [poses[0], [100.0, 0.0, 0.0]])
    with pytest.raises(MappingError, match="fov_rad"):
        sensor_mi(grid, origin, res, poses, fov_rad=7.0)
    with pytest.raises(MappingError, match="poses"):
        sensor_mi(grid, origin, res, np.zeros((2, 2)))
    with pytest.raises(MappingError, match="origin_xy_m"):
        sensor_mi(grid, (0.0, 1.0, 2.0), res, poses)
    with pytest.raises(MappingError, match="n_beams"):
        sensor_mi(grid, origin, res, poses, n_beams=0)
    with pytest.raises(MappingError, match=r"grid_p .*entry \(0, 1\)"):
        bad = grid.copy()
        bad[0, 1] = 1.0
        sensor_mi(bad, origin, res, poses)


def test_sensor_workload_by_hand():
    # one row of 5 cells, sensor at the centre of cell 0, beams along +x (5 cells) and -x (1 cell)
    grid = np.full((1, 5), 0.2)
    wl = Workload("fsmi")
    plain = sensor_mi(grid, (0.0, 0.0), 0.1, (0.05, 0.05, math.pi / 2), n_beams=2, range_m=2.0, sigma_m=0.05)
    counted = sensor_mi(grid, (0.0, 0.0), 0.1, (0.05, 0.05, math.pi / 2), n_beams=2, range_m=2.0, sigma_m=0.05,
                        workload=wl)
    assert counted[0] == plain[0]
    beams, cells, pairs = 2, 5 + 1, 5 * 5 + 1 * 1  # exact: every pair of each beam
    expected = {kind: 0 for kind in ("mul", "add", "div", "compare", "sin")}
    for per_item, count in ((BEAM_CELL_OPS, cells), (PAIR_OPS, pairs), (BEAM_OPS, beams),
                            (BEAM_SETUP_OPS, beams), (WALK_STEP_OPS, cells)):
        for kind, n in per_item.items():
            expected[kind] += n * count
    assert {kind: wl.total_ops(kind) for kind in expected} == expected
    assert wl.buffers["occupancy_map"].reads_words == cells
    assert wl.buffers["occupancy_map"].word_bits == 8
    assert wl.buffers["mi_lut"].reads_words == 2 * cells + pairs
    assert wl.buffers["beam_buffer"].reads_words == pairs
    assert wl.buffers["mi_out"].writes_words == 1
    sensor_mi(grid, (0.0, 0.0), 0.1, (0.05, 0.05, 0.0), workload=NULL_WORKLOAD)
    assert not NULL_WORKLOAD.ops and not NULL_WORKLOAD.buffers


def test_sensor_banks_by_hand():
    # four axis beams from the centre cell of a 5 x 5 map, 2 banks by (ix + iy) mod 2:
    # step 0: all read the sensor cell (one access, 3 merged); steps 1, 2: four cells of
    # one parity each (4 accesses to one bank: 3 conflicts, 4 cycles)
    grid = np.full((5, 5), 0.2)
    banks = BankStats(n_banks=2, row_stride=1, parallel_units=4)
    sensor_mi(grid, (0.0, 0.0), 1.0, (2.5, 2.5, math.pi / 4), n_beams=4, range_m=10, bank_stats=banks)
    assert (banks.steps, banks.merged, banks.conflicts, banks.cycles) == (3, 3, 6, 1 + 4 + 4)
    assert banks.reads.tolist() == [1 + 4, 4]


def test_sensor_banks_and_workload_against_reference():
    grid, origin, res, poses = random_scene(7)
    banks = BankStats(n_banks=5, row_stride=3, parallel_units=4)
    wl = Workload("fsmi")
    sensor_mi(grid, origin, res, poses, n_beams=10, range_m=1.9, workload=wl, bank_stats=banks)
    groups = []
    for pose in poses:
        beams = reference_beams(grid, origin, res, pose, 10, 2 * math.pi, 1.9)
        groups += [beams[i:i + 4] for i in range(0, 10, 4)]
    reads, steps, conflicts, cycles, merged = lockstep_banks(groups, 5, 3)
    assert banks.reads.tolist() == reads
    assert (banks.steps, banks.conflicts, banks.cycles, banks.merged) == (steps, conflicts, cycles, merged)
    visited = sum(len(cells) for group in groups for cells in group)
    assert sum(wl.buffers[f"occupancy_bank{b}"].reads_words for b in range(5)) + banks.merged == visited
    assert sum(wl.buffers[f"occupancy_bank{b}"].peak_bytes for b in range(5)) == grid.size
