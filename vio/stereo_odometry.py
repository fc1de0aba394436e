"""Vision-only stereo odometry for the dynamic initialisation.

Frame k's stereo matches are triangulated in cam0 (midpoint method); frame k+1's left
observations of the same tracks give T_cam0k_cam0k+1 by PnP with RANSAC
(cv2.solvePnPRansac on undistorted pixels). Chaining the relative poses gives metric
body poses in the first frame's body frame, which
:func:`vio.initialization.visual_inertial_alignment` aligns with gravity.
"""
from __future__ import annotations

import cv2
import numpy as np

from .factors.reprojection import triangulate_cam0

MIN_PNP_POINTS = 12


def relative_pose(rig, prev, cur, max_depth_m: float = 40.0, reprojection_px: float = 2.0):
    """T_cam0prev_cam0cur (4, 4) from two FeatureTracks, or None when PnP fails.

    ``prev`` must carry stereo matches; ``cur`` needs only left observations.
    """
    common, i_prev, i_cur = np.intersect1d(prev.ids[prev.has_right], cur.ids, return_indices=True)
    if len(common) < MIN_PNP_POINTS:
        return None
    stereo = np.flatnonzero(prev.has_right)[i_prev]
    points = triangulate_cam0(rig, prev.uv_left[stereo], prev.uv_right[stereo])
    ok = (points[:, 2] > 0.1) & (points[:, 2] < max_depth_m)
    if ok.sum() < MIN_PNP_POINTS:
        return None
    K = np.array([[rig.fx0, 0, rig.cx0], [0, rig.fy0, rig.cy0], [0, 0, 1.0]])
    found, rvec, tvec, inliers = cv2.solvePnPRansac(points[ok], cur.uv_left[i_cur][ok], K, None,
                                                    reprojectionError=reprojection_px, iterationsCount=100,
                                                    flags=cv2.SOLVEPNP_ITERATIVE)
    if not found or inliers is None or len(inliers) < MIN_PNP_POINTS:
        return None
    T_cur_prev = np.eye(4)
    T_cur_prev[:3, :3] = cv2.Rodrigues(rvec)[0]
    T_cur_prev[:3, 3] = tvec.ravel()
    return np.linalg.inv(T_cur_prev)


class StereoOdometry:
    """Chains frame-to-frame PnP into body poses ``T_ref_body`` (ref = first body frame)."""

    def __init__(self, rig):
        self.rig = rig
        self.T_body_cam0 = np.asarray(rig.T_body_cam0, float)
        self.T_cam0_body = np.linalg.inv(self.T_body_cam0)
        self.timestamps_ns: list[int] = []
        self.poses: list[np.ndarray] = []
        self._last = None

    def __len__(self) -> int:
        return len(self.poses)

    def reset(self) -> None:
        self.timestamps_ns, self.poses, self._last = [], [], None

    def add(self, timestamp_ns: int, tracks) -> bool:
        """Adds a frame; returns False (and restarts the chain at it) when PnP fails."""
        if self._last is None:
            self.timestamps_ns, self.poses = [int(timestamp_ns)], [np.eye(4)]
            self._last = tracks
            return True
        T_c0p_c0c = relative_pose(self.rig, self._last, tracks)
        if T_c0p_c0c is None:
            self.reset()
            self.add(timestamp_ns, tracks)
            return False
        T = self.poses[-1] @ self.T_body_cam0 @ T_c0p_c0c @ self.T_cam0_body
        self.timestamps_ns.append(int(timestamp_ns))
        self.poses.append(T)
        self._last = tracks
        return True
