"""Frame codec: lossless and near-lossless LOCO-I / JPEG-LS coding of 8-bit frames.

The coder (kernels in :mod:`accel_model._kernels`) follows JPEG-LS (ITU-T T.87;
Weinberger, Seroussi, Sapiro, IEEE TIP 9(8) 2000): MED prediction, 365 contexts from
quantised local gradients, bias cancellation, adaptive Golomb-Rice codes and a run mode.
It keeps only two image lines, as a hardware coder beside the camera would (Navion
stores its frames compressed: Suleiman et al., JSSC 54(4) 2019). With ``near`` > 0
every decoded pixel is within ``near`` grey levels of the original (T.87 near-lossless
mode); ``near`` = 0 is lossless.

Stream = 22-byte little-endian header + payload::

    magic b"NVLS" | version u8 | near u8 | width u32 | height u32 | payload bytes u32
    | CRC-32 of the header's first 18 bytes followed by the payload

:func:`decode` checks all of it; a damaged stream raises :class:`CodecError`, never
returns an image of garbage.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from accel_model import _kernels as K
from accel_model.workload import Workload

MAGIC = b"NVLS"
VERSION = 1
MAX_NEAR = 127  # T.87: NEAR <= min(255, MAXVAL // 2)
MAX_PIXELS = 1 << 28
_HEADER = struct.Struct("<4sBBIIII")
HEADER_BYTES = _HEADER.size
_CRC_OFFSET = HEADER_BYTES - 4

# Operations per kernel event on a 16-bit integer datapath, counted from the kernel code
# (the encoder; the decoder's datapath is the mirror image). Conventions: add, subtract,
# negate, abs and shift are "add"; a gradient quantiser is 4 comparisons (comparator
# tree over its 8 thresholds); loop counters and configuration tests are not counted;
# both sides of a data-dependent branch are counted, as a pipelined datapath computes
# them and selects. Packing a code word into the stream is 2 adds and 1 comparison.
_OPS_PER_EVENT = {
    # context: 3 gradients, 3 quantisers, 3 zero tests (run-mode check)
    "context": {"add": 3, "compare": 15},
    # sign merge and index (7 add, 3 cmp), MED (2, 3), bias correction and clamp (2, 2),
    # error (2, 0), reconstruction with wrap and clamp (3, 4), modulo (2, 2), k search
    # exit (0, 1), map selection (2, 2), mapping (2, 1), Golomb split (2, 1), packing
    # (2, 1), context update (13, 7)
    "regular": {"add": 39, "compare": 27},
    "run_start": {"compare": 3},  # last code word test, end of line, leftover count
    "run_sample": {"add": 2, "compare": 1},  # |x - RUNval| <= NEAR
    "run_code": {"add": 4, "compare": 3},  # length test, count and RUNindex update, packing
    # RItype and sign (2, 2), error (2, 0), reconstruction (3, 4), modulo (2, 2),
    # TEMP (2, 0), k search exit (0, 1), map bit (1, 5), EMErrval (4, 0), limit (2, 0),
    # Golomb split and packing (4, 2), context update (9, 2), RUNindex (1, 1)
    "interruption": {"add": 32, "compare": 19},
    "k_iteration": {"add": 1, "compare": 1},  # one step of the k search (shift, compare)
}
# Extra per sample when NEAR > 0: quantisation (2 add, 1 cmp, 1 div), dequantisation
# (1 mul) and, in the regular mode, the bias accumulation B += Errval * (2 NEAR + 1).
_OPS_NEAR = {"regular": {"add": 2, "compare": 1, "div": 1, "mul": 2},
             "interruption": {"add": 2, "compare": 1, "div": 1, "mul": 1}}
OP_BITS = 16
PIXEL_BITS = 8
CONTEXT_BITS = 40  # A 16, B 8, C 8, N 8 bits per context record
LINE_BUFFER = "codec_line_buffer"
CONTEXTS = "codec_contexts"
BITSTREAM = "compressed_frame"

_DECODE_ERRORS = {
    K.ERR_TRUNCATED: "payload ends before the last pixel",
    K.ERR_BAD_CODE: "invalid code in the payload",
    K.ERR_BAD_RUN: "run longer than its line",
    K.ERR_PADDING: "payload continues after the last pixel",
}


class CodecError(ValueError):
    """An image the codec cannot encode, or a stream that is not a valid, intact encoding."""


@dataclass(frozen=True)
class CodecStats:
    """Size of one encoded frame: ``nbytes`` is the whole stream (header included)."""

    width: int
    height: int
    near: int
    nbytes: int

    @property
    def bits_per_pixel(self) -> float:
        return 8.0 * self.nbytes / (self.width * self.height)

    @property
    def ratio(self) -> float:
        """Raw 8-bit size over encoded size."""
        return self.width * self.height / self.nbytes


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise CodecError(f"expected a 2-D uint8 image, got {desc}")
    h, w = image.shape
    if h < 1 or w < 1 or h * w > MAX_PIXELS:
        raise CodecError(f"image size {w}x{h} outside 1x1 .. {MAX_PIXELS} pixels")
    return np.ascontiguousarray(image)


def _check_near(near) -> int:
    if isinstance(near, bool) or not isinstance(near, (int, np.integer)) or not 0 <= near <= MAX_NEAR:
        raise CodecError(f"near must be an integer in 0..{MAX_NEAR}, got {near!r}")
    return int(near)


def _count_workload(workload: Workload, events: np.ndarray, width: int, height: int,
                    near: int, nbytes: int, encoding: bool) -> None:
    """Operations from the kernel's event counts; traffic of the two-line buffer, the
    context memory and the compressed frame (written when encoding, read when decoding)."""
    ev = dict(zip(K.EVENTS, events.tolist()))
    times = {"context": ev["regular"] + ev["run_start"], "regular": ev["regular"],
             "run_start": ev["run_start"], "run_sample": ev["run_sample"],
             "run_code": ev["run_code"], "interruption": ev["interruption"],
             "k_iteration": ev["k_sum"]}
    totals: dict[str, int] = {}
    for event, ops in _OPS_PER_EVENT.items():
        for kind, count in ops.items():
            totals[kind] = totals.get(kind, 0) + count * times[event]
    if near > 0:
        for event, ops in _OPS_NEAR.items():
            for kind, count in ops.items():
                totals[kind] = totals.get(kind, 0) + count * times[event]
    for kind, count in totals.items():
        workload.add_ops(kind, count, OP_BITS)
    pixels = width * height
    # per sample: read d from the line above (b, c sit in the sliding window), write Rx;
    # per line: copy the left border from the line above, repeat the last sample.
    workload.read(LINE_BUFFER, pixels + height, PIXEL_BITS)
    workload.write(LINE_BUFFER, pixels + 2 * height, PIXEL_BITS)
    workload.peak(LINE_BUFFER, 2 * (width + 2) * PIXEL_BITS // 8)
    coded = ev["regular"] + ev["interruption"]
    workload.read(CONTEXTS, coded, CONTEXT_BITS)
    workload.write(CONTEXTS, coded, CONTEXT_BITS)
    workload.peak(CONTEXTS, K.N_CONTEXTS * CONTEXT_BITS // 8)
    (workload.write if encoding else workload.read)(BITSTREAM, nbytes, 8)
    workload.peak(BITSTREAM, nbytes)


def encode(image: np.ndarray, near: int = 0, workload: Workload | None = None) -> bytes:
    """Encode a 2-D uint8 image; ``near`` = 0 lossless, else max abs error ``near``.

    ``workload``, if given, receives the coder's operations (16-bit) and its buffer
    traffic: ``codec_line_buffer`` (two lines, 8-bit), ``codec_contexts`` (367 records),
    ``compressed_frame`` (the stream written).
    """
    image = _check_image(image)
    near = _check_near(near)
    h, w = image.shape
    out = np.empty(4 * h * w + 8, dtype=np.uint8)
    events = np.zeros(len(K.EVENTS), dtype=np.int64)
    size = K.encode_kernel(image, near, out, events)
    payload = out[:size].tobytes()
    head = _HEADER.pack(MAGIC, VERSION, near, w, h, size, 0)[:_CRC_OFFSET]
    data = head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload
    if workload is not None:
        _count_workload(workload, events, w, h, near, len(data), encoding=True)
    return data


def _parse_header(data: bytes) -> tuple[int, int, int, memoryview]:
    """(near, width, height, payload) of a stream whose header and CRC check out."""
    if len(data) < HEADER_BYTES:
        raise CodecError(f"stream of {len(data)} bytes is shorter than the {HEADER_BYTES}-byte header")
    magic, version, near, w, h, size, crc = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CodecError(f"not a codec stream (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise CodecError(f"unsupported stream version {version} (expected {VERSION})")
    if near > MAX_NEAR:
        raise CodecError(f"near {near} in header exceeds {MAX_NEAR}")
    if w < 1 or h < 1 or w * h > MAX_PIXELS:
        raise CodecError(f"image size {w}x{h} in header outside 1x1 .. {MAX_PIXELS} pixels")
    if size > 4 * w * h + 8:
        raise CodecError(f"payload of {size} bytes is too long for a {w}x{h} image")
    if len(data) != HEADER_BYTES + size:
        what = "truncated" if len(data) < HEADER_BYTES + size else "trailing data after the payload"
        raise CodecError(f"{what}: stream has {len(data)} bytes, header says {HEADER_BYTES + size}")
    view = memoryview(data)
    if zlib.crc32(view[HEADER_BYTES:], zlib.crc32(view[:_CRC_OFFSET])) != crc:
        raise CodecError("checksum mismatch: the stream is corrupt")
    return near, w, h, view[HEADER_BYTES:]


def decode(data: bytes, workload: Workload | None = None) -> np.ndarray:
    """Decode a stream from :func:`encode` into a (height, width) uint8 image.

    Raises :class:`CodecError` for anything but an intact stream. ``workload`` receives
    the decoder's operations and traffic (``compressed_frame`` read), as for :func:`encode`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    near, w, h, payload = _parse_header(data)
    image = np.empty((h, w), dtype=np.uint8)
    events = np.zeros(len(K.EVENTS), dtype=np.int64)
    status = K.decode_kernel(np.frombuffer(payload, dtype=np.uint8), near, image, events)
    if status != K.ERR_OK:
        raise CodecError(f"corrupt stream: {_DECODE_ERRORS[status]}")
    if workload is not None:
        _count_workload(workload, events, w, h, near, len(data), encoding=False)
    return image


def codec_stats(image: np.ndarray, near: int = 0) -> CodecStats:
    """Encoded size, bits per pixel and compression ratio of ``image``."""
    data = encode(image, near)
    h, w = image.shape
    return CodecStats(width=w, height=h, near=int(near), nbytes=len(data))


def compressed_bits_per_pixel(image: np.ndarray, near: int = 0) -> float:
    """Bits per pixel of the encoded stream (header included)."""
    return codec_stats(image, near).bits_per_pixel


def med_residual_entropy(images: list[np.ndarray]) -> float:
    """Zero-order entropy [bits/pixel] of the MED prediction residuals x - MED(a, b, c)
    (LOCO-I's predictor, Weinberger et al. 2000) over the images' interiors: the
    context-free bound a MED coder without modelling could reach."""
    hist = np.zeros(511, dtype=np.int64)
    for image in images:
        im = _check_image(image).astype(np.int64)
        a, b, c, x = im[1:, :-1], im[:-1, 1:], im[:-1, :-1], im[1:, 1:]
        hi, lo = np.maximum(a, b), np.minimum(a, b)
        pred = np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))
        hist += np.bincount((x - pred + 255).ravel(), minlength=511)
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())
