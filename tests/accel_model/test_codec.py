"""Frame codec (accel_model.codec): round trips, error bound, ratio on the real EuRoC
frames, robustness against corrupt streams, and the numba encoder against a slow
pure-Python JPEG-LS encoder written from ITU-T T.87 Annex A."""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accel_model import _kernels as K
from accel_model import codec
from accel_model.codec import CodecError, decode, encode, med_residual_entropy
from accel_model.workload import Workload

MIN_RATIO = 1.95
ANCHOR_ENTROPY_BPP = 4.05  # issue's zero-order entropy of MED residuals (cam0 frames)

# ----------------------------------------------------------------------- reference


def reference_payload(img: np.ndarray, near: int) -> bytes:
    """JPEG-LS scan of ``img`` (T.87 Annex A, MAXVAL 255, default thresholds), as a bare
    MSB-first bit stream zero-padded to a byte: slow, direct, on the whole image."""
    h, w = img.shape
    maxval, reset, limit = 255, 64, 32
    rng = (maxval + 2 * near) // (2 * near + 1) + 1
    qbpp = (rng - 1).bit_length()
    step = 2 * near + 1

    def clamp(v, lo, hi):
        return v if lo <= v <= hi else lo

    t1 = clamp(3 + 3 * near, near + 1, maxval)
    t2 = clamp(7 + 5 * near, t1, maxval)
    t3 = clamp(21 + 7 * near, t2, maxval)
    J = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    A = [max(2, (rng + 32) // 64)] * 367
    B, C, N, Nn = [0] * 367, [0] * 367, [1] * 367, [0] * 367
    R = [[0] * w for _ in range(h)]  # reconstructed samples
    bits: list[str] = []

    def put(value, n):
        bits.extend(format(value, f"0{n}b") if n else "")

    def golomb(m, k, lim):
        if (m >> k) < lim - qbpp - 1:
            put(1, (m >> k) + 1)
            put(m & ((1 << k) - 1), k)
        else:
            put(1, lim - qbpp)
            put(m - 1, qbpp)

    def rec(y, x):  # reconstructed neighbour with the T.87 border rules
        if y < 0:
            return 0
        if x < 0:
            return rec(y - 1, 0)
        return R[y][min(x, w - 1)]

    def gq(d):
        for bound, q in ((-t3, -4), (-t2, -3), (-t1, -2)):
            if d <= bound:
                return q
        if d < -near:
            return -1
        if d <= near:
            return 0
        return 1 if d < t1 else 2 if d < t2 else 3 if d < t3 else 4

    def quantise_and_reconstruct(ix, px, sign):
        e = sign * (ix - px)
        if near:
            e = (near + e) // step if e > 0 else -((near - e) // step)
        rx = min(max(px + sign * e * step, 0), maxval)
        e %= rng
        if e >= (rng + 1) // 2:
            e -= rng
        return e, rx

    run_index = 0
    for y in range(h):
        x = 0
        while x < w:
            a, b, c, d = rec(y, x - 1), rec(y - 1, x), rec(y - 1, x - 1), rec(y - 1, x + 1)
            qs = [gq(d - b), gq(b - c), gq(c - a)]
            if qs == [0, 0, 0]:
                run_val, count = a, 0
                while x < w and abs(int(img[y, x]) - run_val) <= near:
                    R[y][x] = run_val
                    count += 1
                    x += 1
                while count >= 1 << J[run_index]:
                    put(1, 1)
                    count -= 1 << J[run_index]
                    run_index = min(run_index + 1, 31)
                if x == w:
                    if count:
                        put(1, 1)
                    continue
                put(0, 1)
                put(count, J[run_index])
                b = rec(y - 1, x)
                ritype = int(abs(a - b) <= near)
                px = a if ritype else b
                sign = -1 if (not ritype and a > b) else 1
                e, R[y][x] = quantise_and_reconstruct(int(img[y, x]), px, sign)
                q = 365 + ritype
                temp = A[q] + (N[q] >> 1) * ritype
                k = 0
                while N[q] << k < temp:
                    k += 1
                mp = int((k == 0 and e > 0 and 2 * Nn[q] < N[q]) or (e < 0 and 2 * Nn[q] >= N[q])
                         or (e < 0 and k != 0))
                em = 2 * abs(e) - ritype - mp
                golomb(em, k, limit - J[run_index] - 1)
                Nn[q] += e < 0
                A[q] += (em + 1 - ritype) >> 1
                if N[q] == reset:
                    A[q], N[q], Nn[q] = A[q] >> 1, N[q] >> 1, Nn[q] >> 1
                N[q] += 1
                run_index = max(run_index - 1, 0)
                x += 1
                continue
            sign = 1
            first = next(v for v in qs if v)
            if first < 0:
                sign, qs = -1, [-v for v in qs]
            q = 81 * qs[0] + 9 * qs[1] + qs[2]
            px = sorted((a, b, a + b - c))[1]  # MED = median(a, b, a + b - c)
            px = min(max(px + sign * C[q], 0), maxval)
            e, R[y][x] = quantise_and_reconstruct(int(img[y, x]), px, sign)
            k = 0
            while N[q] << k < A[q]:
                k += 1
            if near == 0 and k == 0 and 2 * B[q] <= -N[q]:
                m = 2 * e + 1 if e >= 0 else -2 * (e + 1)
            else:
                m = 2 * e if e >= 0 else -2 * e - 1
            golomb(m, k, limit)
            B[q] += e * step
            A[q] += abs(e)
            if N[q] == reset:
                A[q], B[q], N[q] = A[q] >> 1, B[q] >> 1, N[q] >> 1
            N[q] += 1
            if B[q] <= -N[q]:
                B[q] += N[q]
                C[q] = max(C[q] - 1, -128)
                B[q] = max(B[q], -N[q] + 1)
            elif B[q] > 0:
                B[q] -= N[q]
                C[q] = min(C[q] + 1, 127)
                B[q] = min(B[q], 0)
            x += 1
    bits.extend("0" * (-len(bits) % 8))
    return bytes(int("".join(bits[i:i + 8]), 2) for i in range(0, len(bits), 8))


def payload(data: bytes) -> bytes:
    return data[codec.HEADER_BYTES:]


def with_header(near: int, width: int, height: int, body: bytes) -> bytes:
    """A stream with a valid header and checksum around an arbitrary payload."""
    head = struct.pack("<4sBBIII", codec.MAGIC, codec.VERSION, near, width, height, len(body))
    return head + struct.pack("<I", zlib.crc32(body, zlib.crc32(head))) + body


# ----------------------------------------------------------------------- images

def _image(kind: str, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "constant":
        return np.full((h, w), rng.integers(0, 256), dtype=np.uint8)
    if kind == "noise":
        return rng.integers(0, 256, (h, w), dtype=np.uint8)
    if kind == "gradient":
        yy, xx = np.mgrid[:h, :w]
        return ((yy * rng.integers(-9, 10) + xx * rng.integers(-9, 10)) % 256).astype(np.uint8)
    if kind == "extremes":
        return (rng.integers(0, 2, (h, w)) * 255).astype(np.uint8)
    # "patches": flat regions with noisy edges (run mode and its interruptions)
    img = np.repeat(np.repeat(rng.integers(0, 256, (h // 4 + 1, w // 4 + 1)), 4, 0), 4, 1)[:h, :w]
    img = img + (rng.random((h, w)) < 0.1) * rng.integers(-3, 4, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


KINDS = ("constant", "noise", "gradient", "extremes", "patches")
images = st.builds(_image, st.sampled_from(KINDS), st.integers(1, 24), st.integers(1, 24),
                   st.integers(0, 2**32 - 1))


@pytest.fixture(scope="module")
def frames(euroc_micro):
    """All real EuRoC frames: {camera: [image, ...]}."""
    out = {}
    for cam in ("cam0", "cam1"):
        paths = sorted((euroc_micro / "mav0" / cam / "data").glob("*.png"))
        out[cam] = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    assert sum(len(v) for v in out.values()) == 190
    return out



# ----------------------------------------------------------------------- real frames

def test_lossless_round_trip_and_ratio_on_real_frames(frames):
    raw = coded = 0
    for img in frames["cam0"] + frames["cam1"]:
        data = encode(img)
        np.testing.assert_array_equal(decode(data), img)
        raw += img.size
        coded += len(data)
    ratio = raw / coded
    print(f"\nlossless on 190 real EuRoC frames: {8 * coded / raw:.3f} bpp, ratio {ratio:.3f}x")
    assert ratio >= MIN_RATIO


def test_med_entropy_anchor_and_coder_beats_it(frames):
    entropy = med_residual_entropy(frames["cam0"])
    coded = sum(len(encode(img)) for img in frames["cam0"])
    bpp = 8 * coded / sum(img.size for img in frames["cam0"])
    print(f"\ncam0: MED residual entropy {entropy:.3f} bpp, codec {bpp:.3f} bpp")
    assert abs(entropy - ANCHOR_ENTROPY_BPP) < 0.05
    assert bpp < entropy - 0.2


def test_near_lossless_bound_and_ratio_on_real_frames(frames):
    subset = (frames["cam0"] + frames["cam1"])[::10]
    raw = sum(img.size for img in subset)
    ratios = []
    for near in (0, 1, 2, 3, 5):
        coded = max_err = 0
        for img in subset:
            data = encode(img, near)
            out = decode(data)
            max_err = max(max_err, int(np.abs(out.astype(int) - img).max()))
            coded += len(data)
        assert max_err <= near
        ratios.append(raw / coded)
    print("\nratio for NEAR 0, 1, 2, 3, 5:", ", ".join(f"{r:.2f}" for r in ratios))
    assert all(r1 > r0 for r0, r1 in zip(ratios, ratios[1:]))


# ----------------------------------------------------------------------- synthetic images

@settings(max_examples=150, deadline=None)
@given(img=images, near=st.sampled_from([0, 0, 1, 2, 3, 5, 17]))
def test_round_trip_random_images(img, near):
    out = decode(encode(img, near))
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert int(np.abs(out.astype(int) - img).max()) <= near


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (1, 300), (300, 1), (2, 1), (3, 70000)])
@pytest.mark.parametrize("near", [0, 3])
def test_tiny_and_thin_images(shape, near):
    for kind in KINDS:
        img = _image(kind, *shape, seed=7)
        out = decode(encode(img, near))
        assert int(np.abs(out.astype(int) - img).max()) <= near


def test_near_lossless_random_images_ratio_grows():
    img = _image("patches", 64, 64, 3) // 2 + _image("gradient", 64, 64, 4) // 2
    sizes = [len(encode(img, near)) for near in (0, 1, 2, 3, 5)]
    assert all(s1 < s0 for s0, s1 in zip(sizes, sizes[1:]))


def test_noncontiguous_input_and_stats():
    img = _image("noise", 30, 40, 1)[:, ::2]
    assert np.array_equal(decode(encode(img)), img)
    stats = codec.codec_stats(img)
    assert stats.nbytes == len(encode(img))
    assert stats.bits_per_pixel == pytest.approx(8 * stats.nbytes / img.size)
    assert stats.ratio == pytest.approx(8 / stats.bits_per_pixel)
    assert codec.compressed_bits_per_pixel(img, 2) == pytest.approx(8 * len(encode(img, 2)) / img.size)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 3), np.uint8),
                                 np.zeros((0, 4), np.uint8), [[1, 2]], np.zeros(5, np.uint8)])
def test_bad_images_rejected(bad):
    with pytest.raises(CodecError):
        encode(bad)


@pytest.mark.parametrize("near", [-1, 128, 1.0, True, None])
def test_bad_near_rejected(near):
    with pytest.raises(CodecError):
        encode(np.zeros((2, 2), np.uint8), near)


# ----------------------------------------------------------------------- kernel vs reference

@settings(max_examples=60, deadline=None)
@given(img=st.builds(_image, st.sampled_from(KINDS), st.integers(1, 10), st.integers(1, 14),
                     st.integers(0, 2**32 - 1)),
       near=st.sampled_from([0, 1, 3]))
def test_kernel_matches_reference_encoder(img, near):
    assert payload(encode(img, near)) == reference_payload(img, near)


def test_kernel_matches_reference_on_real_crop(frames):
    img = frames["cam0"][0][200:216, 300:340]
    for near in (0, 2):
        assert payload(encode(img, near)) == reference_payload(img, near)


def test_long_runs_exercise_run_index():
    img = np.zeros((6, 5000), np.uint8)
    img[2, 4000] = 9
    img[4, ::97] = 200
    assert payload(encode(img)) == reference_payload(img, 0)
    assert np.array_equal(decode(encode(img)), img)


# ----------------------------------------------------------------------- corrupt streams

SMALL = _image("patches", 9, 11, 5)


def _rejects(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode(data)


def test_truncation_at_every_length():
    for near in (0, 2):
        data = encode(SMALL, near)
        for n in range(len(data)):
            _rejects(data[:n])


def test_every_single_bit_flip():
    data = encode(SMALL)
    for i in range(8 * len(data)):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        _rejects(bytes(flipped))


def test_header_tampering_and_trailing_data():
    data = encode(SMALL, 1)
    magic, version, near, w, h, size, crc = struct.unpack_from("<4sBBIIII", data)
    fields = [(b"NVLX", version, near, w, h, size, crc), (magic, 2, near, w, h, size, crc),
              (magic, version, 0, w, h, size, crc), (magic, version, 200, w, h, size, crc),
              (magic, version, near, h, w, size, crc), (magic, version, near, 0, h, size, crc),
              (magic, version, near, w, h, size + 1, crc), (magic, version, near, w, h, size - 1, crc),
              (magic, version, near, 2**31, 2**31, size, crc), (magic, version, near, w, h, size, crc ^ 1)]
    for f in fields:
        _rejects(struct.pack("<4sBBIIII", *f) + data[codec.HEADER_BYTES:])
    _rejects(data + b"\0")
    _rejects(data + data)
    _rejects(b"")
    for bad in (None, "NVLS", 123, np.zeros(30, np.uint8)):
        _rejects(bad)


@settings(max_examples=200, deadline=None)
@given(img=images, near=st.sampled_from([0, 2]), data=st.data())
def test_fuzz_flips_and_cuts_only_raise_codec_error(img, near, data):
    """1 to 3 distinct bit flips (CRC-32 detects them all at these lengths) and a cut."""
    stream = bytearray(encode(img, near))
    for i in data.draw(st.sets(st.integers(0, 8 * len(stream) - 1), min_size=1, max_size=3)):
        stream[i // 8] ^= 1 << (i % 8)
    stream = stream[:data.draw(st.integers(0, len(stream)))]
    _rejects(bytes(stream))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.tuples(st.integers(1, 40), st.integers(1, 40)), near=st.sampled_from([0, 1, 4]),
       body=st.binary(max_size=300))
def test_fuzz_payload_with_valid_checksum(shape, near, body):
    """Crafted payloads that pass the checksum reach the kernel: it must either decode an
    image of the declared size or report an error, never fail otherwise."""
    h, w = shape
    try:
        out = decode(with_header(near, w, h, body))
    except CodecError:
        return
    assert out.shape == (h, w) and out.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(img=images, data=st.data())
def test_damaged_payload_with_valid_checksum(img, data):
    body = bytearray(payload(encode(img)))
    i = data.draw(st.integers(0, 8 * len(body) - 1))
    body[i // 8] ^= 1 << (i % 8)
    body = bytes(body[:data.draw(st.integers(0, len(body)))])
    try:
        out = decode(with_header(0, img.shape[1], img.shape[0], body))
    except CodecError:
        return
    assert out.shape == img.shape


def test_kernel_error_codes():
    body = payload(encode(SMALL))
    h, w = SMALL.shape
    for stream, message in ((body[:-1], "ends before"), (body + b"\x80", "continues after"),
                            (b"\0" * 8, "invalid code")):
        with pytest.raises(CodecError, match=message):
            decode(with_header(0, w, h, stream))
    # 1x5 zero image: four run codes "1" (one sample each, RUNindex 0 -> 4), then "0" and
    # J[4] = 1 bit of count 1, which leaves no sample for the interruption
    with pytest.raises(CodecError, match="run longer"):
        decode(with_header(0, 5, 1, bytes([0b11110100])))
    assert K.decode_kernel(np.frombuffer(bytes([0b11110100]), np.uint8), 0, np.empty((1, 5), np.uint8),
                           np.zeros(len(K.EVENTS), np.int64)) == K.ERR_BAD_RUN


# ----------------------------------------------------------------------- workload

def test_workload_counts():
    img = _image("patches", 20, 30, 2)
    h, w = img.shape
    enc, dec = Workload("encode"), Workload("decode")
    data = encode(img, 0, workload=enc)
    decode(data, workload=dec)
    assert enc.ops == dec.ops
    assert enc.total_ops("add") > 10 * img.size and enc.total_ops("compare") > 10 * img.size
    assert enc.total_ops("mul") == 0 and enc.total_ops("div") == 0
    line = enc.buffers[codec.LINE_BUFFER]
    assert (line.reads_words, line.writes_words, line.word_bits) == (h * w + h, h * w + 2 * h, 8)
    assert line.peak_bytes == 2 * (w + 2)
    assert enc.buffers[codec.BITSTREAM].writes_words == len(data) == dec.buffers[codec.BITSTREAM].reads_words
    assert enc.buffers[codec.CONTEXTS].peak_bytes == 367 * 5
    noise, noise_wl = _image("noise", 20, 30, 2), Workload("noise")
    encode(noise, workload=noise_wl)  # (almost) all regular mode: 42 adds + k-search shifts
    assert 42 * noise.size <= noise_wl.total_ops("add") <= 60 * noise.size
    near_wl = Workload("near")
    encode(img, 2, workload=near_wl)
    assert near_wl.total_ops("mul") > 0 and near_wl.total_ops("div") > 0
