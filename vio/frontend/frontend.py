"""The stereo front-end: track, verify, detect, match, select keyframes (per stereo frame).

Per frame (left = cam0, right = cam1; each image's KLT pyramid is built once and the
left one is kept for the next frame):

1. temporal KLT of the live tracks from the previous left image (FB-checked; initial
   guess from the gyro rotation when ``R_cam0prev_cam0cur_pred`` is given);
2. RANSAC between the previous and current left features (2-point with the gyro
   rotation, else 5-point), skipped when the motion is too small;
3. Shi-Tomasi detection on the grid cells that lack features, away from live tracks;
4. stereo KLT of every track into the right image, epipolar and disparity checks; new
   features the prior-depth seed misses are retried from seeds at other depths;
5. keyframe decision; output :class:`FeatureTracks` with the frame's :class:`Workload`.

Shi-Tomasi detection and KLT tracking follow the Navion front end (Suleiman et al.,
JSSC 2019; Zhang et al., RSS 2017). ``last_timings_s`` holds the wall time of each
stage of the last frame (for benchmarks).
"""
from __future__ import annotations

import time

import numpy as np

from accel_model.workload import NULL_WORKLOAD
from datasets.calibration import CameraCalibration
from datasets.messages import StereoFrame

from . import workload as wlf
from .config import FrontendConfig, FrontendError
from .detect import GridDetector
from .keyframes import KeyframeSelector
from .ransac import reject_outliers
from .stereo import StereoMatcher
from .track import ImagePyramid, klt_track, rotation_guess
from .tracks import FeatureTracks, TrackTable
from .undistort import Undistorter

STAGES = ("track", "ransac", "detect", "stereo", "output")


def _check_rotation(R) -> np.ndarray | None:
    if R is None:
        return None
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
        raise FrontendError("R_cam0prev_cam0cur_pred must be a 3x3 rotation matrix")
    return R


class Frontend:
    """Stereo feature tracker for a calibrated pair (cam0 = left, cam1 = right)."""

    def __init__(self, cam0: CameraCalibration, cam1: CameraCalibration, config: FrontendConfig = FrontendConfig()):
        if not isinstance(config, FrontendConfig):
            raise FrontendError(f"config must be a FrontendConfig, got {type(config).__name__}")
        if cam0.resolution != cam1.resolution:
            raise FrontendError(f"cam0 and cam1 resolutions differ: {cam0.resolution} vs {cam1.resolution}")
        self.config = config
        self.cam0, self.cam1 = cam0, cam1
        self.und0, self.und1 = Undistorter(cam0), Undistorter(cam1)
        self.stereo = StereoMatcher(self.und0, self.und1, config)
        self.detector = GridDetector(cam0.width, cam0.height, config)
        self.focal_px = float(np.mean(np.diag(cam0.K)[:2]))
        self.keyframes = KeyframeSelector(config, self.focal_px)
        self.tracks = TrackTable()
        self.reset()

    def reset(self) -> None:
        """Forgets all tracks and the previous image; track ids keep increasing."""
        self.tracks.clear()
        self.keyframes.reset()
        self._prev_pyramid: ImagePyramid | None = None
        self._spare_pyramids: list[ImagePyramid] = []  # buffers to recycle
        self._prev_ns = None
        self.last_timings_s = dict.fromkeys(STAGES, 0.0)
        self.last_fb_error_px = np.zeros(0)  # diagnostics: KLT forward-backward distances of the last frame

    def _unpack(self, frame) -> tuple[int, np.ndarray, np.ndarray]:
        if isinstance(frame, StereoFrame):
            t_ns, left, right = frame.timestamp_ns, frame.left.image, frame.right.image
        else:
            try:
                t_ns, left, right = frame
            except (TypeError, ValueError):
                raise FrontendError("frame must be a StereoFrame or (timestamp_ns, left_u8, right_u8)") from None
        shape = (self.cam0.height, self.cam0.width)
        for name, img in (("left", left), ("right", right)):
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.shape != shape:
                got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
                raise FrontendError(f"{name} image must be uint8 {shape}, got {got}")
        t_ns = int(t_ns)
        if self._prev_ns is not None and t_ns <= self._prev_ns:
            raise FrontendError(f"timestamp {t_ns} ns does not increase (previous {self._prev_ns} ns)")
        return t_ns, np.ascontiguousarray(left), np.ascontiguousarray(right)

    def stereo_disparity_px(self, tracks: FeatureTracks) -> np.ndarray:
        """Disparity [px] along the baseline (:meth:`StereoMatcher.disparity_px`) of the
        stereo-matched tracks of ``tracks``; depth ~ f0 |baseline| / disparity."""
        xy0 = (tracks.uv_left[tracks.has_right] - self.und0.K[:2, 2]) / np.diag(self.und0.K)[:2]
        xy1 = (tracks.uv_right[tracks.has_right] - self.und1.K[:2, 2]) / np.diag(self.und1.K)[:2]
        return self.stereo.disparity_px(xy0, xy1)

    def process(self, frame, R_cam0prev_cam0cur_pred=None) -> FeatureTracks:
        """Processes one stereo frame (StereoFrame or (timestamp_ns, left_u8, right_u8)).

        R_cam0prev_cam0cur_pred: optional gyro-integrated rotation of the current left
        camera frame into the previous one (3, 3); seeds KLT, enables 2-point RANSAC and
        rotation-compensated parallax.
        """
        t_ns, left, right = self._unpack(frame)
        R = _check_rotation(R_cam0prev_cam0cur_pred)
        cfg, tr = self.config, self.tracks
        wl = wlf.Tally() if cfg.count_workload else NULL_WORKLOAD
        timings = dict.fromkeys(STAGES, 0.0)
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] += now - clock
            clock = now

        n_prev = len(tr)
        spare = self._spare_pyramids
        pyramid = ImagePyramid.build(left, cfg.pyramid_levels, cfg.klt_window_px, spare.pop() if spare else None)
        size = (self.cam0.width, self.cam0.height)
        for _ in range(2):
            wlf.count_image(wl, *size, pyramid.levels)
        n_tracked = n_outliers = 0
        if self._prev_pyramid is not None and n_prev:
            guess = rotation_guess(self.und0, tr.uv, R) if R is not None else None
            klt = klt_track(self._prev_pyramid, pyramid, tr.uv, cfg, guess)
            fb_error = klt.fb_error_px[np.isfinite(klt.fb_error_px)]
            work = klt.forward + klt.backward
            wlf.count_klt(wl, work.setups, work.iterations, cfg.klt_window_px, *size, pyramid.levels)
            xy_prev = tr.xy
            tr.uv_right = tr.uv_right + (klt.uv - tr.uv)  # the right seed moves with the left track
            tr.uv = klt.uv
            tr.keep(klt.ok)
            xy_prev = xy_prev[klt.ok]
            tr.xy = self.und0.normalized(tr.uv)
            wlf.count_undistort(wl, len(tr))
            valid = np.all(np.isfinite(tr.xy), axis=1)
            tr.keep(valid)
            xy_prev = xy_prev[valid]
            lap("track")
            ransac = reject_outliers(xy_prev, tr.xy, R, self.focal_px, cfg)
            if ransac.method == "2pt":
                wlf.count_two_point(wl, len(xy_prev), ransac.hypotheses)
            elif ransac.method == "5pt":
                wlf.count_five_point(wl, len(xy_prev), ransac.hypotheses)
            n_outliers = int(np.count_nonzero(~ransac.inliers))
            tr.keep(ransac.inliers)
            tr.age += 1
            n_tracked = len(tr)
            lap("ransac")
        else:
            tr.clear()
            fb_error = np.zeros(0)

        n_existing = len(tr)
        det = self.detector.detect(left, tr.uv)
        wlf.count_detection(wl, det.scored_pixels, det.evaluated_pixels, det.candidates,
                            n_existing + len(det.uv), cfg.min_distance_px, cfg.corner_block_px, size[0] * size[1])
        xy_new = self.und0.normalized(det.uv)
        wlf.count_undistort(wl, len(det.uv))
        valid = np.all(np.isfinite(xy_new), axis=1)
        tr.add(det.uv[valid], xy_new[valid], t_ns)
        lap("detect")

        guess = tr.uv_right.copy()
        unseeded = ~np.all(np.isfinite(guess), axis=1)
        if unseeded.any():
            guess[unseeded] = self.stereo.seed(tr.xy[unseeded])
        right_pyramid = ImagePyramid.build(self.stereo.equalize(left, right), pyramid.levels, cfg.klt_window_px,
                                           spare.pop() if spare else None)
        st = self.stereo.match_with_retries(pyramid, right_pyramid, tr.uv, tr.xy, guess, unseeded)
        tr.uv_right = st.uv_raw
        work = st.forward + st.backward
        wlf.count_klt(wl, work.setups, work.iterations, cfg.klt_window_px, *size, pyramid.levels)
        wlf.count_undistort(wl, st.n_checked)
        wlf.count_stereo_checks(wl, int(unseeded.sum()) + st.n_reseeded, st.n_checked)
        if cfg.stereo_gain_compensation:
            wlf.count_gain(wl, self.cam0.width, self.cam0.height)
        lap("stereo")

        kf = self.keyframes.update(tr.ids, tr.xy, R)
        wlf.count_parallax(wl, kf.n_common)
        wlf.count_feature_table(wl, n_prev, len(tr), cfg.max_features)
        out = FeatureTracks(
            timestamp_ns=t_ns, ids=tr.ids.copy(), uv_left_px=tr.uv.copy(), uv_left=self.und0.to_pixels(tr.xy),
            uv_right=self.und1.to_pixels(st.xy), has_right=st.ok.copy(), age=tr.age.copy(),
            first_seen_ns=tr.first_seen_ns.copy(), is_keyframe=kf.is_keyframe, n_tracked=n_tracked,
            n_new=int(valid.sum()), n_stereo=int(st.ok.sum()), n_ransac_outliers=n_outliers,
            mean_parallax_px=kf.mean_parallax_px,
            workloads=wl.to_workloads("frontend") if cfg.count_workload else ())
        spare.append(right_pyramid)
        if self._prev_pyramid is not None:
            spare.append(self._prev_pyramid)
        self._prev_pyramid, self._prev_ns = pyramid, t_ns
        lap("output")
        self.last_timings_s = timings
        self.last_fb_error_px = fb_error
        return out
