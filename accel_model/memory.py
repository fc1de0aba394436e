"""Memory model: the on-chip buffers of each stage, their peak sizes, spills and access energy.

Buffers come from the measured workload (peak bytes and words read/written per buffer)
and, where the workload records no peak, from the configuration and sequence geometry
(formulas in ``docs/energy_model.md``). Each buffer gets the size the design stores it
at (compressed frames, symmetric and sparse solver blocks, narrowed words) and the size
of a *naive* design that differs only in using neither compression nor sparsity; their
ratio is the memory reduction factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from .energy import EnergyModelError, node_scale, op_pj, sram_access_pj
from .hardware import HardwareConfig

STATE_DIM = 15  # keyframe error state: rotation, position, velocity, gyro and accel bias
PREINT_WORDS = 15 + 81 + 45  # dR, dv, dp; 9x9 covariance; bias Jacobians (Forster et al. 2017)
FEATURE_ENTRY_BYTES = 48  # front-end feature table entry (docs/frontend_workload.md)
# The frame store's three pyramids (previous left, current left and right): their roles rotate
# from frame to frame, so over a run each slot carries a third of the traffic.
FRAME_SLOTS = 3
CPU_WORD_BITS = 64  # L1 access width of the CPU model (Horowitz's cache energies are 64-bit accesses)


@dataclass(frozen=True)
class BufferUse:
    """What the workload records for one buffer: mean words read/written per frame,
    word width [bits] and the largest peak [bytes] over the run."""

    group: str
    name: str
    reads_per_frame: float = 0.0
    writes_per_frame: float = 0.0
    word_bits: int = 64
    peak_bytes: int = 0


@dataclass(frozen=True)
class Geometry:
    """Sequence facts the buffers depend on: image size [px], frame and IMU rates [Hz]."""

    width_px: int = 752
    height_px: int = 480
    fps: float = 20.0
    imu_rate_hz: float = 200.0


@dataclass(frozen=True)
class PlannedBuffer:
    """One buffer of the design: stored size and naive size [bytes], traffic per frame in
    words of ``access_bits`` (bits moved per word access after compression), placement."""

    group: str
    name: str
    size_bytes: float
    naive_bytes: float
    word_bits: int
    access_bits: float
    reads_per_frame: float
    writes_per_frame: float
    derived: bool
    onchip: bool = True

    @property
    def accesses_per_frame(self) -> float:
        return self.reads_per_frame + self.writes_per_frame


@dataclass(frozen=True)
class MemoryPlan:
    """All buffers with their placement; sizes [bytes]."""

    buffers: tuple[PlannedBuffer, ...]
    budget_bytes: int
    codec_ratio: float | None

    @property
    def total_bytes(self) -> float:
        return sum(b.size_bytes for b in self.buffers)

    @property
    def onchip_bytes(self) -> float:
        return sum(b.size_bytes for b in self.buffers if b.onchip)

    @property
    def naive_bytes(self) -> float:
        return sum(b.naive_bytes for b in self.buffers)

    @property
    def reduction_factor(self) -> float:
        return self.naive_bytes / self.total_bytes if self.total_bytes > 0 else 1.0

    @property
    def spilled(self) -> list[str]:
        return [b.name for b in self.buffers if not b.onchip]


def _narrow(bits: int, max_bits: int) -> int:
    return min(bits, max_bits) if max_bits else bits


class _Planner:
    """Derives the buffer list for one design from the workload uses and geometry."""

    def __init__(self, uses: dict[tuple[str, str], BufferUse], geometry: Geometry, hw: HardwareConfig,
                 codec_ratio: float | None):
        self.uses, self.geo, self.hw = uses, geometry, hw
        self.ratio = codec_ratio if (hw.codec and codec_ratio) else 1.0
        self.sparse = hw.h_storage == "sparse_symmetric"
        chol = self._peak("backend", "cholesky")  # recorded dense (15N)^2 float64
        self.n_kf = round(math.sqrt(chol / 8) / STATE_DIM) if chol else 0
        self.n_landmarks = self._peak("frontend", "feature_table") // FEATURE_ENTRY_BYTES
        lm_peak = self._peak("backend", "landmark_blocks")  # Hll (L,3,3), gl (L,3), W (P,6,3) float64
        self.n_slots = max(self.n_landmarks, round((lm_peak - 96 * self.n_landmarks) / 144)) if lm_peak else 0
        self.out: list[PlannedBuffer] = []
        self.planned: set[tuple[str, str]] = set()  # recorded buffers given a place (by ``add``)

    def _peak(self, group: str, name: str) -> int:
        use = self.uses.get((group, name))
        return use.peak_bytes if use else 0

    def add(self, group: str, name: str, words: float, naive_words: float | None = None, bits: int | None = None,
            compressed: bool = False) -> None:
        """A buffer of ``words`` stored words (``naive_words`` in the naive design)."""
        use = self.uses.get((group, name), BufferUse(group, name))
        word_bits = _narrow(bits or use.word_bits, self.hw.arithmetic(group).max_bits)
        ratio = self.ratio if compressed else 1.0
        naive = words if naive_words is None else naive_words
        self.planned.add((group, name))
        self.out.append(PlannedBuffer(group, name, words * word_bits / 8 / ratio, naive * word_bits / 8, word_bits,
                                      word_bits / ratio, use.reads_per_frame, use.writes_per_frame,
                                      derived=(group, name) not in self.uses or not use.peak_bytes))

    def recorded(self, group: str, name: str) -> float:
        """Words of the recorded peak of ``name``."""
        use = self.uses.get((group, name))
        return use.peak_bytes * 8 / use.word_bits if use else 0.0

    def frontend(self) -> None:
        w, h = self.geo.width_px, self.geo.height_px
        self.add("frontend", "frame_pyramid", self.recorded("frontend", "frame_pyramid"), compressed=True)
        if not self.hw.is_cpu:  # an accelerator places each image's pyramid on its own
            whole = self.out.pop()
            self.out += [replace(whole, name=f"frame_pyramid/{i}", size_bytes=whole.size_bytes / FRAME_SLOTS,
                                 naive_bytes=whole.naive_bytes / FRAME_SLOTS,
                                 reads_per_frame=whole.reads_per_frame / FRAME_SLOTS,
                                 writes_per_frame=whole.writes_per_frame / FRAME_SLOTS)
                         for i in range(1, FRAME_SLOTS + 1)]
        self.add("frontend", "gradients", self.recorded("frontend", "gradients"))  # the design's own dataflow
        self.add("frontend", "line_buffer", self.recorded("frontend", "line_buffer") or 5 * w, bits=16)
        self.add("frontend", "corner_scores", self.recorded("frontend", "corner_scores") or 3 * w, bits=32)
        self.add("frontend", "detection_mask", w * h, bits=1)  # one bit per pixel
        self.add("frontend", "feature_table", self.recorded("frontend", "feature_table"), bits=32)
        # decoded rows for window reads from compressed frames: a cost of compression (naive: none)
        self.add("frontend", "frame_band", self.recorded("frontend", "frame_band"), naive_words=0, bits=8)

    def backend(self) -> None:
        n, lms, slots = self.n_kf, self.n_landmarks, self.n_slots
        samples = math.ceil(self.geo.imu_rate_hz / self.geo.fps) + 1
        self.add("backend", "imu_buffer", 2 * samples * 8, bits=64)  # double-buffered: stamp + 6 readings + pad
        self.add("backend", "preintegration_state", PREINT_WORDS)
        self.add("backend", "imu_factors", max(n - 1, 0) * PREINT_WORDS)
        self.add("backend", "states", n * (STATE_DIM + 1))  # + stamp
        self.add("backend", "landmark_table", lms * 4)  # inverse depth, anchor bearing, anchor index
        self.add("backend", "observations", slots * 4)  # stereo pixel pairs
        dim = STATE_DIM * n
        full = dim + 3 * lms  # poses and landmarks in one system (no Schur complement)
        h_sparse = self.recorded("backend", "H_blocks") or dim * (dim + 1) / 2
        lm_sparse = lms * (6 + 3) + slots * 6 * 3  # Hll upper triangle, b_l, pose columns of observed slots
        lm_dense = lms * (9 + 3) + lms * n * STATE_DIM * 3  # full Hll, every keyframe, every state column
        lm_full = full * full - dim * dim  # the landmark rows and columns of the full dense H
        if self.hw.h_storage == "dense_full":
            h, lm, chol, rhs = dim * dim, lm_full, full * full, full
        elif self.sparse:
            h, lm, chol, rhs = h_sparse, lm_sparse, dim * (dim + 1) / 2, dim
        else:
            h, lm, chol, rhs = dim * dim, lm_dense, dim * dim, dim
        self.add("backend", "H_blocks", h, naive_words=dim * dim)
        self.add("backend", "gradient", rhs, naive_words=full)
        self.add("backend", "landmark_blocks", lm, naive_words=lm_full)
        self.add("backend", "cholesky", chol, naive_words=full * full)
        m = STATE_DIM * max(n - 1, 0)  # marginalisation prior on the remaining keyframes: H and b
        self.add("backend", "prior", (m * (m + 1) / 2 if self.sparse else m * m) + m, naive_words=m * m + m)

    def others(self) -> None:
        """Recorded buffers without a derivation (mapping, MI, new ones) at their measured peak."""
        for key, use in sorted(self.uses.items()):
            if key not in self.planned:
                self.add(use.group, use.name, self.recorded(*key))
        for group, name in (("mapping", "map_tiles"), ("mi", "mi_tiles")):  # slots until mapping exists
            if not any(b.group == group for b in self.out):
                self.add(group, name, 0.0)


def _knapsack(weights: list[int], values: list[float], capacity: int) -> set[int]:
    """Indices of the items of largest total value whose weights sum to <= capacity."""
    best = [0.0] * (capacity + 1)
    take = [[False] * (capacity + 1) for _ in weights]
    for i, (w, v) in enumerate(zip(weights, values)):
        for c in range(capacity, w - 1, -1):
            if best[c - w] + v > best[c]:
                best[c], take[i][c] = best[c - w] + v, True
    chosen, c = set(), capacity
    for i in range(len(weights) - 1, -1, -1):
        if take[i][c]:
            chosen.add(i)
            c -= weights[i]
    for i in sorted(set(range(len(weights))) - chosen, key=lambda k: weights[k]):  # idle buffers in the rest
        if weights[i] <= c:
            chosen.add(i)
            c -= weights[i]
    return chosen


def plan_memory(uses: dict[tuple[str, str], BufferUse], geometry: Geometry, hw: HardwareConfig,
                codec_ratio: float | None = None) -> MemoryPlan:
    """The design's buffers; on an accelerator, buffers that do not fit the budget spill to
    DRAM. The on-chip set maximises the traffic kept on chip (bits per frame) within the
    budget: a 0/1 knapsack over buffer sizes in 1 KiB units, as an allocator would plan it."""
    planner = _Planner(uses, geometry, hw, codec_ratio)
    planner.frontend()
    planner.backend()
    planner.others()
    buffers = planner.out
    if not hw.is_cpu:
        keep = _knapsack([math.ceil(b.size_bytes / 1024) for b in buffers],
                         [b.accesses_per_frame * b.access_bits for b in buffers],
                         int(hw.onchip_budget_bytes // 1024))
        buffers = [replace(b, onchip=i in keep) for i, b in enumerate(buffers)]
    return MemoryPlan(tuple(buffers), hw.onchip_budget_bytes, planner.ratio if hw.codec and codec_ratio else None)


def _cpu_access_pj(b: PlannedBuffer, hw: HardwareConfig) -> tuple[float, float]:
    """(on-chip, off-chip) pJ of one word access through the caches (45 nm values); on chip
    includes the overhead of the ``instructions_per_op`` instructions of the buffer's group
    that each access stands for (one L1 access: the extra instructions pay no cache energy)."""
    levels = hw.caches
    overhead_pj = hw.instruction_overhead_pj * hw.arithmetic(b.group).instructions_per_op
    # a load or store reads or writes a whole word of the L1 array (narrower ones select in it)
    onchip = sram_access_pj(levels[0].size_bytes, max(b.access_bits, CPU_WORD_BITS)) + overhead_pj
    for inner, outer in pairwise(levels):
        if b.size_bytes <= inner.size_bytes:
            return onchip, 0.0
        miss = min(1.0, b.access_bits / 8 / inner.line_bytes)
        onchip += miss * sram_access_pj(outer.size_bytes, inner.line_bytes * 8)
    last = levels[-1]
    if b.size_bytes <= last.size_bytes:
        return onchip, 0.0
    return onchip, min(1.0, b.access_bits / 8 / last.line_bytes) * last.line_bytes * 8 * hw.dram_pj_per_bit


def memory_energy_pj(plan: MemoryPlan, hw: HardwareConfig) -> dict[str, dict[str, float]]:
    """Energy per frame [pJ] by stage group: ``{"onchip": ..., "offchip": ..., "codec": ...}``.

    On-chip accesses cost the SRAM energy of the buffer's own array (accelerator) or the
    cache levels it reaches plus the instruction overhead of its group's ``instructions_per_op``
    instructions (CPU), scaled to the node; off-chip accesses cost DRAM energy
    per bit (not node-scaled). Codec: encode per pixel written and decode per pixel read.
    """
    scale = node_scale(hw.node_nm, hw.vdd_v or None)
    out: dict[str, dict[str, float]] = {}
    for b in plan.buffers:
        entry = out.setdefault(b.group, {"onchip": 0.0, "offchip": 0.0, "codec": 0.0})
        if hw.is_cpu:
            onchip_pj, offchip_pj = _cpu_access_pj(b, hw)
            entry["onchip"] += b.accesses_per_frame * onchip_pj * scale
            entry["offchip"] += b.accesses_per_frame * offchip_pj
        elif b.onchip:
            entry["onchip"] += b.accesses_per_frame * sram_access_pj(b.size_bytes, b.access_bits) * scale
        else:
            entry["offchip"] += b.accesses_per_frame * b.access_bits * hw.dram_pj_per_bit
        if b.name.startswith("frame_pyramid") and plan.codec_ratio:
            entry["codec"] += b.accesses_per_frame * hw.codec_ops_per_pixel * op_pj("add", "fixed", 16) * scale
    return out


def leakage_power_mw(plan: MemoryPlan, hw: HardwareConfig) -> float:
    """SRAM leakage [mW]: the on-chip budget (accelerator) or the caches (CPU)."""
    kb = sum(c.size_bytes for c in hw.caches) / 1024 if hw.is_cpu else plan.budget_bytes / 1024
    return kb * hw.sram_leakage_uw_per_kb * 1e-3


_CODEC_CACHE: dict[tuple, tuple[float | None, Geometry, str]] = {}


def measure_codec_ratio(sequence: str | Path, samples: int, near: int = 0) -> tuple[float | None, Geometry, str]:
    """(compression ratio of ``accel_model.codec.encode`` on ``samples`` evenly spaced stereo
    pairs, the sequence geometry, a note). The ratio is None when the codec or the sequence
    is unavailable; the note says why. Results are kept for the process, keyed by the
    sequence path and the modification time of its camera index (live energy reports
    re-price a growing run many times)."""
    root = Path(sequence).resolve()
    index = next((p for p in (root / "mav0/cam0/data.csv", root / "cam0/data.csv") if p.is_file()), root)
    try:
        key = (str(root), index.stat().st_mtime_ns, samples, near)
    except OSError:
        key = None
    if key is not None and key in _CODEC_CACHE:
        return _CODEC_CACHE[key]
    result = _measure_codec_ratio(sequence, samples, near)
    if key is not None:
        _CODEC_CACHE[key] = result
    return result


def _measure_codec_ratio(sequence: str | Path, samples: int, near: int) -> tuple[float | None, Geometry, str]:
    from datasets.errors import DatasetError
    from datasets.euroc import open_euroc

    try:
        seq = open_euroc(sequence, quiet=True)
    except DatasetError as exc:
        return None, Geometry(), f"sequence unavailable ({exc}); EuRoC geometry assumed"
    with seq:
        width, height = seq.cam0.resolution
        stamps = seq.camera_timestamps_ns("cam0")
        fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) * 1e-9) if len(stamps) > 1 else 20.0
        geometry = Geometry(int(width), int(height), float(fps), float(seq.imu.rate_hz))
        try:
            from accel_model.codec import encode
        except ImportError:
            return None, geometry, "accel_model.codec is not available: frames priced uncompressed"
        picks = sorted({round(i * (len(stamps) - 1) / max(samples - 1, 1)) for i in range(samples)})
        raw = coded = 0
        for k in picks:
            for camera in ("cam0", "cam1"):
                image = seq.load_image(camera, int(stamps[k]))
                raw += image.size
                coded += len(encode(image, near=near))
    if coded == 0:
        raise EnergyModelError(f"{sequence}: no frames to measure the codec on")
    return raw / coded, geometry, f"codec ratio measured on {len(picks)} stereo pairs"
