"""Sensor messages, all stamped in int64 nanoseconds.

Frames follow the project convention (docs/architecture.md): ``T_a_b`` maps points
from frame b into frame a; the body frame is EuRoC's IMU/body frame ``B``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class ImuSample:
    """One IMU reading in the IMU frame.

    gyro: angular rate [rad/s], shape (3,); accel: specific force [m/s^2], shape (3,).
    """

    timestamp_ns: int
    gyro: np.ndarray
    accel: np.ndarray


@dataclass(frozen=True)
class CameraFrame:
    """One 8-bit grayscale image of camera ``camera`` (``"cam0"``, ``"cam1"``).

    The pixels load lazily on first access of :attr:`image` (then cached), so a stream
    of frames costs no I/O until a consumer looks at them.
    """

    timestamp_ns: int
    camera: str
    source: str
    loader: Optional[Callable[[], np.ndarray]] = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def image(self) -> np.ndarray:
        """uint8 array (height, width); raises DatasetError if the file is unreadable."""
        if "image" not in self._cache:
            if self.loader is None:
                raise ValueError(f"frame {self.timestamp_ns} of {self.camera} has no image loader")
            self._cache["image"] = self.loader()
        return self._cache["image"]

    @classmethod
    def from_array(cls, timestamp_ns: int, camera: str, image: np.ndarray) -> "CameraFrame":
        frame = cls(int(timestamp_ns), camera, "<memory>")
        frame._cache["image"] = image
        return frame


@dataclass(frozen=True)
class StereoFrame:
    """A synchronised left/right pair (cam0, cam1) sharing one stamp."""

    timestamp_ns: int
    left: CameraFrame
    right: CameraFrame


@dataclass(frozen=True)
class GroundTruthState:
    """True state of the body in the world frame.

    p_world_body [m] (3,), q_world_body_wxyz Hamilton quaternion (4,) w first,
    v_world [m/s] (3,) or None, gyro_bias [rad/s] and accel_bias [m/s^2] (3,) or None.
    """

    timestamp_ns: int
    p_world_body: np.ndarray
    q_world_body_wxyz: np.ndarray
    v_world: Optional[np.ndarray] = None
    gyro_bias: Optional[np.ndarray] = None
    accel_bias: Optional[np.ndarray] = None

    @property
    def T_world_body(self) -> np.ndarray:
        """4x4 homogeneous transform body -> world."""
        from scipy.spatial.transform import Rotation

        w, x, y, z = self.q_world_body_wxyz
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat([x, y, z, w]).as_matrix()
        T[:3, 3] = self.p_world_body
        return T
