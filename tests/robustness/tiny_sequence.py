"""A tiny clean EuRoC-format sequence for the bad-input tests (each test breaks one part)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from datasets.calibration import camera_yaml, euroc_cameras, euroc_imu, imu_yaml

T0 = 1_403_715_273_262_142_976
N_FRAMES, N_IMU = 6, 40
CAM_DT_NS, IMU_DT_NS = 50_000_000, 5_000_000
WIDTH, HEIGHT = 32, 24


def write_tiny_sequence(root: Path) -> Path:
    """A clean 6-frame, 40-IMU-sample sequence with ground truth in ``root/mav0`` (32x24 images,
    calibration of that size); returns the mav0 folder."""
    mav0 = root / "mav0"
    rng = np.random.default_rng(0)
    for cal in euroc_cameras():
        (mav0 / cal.name / "data").mkdir(parents=True)
        (mav0 / cal.name / "sensor.yaml").write_text(camera_yaml(dataclasses.replace(cal, resolution=(WIDTH, HEIGHT))))
        rows = [f"{T0 + i * CAM_DT_NS},{T0 + i * CAM_DT_NS}.png" for i in range(N_FRAMES)]
        (mav0 / cal.name / "data.csv").write_text("#timestamp [ns],filename\n" + "\n".join(rows) + "\n")
        for i in range(N_FRAMES):
            cv2.imwrite(str(mav0 / cal.name / "data" / f"{T0 + i * CAM_DT_NS}.png"),
                        rng.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8))
    (mav0 / "imu0").mkdir()
    (mav0 / "imu0" / "sensor.yaml").write_text(imu_yaml(euroc_imu()))
    rows = [f"{T0 + k * IMU_DT_NS},0.01,0.002,-0.02,0.1,0.2,9.81" for k in range(N_IMU)]
    (mav0 / "imu0" / "data.csv").write_text("#timestamp [ns],wx,wy,wz,ax,ay,az\n" + "\n".join(rows) + "\n")
    (mav0 / "state_groundtruth_estimate0").mkdir()
    rows = [f"{T0 + k * IMU_DT_NS},1.0,2.0,{0.01 * k!r},1.0,0.0,0.0,0.0" for k in range(N_IMU)]
    (mav0 / "state_groundtruth_estimate0" / "data.csv").write_text("#t,px,py,pz,qw,qx,qy,qz\n"
                                                                   + "\n".join(rows) + "\n")
    return mav0
