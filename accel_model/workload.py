"""Workload records: the arithmetic and memory traffic a stage really performs.

``vio`` and ``mapping`` fill in a :class:`Workload` per stage; the rest of
``accel_model`` prices it (energy per operation and per access). This module is
deliberately neutral: it imports nothing of the project, so the estimators can use it
without depending on the hardware model.

Counting costs nothing when it is off: :data:`NULL_WORKLOAD` accepts every call and
records nothing, so code calls ``wl.add_ops(...)`` unconditionally and checks
``wl.enabled`` only to skip work done solely for counting.

Work that only some designs do (two dataflows for the same result) is recorded once per
alternative, in a record whose stage names the hardware choice it belongs to:
``frontend[gradients=stored]`` (see :func:`variant_stage`); the hardware model prices
the common records and, of the alternatives, those its configuration selects.

Numba kernels count into a plain int64 array from :func:`op_counter`, indexed by the
``OP_*`` constants (``counts[OP_MUL] += 9``); :meth:`Workload.add_op_counts` then adds
the array to the record.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from numbers import Integral
from types import MappingProxyType

import numpy as np

# "sin": one sin or cos evaluation. "cmul": a multiplication by a constant coefficient (a
# fixed filter tap); "cmul_add": the adds the same constant multiplications take as shifts
# and adds (canonical signed digits). Both are recorded; a design prices one of the two
# (``HardwareConfig.constant_multiply``).
OP_KINDS = ("mul", "add", "div", "sqrt", "compare", "sin", "cmul", "cmul_add")
OP_MUL, OP_ADD, OP_DIV, OP_SQRT, OP_CMP, OP_SIN, OP_CMUL, OP_CMUL_ADD = range(len(OP_KINDS))
DEFAULT_BITS = 64  # float64 estimation
_BUFFER_FIELDS = ("reads_words", "writes_words", "word_bits", "peak_bytes")


class WorkloadError(ValueError):
    """An invalid operation kind, count, bit width or serialised workload."""


_VARIANT = re.compile(r"([^\[\]]*)(?:\[([^\[\]]*)\])?")
_CONDITION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.]+")


def variant_stage(stage: str, **conditions: str) -> str:
    """Name of a record of ``stage`` work that only designs with these hardware settings do:
    ``variant_stage("frontend", gradients="stored") == "frontend[gradients=stored]"``."""
    if not conditions:
        return stage
    return f"{stage}[{','.join(f'{k}={v}' for k, v in sorted(conditions.items()))}]"


def split_variant(stage: str) -> tuple[str, dict[str, str]]:
    """(stage, conditions) of a record's stage name; ``{}`` for work every design does.
    WorkloadError if the ``[key=value,...]`` part is malformed."""
    match = _VARIANT.fullmatch(stage)
    if match is None:
        raise WorkloadError(f"malformed stage name {stage!r} (expected STAGE or STAGE[key=value,...])")
    base, spec = match.groups()
    if spec is None:
        return base, {}
    parts = spec.split(",")
    if not all(_CONDITION.fullmatch(p) for p in parts):
        raise WorkloadError(f"malformed conditions in stage name {stage!r} (expected key=value,...)")
    conditions = dict(p.split("=") for p in parts)
    if len(conditions) != len(parts):
        raise WorkloadError(f"stage name {stage!r} repeats a condition")
    return base, conditions


def op_counter() -> np.ndarray:
    """Zeroed int64 counter array, one slot per ``OP_KINDS`` entry, for numba kernels."""
    return np.zeros(len(OP_KINDS), dtype=np.int64)


def _count(value, what: str) -> int:
    """``value`` as a Python int >= 0 (bools and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise WorkloadError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def _bits(value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise WorkloadError(f"bit width must be a positive integer, got {value!r}")
    return int(value)


def _kind(value) -> str:
    if not isinstance(value, str) or value not in OP_KINDS:
        raise WorkloadError(f"unknown operation kind {value!r} (expected one of {', '.join(OP_KINDS)})")
    return value


def _name(value) -> str:
    if not isinstance(value, str) or not value:
        raise WorkloadError(f"buffer name must be a non-empty string, got {value!r}")
    return value


@dataclass
class BufferTraffic:
    """Accesses to one named buffer: words read and written, each ``word_bits`` wide,
    and the peak live size [bytes]. A buffer has one word width; it is fixed by the
    first read or write (a buffer with only a peak keeps the default until then)."""

    reads_words: int = 0
    writes_words: int = 0
    word_bits: int = DEFAULT_BITS
    peak_bytes: int = 0

    def __post_init__(self) -> None:
        self.reads_words = _count(self.reads_words, "reads_words")
        self.writes_words = _count(self.writes_words, "writes_words")
        self.word_bits = _bits(self.word_bits)
        self.peak_bytes = _count(self.peak_bytes, "peak_bytes")

    @property
    def accessed(self) -> bool:
        return self.reads_words > 0 or self.writes_words > 0


def _set_width(traffic: BufferTraffic, bits: int, name: str) -> None:
    """Fix ``traffic``'s word width to ``bits``; a second, different width is an error."""
    if traffic.accessed and bits != traffic.word_bits:
        raise WorkloadError(f"buffer '{name}' holds {traffic.word_bits}-bit words; "
                            f"cannot also access it with {bits}-bit words")
    traffic.word_bits = bits


@dataclass
class Workload:
    """Operations and memory traffic of one stage.

    ops: (kind, bit width) -> count, kind in ``OP_KINDS``.
    buffers: buffer name -> :class:`BufferTraffic`.
    Entries with a zero count are never stored, so equal work gives equal records.
    """

    stage: str
    ops: dict[tuple[str, int], int] = field(default_factory=dict)
    buffers: dict[str, BufferTraffic] = field(default_factory=dict)

    enabled = True

    def __post_init__(self) -> None:
        if not isinstance(self.stage, str):
            raise WorkloadError(f"stage must be a string, got {self.stage!r}")
        split_variant(self.stage)
        ops, buffers = self.ops, self.buffers
        self.ops, self.buffers = {}, {}
        for key, count in ops.items():
            if not isinstance(key, tuple) or len(key) != 2:
                raise WorkloadError(f"op keys must be (kind, bits) pairs, got {key!r}")
            self.add_ops(key[0], count, key[1])
        for name, traffic in buffers.items():
            if not isinstance(traffic, BufferTraffic):
                raise WorkloadError(f"buffer '{name}' must be a BufferTraffic, got {traffic!r}")
            self._merge_buffer(_name(name), traffic)

    @staticmethod
    def disabled() -> "Workload":
        """The shared no-op workload (counting off)."""
        return NULL_WORKLOAD

    # ----------------------------------------------------------------- recording

    def add_ops(self, kind: str, count: int, bits: int = DEFAULT_BITS) -> None:
        """Count ``count`` operations of ``kind`` on ``bits``-wide operands."""
        key = (_kind(kind), _bits(bits))
        count = _count(count, f"count of '{kind}'")
        if count:
            self.ops[key] = self.ops.get(key, 0) + count

    def add_op_counts(self, counts: np.ndarray, bits: int = DEFAULT_BITS) -> None:
        """Add a kernel counter array (see :func:`op_counter`) of ``bits``-wide operations."""
        counts = np.asarray(counts)
        if counts.shape != (len(OP_KINDS),) or not np.issubdtype(counts.dtype, np.integer):
            raise WorkloadError(f"op counts must be an integer array of shape ({len(OP_KINDS)},), "
                                f"got {counts.dtype} {counts.shape}")
        for kind, count in zip(OP_KINDS, counts.tolist()):
            self.add_ops(kind, count, bits)

    def _buffer(self, name: str) -> BufferTraffic:
        name = _name(name)
        if name not in self.buffers:
            self.buffers[name] = BufferTraffic()
        return self.buffers[name]

    def read(self, buffer: str, words: int, bits: int = DEFAULT_BITS) -> None:
        """Count ``words`` reads of ``bits``-wide words from ``buffer``."""
        words, bits = _count(words, "words read"), _bits(bits)
        traffic = self._buffer(buffer)
        _set_width(traffic, bits, buffer)
        traffic.reads_words += words

    def write(self, buffer: str, words: int, bits: int = DEFAULT_BITS) -> None:
        """Count ``words`` writes of ``bits``-wide words into ``buffer``."""
        words, bits = _count(words, "words written"), _bits(bits)
        traffic = self._buffer(buffer)
        _set_width(traffic, bits, buffer)
        traffic.writes_words += words

    def peak(self, buffer: str, nbytes: int) -> None:
        """Note that ``buffer`` holds ``nbytes`` live bytes now; the record keeps the maximum."""
        nbytes = _count(nbytes, "peak bytes")
        traffic = self._buffer(buffer)
        traffic.peak_bytes = max(traffic.peak_bytes, nbytes)

    # ----------------------------------------------------------------- combining

    def _merge_buffer(self, name: str, other: BufferTraffic) -> None:
        mine = self.buffers.get(name)
        if mine is None:
            self.buffers[name] = BufferTraffic(**{f: getattr(other, f) for f in _BUFFER_FIELDS})
            return
        if other.accessed:
            _set_width(mine, other.word_bits, name)
        mine.reads_words += other.reads_words
        mine.writes_words += other.writes_words
        mine.peak_bytes = max(mine.peak_bytes, other.peak_bytes)

    def merge(self, other: "Workload") -> "Workload":
        """Add ``other``'s operations and traffic into this record (peaks: maximum); returns self."""
        if not isinstance(other, Workload):
            raise WorkloadError(f"can only merge a Workload, got {type(other).__name__}")
        for key, count in other.ops.items():
            self.ops[key] = self.ops.get(key, 0) + count
        for name, traffic in other.buffers.items():
            self._merge_buffer(name, traffic)
        return self

    def copy(self) -> "Workload":
        return Workload(self.stage).merge(self)

    def __add__(self, other: "Workload") -> "Workload":
        """A new record with both workloads merged; it keeps the left operand's stage."""
        if not isinstance(other, Workload):
            return NotImplemented
        return self.copy().merge(other)

    # ----------------------------------------------------------------- reading

    def total_ops(self, kind: str | None = None) -> int:
        """Operations of ``kind`` over all bit widths, or of every kind when None."""
        if kind is None:
            return sum(self.ops.values())
        kind = _kind(kind)
        return sum(count for (k, _), count in self.ops.items() if k == kind)

    def to_dict(self) -> dict:
        """JSON-safe form: ``{"stage", "ops": [{"kind", "bits", "count"}, ...], "buffers": {name: {...}}}``."""
        return {
            "stage": self.stage,
            "ops": [{"kind": k, "bits": b, "count": c} for (k, b), c in sorted(self.ops.items())],
            "buffers": {name: {f: getattr(t, f) for f in _BUFFER_FIELDS}
                        for name, t in sorted(self.buffers.items())},
        }

    @classmethod
    def from_dict(cls, data) -> "Workload":
        """Inverse of :meth:`to_dict`; any malformed input raises :class:`WorkloadError`."""
        if not isinstance(data, dict) or set(data) != {"stage", "ops", "buffers"}:
            raise WorkloadError("a workload must be a mapping with exactly the keys 'stage', 'ops', 'buffers'")
        if not isinstance(data["ops"], list):
            raise WorkloadError(f"'ops' must be a list of records, got {data['ops']!r}")
        if not isinstance(data["buffers"], dict):
            raise WorkloadError(f"'buffers' must be a mapping, got {data['buffers']!r}")
        ops: dict[tuple[str, int], int] = {}
        for record in data["ops"]:
            if not isinstance(record, dict) or set(record) != {"kind", "bits", "count"}:
                raise WorkloadError(f"op records need exactly 'kind', 'bits', 'count', got {record!r}")
            key = (_kind(record["kind"]), _bits(record["bits"]))
            if key in ops:
                raise WorkloadError(f"duplicate op record for {key[0]} at {key[1]} bits")
            ops[key] = _count(record["count"], f"count of '{key[0]}'")
        buffers = {}
        for name, record in data["buffers"].items():
            if not isinstance(record, dict) or set(record) != set(_BUFFER_FIELDS):
                raise WorkloadError(f"buffer '{name}' needs exactly {', '.join(_BUFFER_FIELDS)}, got {record!r}")
            buffers[_name(name)] = BufferTraffic(**record)
        return cls(data["stage"], ops, buffers)


class _NullWorkload(Workload):
    """Counting switched off: every recording call is a no-op and it always stays empty."""

    enabled = False

    def __init__(self) -> None:
        self.stage = "disabled"
        self.ops = MappingProxyType({})
        self.buffers = MappingProxyType({})

    def __repr__(self) -> str:
        return "NULL_WORKLOAD"

    def add_ops(self, kind, count, bits=DEFAULT_BITS) -> None:
        pass

    def add_op_counts(self, counts, bits=DEFAULT_BITS) -> None:
        pass

    def read(self, buffer, words, bits=DEFAULT_BITS) -> None:
        pass

    def write(self, buffer, words, bits=DEFAULT_BITS) -> None:
        pass

    def peak(self, buffer, nbytes) -> None:
        pass

    def merge(self, other) -> "Workload":
        return self

    def copy(self) -> "Workload":
        return self

    def __add__(self, other) -> "Workload":
        return self


NULL_WORKLOAD: Workload = _NullWorkload()
