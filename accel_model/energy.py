"""Energy tables: picojoules per arithmetic operation, per SRAM and DRAM access, leakage.

Every coefficient is cited here and in ``docs/energy_model.md``. Reference technology is
45 nm at 0.9 V (Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014, the energy table of the keynote); :func:`node_scale` moves dynamic energy to
other nodes. Values marked *estimate* are not published figures: the docs give the
reasoning.
"""
from __future__ import annotations

import math

OP_FORMATS = ("fixed", "float")

# (kind, number format, bits) -> pJ per operation at 45 nm, 0.9 V. Horowitz ISSCC 2014.
HOROWITZ_45NM_PJ: dict[tuple[str, str, int], float] = {
    ("add", "fixed", 8): 0.03,
    ("add", "fixed", 16): 0.05,
    ("add", "fixed", 32): 0.1,
    ("mul", "fixed", 8): 0.2,
    ("mul", "fixed", 32): 3.1,
    ("add", "float", 16): 0.4,
    ("add", "float", 32): 0.9,
    ("mul", "float", 16): 1.1,
    ("mul", "float", 32): 3.7,
}
# Operations priced as multiples of an add or a multiply of the same format and width
# (estimates, see docs/energy_model.md): compare = one subtraction; div and sqrt = 6
# multiplies (3 Newton-Raphson iterations of 2 multiplies each); sin/cos = 10 multiplies
# and 10 adds (range reduction plus a degree-9 polynomial by Horner's rule).
DERIVED_OPS: dict[str, tuple[float, float]] = {  # kind -> (adds, multiplies)
    "cmul": (0.0, 1.0),      # a multiplication by a constant, on a multiplier
    "cmul_add": (1.0, 0.0),  # one add of a constant multiplication done as shifts and adds
    "compare": (1.0, 0.0),
    "div": (0.0, 6.0),
    "sqrt": (0.0, 6.0),
    "sin": (10.0, 10.0),
}

REFERENCE_NODE_NM = 45.0
REFERENCE_VDD_V = 0.9  # Horowitz's 45 nm figures
# Nominal core supply per node [V] (foundry general-purpose processes; estimate).
NOMINAL_VDD_V: dict[int, float] = {90: 1.0, 65: 1.0, 45: 0.9, 40: 0.9, 28: 0.9, 22: 0.8, 16: 0.8, 14: 0.8, 7: 0.75}

# SRAM: Horowitz's 64-bit read energies, 8 KB: 10 pJ, 32 KB: 20 pJ, 1 MB: 100 pJ. A fit
# E = 10 pJ * sqrt(size / 8 KB) (CACTI-style: bit-line and word-line lengths grow with
# the square root of the array) passes through the first two and gives 113 pJ at 1 MB.
SRAM_ANCHOR_PJ = 10.0
SRAM_ANCHOR_BYTES = 8 * 1024
SRAM_ANCHOR_BITS = 64
SRAM_MIN_BYTES = 1024  # below 1 KB periphery dominates: keep the 1 KB value (estimate)

# DRAM: Horowitz gives 1.3-2.6 nJ per 64-bit access = 20-41 pJ/bit; mid-range 30 pJ/bit.
DRAM_PJ_PER_BIT = 30.0

# CPU instruction overhead (fetch, decode, register file, control) of a 45 nm in-order
# core: about 70 pJ per instruction against 0.1-0.9 pJ for the ALU operation itself
# (Horowitz ISSCC 2014, instruction energy breakdown).
CPU_INSTRUCTION_OVERHEAD_PJ = 70.0


class EnergyModelError(ValueError):
    """Invalid hardware model input: a bad preset, run folder or energy report."""


def _anchor(kind: str, number_format: str, bits: int) -> tuple[int, float]:
    """The Horowitz entry of ``kind``/``number_format`` whose width is nearest ``bits``."""
    widths = [b for (k, f, b) in HOROWITZ_45NM_PJ if k == kind and f == number_format]
    nearest = min(widths, key=lambda b: (abs(math.log2(bits / b)), -b))
    return nearest, HOROWITZ_45NM_PJ[(kind, number_format, nearest)]


def basic_op_pj(kind: str, number_format: str, bits: int) -> float:
    """pJ of one add or multiply at 45 nm: the Horowitz value, else interpolated from the
    nearest listed width of the same format (adders linear in bits, multipliers quadratic,
    array multiplier area; an estimate). 64-bit float: add 1.8 pJ, mul 14.8 pJ by this rule."""
    if number_format not in OP_FORMATS:
        raise EnergyModelError(f"unknown number format {number_format!r} (expected fixed or float)")
    if kind not in ("add", "mul"):
        raise EnergyModelError(f"basic operations are add and mul, got {kind!r}")
    if number_format == "float" and bits < 16:
        number_format = "fixed"  # no narrow float in the table: price as integer
    anchor_bits, pj = _anchor(kind, number_format, bits)
    exponent = 1.0 if kind == "add" else 2.0
    return pj * (bits / anchor_bits) ** exponent


def op_pj(kind: str, number_format: str, bits: int) -> float:
    """pJ of one operation of ``kind`` (mul, add, div, sqrt, compare, sin, cmul, cmul_add) at 45 nm, 0.9 V."""
    if kind in ("add", "mul"):
        return basic_op_pj(kind, number_format, bits)
    if kind not in DERIVED_OPS:
        raise EnergyModelError(f"unknown operation kind {kind!r}")
    adds, muls = DERIVED_OPS[kind]
    return adds * basic_op_pj("add", number_format, bits) + muls * basic_op_pj("mul", number_format, bits)


def sram_access_pj(size_bytes: float, word_bits: float) -> float:
    """pJ of one read or write of ``word_bits`` from an SRAM array of ``size_bytes`` at 45 nm:
    10 pJ * sqrt(size / 8 KB) * word_bits / 64 (writes priced as reads; an estimate)."""
    size = max(float(size_bytes), SRAM_MIN_BYTES)
    return SRAM_ANCHOR_PJ * math.sqrt(size / SRAM_ANCHOR_BYTES) * word_bits / SRAM_ANCHOR_BITS


def nominal_vdd_v(node_nm: float) -> float:
    """Nominal supply [V] of the listed node nearest ``node_nm``."""
    return NOMINAL_VDD_V[min(NOMINAL_VDD_V, key=lambda n: abs(math.log(node_nm / n)))]


def node_scale(node_nm: float, vdd_v: float | None = None) -> float:
    """Factor from 45 nm / 0.9 V dynamic energy to ``node_nm`` at ``vdd_v`` (default: nominal):
    E ~ C V^2 with switched capacitance proportional to feature size (an estimate of
    classical scaling; 45 -> 65 nm at 1.0 V gives 1.78x)."""
    if node_nm <= 0:
        raise EnergyModelError(f"process node must be positive, got {node_nm} nm")
    vdd = nominal_vdd_v(node_nm) if vdd_v is None else vdd_v
    return (node_nm / REFERENCE_NODE_NM) * (vdd / REFERENCE_VDD_V) ** 2
