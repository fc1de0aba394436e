"""Opening any supported sequence: a EuRoC folder or zip, or a ROS bag."""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from datasets.messages import StereoFrame

from .errors import CliError


def open_sequence(path: str | Path, quiet: bool = False, calibration: str | None = None):
    """A EuRoC ``mav0`` folder, the folder above it or its zip, or a ROS bag (``.bag`` file
    or ROS 2 bag folder). ``calibration`` (bags only) is a folder of sensor.yaml files."""
    from datasets.euroc import open_euroc

    path = str(path)
    if not Path(path).exists():
        raise CliError(f"{path}: no such file or folder")
    if path.endswith(".bag") or Path(path, "metadata.yaml").is_file():
        from datasets.rosbag import open_bag

        return open_bag(path, calibration=calibration, quiet=quiet)
    if calibration is not None:
        raise CliError("--calibration applies to ROS bags only (EuRoC folders carry their own)")
    return open_euroc(path, quiet=quiet)


def prefetch_images(messages: Iterable, depth: int = 4, workers: int = 1) -> Iterator:
    """Passes ``messages`` through, decoding the images of the next ``depth`` stereo frames
    on a worker thread (PNG decoding releases the GIL, so it overlaps the estimator)."""
    pending: deque = deque()
    frames_ahead = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for message in messages:
            if isinstance(message, StereoFrame):
                pending.append((message, pool.submit(lambda m: (m.left.image, m.right.image), message)))
                frames_ahead += 1
            else:
                pending.append((message, None))
            while frames_ahead > depth:
                msg, future = pending.popleft()
                if future is not None:
                    future.result()
                    frames_ahead -= 1
                yield msg
        while pending:
            msg, future = pending.popleft()
            if future is not None:
                future.result()
            yield msg
