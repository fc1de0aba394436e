"""Workload records: recording, merging, JSON round trip, validation, the no-op record,
and counting from inside a numba kernel."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from accel_model.workload import (NULL_WORKLOAD, OP_ADD, OP_CMP, OP_KINDS, OP_MUL, BufferTraffic, Workload,
                                  WorkloadError, op_counter)


def sample_workload(stage: str = "frontend") -> Workload:
    wl = Workload(stage)
    wl.add_ops("mul", 100)
    wl.add_ops("mul", 40, bits=16)
    wl.add_ops("add", 7)
    wl.read("frame", 1000, bits=8)
    wl.write("frame", 250, bits=8)
    wl.peak("frame", 4096)
    wl.peak("frame", 1024)
    wl.peak("scratch", 64)
    return wl


def test_recording():
    wl = sample_workload()
    assert wl.enabled
    assert wl.ops == {("mul", 64): 100, ("mul", 16): 40, ("add", 64): 7}
    assert wl.buffers["frame"] == BufferTraffic(1000, 250, 8, 4096)
    assert wl.buffers["scratch"] == BufferTraffic(0, 0, 64, 64)
    assert wl.total_ops("mul") == 140 and wl.total_ops("div") == 0 and wl.total_ops() == 147


def test_zero_counts_store_nothing():
    wl = Workload("x")
    wl.add_ops("div", 0)
    wl.add_op_counts(op_counter())
    assert wl == Workload("x")


def test_merge_and_add():
    a, b = sample_workload("a"), sample_workload("b")
    b.peak("frame", 9000)
    b.read("other", 3)
    total = a + b
    assert total.stage == "a"
    assert total.ops == {("mul", 64): 200, ("mul", 16): 80, ("add", 64): 14}
    assert total.buffers["frame"] == BufferTraffic(2000, 500, 8, 9000)
    assert total.buffers["other"] == BufferTraffic(3, 0, 64, 0)
    assert a == sample_workload("a")  # + leaves its operands alone
    assert a.merge(b) is a and a == total
    total.ops[("mul", 64)] += 1
    assert b.ops[("mul", 64)] == 100  # merged records share no state


def test_peak_only_buffer_takes_width_of_first_access():
    wl = Workload("x")
    wl.peak("buf", 10)
    wl.read("buf", 2, bits=16)
    assert wl.buffers["buf"] == BufferTraffic(2, 0, 16, 10)
    with pytest.raises(WorkloadError, match="16-bit"):
        wl.write("buf", 1, bits=32)
    other = Workload("y")
    other.write("buf", 1, bits=32)
    with pytest.raises(WorkloadError):
        wl.merge(other)


@pytest.mark.parametrize("call", [
    lambda wl: wl.add_ops("fma", 1),
    lambda wl: wl.add_ops("mul", -1),
    lambda wl: wl.add_ops("mul", 1.5),
    lambda wl: wl.add_ops("mul", True),
    lambda wl: wl.add_ops("mul", 1, bits=0),
    lambda wl: wl.add_op_counts(np.zeros(4, dtype=np.int64)),
    lambda wl: wl.add_op_counts(np.zeros(5)),
    lambda wl: wl.add_op_counts(np.array([1, -1, 0, 0, 0])),
    lambda wl: wl.read("", 1),
    lambda wl: wl.write("buf", -3),
    lambda wl: wl.peak("buf", -1),
    lambda wl: wl.total_ops("fma"),
    lambda wl: Workload("x", {("mul", 64): -2}),
    lambda wl: Workload("x", {"mul": 2}),
])
def test_invalid_input(call):
    with pytest.raises(WorkloadError):
        call(Workload("x"))


def test_dict_round_trip_through_json():
    wl = sample_workload()
    wl.add_ops("sqrt", 2**70)  # Python ints do not overflow
    data = json.loads(json.dumps(wl.to_dict()))
    assert Workload.from_dict(data) == wl
    assert data["ops"][0] == {"kind": "add", "bits": 64, "count": 7}


def test_from_dict_rejects_duplicates_and_unknown_keys():
    good = sample_workload().to_dict()
    duplicated = dict(good, ops=good["ops"] + good["ops"][:1])
    with pytest.raises(WorkloadError, match="duplicate"):
        Workload.from_dict(duplicated)
    with pytest.raises(WorkloadError):
        Workload.from_dict(dict(good, extra=1))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**65) | st.floats() | st.sampled_from(OP_KINDS + ("", "x")),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4),
    max_leaves=12)
_FIELD = st.sampled_from(["stage", "ops", "buffers", "kind", "bits", "count", "reads_words", "writes_words",
                          "word_bits", "peak_bytes"])
# Near-valid documents reach the inner checks, not just the top-level shape check.
_RECORD = st.dictionaries(_FIELD, _JSON, max_size=5)
_DOCUMENT = st.fixed_dictionaries({"stage": _JSON | st.text(max_size=3), "ops": st.lists(_RECORD, max_size=3),
                                   "buffers": st.dictionaries(_JSON.filter(lambda v: isinstance(v, str)) | st.text(),
                                                              _RECORD, max_size=3)})


@settings(max_examples=200, deadline=None)
@given(st.one_of(_JSON, _DOCUMENT))
def test_from_dict_only_raises_workload_error(data):
    try:
        wl = Workload.from_dict(data)
    except WorkloadError:
        return
    assert Workload.from_dict(wl.to_dict()) == wl


def test_null_workload_records_nothing():
    assert Workload.disabled() is NULL_WORKLOAD and not NULL_WORKLOAD.enabled
    counts = np.ones(len(OP_KINDS), dtype=np.int64)
    for _ in range(100_000):
        NULL_WORKLOAD.add_ops("mul", 3)
        NULL_WORKLOAD.add_op_counts(counts)
        NULL_WORKLOAD.read("frame", 10)
        NULL_WORKLOAD.write("frame", 10)
        NULL_WORKLOAD.peak("frame", 10)
    assert len(NULL_WORKLOAD.ops) == 0 and len(NULL_WORKLOAD.buffers) == 0
    assert NULL_WORKLOAD.total_ops() == 0
    assert NULL_WORKLOAD.merge(sample_workload()) is NULL_WORKLOAD
    assert NULL_WORKLOAD + sample_workload() is NULL_WORKLOAD
    assert sample_workload() + NULL_WORKLOAD == sample_workload()
    with pytest.raises(TypeError):
        NULL_WORKLOAD.ops[("mul", 64)] = 1  # its (empty) tables are read-only


@njit(cache=True)
def _dot_counting(a, b, counts):
    """Dot product that counts its own arithmetic: n multiplies, n adds, one compare per element."""
    total = 0.0
    for i in range(a.size):
        if a[i] != 0.0:  # a data-dependent branch, like the sparsity checks of real kernels
            total += a[i] * b[i]
            counts[OP_MUL] += 1
            counts[OP_ADD] += 1
        counts[OP_CMP] += 1
    return total


def test_kernel_counter_integration():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1000)
    a[rng.random(1000) < 0.3] = 0.0
    b = rng.standard_normal(1000)
    counts = op_counter()
    assert counts.dtype == np.int64 and counts.shape == (len(OP_KINDS),) and not counts.any()
    assert _dot_counting(a, b, counts) == pytest.approx(a @ b)
    wl = Workload("dot")
    wl.add_op_counts(counts, bits=32)
    nonzero = int(np.count_nonzero(a))
    assert wl.ops == {("mul", 32): nonzero, ("add", 32): nonzero, ("compare", 32): 1000}
