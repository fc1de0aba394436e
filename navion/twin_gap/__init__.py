"""``navion twin-gap``: how far a synthetic EuRoC twin is from the real sequence it copies.

Modules: ``images`` (image statistics), ``imu`` (IMU spectra, high-pass std, residual to the
ideal IMU), ``twin`` (common span, twin synthesis, span views), ``vio_run`` (replay with
front-end/back-end diagnostics, energy), ``report`` (bands, rows, gap.json/gap.md),
``plots``, ``gap`` (the library call), ``cli``. See docs/twin_gap.md.
"""
from .errors import TwinGapError

__all__ = ["TwinGapError"]
