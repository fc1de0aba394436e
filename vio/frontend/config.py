"""Front-end configuration (:class:`FrontendConfig`) and the package's error type."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from datasets.configuration import ConfigMixin

from ..errors import VioError


class FrontendError(VioError):
    """Invalid front-end configuration, calibration or input frame."""


# Upper bounds of the integer options: far above any useful setting, low enough that the
# feature tables, pyramids and RANSAC loops they size stay allocatable.
UPPER_LIMITS = {"max_features": 100_000, "grid_rows": 1000, "grid_cols": 1000, "pyramid_levels": 12,
                "klt_max_iterations": 1000, "ransac_max_iterations": 1_000_000, "klt_window_px": 255,
                "corner_block_px": 31, "border_px": 10_000, "ransac_seed": 2**32 - 1}


@dataclass(frozen=True)
class FrontendConfig(ConfigMixin):
    """Options of the stereo front-end; every field states its unit.

    Detection (Shi-Tomasi minimum-eigenvalue corners, spread over a grid):
      max_features: features kept per frame (tracked + new).
      grid_rows, grid_cols: detection grid; each cell holds at most ceil(max_features / cells).
      min_distance_px: minimum distance between features [px].
      quality_level: a corner's score must reach this fraction of the best score in its
          cell (cv2.goodFeaturesToTrack's qualityLevel, per cell so weak cells get features).
      min_corner_score: absolute floor of the Shi-Tomasi score (OpenCV's normalised
          cornerMinEigenVal units; gradients of 8-bit images scaled to [0, 1]). 1e-3 sits
          above sensor noise on a blank wall (grey noise of sigma 2 scores up to 2e-4,
          whose "corners" track as a static scene) and below real texture (a real V1_01
          frame has ~300 corners above it); docs/robustness.md.
      corner_block_px: side of the gradient-covariance window of the score [px], odd.
      border_px: no detection closer than this to the image edge [px].
    KLT (pyramidal Lucas-Kanade, Bouguet 2000):
      klt_window_px: side of the tracking window [px], odd.
      pyramid_levels: levels including full resolution (OpenCV maxLevel = levels - 1); fewer
          when a level would be no larger than the window (as OpenCV).
      klt_max_iterations, klt_epsilon: stop after this many iterations or when the update
          is below klt_epsilon [px] (per level).
      fb_threshold_px: forward-backward consistency limit [px] (temporal and stereo).
    Stereo (left -> right KLT, checked against the calibrated extrinsics):
      epipolar_threshold_px: distance of the right point from the epipolar line [px].
      min_disparity_px, max_disparity_px: accepted disparity along the baseline [px].
      stereo_prior_depth_m: depth used to seed the right-image search of new features [m].
      stereo_retry_depths_m: further depths [m] at which a new feature that the prior-depth
          seed did not match is tried again, in order, until it matches (the pyramid KLT
          reaches only ~ (2^levels - 1) window/2 px from its seed; real scenes span 0.5 to
          10 m, i.e. 5 to 100 px of EuRoC disparity). Empty: no retries.
      stereo_gain_compensation: scale the right image by mean(left) / mean(right) before
          matching (the EuRoC cameras differ by ~10 % in exposure; KLT assumes equal brightness).
    Outlier rejection (RANSAC between consecutive left frames):
      ransac_threshold_px: epipolar inlier threshold [px].
      ransac_confidence: probability of drawing one all-inlier sample.
      ransac_max_iterations: hypothesis cap.
      ransac_min_parallax_px: skip RANSAC when the median rotation-compensated flow is
          below this [px] (near-zero translation leaves the epipolar geometry undefined).
      ransac_seed: seed of the 2-point sampler (deterministic output).
    Keyframes:
      keyframe_parallax_px: new keyframe when the mean (rotation-compensated) parallax to
          the last keyframe exceeds this [px].
      keyframe_min_track_ratio: ... or when fewer than this fraction of the last
          keyframe's features are still tracked.
    count_workload: fill a Workload record per frame (False: NULL_WORKLOAD, no cost).
    """

    max_features: int = 180
    grid_rows: int = 4
    grid_cols: int = 6
    min_distance_px: float = 15.0
    quality_level: float = 0.01
    min_corner_score: float = 1e-3
    corner_block_px: int = 3
    border_px: int = 8
    klt_window_px: int = 21
    pyramid_levels: int = 3
    klt_max_iterations: int = 10
    klt_epsilon: float = 0.01
    fb_threshold_px: float = 0.5
    epipolar_threshold_px: float = 1.5
    min_disparity_px: float = 0.5
    max_disparity_px: float = 120.0
    stereo_prior_depth_m: float = 3.0
    stereo_retry_depths_m: tuple[float, ...] = (1.0, 0.5, 10.0)
    stereo_gain_compensation: bool = True
    ransac_threshold_px: float = 1.0
    ransac_confidence: float = 0.999
    ransac_max_iterations: int = 200
    ransac_min_parallax_px: float = 1.0
    ransac_seed: int = 0
    keyframe_parallax_px: float = 10.0
    keyframe_min_track_ratio: float = 0.6
    count_workload: bool = True

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise FrontendError(f"frontend config: '{name}' {why}, got {getattr(self, name)!r}")

        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                if not isinstance(value, bool):
                    bad(f.name, "must be true or false")
            elif f.name == "stereo_retry_depths_m":
                if isinstance(value, list):
                    value = tuple(value)
                    object.__setattr__(self, f.name, value)
                if not isinstance(value, tuple) or not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                        for v in value):
                    bad(f.name, "must be a list of depths > 0")
            elif f.type == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    bad(f.name, "must be an integer")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                bad(f.name, "must be a finite number")
        for name in ("max_features", "grid_rows", "grid_cols", "pyramid_levels", "klt_max_iterations",
                     "ransac_max_iterations"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        for name in ("min_distance_px", "klt_epsilon", "fb_threshold_px", "epipolar_threshold_px",
                     "max_disparity_px", "stereo_prior_depth_m", "ransac_threshold_px", "keyframe_parallax_px"):
            if getattr(self, name) <= 0:
                bad(name, "must be > 0")
        for name in ("min_corner_score", "border_px", "ransac_min_parallax_px", "ransac_seed"):
            if getattr(self, name) < 0:
                bad(name, "must be >= 0")
        if not 0 < self.quality_level < 1:
            bad("quality_level", "must be in (0, 1)")
        for name in ("klt_window_px", "corner_block_px"):
            if getattr(self, name) < 3 or getattr(self, name) % 2 == 0:
                bad(name, "must be odd and >= 3")
        for name, most in UPPER_LIMITS.items():  # beyond these the arrays or loops stop making sense
            if getattr(self, name) > most:
                bad(name, f"must be at most {most}")
        if not 0 <= self.min_disparity_px < self.max_disparity_px:
            bad("min_disparity_px", f"must be in [0, max_disparity_px={self.max_disparity_px})")
        if not 0 < self.ransac_confidence < 1:
            bad("ransac_confidence", "must be in (0, 1)")
        if not 0 <= self.keyframe_min_track_ratio <= 1:
            bad("keyframe_min_track_ratio", "must be in [0, 1]")
