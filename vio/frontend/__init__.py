"""Stereo front-end: Shi-Tomasi detection on a grid, pyramidal KLT with forward-backward
checks, stereo KLT checked against the calibrated extrinsics, RANSAC (gyro-aided
2-point or 5-point), track bookkeeping, keyframe selection and a per-frame workload
record (docs/frontend_workload.md).

    frontend = Frontend(seq.cam0, seq.cam1, FrontendConfig())
    tracks = frontend.process(stereo_frame, R_cam0prev_cam0cur_pred=None)
"""
from .config import FrontendConfig, FrontendError
from .frontend import Frontend
from .tracks import FeatureTracks

__all__ = ["FeatureTracks", "Frontend", "FrontendConfig", "FrontendError"]
