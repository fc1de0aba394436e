"""Image statistics that separate real camera frames from rendered ones.

Every function takes 8-bit grey images (uint8, H x W) and returns plain floats or arrays,
so the real sequence and its twin are measured by the same code. Definitions (units are
grey levels, 0..255):

- gradient magnitude: ``sqrt(gx^2 + gy^2)`` of OpenCV's unnormalised 3x3 Sobel (a unit step
  gives 4); histogram, median and 90th percentile over all pixels;
- Shi-Tomasi corners: ``cv2.goodFeaturesToTrack`` (quality 0.01, min distance 5 px, at most
  ``MAX_CORNERS``; a count equal to the cap is reported as capped);
- lossless codec ratio: raw size over the stream of :mod:`accel_model.codec` (near = 0);
  PNG ratio: raw size over ``cv2.imencode`` at compression level 9;
- noise: Immerkaer (1996), "Fast noise variance estimation", CVIU 64(2), eq. (4):
  ``sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|`` with the Laplacian-difference mask
  ``N = [[1,-2,1],[-2,4,-2],[1,-2,1]]`` (edges add to it: a textured image reads high);
- blur: variance of the 3x3 Laplacian (Pech-Pacheco et al., ICPR 2000) and the fraction of
  spectral energy (DC removed) above 0.25 cycles/px radius;
- vignetting: mean brightness in rings of normalised radius around the principal point,
  divided by the central ring's (content averages out over many frames);
- left/right gain: on rectified images, right over left brightness over the stereo overlap
  (the right image shifted by the best global disparity), the median over 32 px blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from accel_model.codec import codec_stats

MAX_CORNERS = 2000
CORNER_QUALITY = 0.01
CORNER_MIN_DISTANCE_PX = 5
GRADIENT_BINS = np.arange(0.0, 516.0, 4.0)  # edges [grey levels]; the last bin holds everything above
RADIAL_BINS = 10
HIGH_FREQUENCY_CUTOFF = 0.25  # [cycles/px]
GAIN_BLOCK_PX = 32
MAX_DISPARITY_PX = 96
IMMERKAER_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def _check(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2 or min(image.shape) < 3:
        raise ValueError("expected a 2-D uint8 image of at least 3x3 pixels")
    return image


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Per-pixel |grad| [grey levels] of the unnormalised 3x3 Sobel (float32, H x W)."""
    img = _check(image).astype(np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    return np.sqrt(gx * gx + gy * gy)


def gradient_histogram(image: np.ndarray) -> np.ndarray:
    """Pixel counts of the gradient magnitude in ``GRADIENT_BINS`` (values above the last edge
    go into the last bin)."""
    g = np.minimum(gradient_magnitude(image), GRADIENT_BINS[-1] - 1e-3)
    return np.histogram(g, bins=GRADIENT_BINS)[0].astype(np.int64)


def histogram_quantile(counts: np.ndarray, q: float, edges: np.ndarray = GRADIENT_BINS) -> float:
    """Quantile ``q`` of binned data (linear inside the bin)."""
    cdf = np.cumsum(counts) / max(counts.sum(), 1)
    k = int(np.searchsorted(cdf, q))
    below = cdf[k - 1] if k else 0.0
    frac = (q - below) / max(cdf[k] - below, 1e-12)
    return float(edges[k] + frac * (edges[k + 1] - edges[k]))


def corner_count(image: np.ndarray) -> int:
    """Shi-Tomasi corners (quality 0.01, min distance 5 px), at most ``MAX_CORNERS``."""
    pts = cv2.goodFeaturesToTrack(_check(image), MAX_CORNERS, CORNER_QUALITY, CORNER_MIN_DISTANCE_PX)
    return 0 if pts is None else int(len(pts))


def codec_ratio(image: np.ndarray) -> float:
    """Raw 8-bit size over the lossless frame codec's stream (accel_model.codec)."""
    return float(codec_stats(_check(image)).ratio)


def png_ratio(image: np.ndarray, level: int = 9) -> float:
    """Raw 8-bit size over the PNG file at zlib ``level``."""
    ok, data = cv2.imencode(".png", _check(image), [cv2.IMWRITE_PNG_COMPRESSION, level])
    if not ok:
        raise ValueError("PNG encoding failed")
    return image.size / len(data)


def immerkaer_noise(image: np.ndarray) -> float:
    """Noise std [grey levels], Immerkaer 1996 eq. (4) over the interior pixels."""
    img = _check(image).astype(np.float64)
    conv = cv2.filter2D(img, cv2.CV_64F, IMMERKAER_MASK)[1:-1, 1:-1]
    h, w = img.shape
    return float(np.sqrt(np.pi / 2.0) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian [grey levels^2] (higher = sharper)."""
    return float(cv2.Laplacian(_check(image).astype(np.float64), cv2.CV_64F, ksize=1).var())


def high_frequency_fraction(image: np.ndarray, cutoff: float = HIGH_FREQUENCY_CUTOFF) -> float:
    """Fraction of the spectral power (mean removed) at radial frequency above ``cutoff`` cycles/px."""
    img = _check(image).astype(np.float64)
    power = np.abs(np.fft.rfft2(img - img.mean())) ** 2
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.rfftfreq(img.shape[1])[None, :]
    total = power.sum()
    return float(power[np.hypot(fx, fy) > cutoff].sum() / total) if total > 0 else 0.0


def radial_profile(image: np.ndarray, center_xy: tuple[float, float] | None = None,
                   bins: int = RADIAL_BINS) -> np.ndarray:
    """Mean brightness in ``bins`` rings of radius normalised by the farthest corner
    (0 = ``center_xy`` [px], default the image centre; 1 = that corner)."""
    img = _check(image).astype(np.float64)
    h, w = img.shape
    cx, cy = ((w - 1) / 2.0, (h - 1) / 2.0) if center_xy is None else center_xy
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(xx - cx, yy - cy)
    r /= r.max()
    ring = np.minimum((r * bins).astype(np.int64), bins - 1)
    sums = np.bincount(ring.ravel(), img.ravel(), bins)
    counts = np.bincount(ring.ravel(), minlength=bins)
    return sums / np.maximum(counts, 1)


class Rectifier:
    """Undistort-rectify maps of a calibrated stereo pair (OpenCV ``stereoRectify``, alpha 0).

    The extrinsics come from the EuRoC ``T_body_cam`` of each camera:
    ``T_cam1_cam0 = T_body_cam1^-1 T_body_cam0`` (maps cam0 points into cam1)."""

    def __init__(self, cam0, cam1):
        size = (cam0.width, cam0.height)
        T = np.linalg.inv(cam1.T_body_cam) @ cam0.T_body_cam
        D0, D1 = (np.asarray(c.distortion_coefficients, dtype=np.float64) for c in (cam0, cam1))
        R0, R1, P0, P1, *_ = cv2.stereoRectify(cam0.K, D0, cam1.K, D1, size, np.ascontiguousarray(T[:3, :3]),
                                             np.ascontiguousarray(T[:3, 3]).reshape(3, 1), alpha=0)
        self.maps = [cv2.initUndistortRectifyMap(K, D, R, P, size, cv2.CV_32FC1)
                     for K, D, R, P in ((cam0.K, D0, R0, P0), (cam1.K, D1, R1, P1))]

    def __call__(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tuple(cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                     for img, (mx, my) in zip((left, right), self.maps))


def best_disparity(left: np.ndarray, right: np.ndarray, max_disparity: int = MAX_DISPARITY_PX) -> int:
    """Global shift d >= 0 [px] that best aligns ``right[:, x - d]`` with ``left[:, x]`` (rectified
    pair): maximum normalised correlation of the horizontal gradients."""
    gl = np.diff(left.astype(np.float64), axis=1)
    gr = np.diff(right.astype(np.float64), axis=1)
    w = gl.shape[1]
    best, best_score = 0, -np.inf
    for d in range(0, min(max_disparity, w // 2) + 1, 2):
        a, b = gl[:, d:], gr[:, :w - d]
        score = float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))
        if score > best_score:
            best, best_score = d, score
    return best


def gain_ratio(left: np.ndarray, right: np.ndarray, disparity: int | None = None,
               block: int = GAIN_BLOCK_PX, min_level: float = 8.0) -> float:
    """Right over left brightness over the stereo overlap: the median, over ``block`` px
    blocks where both means exceed ``min_level`` and no pixel is 0 (rectification border) or
    255 (saturated), of mean(right block) / mean(left block), the right image shifted by
    ``disparity`` (default :func:`best_disparity`). Inputs: rectified uint8 images."""
    _check(left), _check(right)
    d = best_disparity(left, right) if disparity is None else int(disparity)
    w = left.shape[1]
    a = left[:, d:].astype(np.float64)
    b = right[:, :w - d].astype(np.float64)
    h, ww = a.shape
    nh, nw = h // block, ww // block
    if nh == 0 or nw == 0:
        return float("nan")
    shape = (nh, block, nw, block)
    crop = (slice(0, nh * block), slice(0, nw * block))
    ma, mb = a[crop].reshape(shape).mean(axis=(1, 3)), b[crop].reshape(shape).mean(axis=(1, 3))
    bad = lambda img: ((img[crop] <= 0) | (img[crop] >= 255)).reshape(shape).any(axis=(1, 3))  # noqa: E731
    ok = (ma > min_level) & (mb > min_level) & ~bad(a) & ~bad(b)
    return float(np.median(mb[ok] / ma[ok])) if ok.any() else float("nan")


@dataclass
class ImageStats:
    """Accumulates the per-frame measures of one camera over a set of frames."""

    histogram: np.ndarray
    corners: list
    codec: list
    png: list
    brightness: list
    noise: list
    laplacian_var: list
    hf_fraction: list
    radial: list

    @classmethod
    def empty(cls) -> "ImageStats":
        return cls(np.zeros(len(GRADIENT_BINS) - 1, dtype=np.int64), [], [], [], [], [], [], [], [])

    def add(self, image: np.ndarray, center_xy: tuple[float, float] | None = None) -> None:
        self.histogram += gradient_histogram(image)
        self.corners.append(corner_count(image))
        self.codec.append(codec_ratio(image))
        self.png.append(png_ratio(image))
        self.brightness.append(float(image.mean()))
        self.noise.append(immerkaer_noise(image))
        self.laplacian_var.append(laplacian_variance(image))
        self.hf_fraction.append(high_frequency_fraction(image))
        self.radial.append(radial_profile(image, center_xy))

    def summary(self) -> dict:
        """Medians over frames (means for brightness), the gradient quantiles of all pixels and
        the vignetting profile (mean over frames, divided by the central ring)."""
        profile = np.mean(self.radial, axis=0)
        profile = profile / profile[0] if profile[0] > 0 else profile
        return {
            "frames": len(self.corners),
            "gradient_median": histogram_quantile(self.histogram, 0.5),
            "gradient_p90": histogram_quantile(self.histogram, 0.9),
            "gradient_histogram": self.histogram.tolist(),
            "corners_per_frame": float(np.median(self.corners)),
            "corners_capped_frames": int(np.sum(np.asarray(self.corners) >= MAX_CORNERS)),
            "codec_ratio": float(np.median(self.codec)),
            "png_ratio": float(np.median(self.png)),
            "brightness_mean": float(np.mean(self.brightness)),
            "noise_immerkaer": float(np.median(self.noise)),
            "laplacian_variance": float(np.median(self.laplacian_var)),
            "high_frequency_fraction": float(np.median(self.hf_fraction)),
            "vignetting_profile": profile.tolist(),
            "vignetting_edge_over_centre": float(profile[-1]),
        }
