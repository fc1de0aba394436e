"""Memory model: derived buffers, compression and sparsity, spills, CPU caches, codec ratio."""
from __future__ import annotations

import dataclasses

import pytest

from accel_model.hardware import load_preset
from accel_model.memory import (
    BufferUse,
    Geometry,
    leakage_power_mw,
    measure_codec_ratio,
    memory_energy_pj,
    plan_memory,
)

N_KF, LANDMARKS, SLOTS = 9, 180, 900


def _uses() -> dict:
    dim = 15 * N_KF
    uses = [
        BufferUse("frontend", "frame_pyramid", 1e6, 1e5, 8, 1_400_000),
        BufferUse("frontend", "gradients", 1e5, 1e5, 16, 5_600_000),
        BufferUse("frontend", "line_buffer", 1e5, 1e5, 16, 7520),
        BufferUse("frontend", "feature_table", 2000, 2000, 32, LANDMARKS * 48),
        BufferUse("backend", "H_blocks", 4e5, 4e5, 64, 45 * 225 * 8),
        BufferUse("backend", "cholesky", 3e5, 2e4, 64, dim * dim * 8),
        BufferUse("backend", "landmark_blocks", 8e4, 2e4, 64, LANDMARKS * 96 + SLOTS * 144),
    ]
    return {(u.group, u.name): u for u in uses}


def _by_name(plan):
    return {b.name: b for b in plan.buffers}


def test_compression_and_sparsity_shrink_the_named_buffers():
    hw = load_preset("navion65")
    plan = _by_name(plan_memory(_uses(), Geometry(), hw, codec_ratio=2.0))
    slots = [plan[f"frame_pyramid/{i}"] for i in (1, 2, 3)]  # one array per image pyramid, a third of the traffic
    assert [s.size_bytes for s in slots] == pytest.approx([1_400_000 / 2 / 3] * 3)
    assert sum(s.naive_bytes for s in slots) == pytest.approx(1_400_000)
    assert [s.reads_per_frame for s in slots] == pytest.approx([1e6 / 3] * 3)
    cpu = _by_name(plan_memory(_uses(), Geometry(), load_preset("cpu"), codec_ratio=2.0))
    assert cpu["frame_pyramid"].size_bytes == 1_400_000  # one working set in the caches
    dim = 15 * N_KF
    assert plan["cholesky"].size_bytes == pytest.approx(dim * (dim + 1) / 2 * 4)  # triangle, 32-bit words
    full = dim + 3 * LANDMARKS  # the naive design solves poses and landmarks in one dense system
    assert plan["cholesky"].naive_bytes == pytest.approx(full * full * 4)
    assert plan["H_blocks"].size_bytes == pytest.approx(45 * 225 * 4)
    assert plan["landmark_blocks"].size_bytes == pytest.approx((LANDMARKS * 9 + SLOTS * 18) * 4)
    assert plan["landmark_blocks"].naive_bytes == pytest.approx((full * full - dim * dim) * 4)
    assert plan["H_blocks"].naive_bytes + plan["landmark_blocks"].naive_bytes == pytest.approx(full * full * 4)
    assert plan["gradients"].size_bytes == 5_600_000  # the recorded peak of the design's own dataflow
    assert plan["detection_mask"].derived and plan["map_tiles"].size_bytes == 0


def test_reduction_factor_is_naive_over_design_and_one_without_either_technique():
    hw = load_preset("navion65")
    plan = plan_memory(_uses(), Geometry(), hw, codec_ratio=2.0)
    assert plan.reduction_factor == pytest.approx(plan.naive_bytes / plan.total_bytes)
    assert plan.reduction_factor > 1.5
    plain = dataclasses.replace(hw, codec=False, h_storage="dense_full")
    assert plan_memory(_uses(), Geometry(), plain, codec_ratio=2.0).reduction_factor == pytest.approx(1.0)


def test_smaller_budget_spills_and_costs_more_offchip_energy():
    hw = load_preset("navion65")
    big = plan_memory(_uses(), Geometry(), hw, codec_ratio=2.0)
    small_hw = dataclasses.replace(hw, onchip_budget_bytes=64 * 1024)
    small = plan_memory(_uses(), Geometry(), small_hw, codec_ratio=2.0)
    assert small.spilled and small.onchip_bytes <= 64 * 1024
    offchip = lambda p, h: sum(g["offchip"] for g in memory_energy_pj(p, h).values())
    assert offchip(small, small_hw) > offchip(big, hw)
    assert leakage_power_mw(small, small_hw) < leakage_power_mw(big, hw)


def test_cpu_reaches_dram_only_for_buffers_beyond_the_last_cache():
    cpu = load_preset("cpu")
    plan = plan_memory(_uses(), Geometry(), cpu)
    energy = memory_energy_pj(plan, cpu)
    assert energy["frontend"]["offchip"] > 0  # 1.4 MB pyramid, 5.6 MB gradients > 1 MB L2
    assert energy["backend"]["offchip"] == 0
    assert all(b.onchip for b in plan.buffers)


def test_cpu_pays_a_whole_l1_word_per_access_and_misses_by_bytes_touched():
    """An 8-bit and a 64-bit access to an L1-resident buffer cost the same; beyond L1 the
    miss traffic still follows the bytes touched (8-bit words miss 8x less often)."""
    from accel_model.energy import sram_access_pj
    from accel_model.memory import _cpu_access_pj

    cpu = load_preset("cpu")
    small = [BufferUse("frontend", "line_buffer", 1e5, 0, bits, 4096) for bits in (8, 64)]
    plans = [_by_name(plan_memory({("frontend", "line_buffer"): u}, Geometry(), cpu))["line_buffer"] for u in small]
    costs = [_cpu_access_pj(b, cpu)[0] for b in plans]
    overhead = cpu.instruction_overhead_pj * cpu.frontend.instructions_per_op
    assert costs[0] == costs[1] == pytest.approx(sram_access_pj(32768, 64) + overhead)
    big = [BufferUse("frontend", "frame_pyramid", 1e5, 0, bits, 500_000) for bits in (8, 64)]
    plans = [_by_name(plan_memory({("frontend", "frame_pyramid"): u}, Geometry(), cpu))["frame_pyramid"] for u in big]
    l2 = [_cpu_access_pj(b, cpu)[0] - sram_access_pj(32768, 64) - overhead for b in plans]
    assert l2[1] == pytest.approx(8 * l2[0])


def test_codec_ratio_measured_on_real_frames(euroc_micro):
    pytest.importorskip("accel_model.codec")
    ratio, geometry, note = measure_codec_ratio(euroc_micro, samples=2)
    assert geometry.width_px == 752 and geometry.height_px == 480 and geometry.imu_rate_hz == 200
    assert geometry.fps == pytest.approx(20, rel=0.01)
    assert 1.3 < ratio < 4 and "2 stereo pairs" in note


def test_missing_sequence_falls_back_to_euroc_geometry(tmp_path):
    ratio, geometry, note = measure_codec_ratio(tmp_path / "none", samples=2)
    assert ratio is None and geometry == Geometry() and "unavailable" in note


def test_knapsack_matches_brute_force():
    """The on-chip allocation keeps the most traffic that fits (brute force over small sets)."""
    import itertools

    import numpy as np

    from accel_model.memory import _knapsack

    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.integers(1, 8))
        w = [int(x) for x in rng.integers(0, 10, n)]
        v = [float(x) for x in rng.uniform(0, 5, n)]
        cap = int(rng.integers(0, 25))
        chosen = _knapsack(w, v, cap)
        assert sum(w[i] for i in chosen) <= cap
        best = max(sum(v[i] for i in s) for r in range(n + 1) for s in itertools.combinations(range(n), r)
                   if sum(w[i] for i in s) <= cap)
        assert sum(v[i] for i in chosen) == pytest.approx(best)


def test_codec_ratio_is_measured_once_per_sequence(euroc_micro, monkeypatch):
    import accel_model.codec as codec

    calls = []
    real_encode = codec.encode
    monkeypatch.setattr(codec, "encode", lambda image, near=0: calls.append(1) or real_encode(image, near=near))
    first = measure_codec_ratio(euroc_micro, samples=3, near=1)
    n = len(calls)
    assert n == 6  # three stereo pairs
    assert measure_codec_ratio(euroc_micro, samples=3, near=1) == first and len(calls) == n
    measure_codec_ratio(euroc_micro, samples=3, near=2)  # another mode is measured anew
    assert len(calls) == 2 * n


def test_detection_mask_is_a_bit_mask_in_size_and_traffic():
    """W x H bits stored; each recorded access moves one bit, priced as such on chip."""
    from accel_model.energy import node_scale, sram_access_pj

    hw = dataclasses.replace(load_preset("navion65"), onchip_budget_bytes=1 << 23)  # everything on chip
    uses = _uses() | {("frontend", "detection_mask"): BufferUse("frontend", "detection_mask", 3e5, 2e5, 1)}
    plan = plan_memory(uses, Geometry(), hw, codec_ratio=2.0)
    mask = _by_name(plan)["detection_mask"]
    assert mask.size_bytes == 752 * 480 / 8 and mask.access_bits == 1
    without = plan_memory(_uses(), Geometry(), hw, codec_ratio=2.0)
    extra = memory_energy_pj(plan, hw)["frontend"]["onchip"] - memory_energy_pj(without, hw)["frontend"]["onchip"]
    assert mask.onchip
    assert extra == pytest.approx(5e5 * sram_access_pj(752 * 480 / 8, 1) * node_scale(65, 1.0))
