"""ImuBuffer segments follow the held-sample model exactly."""
import numpy as np

from vio.imu_buffer import ImuBuffer


def _buffer(stamps):
    buf = ImuBuffer()
    for k, t in enumerate(stamps):
        assert buf.add(t, np.full(3, float(k)), np.full(3, 10.0 + k))
    return buf


def test_segment_clips_first_and_last_interval():
    buf = _buffer([0, 5, 10, 15, 20])
    dt, g, a = buf.segment(3, 17)
    assert np.allclose(dt * 1e9, [2, 5, 5, 2])  # [3,5) by sample 0, [5,10) by 1, [10,15) by 2, [15,17) by 3
    assert np.array_equal(g[:, 0], [0, 1, 2, 3]) and np.array_equal(a[:, 0], [10, 11, 12, 13])
    dt, g, _ = buf.segment(5, 10)
    assert np.allclose(dt * 1e9, [5]) and g[0, 0] == 1


def test_segment_needs_coverage_and_no_long_gaps():
    buf = _buffer([10, 20, 30])
    assert buf.segment(5, 25) is None  # starts before the first sample
    assert buf.segment(10, 25, max_gap_ns=10) is not None
    gappy = _buffer([0, 10, 200])
    assert gappy.segment(0, 150, max_gap_ns=50) is None


def test_rejects_non_monotonic_and_nan_and_discards():
    buf = _buffer([0, 10, 20])
    assert not buf.add(20, np.zeros(3), np.zeros(3))
    assert not buf.add(30, np.array([np.nan, 0, 0]), np.zeros(3))
    buf.discard_before(15)
    dt, g, _ = buf.segment(15, 20)
    assert np.allclose(dt * 1e9, [5]) and g[0, 0] == 1
    t, g, a = buf.window(10, 20)
    assert np.array_equal(t, [10, 20])


def test_grows_past_its_capacity():
    buf = ImuBuffer(capacity=2)
    for k in range(10):
        assert buf.add(10 * k, np.full(3, float(k)), np.full(3, 10.0 + k))
    dt, g, a = buf.segment(0, 90)
    assert len(buf) == 10 and np.allclose(dt * 1e9, 10) and np.array_equal(g[:, 0], np.arange(9))
