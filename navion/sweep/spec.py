"""The sweep spec: yaml loading, validation with ``file:line`` errors, grid expansion.

A spec (see ``sweeps/example.yaml`` and ``docs/sweep.md``)::

    sequences: [/tmp/twins/MH_01_easy, ../data/V2_01_easy]   # relative to the spec file
    max_frames: 400           # replay only the first N stereo frames (default: all)
    hardware: navion65        # base preset: a name or a yaml file (default navion65)
    pipeline: tuned.yaml      # base PipelineConfig yaml (default: PipelineConfig())
    seeds: [0, 1]             # shorthand for the knob vio.frontend.ransac_seed
    grid:
      vio.frontend.max_features: [100, 150, 200]   # algorithm knobs: PipelineConfig paths
      hw.codec_near: [0, 2]                        # hardware knobs: HardwareConfig paths
      hw.backend.max_bits: 16                      # a single value: fixed for every point

The points are sequences x algorithm configs x hardware configs, each configs list the
Cartesian product of its knobs in spec order. Every config is built and validated when
the spec loads, so a bad value fails before any work, naming the spec's file and line.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from accel_model.energy import EnergyModelError
from accel_model.hardware import HardwareConfig, load_preset, preset_names
from datasets.calibration import load_yaml_text, read_yaml_file
from datasets.config_paths import apply_overrides, unknown_path_message, yaml_key_lines
from datasets.configuration import ConfigError, ConfigMixin
from vio.pipeline import PipelineConfig

ALGORITHM_PREFIX, HARDWARE_PREFIX = "vio.", "hw."
SEED_KNOB = "vio.frontend.ransac_seed"


@dataclass(frozen=True)
class SweepOptions(ConfigMixin):
    """The spec's top-level keys (see the module docstring); ``grid`` is checked by :func:`load_spec`."""

    sequences: tuple[str, ...] = ()
    max_frames: int | None = None
    hardware: str = "navion65"
    pipeline: str | None = None
    seeds: tuple[int, ...] = ()
    grid: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sequences:
            raise ValueError("sequences: give at least one sequence path")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        if any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be >= 0, got {list(self.seeds)}")
        if not isinstance(self.grid, dict):
            raise ValueError(f"grid must be a mapping of knob paths to values, got {self.grid!r}")


@dataclass(frozen=True)
class Knob:
    """One grid axis: a dotted path (``vio.`` or ``hw.`` prefix) and its values."""

    path: str
    values: tuple


@dataclass(frozen=True)
class Point:
    """One sweep point: indices into the spec's sequences, algorithm and hardware configs.
    ``config`` numbers the (algorithm, hardware) pair, the same on every sequence."""

    index: int
    config: int
    sequence: int
    algorithm: int
    hardware: int


@dataclass(frozen=True)
class SweepSpec:
    """A validated spec: resolved sequences, the knobs and every config they expand to."""

    path: Path
    sequences: tuple[Path, ...]
    sequence_names: tuple[str, ...]
    max_frames: int | None
    hardware_source: str
    algorithm_knobs: tuple[Knob, ...]
    hardware_knobs: tuple[Knob, ...]
    algorithms: tuple[tuple[tuple, PipelineConfig], ...]
    hardware: tuple[tuple[tuple, HardwareConfig], ...]

    @property
    def knob_paths(self) -> list[str]:
        return [k.path for k in self.algorithm_knobs + self.hardware_knobs]

    def knob_values(self, point: Point) -> dict[str, object]:
        """The point's value of every knob, by path."""
        values = self.algorithms[point.algorithm][0] + self.hardware[point.hardware][0]
        return dict(zip(self.knob_paths, values))

    def points(self) -> list[Point]:
        """Every point, sequence-major, then algorithm, then hardware."""
        out = []
        n_hw = len(self.hardware)
        for s, a, h in itertools.product(range(len(self.sequences)), range(len(self.algorithms)), range(n_hw)):
            out.append(Point(len(out), a * n_hw + h, s, a, h))
        return out


def _sequence_name(path: Path) -> str:
    if path.name == "mav0":
        return path.parent.name
    return path.stem if path.is_file() else path.name


class _Loader:
    """Builds a :class:`SweepSpec` from the yaml text, raising ConfigError at the culprit's line."""

    def __init__(self, path: Path):
        self.path = path
        self.text = read_yaml_file(path)
        data = load_yaml_text(self.text, str(path)) if self.text.strip() else {}
        self.lines = yaml_key_lines(self.text)
        self.options = SweepOptions.from_dict(data, source=str(path), _text=self.text)

    def error(self, message: str, *where) -> ConfigError:
        return ConfigError(message, str(self.path), self.lines.get(tuple(where)))

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return (p if p.is_absolute() else self.path.parent / p).resolve()

    def sequences(self) -> tuple[list[Path], list[str]]:
        paths = []
        for i, value in enumerate(self.options.sequences):
            p = self.resolve(value)
            if not p.exists():
                raise self.error(f"sequence {value!r}: no such file or folder ({p})", "sequences", i)
            if p in paths:
                raise self.error(f"sequence {value!r} is listed twice", "sequences", i)
            paths.append(p)
        names = [_sequence_name(p) for p in paths]
        return paths, names if len(set(names)) == len(names) else [str(p) for p in paths]

    def base_hardware(self) -> HardwareConfig:
        value = self.options.hardware
        try:
            return load_preset(value if value in preset_names() else self.resolve(value))
        except (EnergyModelError, ConfigError) as exc:
            if isinstance(exc, ConfigError) and exc.path is not None:
                raise
            raise self.error(f"hardware: {exc}", "hardware") from None

    def base_pipeline(self) -> PipelineConfig:
        if self.options.pipeline is None:
            return PipelineConfig()
        p = self.resolve(self.options.pipeline)
        if not p.is_file():
            raise self.error(f"pipeline: {self.options.pipeline!r}: no such file ({p})", "pipeline")
        return PipelineConfig.from_yaml(p)

    def knobs(self, base_pipeline: PipelineConfig, base_hw: HardwareConfig) -> tuple[list[Knob], list[Knob]]:
        algorithm, hardware = [], []
        grid = dict(self.options.grid)
        if self.options.seeds:
            if SEED_KNOB in grid:
                raise self.error(f"give the seeds either as 'seeds' or as the knob {SEED_KNOB}, not both",
                                 "grid", SEED_KNOB)
            grid[SEED_KNOB] = list(self.options.seeds)
        for path, raw in grid.items():
            where = ("seeds",) if path == SEED_KNOB and self.options.seeds else ("grid", path)
            if not isinstance(path, str) or not path.startswith((ALGORITHM_PREFIX, HARDWARE_PREFIX)):
                raise self.error(f"grid: knob {path!r} must start with '{ALGORITHM_PREFIX}' (PipelineConfig) or "
                                 f"'{HARDWARE_PREFIX}' (HardwareConfig)", *where)
            is_algorithm = path.startswith(ALGORITHM_PREFIX)
            prefix = ALGORITHM_PREFIX if is_algorithm else HARDWARE_PREFIX
            base = base_pipeline if is_algorithm else base_hw
            problem = unknown_path_message(base, path[len(prefix):], prefix)
            if problem is not None:
                raise self.error(f"grid: {problem}", *where)
            values = tuple(raw) if isinstance(raw, list) else (raw,)
            if not values:
                raise self.error(f"grid: knob {path} needs at least one value", *where)
            for i, value in enumerate(values):
                item = where + (i,) if isinstance(raw, list) else where
                if value in values[:i]:
                    raise self.error(f"grid: knob {path} lists {value!r} twice", *item)
                try:
                    apply_overrides(base, {path[len(prefix):]: value})
                except (ConfigError, ValueError, TypeError) as exc:
                    raise self.error(f"grid: {path} = {value!r}: {exc}", *item) from None
            (algorithm if is_algorithm else hardware).append(Knob(path, values))
        return algorithm, hardware

    def expand(self, knobs: list[Knob], base, prefix: str) -> list[tuple[tuple, object]]:
        """Every combination of ``knobs`` (spec order, last knob fastest) applied to ``base``."""
        out = []
        for values in itertools.product(*(k.values for k in knobs)):
            overrides = {k.path[len(prefix):]: v for k, v in zip(knobs, values)}
            try:
                out.append((values, apply_overrides(base, overrides)))
            except (ConfigError, ValueError, TypeError) as exc:
                combo = ", ".join(f"{k.path}={v!r}" for k, v in zip(knobs, values))
                raise self.error(f"grid: the combination {combo} is invalid: {exc}", "grid") from None
        return out


def load_spec(path: str | Path) -> SweepSpec:
    """Reads and validates a sweep spec; ConfigError (``file:line: ...``) on any mistake."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such sweep spec file", str(path))
    loader = _Loader(path)
    sequences, names = loader.sequences()
    base_hw, base_pipeline = loader.base_hardware(), loader.base_pipeline()
    algorithm_knobs, hardware_knobs = loader.knobs(base_pipeline, base_hw)
    return SweepSpec(
        path=path.resolve(), sequences=tuple(sequences), sequence_names=tuple(names),
        max_frames=loader.options.max_frames, hardware_source=loader.options.hardware,
        algorithm_knobs=tuple(algorithm_knobs), hardware_knobs=tuple(hardware_knobs),
        algorithms=tuple(loader.expand(algorithm_knobs, base_pipeline, ALGORITHM_PREFIX)),
        hardware=tuple(loader.expand(hardware_knobs, base_hw, HARDWARE_PREFIX)))
