"""Fits the natural texture model (datasets/synth/texture.py) to real EuRoC frames.

Per environment, from every 10th frame of both cameras of a real fragment:

- quantiles: 33 intensity quantiles / 255 (the texture's grey distribution; the
  camera model's exposure sets the absolute level);
- spectrum_slope: slope of the radially averaged power spectrum, fitted on log-log
  axes between 8 and 120 cycles per 480 px (below the lens and pixel cut-off);
- texel_m: the texel size one pixel covers at the real scene's median depth, baseline /
  median stereo disparity of the front-end's stereo matches (every 5th frame, matched
  afresh, seeded at the prior depth only: the depths the twin's hall reproduces; the
  near clutter that retries at 0.5-1 m find in MH_01 is not in the twin's hall), so the
  tile is seen at about one texel per pixel where the real camera looks;
- grain_weight, contrast_spread and the smallest leaf size: the tile is imaged at one
  texel per pixel (the camera model's fitted PSF, shot noise and rounding) and compared
  with the real frames on three statistics: the ratio of the 90th percentile to the
  median Sobel gradient magnitude, the same ratio of the local contrast (std of 16 x 16
  px patches), and the median Sobel gradient magnitude. The grain weight is bisected
  to match the first (it falls as the weight grows); the spread and the leaf size are
  the grid values with the least summed squared log misfit of all three (the statistics
  are not monotone in them).

- texel_m, closed loop: the tile statistics are matched at one texel per pixel, but the
  twin's scene depths, mip filtering and shading differ from that proxy, so the texel size
  is then scaled (bisection in log, 1/4 to 4 times the median-depth value) until the
  twin's rendered frames of the fragment's own span (`navion twin-gap`, first 60 frames)
  have the real median Sobel magnitude.

The largest leaf size (1 m) is an assumption, not a fit. Writes datasets/synth/texture_euroc.yaml.

Run: .venv/bin/python scripts/fit_texture.py [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import datetime
import math
import tempfile
from pathlib import Path

import cv2
import numpy as np
import yaml

from datasets.euroc import open_euroc
from datasets.synth.sensor_model import load_parameters as load_camera_parameters
from datasets.synth.texture import FITTED_PARAMETERS, natural_layers
from navion.twin_gap.images import gradient_magnitude
from vio.frontend import Frontend, FrontendConfig

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = {"machine_hall": "euroc_mh01_moving", "vicon_room": "euroc_v101_micro"}
LEAF_MAX_M = 1.0  # largest leaf radius [m]: an assumption
LEAF_MIN_GRID_M = (0.005, 0.01, 0.02, 0.04, 0.08)  # smallest leaf radius [m], fitted on this grid
FIT_TEXELS = 512
GROUNDTRUTH = {"euroc_mh01_moving": "euroc_groundtruth/MH_01_easy.txt",
               "euroc_v101_micro": "euroc_groundtruth/V1_01_easy.txt"}
RENDER_FRAMES = 60  # twin frames rendered per closed-loop step
RENDER_IMAGE_FRAMES = 12  # of which measured
CLOSED_LOOP_STEPS = 6
SPREAD_GRID = np.arange(0.0, 4.01, 0.25)


def frames(folder: Path, stride: int = 10) -> list[np.ndarray]:
    out = []
    for cam in ("cam0", "cam1"):
        files = sorted((folder / "mav0" / cam / "data").glob("*.png"))[::stride]
        out += [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    return out


def gradient_ratio(image: np.ndarray) -> float:
    """90th percentile / median of the Sobel gradient magnitude of a uint8 image."""
    mag = gradient_magnitude(image)
    return float(np.percentile(mag, 90) / np.median(mag))


def patch_contrast_ratio(image: np.ndarray, patch: int = 16) -> float:
    """90th percentile / median of the std of the image's patch x patch blocks."""
    h, w = (n // patch * patch for n in image.shape)
    blocks = image[:h, :w].astype(np.float64).reshape(h // patch, patch, w // patch, patch).std(axis=(1, 3))
    return float(np.percentile(blocks, 90) / np.median(blocks))


def spectrum_slope(image: np.ndarray) -> float:
    """Log-log slope of the radial power spectrum of the central 480 x 480 crop."""
    h, w = image.shape
    crop = image[(h - 480) // 2:(h + 480) // 2, (w - 480) // 2:(w + 480) // 2].astype(np.float64)
    power = np.abs(np.fft.fftshift(np.fft.fft2(crop - crop.mean()))) ** 2
    y, x = np.mgrid[-240:240, -240:240]
    r = np.hypot(x, y).astype(int)
    profile = np.bincount(r.ravel(), power.ravel()) / np.maximum(np.bincount(r.ravel()), 1)
    band = np.arange(8, 121)
    return float(-np.polyfit(np.log(band), np.log(profile[band]), 1)[0])


def scene_texel_m(folder: Path, stride: int = 5) -> tuple[float, float]:
    """(median stereo disparity [px], baseline / that disparity [m]) of a real sequence."""
    seq = open_euroc(folder, quiet=True)
    frontend = Frontend(seq.cam0, seq.cam1, FrontendConfig(stereo_retry_depths_m=()))
    disparity = []
    for t in seq.stereo_timestamps_ns[::stride]:
        frontend.reset()
        tracks = frontend.process((int(t), seq.load_image("cam0", t), seq.load_image("cam1", t)))
        disparity.extend(frontend.stereo_disparity_px(tracks).tolist())
    baseline_m = float(np.linalg.norm(frontend.stereo.t))
    median = float(np.median(disparity))
    return median, baseline_m / median


def as_imaged(tile: np.ndarray, seed: int) -> np.ndarray:
    """A tile [grey] as the camera model images it at one texel per pixel: the fitted lens
    PSF, shot noise (var = a I) and 8-bit rounding (camera_euroc.yaml)."""
    camera = load_camera_parameters()
    blurred = cv2.GaussianBlur(tile.astype(np.float64), (0, 0), camera.psf_sigma_px, borderType=cv2.BORDER_REFLECT)
    noise = np.random.default_rng([seed, 5]).standard_normal(tile.shape) * np.sqrt(camera.shot_noise_a * blurred
                                                                                  + camera.read_noise_b)
    return np.clip(np.round(blurred + noise), 0, 255).astype(np.uint8)


def median_gradient(image: np.ndarray) -> float:
    return float(np.median(gradient_magnitude(image)))


def bisect(f, lo: float, hi: float, steps: int) -> float:
    """Root of a decreasing f on [lo, hi]."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def fit_environment(images: list[np.ndarray], texel_m: float) -> dict:
    pixels = np.concatenate([im.ravel() for im in images]).astype(np.float64) / 255.0
    quantiles = tuple(float(q) for q in np.quantile(pixels, np.linspace(0, 1, 33)))
    slope = float(np.mean([spectrum_slope(im) for im in images]))
    targets = np.array([np.mean([f(im) for im in images])
                        for f in (gradient_ratio, patch_contrast_ratio, median_gradient)])

    def measure(tiles: list[np.ndarray]) -> np.ndarray:
        return np.array([np.mean([f(t) for t in tiles]) for f in (gradient_ratio, patch_contrast_ratio,
                                                                   median_gradient)])

    best = None
    for leaf_min_m in LEAF_MIN_GRID_M:
        layers = [natural_layers((leaf_min_m, LEAF_MAX_M), slope, FIT_TEXELS, texel_m, np.random.default_rng(k))
                  for k in range(2)]

        def tiles(weight: float, spread: float) -> list[np.ndarray]:
            return [as_imaged(255 * lay.compose(weight, spread, quantiles), k) for k, lay in enumerate(layers)]

        for spread in SPREAD_GRID:
            weight = bisect(lambda w: np.mean([gradient_ratio(t) for t in tiles(w, spread)]) - targets[0],
                            0.0, 4.0, 7)
            measured = measure(tiles(weight, spread))
            misfit = float(np.sum(np.log(measured / targets) ** 2))
            if best is None or misfit < best[0]:
                best = (misfit, leaf_min_m, float(spread), weight, measured)
    misfit, leaf_min_m, spread, weight, measured = best
    names = ("gradient_p90_over_median", "patch_contrast_p90_over_median", "gradient_median")
    return {"spectrum_slope": round(slope, 4), "grain_weight": round(weight, 4), "contrast_spread": round(spread, 4),
            "leaf_size_m": [leaf_min_m, LEAF_MAX_M], "texel_m": round(texel_m, 6),
            "quantiles": [round(q, 5) for q in quantiles],
            "measured": {"frames": len(images), **{f"real_{n}": round(float(v), 4) for n, v in zip(names, targets)},
                         **{f"fitted_{n}": round(float(v), 4) for n, v in zip(names, measured)}}}


def rendered_gradient_ratio(data: Path, folder: str, profile: str, fitted: dict, texel_m: float,
                            work: Path) -> float:
    """Median Sobel magnitude of the twin's frames over the real frames' (mean of cam0 and
    cam1; ``navion twin-gap`` on the first RENDER_FRAMES frames of the fragment) with the
    fitted profile at ``texel_m``."""
    from navion.twin_gap.gap import twin_gap

    params, config = work / "texture.yaml", work / "synth.yaml"
    params.write_text(yaml.safe_dump({"profiles": {profile: {**fitted, "texel_m": texel_m}}}))
    config.write_text(yaml.safe_dump({"texture": {"parameters": str(params), "profile": profile}}))
    gap = twin_gap(data / folder, work / "gap", groundtruth=data / GROUNDTRUTH[folder], seed=0,
                   synth_config=config, max_frames=RENDER_FRAMES, image_frames=RENDER_IMAGE_FRAMES, vio=False)
    rows = {r.key: r for r in gap["rows"]}
    return float(np.mean([rows[f"{cam}.gradient_median"].ratio for cam in ("cam0", "cam1")]))


def closed_loop_texel(data: Path, folder: str, profile: str, fitted: dict, texel_m: float) -> tuple[float, float]:
    """(texel size [m], rendered/real median gradient at it): the scale on the measured texel
    size (bisected in log over [1/4, 4]) at which the twin's rendered frames have the real
    median gradient. The one-texel-per-pixel proxy ignores how the twin's scene depths, mip
    filtering and shading differ from the real scene's."""
    with tempfile.TemporaryDirectory() as tmp:
        def log_ratio(log_scale: float) -> float:
            return math.log(rendered_gradient_ratio(data, folder, profile, fitted, texel_m * math.exp(log_scale),
                                                    Path(tmp)))

        log_scale = bisect(log_ratio, -math.log(4), math.log(4), CLOSED_LOOP_STEPS)
        return texel_m * math.exp(log_scale), math.exp(log_ratio(log_scale))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=FITTED_PARAMETERS)
    args = parser.parse_args()
    profiles = {}
    for name, folder in ENVIRONMENTS.items():
        images = frames(args.data / folder)
        disparity_px, texel_m = scene_texel_m(args.data / folder)
        profiles[name] = fit_environment(images, texel_m)
        profiles[name]["measured"]["median_stereo_disparity_px"] = round(disparity_px, 3)
        profiles[name]["measured"]["texel_m_at_median_depth"] = round(texel_m, 6)
        closed, ratio = closed_loop_texel(args.data, folder, name, profiles[name], texel_m)
        profiles[name]["texel_m"] = round(closed, 6)
        profiles[name]["measured"]["rendered_over_real_gradient_median"] = round(ratio, 4)
        profiles[name]["source"] = f"{folder}: every 10th frame of cam0 and cam1"
        print(name, {k: v for k, v in profiles[name].items() if k != "quantiles"}, flush=True)
    header = (f"# Natural texture model fitted to real EuRoC frames by scripts/fit_texture.py on "
              f"{datetime.date.today()}.\n# leaf_size_m is an assumption; every other number is fitted "
              "(see docs/synth_realism.md).\n")
    args.out.write_text(header + yaml.safe_dump({"profiles": profiles}, sort_keys=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
