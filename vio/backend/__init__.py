"""Sliding-window back-end: keyframe states, IMU and reprojection factors, and the
Gauss-Newton solver over the window with marginalisation of old keyframes.

``vio.backend.problem`` builds synthetic windows with exact ground truth for tests and
benchmarks.
"""
