"""Frame codec on the real EuRoC V1_01 frames (../shared/data/euroc_v101_micro, cam0 and
cam1, 190 frames of 752x480): compression and speed against references measured here.

Prints, over all frames and over cam0 alone (the issue's anchors are cam0's):
- our lossless bits per pixel and ratio, near-lossless NEAR = 1..3 ratios and max error;
- PNG (cv2.imencode at compression 9), the EuRoC PNG files as stored, zstd level 19
  (zlib level 9 when the ``zstandard`` module is absent, labelled so), and the
  zero-order entropy of the MED residuals (what a context-free coder could reach);
- encode and decode ms per frame (median), with the first call (JIT compile, or numba
  cache load when the cache is warm) apart.

Run: .venv/bin/python benchmarks/codec_ratio.py
"""
from __future__ import annotations

import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from accel_model.codec import decode, encode, med_residual_entropy

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "euroc_v101_micro" / "mav0"

try:
    import zstandard

    GENERIC = ("zstd -19", zstandard.ZstdCompressor(level=19).compress)
except ImportError:
    GENERIC = ("zlib -9 (zstandard not installed)", lambda raw: zlib.compress(raw, 9))



def line(name: str, raw: int, nbytes: float, extra: str = "") -> None:
    print(f"  {name:<38} {8 * nbytes / raw:6.3f} bpp  {raw / nbytes:5.2f}x  {extra}")


def report(title: str, imgs: list[np.ndarray], paths: list[Path]) -> None:
    raw = sum(img.size for img in imgs)
    print(f"\n{title}: {len(imgs)} frames {imgs[0].shape[1]}x{imgs[0].shape[0]}")
    for near in range(4):
        coded, max_err = 0, 0
        for img in imgs:
            data = encode(img, near)
            coded += len(data)
            max_err = max(max_err, int(np.abs(decode(data).astype(int) - img).max()))
        line("ours, lossless" if near == 0 else f"ours, NEAR={near}", raw, coded, f"max error {max_err}")
    png = sum(len(cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]) for img in imgs)
    line("PNG (cv2, compression 9)", raw, png)
    line("PNG files as stored by EuRoC", raw, sum(p.stat().st_size for p in paths))
    line(GENERIC[0], raw, sum(len(GENERIC[1](img.tobytes())) for img in imgs))
    line("MED residual zero-order entropy", raw, med_residual_entropy(imgs) * raw / 8)


def timing(imgs: list[np.ndarray]) -> None:
    tiny = np.zeros((2, 2), np.uint8)
    t0 = time.perf_counter()
    decode(encode(tiny))
    first_s = time.perf_counter() - t0
    enc_ms, dec_ms = [], []
    for img in imgs:
        t0 = time.perf_counter()
        data = encode(img)
        t1 = time.perf_counter()
        decode(data)
        t2 = time.perf_counter()
        enc_ms.append((t1 - t0) * 1e3)
        dec_ms.append((t2 - t1) * 1e3)
    print(f"\nfirst call (JIT compile or cache load): {first_s:.2f} s")
    print(f"lossless, per 752x480 frame (median of {len(imgs)}): encode {np.median(enc_ms):.2f} ms, "
          f"decode {np.median(dec_ms):.2f} ms")


def main() -> None:
    if not DATA.exists():
        sys.exit(f"real EuRoC data not found at {DATA.resolve()}")
    paths = {cam: sorted((DATA / cam / "data").glob("*.png")) for cam in ("cam0", "cam1")}
    imgs = {cam: [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in ps] for cam, ps in paths.items()}
    timing(imgs["cam0"] + imgs["cam1"])
    report("cam0 + cam1", imgs["cam0"] + imgs["cam1"], paths["cam0"] + paths["cam1"])
    report("cam0 (the issue's anchors: PNG 2.03x, zstd 1.55x, MED entropy 4.05 bpp)",
           imgs["cam0"], paths["cam0"])


if __name__ == "__main__":
    main()
