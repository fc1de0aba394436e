"""Hardware configurations (:class:`HardwareConfig`) and the presets shipped in ``presets/``.

A configuration says how a design stores and computes the workload: number formats and
widths per stage group, on-chip SRAM budget or CPU caches, process node, frame codec,
Hessian storage, the per-instruction overhead of a programmable core and the instructions
it executes per modelled operation. ``template.yaml`` documents every field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from datasets.configuration import ConfigMixin

from .energy import DRAM_PJ_PER_BIT, OP_FORMATS, EnergyModelError

STAGE_GROUPS = ("frontend", "backend", "mapping", "mi")
# Storage of the solver's matrices: ``sparse_symmetric`` (Schur-reduced pose system, upper
# triangles, only the blocks that exist), ``dense`` (Schur-reduced, full squares) and
# ``dense_full`` (no Schur complement: one dense H over poses and landmarks, the naive design).
H_STORAGE = ("sparse_symmetric", "dense", "dense_full")
# Multiplications by constant filter coefficients: on a multiplier (as a CPU or a generic MAC
# array does them) or as shifts and adds (a hard-wired filter). The workload records both
# (op kinds "cmul" and "cmul_add"); the design prices one.
CONSTANT_MULTIPLY = ("multiplier", "shift_add")
# Image gradients for KLT: ``stored`` (Scharr over every pyramid level, kept for the set-ups)
# or ``on_the_fly`` (Scharr over each set-up's template tile only). The workload records
# both dataflows (stages ``frontend[gradients=...]``); the design prices its own.
GRADIENTS = ("stored", "on_the_fly")
# How the pyramid and filter passes get their input pixels: ``from_memory`` (each pass reads
# its input level back from the frame store, as software does) or ``streamed`` (the camera's
# pixel stream feeds the pyrDown and Scharr units and each level's output feeds the next).
PYRAMID = ("from_memory", "streamed")
# Hardware fields that workload records may depend on (accel_model.workload.variant_stage),
# with their choices.
VARIANT_FIELDS: dict[str, tuple[str, ...]] = {"gradients": GRADIENTS, "pyramid": PYRAMID, "codec": ("false", "true")}
# Upper limits, beyond any design modelled here, that keep the model's arithmetic finite and
# its planning tractable: E ~ V^2 overflows for absurd supplies; the codec's NEAR is at most
# 127 (T.87, accel_model.codec.MAX_NEAR); each sampled frame is encoded; the on-chip
# allocation is a knapsack over the budget in 1 KiB units (memory.plan_memory).
MAX_VDD_V = 10.0
MAX_NEAR = 127
MAX_CODEC_SAMPLES = 10_000
MAX_ONCHIP_BYTES = 1 << 28  # 256 MiB: the knapsack then takes about 2 s
MAX_INSTRUCTIONS_PER_OP = 1e6  # instructions per modelled operation: keeps the overhead energy finite


@dataclass(frozen=True)
class ArithmeticConfig(ConfigMixin):
    """Datapath of one stage group: ``number_format`` fixed or float; operations and stored
    words wider than ``max_bits`` are narrowed to it (0 = the widths the workload records).

    ``instructions_per_op``: instructions a programmable core executes per modelled
    operation or buffer access of the group (1 = exactly one each; more with address
    arithmetic, loop control and moves; less than 1 on a SIMD core). Each executed
    instruction pays ``HardwareConfig.instruction_overhead_pj``; the extra instructions pay
    no ALU or cache energy. Measured for the ``cpu`` preset by ``benchmarks/cpu_instructions.py``.
    """

    number_format: str = "float"
    max_bits: int = 0
    instructions_per_op: float = 1.0

    def __post_init__(self) -> None:
        if self.number_format not in OP_FORMATS:
            raise ValueError(f"number_format must be fixed or float, got {self.number_format!r}")
        if self.max_bits < 0:
            raise ValueError(f"max_bits must be >= 0, got {self.max_bits}")
        if not 0 < self.instructions_per_op <= MAX_INSTRUCTIONS_PER_OP:
            raise ValueError(f"instructions_per_op must be in (0, {MAX_INSTRUCTIONS_PER_OP:g}], "
                             f"got {self.instructions_per_op}")


@dataclass(frozen=True)
class CacheLevelConfig(ConfigMixin):
    """One CPU cache level: capacity [bytes] and line size [bytes]."""

    name: str = "L1"
    size_bytes: int = 32 * 1024
    line_bytes: int = 64

    def __post_init__(self) -> None:
        if self.size_bytes <= 0 or self.line_bytes <= 0:
            raise ValueError(f"cache {self.name}: size_bytes and line_bytes must be positive")


@dataclass(frozen=True)
class HardwareConfig(ConfigMixin):
    """A design to price a workload on (see ``presets/template.yaml`` for every field).

    Energies are 45 nm values scaled to ``node_nm``/``vdd_v`` (0 = the node's nominal).
    An accelerator (no ``caches``) keeps each buffer in its own SRAM array within
    ``onchip_budget_bytes``; a CPU (``caches`` given) reaches every buffer through them.
    """

    name: str = "custom"
    node_nm: float = 65.0
    vdd_v: float = 0.0
    clock_mhz: float = 100.0
    parallel_units: int = 1
    frontend: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    backend: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    mapping: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    mi: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    instruction_overhead_pj: float = 0.0
    onchip_budget_bytes: int = 0
    caches: tuple[CacheLevelConfig, ...] = ()
    sram_leakage_uw_per_kb: float = 0.0
    dram_pj_per_bit: float = DRAM_PJ_PER_BIT
    codec: bool = False
    codec_near: int = 0
    codec_sample_frames: int = 8
    codec_ops_per_pixel: int = 12
    h_storage: str = "dense"
    gradients: str = "stored"
    pyramid: str = "from_memory"
    constant_multiply: str = "multiplier"
    measured_core_power_w: float = 10.0

    def __post_init__(self) -> None:
        positive = {"node_nm": self.node_nm, "clock_mhz": self.clock_mhz, "parallel_units": self.parallel_units,
                    "codec_sample_frames": self.codec_sample_frames, "measured_core_power_w": self.measured_core_power_w}
        for key, value in positive.items():
            if value <= 0:
                raise ValueError(f"{key} must be positive, got {value}")
        non_negative = {"vdd_v": self.vdd_v, "instruction_overhead_pj": self.instruction_overhead_pj,
                        "onchip_budget_bytes": self.onchip_budget_bytes, "codec_near": self.codec_near,
                        "sram_leakage_uw_per_kb": self.sram_leakage_uw_per_kb,
                        "dram_pj_per_bit": self.dram_pj_per_bit, "codec_ops_per_pixel": self.codec_ops_per_pixel}
        for key, value in non_negative.items():
            if value < 0:
                raise ValueError(f"{key} must be >= 0, got {value}")
        for key, limit in (("vdd_v", MAX_VDD_V), ("codec_near", MAX_NEAR), ("codec_sample_frames", MAX_CODEC_SAMPLES),
                           ("onchip_budget_bytes", MAX_ONCHIP_BYTES)):
            if getattr(self, key) > limit:
                raise ValueError(f"{key} must be at most {limit}, got {getattr(self, key)}")
        if self.h_storage not in H_STORAGE:
            raise ValueError(f"h_storage must be one of {', '.join(H_STORAGE)}, got {self.h_storage!r}")
        if self.gradients not in GRADIENTS:
            raise ValueError(f"gradients must be one of {', '.join(GRADIENTS)}, got {self.gradients!r}")
        if self.pyramid not in PYRAMID:
            raise ValueError(f"pyramid must be one of {', '.join(PYRAMID)}, got {self.pyramid!r}")
        if self.constant_multiply not in CONSTANT_MULTIPLY:
            raise ValueError(f"constant_multiply must be one of {', '.join(CONSTANT_MULTIPLY)}, "
                             f"got {self.constant_multiply!r}")
        if not self.caches and self.onchip_budget_bytes <= 0:
            raise ValueError("onchip_budget_bytes must be positive for an accelerator (no caches)")

    @property
    def is_cpu(self) -> bool:
        return bool(self.caches)

    def executes(self, kind: str) -> bool:
        """Whether the design executes operations of ``kind`` (one of the two constant-multiply kinds is unused)."""
        unused = "cmul_add" if self.constant_multiply == "multiplier" else "cmul"
        return kind != unused

    def selects(self, conditions: dict[str, str]) -> bool:
        """Whether the design does the work of a record made for these hardware settings
        (``{}``: every design; see ``VARIANT_FIELDS``)."""
        return all(_setting(getattr(self, key)) == value for key, value in conditions.items())

    def arithmetic(self, group: str) -> ArithmeticConfig:
        """Datapath of stage group ``group`` (one of ``STAGE_GROUPS``)."""
        return getattr(self, group)


def _setting(value) -> str:
    """A hardware field's value as workload records name it (booleans: ``true``/``false``)."""
    return str(value).lower() if isinstance(value, bool) else value


def preset_names() -> list[str]:
    """Names of the presets shipped with the package (``template`` excluded)."""
    folder = resources.files("accel_model") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml") and p.name != "template.yaml")


def load_preset(name_or_path: str | Path) -> HardwareConfig:
    """A shipped preset by name (``navion65``, ``cpu``) or a yaml file by path."""
    text = str(name_or_path)
    if text in preset_names():
        with resources.as_file(resources.files("accel_model") / "presets" / f"{text}.yaml") as path:
            return HardwareConfig.from_yaml(path)
    path = Path(text)
    if not path.is_file():
        raise EnergyModelError(f"{text}: neither a hardware preset ({', '.join(preset_names())}) nor a yaml file")
    return HardwareConfig.from_yaml(path)
