"""Cache keys and the on-disk cache of a sweep.

Two levels, both content-addressed by SHA-256 over canonical JSON:

- a **VIO run** (``vio/<key>/``, a ``navion replay`` run folder) is keyed by the
  sequence identity, the whole ``PipelineConfig``, ``max_frames`` and a fingerprint of
  the estimator's source code: every hardware point of that algorithm config and
  sequence is priced on the same run;
- a **point** (``points/<key>.json``: its metrics and energy report) is keyed by its
  VIO key, the whole ``HardwareConfig`` and a fingerprint of ``accel_model``'s source
  and presets (the CPU baseline is a preset).

Sequence identity: the resolved path, plus size and modification time of its index
files (every file outside the image ``data`` folders: ``data.csv``, ``sensor.yaml``,
``navion_synth.json``, ...), or of the file itself for a zip or bag. Regenerating a
sequence rewrites its index files, so its cached runs are not reused.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path

# Source the VIO run depends on: the estimator, the sequence readers (not the synthetic
# generator), the workload records it writes, the replay loop and the evaluator (ATE).
VIO_CODE = ("vio", "datasets.calibration", "datasets.configuration", "datasets.errors", "datasets.euroc",
            "datasets.euroc_csv", "datasets.messages", "datasets.rosbag", "datasets.stream", "datasets.tum",
            "accel_model.workload", "navion.replay", "navion.sequences", "navion.evaluation")
PRICING_CODE = ("accel_model",)


def _canonical(value):
    """JSON-ready copy: dataclasses as dicts, tuples as lists, integral floats as ints
    (an option given as 1 or 1.0 is the same option), paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def digest(data) -> str:
    """SHA-256 hex digest of ``data`` as canonical JSON (sorted keys, see :func:`_canonical`)."""
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_fingerprint(modules: tuple[str, ...]) -> str:
    """Digest of the source of ``modules`` (packages: every .py and .yaml file inside), read
    once per process: a long session keys its sweeps by the code it started with."""
    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"module {name} not found")
        if spec.submodule_search_locations:
            root = Path(spec.origin).parent
            files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts)
        else:
            root, files = Path(spec.origin).parent, [Path(spec.origin)]
        for p in files:
            h.update(f"{name}:{p.relative_to(root).as_posix()}\0".encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def sequence_identity(path: Path) -> dict:
    """Resolved path and (relative name, size, mtime_ns) of the sequence's index files."""
    path = Path(path).resolve()
    if path.is_file():
        st = path.stat()
        return {"path": str(path), "files": [[path.name, st.st_size, st.st_mtime_ns]]}
    files = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d != "data")
        for name in sorted(names):
            p = Path(folder) / name
            st = p.stat()
            files.append([p.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns])
    return {"path": str(path), "files": files}


def vio_key(sequence_id: dict, pipeline, max_frames: int | None, code: str) -> str:
    return digest({"sequence": sequence_id, "pipeline": pipeline, "max_frames": max_frames, "code": code})


def point_key(vio: str, hardware, code: str) -> str:
    return digest({"vio": vio, "hardware": hardware, "code": code})


class SweepCache:
    """``root/vio/<key>/`` run folders and ``root/points/<key>.json`` results.

    Run folders are written under a temporary name and renamed when complete; point
    files are written to a temporary file and replaced, so an interrupted sweep leaves
    no partial entry behind and the next run resumes where it stopped.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def vio_dir(self, key: str) -> Path:
        return self.root / "vio" / key

    def has_vio(self, key: str) -> bool:
        return (self.vio_dir(key) / "summary.json").is_file()

    def point_path(self, key: str) -> Path:
        return self.root / "points" / f"{key}.json"

    def load_point(self, key: str) -> dict | None:
        try:
            return json.loads(self.point_path(key).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def save_point(self, key: str, data: dict) -> None:
        path = self.point_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
