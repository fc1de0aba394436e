"""Factors of the VIO back-end's sliding-window graph (residuals, Jacobians, noise).

Jacobians are taken w.r.t. the 15-dim keyframe error state of :mod:`vio.state`.
"""
from .imu import ImuFactor

__all__ = ["ImuFactor"]
