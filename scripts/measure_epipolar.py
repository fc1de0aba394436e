"""Distance [px] of KLT stereo matches from their epipolar lines under a sequence's written
calibration: bounds the calibration error a twin may carry (docs/synth_realism.md).

Every 10th stereo pair: Shi-Tomasi corners in cam0 (quality 0.01, distance 10), pyramidal
KLT into cam1 and back (forward-backward < 0.3 px), both undistorted with sensor.yaml, and
the distance of the cam1 point from the epipolar line of E = [t]x R (cam0 -> cam1), in
cam1 pixels. Matching noise is included, so the figure is an upper bound.

Run: .venv/bin/python scripts/measure_epipolar.py SEQUENCE [SEQUENCE ...]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from datasets.calibration import CameraCalibration
from datasets.euroc import open_euroc

KLT = dict(winSize=(21, 21), maxLevel=3)


def _normalised(points: np.ndarray, camera: CameraCalibration) -> np.ndarray:
    return cv2.undistortPoints(points, camera.K, np.asarray(camera.distortion_coefficients)).reshape(-1, 2)


def epipolar_distances(sequence, stride: int = 10) -> np.ndarray:
    """Epipolar distances [px] of the forward-backward-checked stereo matches (positive disparity)."""
    cam0, cam1 = sequence.cam0, sequence.cam1
    T_cam1_cam0 = np.linalg.inv(cam1.T_body_cam) @ cam0.T_body_cam
    t = T_cam1_cam0[:3, 3]
    E = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]]) @ T_cam1_cam0[:3, :3]
    out = []
    for n, frame in enumerate(sequence.stereo_frames()):
        if n % stride:
            continue
        left, right = frame.left.image, frame.right.image
        p0 = cv2.goodFeaturesToTrack(left, 300, 0.01, 10)
        p1, ok1, _ = cv2.calcOpticalFlowPyrLK(left, right, p0, None, **KLT)
        back, ok2, _ = cv2.calcOpticalFlowPyrLK(right, left, p1, None, **KLT)
        ok = (ok1[:, 0] == 1) & (ok2[:, 0] == 1) & (np.linalg.norm(back - p0, axis=2)[:, 0] < 0.3)
        x0, x1 = _normalised(p0[ok], cam0), _normalised(p1[ok], cam1)
        lines = np.column_stack([x0, np.ones(len(x0))]) @ E.T
        d = np.abs(np.sum(np.column_stack([x1, np.ones(len(x1))]) * lines, axis=1)) / np.hypot(lines[:, 0], lines[:, 1])
        out.append(d[x0[:, 0] > x1[:, 0]] * cam1.intrinsics[1])
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sequences", nargs="+")
    for path in parser.parse_args().sequences:
        d = epipolar_distances(open_euroc(path, quiet=True))
        print(f"{path}: {len(d)} matches, epipolar distance median {np.median(d):.3f} px, "
              f"p90 {np.percentile(d, 90):.3f} px, rms {np.sqrt(np.mean(d ** 2)):.3f} px")


if __name__ == "__main__":
    main()
