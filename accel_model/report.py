"""Energy report of a run folder: per stage and per category, for a design and the CPU baseline.

Input: ``workloads.jsonl`` (one line of :class:`Workload` records per camera frame) and
``summary.json`` from ``navion replay``. Output: a JSON-safe dict (``schema_version``
:data:`SCHEMA_VERSION`), a terminal table (rich) and a stacked-bar PNG (matplotlib Agg).
Energies are per camera frame [uJ]; power [mW] is at the frame rate of the run's stamps.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from .energy import EnergyModelError, node_scale, op_pj
from .hardware import STAGE_GROUPS, VARIANT_FIELDS, HardwareConfig, load_preset
from .measured import measured_lines
from .memory import (
    BufferUse,
    Geometry,
    MemoryPlan,
    leakage_power_mw,
    measure_codec_ratio,
    memory_energy_pj,
    plan_memory,
)
from .workload import Workload, WorkloadError, split_variant

SCHEMA_VERSION = 1
CATEGORIES = ("compute", "onchip_memory", "offchip_memory", "leakage")
# Navion, JSSC 54(4) 2019: 2 mW at 20 fps on 752x480 stereo; 4.1x on-chip memory reduction.
NAVION_POWER_MW, NAVION_FPS, NAVION_REDUCTION = 2.0, 20.0, 4.1


def power_over_navion(energy_per_frame_uj: float) -> float:
    """Power at Navion's frame rate over its published power, for an energy per frame [uJ]."""
    return energy_per_frame_uj * NAVION_FPS * 1e-3 / NAVION_POWER_MW


def stage_group(stage: str) -> str:
    """Report group of a workload stage: frontend, backend (solver, preintegration), mapping, mi."""
    if stage.startswith("frontend"):
        return "frontend"
    if stage in ("preintegration",) or stage.startswith(("vio.backend", "backend")):
        return "backend"
    if stage in ("mi", "fsmi") or stage.startswith(("mi.", "mapping.mi", "mapping.fsmi")):
        return "mi"
    if stage.startswith("mapping"):
        return "mapping"
    raise EnergyModelError(f"workload stage {stage!r} belongs to no report group ({', '.join(STAGE_GROUPS)})")


Conditions = tuple[tuple[str, str], ...]  # sorted hardware settings a record is for; () = every design


@dataclass(frozen=True)
class RunPart:
    """Mean operations per frame by group and buffer uses of the records made for one set
    of hardware settings (accel_model.workload.variant_stage)."""

    ops: dict[str, dict[tuple[str, int], float]]
    uses: dict[tuple[str, str], BufferUse]


@dataclass(frozen=True)
class RunData:
    """A run folder's workload by hardware settings (``parts[()]``: the work of every design),
    frame count and rate."""

    path: Path
    frames: int
    fps: float
    parts: dict[Conditions, RunPart]
    summary: dict

    def for_design(self, hw: HardwareConfig) -> RunPart:
        """The work ``hw`` does: the common records plus the alternatives it selects."""
        ops: dict[str, dict] = defaultdict(lambda: defaultdict(float))
        uses: dict[tuple[str, str], BufferUse] = {}
        for conditions, part in self.parts.items():
            if not hw.selects(dict(conditions)):
                continue
            for group, counts in part.ops.items():
                for key, count in counts.items():
                    ops[group][key] += count
            for key, use in part.uses.items():
                mine = uses.get(key)
                uses[key] = use if mine is None else replace(
                    mine, reads_per_frame=mine.reads_per_frame + use.reads_per_frame,
                    writes_per_frame=mine.writes_per_frame + use.writes_per_frame,
                    word_bits=use.word_bits if use.reads_per_frame or use.writes_per_frame else mine.word_bits,
                    peak_bytes=max(mine.peak_bytes, use.peak_bytes))
        return RunPart({g: dict(d) for g, d in ops.items()}, uses)


EXTRA_WORKLOAD_FILES = ("map_workloads.jsonl", "mi_workloads.jsonl")  # mapping and MI work of a run, if any


def load_run(run_dir: str | Path) -> RunData:
    """Reads ``workloads.jsonl`` (one record per camera frame), ``summary.json`` and, when
    present, the mapping/MI records (``map_workloads.jsonl``, ``mi_workloads.jsonl``),
    whose totals are spread over the run's frames. EnergyModelError on missing or bad files."""
    run = Path(run_dir)
    path = run / "workloads.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        summary = _load_json(run / "summary.json")
    except OSError as exc:
        raise EnergyModelError(f"{run}: not a run folder ({exc.strerror}: {exc.filename})") from None
    except UnicodeDecodeError:
        raise EnergyModelError(f"{path}: not UTF-8 text") from None
    _check_summary(summary, run / "summary.json")
    ops: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))  # (conditions, group) -> counts
    traffic: dict[tuple, list] = {}  # (conditions, group, name) -> [reads, writes, bits, peak]
    stamps = _accumulate(path, lines, ops, traffic)
    if not stamps:
        raise EnergyModelError(f"{path}: no frames recorded")
    for name in EXTRA_WORKLOAD_FILES:
        extra = run / name
        if extra.is_file():
            try:
                _accumulate(extra, extra.read_text(encoding="utf-8").splitlines(), ops, traffic)
            except UnicodeDecodeError:
                raise EnergyModelError(f"{extra}: not UTF-8 text") from None
    n = len(stamps)
    span_s = (max(stamps) - min(stamps)) * 1e-9
    fps = (n - 1) / span_s if n > 1 and span_s > 0 else NAVION_FPS
    if traffic.get(((), "frontend", "gradients"), [0, 0])[1]:
        raise EnergyModelError(f"{path}: recorded by an older navion-sim (its front-end records do not split the "
                               f"gradient dataflows by design); rerun `navion replay` to price it")
    parts: dict[Conditions, RunPart] = {(): RunPart({}, {})}
    for (conditions, group), counts in ops.items():
        parts.setdefault(conditions, RunPart({}, {})).ops[group] = {k: c / n for k, c in counts.items()}
    for (conditions, group, name), (r, w, bits, peak) in traffic.items():
        parts.setdefault(conditions, RunPart({}, {})).uses[group, name] = BufferUse(group, name, r / n, w / n,
                                                                                     bits, peak)
    return RunData(run, n, fps, parts, summary)


def _accumulate(path: Path, lines: list[str], ops: dict, traffic: dict) -> list[int]:
    """Adds the workload records in ``lines`` (of ``path``) to ``ops`` and ``traffic``; returns their stamps."""
    stamps = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            stamps.append(int(record["timestamp_ns"]))
            if not 0 <= stamps[-1] < 2**63:
                raise ValueError(f"timestamp_ns {stamps[-1]} outside the int64 nanosecond range")
            stages = [Workload.from_dict(s) for s in record["stages"]]
            _check_counts(stages)
            _check_variants(stages)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError, RecursionError,
                WorkloadError) as exc:
            raise EnergyModelError(f"{path}:{number}: malformed workload record ({exc})") from None
        for wl in stages:
            base, conditions = split_variant(wl.stage)
            try:
                group = stage_group(base)
            except EnergyModelError as exc:
                raise EnergyModelError(f"{path}:{number}: {exc}") from None
            variant = tuple(sorted(conditions.items()))
            for key, count in wl.ops.items():
                ops[variant, group][key] += count
            for name, t in wl.buffers.items():
                acc = traffic.setdefault((variant, group, name), [0, 0, t.word_bits, 0])
                acc[0] += t.reads_words
                acc[1] += t.writes_words
                acc[2] = t.word_bits if t.accessed else acc[2]
                acc[3] = max(acc[3], t.peak_bytes)
    return stamps


def _load_json(path: Path):
    """The JSON value in ``path``; EnergyModelError naming the file (and line) if it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EnergyModelError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise EnergyModelError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    except RecursionError:
        raise EnergyModelError(f"{path}: malformed JSON (nested too deeply)") from None


def _is_number(value) -> bool:
    """A finite int or float (not a bool), small enough to become a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_summary(summary, path: Path) -> None:
    """The summary.json fields the report reads have the right types."""
    if not isinstance(summary, dict):
        raise EnergyModelError(f"{path}: expected a JSON object, got {type(summary).__name__}")
    if not isinstance(summary.get("sequence"), (str, type(None))):
        raise EnergyModelError(f"{path}: 'sequence' must be a path string, got {summary['sequence']!r:.60}")
    measured = summary.get("measured")
    if not isinstance(measured, (dict, type(None))):
        raise EnergyModelError(f"{path}: 'measured' must be an object, got {measured!r:.60}")
    for where, section in (("", summary), ("measured.", measured or {})):
        for key in ("process_cpu_time_s", "instructions", "rapl_energy_j"):
            value = section.get(key)
            if value is not None and not (_is_number(value) and value >= 0):
                raise EnergyModelError(f"{path}: '{where}{key}' must be a non-negative number, got {value!r:.60}")


def _check_variants(stages: list[Workload]) -> None:
    """Records made for particular hardware settings name known fields and choices (ValueError otherwise)."""
    for wl in stages:
        for key, value in split_variant(wl.stage)[1].items():
            if key not in VARIANT_FIELDS:
                raise ValueError(f"stage {wl.stage!r} is for hardware setting {key!r}, which the model does not "
                                 f"have (known: {', '.join(VARIANT_FIELDS)})")
            if value not in VARIANT_FIELDS[key]:
                raise ValueError(f"stage {wl.stage!r}: {key} must be one of {', '.join(VARIANT_FIELDS[key])}")


def _check_counts(stages: list[Workload]) -> None:
    """Counts a float can hold (ValueError otherwise): the report averages them as floats."""
    for wl in stages:
        numbers = [*wl.ops.values()] + [v for t in wl.buffers.values()
                                        for v in (t.reads_words, t.writes_words, t.peak_bytes)]
        if any(not _is_number(v) for v in numbers):
            raise ValueError(f"stage {wl.stage!r}: a count is too large")


def codec_measurement(run: RunData, sequence: Path | None, hw: HardwareConfig) -> tuple[float | None, Geometry, str]:
    """The frame codec's ratio on ``sequence`` at ``hw``'s NEAR and sample count, the image
    geometry at the run's frame rate, and a note on how both were obtained."""
    if sequence is None:
        ratio, geometry, note = None, Geometry(), "sequence not found: EuRoC geometry assumed, frames uncompressed"
    else:
        ratio, geometry, note = measure_codec_ratio(sequence, hw.codec_sample_frames, hw.codec_near)
    return ratio, replace(geometry, fps=run.fps), note


def sequence_path(run: RunData, sequence: str | Path | None) -> Path | None:
    """``sequence``, else the run's recorded sequence where it still exists (None if nowhere)."""
    if sequence is not None:
        return Path(sequence)
    recorded = run.summary.get("sequence")
    if not recorded:
        return None
    for candidate in (Path(recorded), run.path / recorded, run.path.parent / recorded):
        if candidate.exists():
            return candidate
    return None


def price_design(run: RunData, hw: HardwareConfig, geometry: Geometry,
                 codec_ratio: float | None) -> tuple[dict, MemoryPlan]:
    """One design's energy per frame [uJ] by stage and category, and its memory plan."""
    scale = node_scale(hw.node_nm, hw.vdd_v or None)
    work = run.for_design(hw)
    plan = plan_memory(work.uses, geometry, hw, codec_ratio)
    mem = memory_energy_pj(plan, hw)
    leak_uj = leakage_power_mw(plan, hw) / run.fps * 1e3
    onchip_by_group = defaultdict(float)
    for b in plan.buffers:
        onchip_by_group[b.group] += b.size_bytes if b.onchip else 0.0
    onchip_total = sum(onchip_by_group.values())
    accesses = defaultdict(float)
    for b in plan.buffers:
        accesses[b.group] += b.accesses_per_frame
    # executed instructions: instructions_per_op per modelled operation and access; each pays
    # the instruction overhead, only the modelled operation pays the ALU energy
    stages, ops_total, instructions = {}, 0.0, 0.0
    for group in STAGE_GROUPS:
        arith = hw.arithmetic(group)
        overhead_pj = hw.instruction_overhead_pj * arith.instructions_per_op
        compute_pj = group_ops = 0.0
        for (kind, bits), count in work.ops.get(group, {}).items():
            if not hw.executes(kind):
                continue
            width = min(bits, arith.max_bits) if arith.max_bits else bits
            compute_pj += count * (op_pj(kind, arith.number_format, width) + overhead_pj) * scale
            group_ops += count
        ops_total += group_ops
        instructions += arith.instructions_per_op * (group_ops + accesses[group])
        m = mem.get(group, {"onchip": 0.0, "offchip": 0.0, "codec": 0.0})
        share = onchip_by_group[group] / onchip_total if onchip_total else 1.0 / len(STAGE_GROUPS)
        cats = {"compute": (compute_pj + m["codec"]) * 1e-6, "onchip_memory": m["onchip"] * 1e-6,
                "offchip_memory": m["offchip"] * 1e-6, "leakage": leak_uj * share}
        stages[group] = {"energy_per_frame_uj": sum(cats.values()),
                         **{f"{c}_uj": v for c, v in cats.items()}}
    total = sum(s["energy_per_frame_uj"] for s in stages.values())
    issued = instructions if hw.is_cpu else ops_total  # a CPU issues every instruction, an accelerator the ops
    section = {
        "name": hw.name,
        "energy_per_frame_uj": total,
        "power_mw": total * run.fps * 1e-3,
        "categories": {f"{c}_uj": sum(s[f"{c}_uj"] for s in stages.values()) for c in CATEGORIES},
        "stages": stages,
        "ops_per_frame": ops_total,
        "instructions_per_frame": instructions,
        "utilisation": issued * run.fps / (hw.parallel_units * hw.clock_mhz * 1e6),
        "energy_per_instruction_pj": total * 1e6 / instructions if instructions else 0.0,
        "peak_onchip_bytes": plan.onchip_bytes,
    }
    return section, plan


def _memory_section(plan: MemoryPlan) -> dict:
    return {
        "peak_onchip_bytes": plan.onchip_bytes,
        "total_bytes": plan.total_bytes,
        "naive_bytes": plan.naive_bytes,
        "budget_bytes": plan.budget_bytes,
        "reduction_factor": plan.reduction_factor,
        "spilled": plan.spilled,
        "buffers": [{"group": b.group, "name": b.name, "bytes": b.size_bytes, "naive_bytes": b.naive_bytes,
                     "word_bits": b.word_bits, "reads_per_frame": b.reads_per_frame,
                     "writes_per_frame": b.writes_per_frame, "onchip": b.onchip, "derived": b.derived}
                    for b in plan.buffers],
    }


def build_report(run_dir: str | Path, hw: HardwareConfig, cpu: HardwareConfig | None = None,
                 sequence: str | Path | None = None) -> dict:
    """The energy report of ``run_dir`` on design ``hw`` and the CPU baseline ``cpu``
    (default: the ``cpu`` preset). ``sequence`` overrides the one in ``summary.json`` for
    the codec measurement and geometry."""
    run = load_run(run_dir)
    cpu = cpu or load_preset("cpu")
    seq = sequence_path(run, sequence)
    ratio, geometry, note = codec_measurement(run, seq, hw)
    design, plan = price_design(run, hw, geometry, ratio)
    baseline, _ = price_design(run, cpu, geometry, ratio)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {"dir": str(run.path), "frames": run.frames, "fps": run.fps,
                "sequence": None if seq is None else str(seq),
                "image_px": [geometry.width_px, geometry.height_px]},
        "hardware": hw.to_dict(),
        "accelerator": design,
        "cpu": baseline,
        "ratio_cpu_over_accelerator": baseline["energy_per_frame_uj"] / design["energy_per_frame_uj"],
        "stages": design["stages"],
        "memory": _memory_section(plan),
        "codec": {"enabled": hw.codec, "ratio": ratio, "near": hw.codec_near, "note": note},
        "measured": measured_lines(run.summary, run.frames, run.fps, cpu.measured_core_power_w,
                                   baseline["energy_per_instruction_pj"]),
        "published": {
            "navion_power_mw": NAVION_POWER_MW, "navion_fps": NAVION_FPS, "navion_reduction": NAVION_REDUCTION,
            "power_over_navion": power_over_navion(design["energy_per_frame_uj"]),
            "reduction_over_navion": plan.reduction_factor / NAVION_REDUCTION,
        },
    }


def load_report(path: str | Path) -> dict:
    """A report written by :func:`build_report`; EnergyModelError if malformed or of another schema."""
    try:
        data = _load_json(Path(path))
    except OSError as exc:
        raise EnergyModelError(f"{path}: cannot read the report ({exc.strerror})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise EnergyModelError(f"{path}: not an energy report (no schema_version)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise EnergyModelError(f"{path}: energy report schema {data['schema_version']!r:.40} is not supported "
                               f"(expected {SCHEMA_VERSION}); rerun `navion energy` on its run folder")
    for keys in REPORT_NUMBERS:
        value = data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise EnergyModelError(f"{path}: malformed energy report (missing field {'.'.join(keys)})")
            value = value[key]
        if not _is_number(value):
            raise EnergyModelError(f"{path}: malformed energy report ({'.'.join(keys)} must be a finite "
                                   f"number, got {value!r:.40})")
    return data


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and (value == 0 or math.isfinite(value)):
        return f"{value:.{digits}g}"
    return str(value)


def print_report(report: dict, console=None) -> None:
    """Terminal table of one report (rich)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    acc, cpu = report["accelerator"], report["cpu"]
    table = Table(title=escape(f"energy per frame [uJ] at {report['run']['fps']:.1f} fps "
                        f"({report['run']['frames']} frames)"))
    table.add_column("stage")
    for c in CATEGORIES:
        table.add_column(c.replace("_", " "), justify="right")
    table.add_column(f"{acc['name']} total", justify="right")
    table.add_column(f"{cpu['name']} total", justify="right")
    for group in STAGE_GROUPS:
        s = acc["stages"][group]
        table.add_row(group, *[_fmt(s[f"{c}_uj"]) for c in CATEGORIES], _fmt(s["energy_per_frame_uj"]),
                      _fmt(cpu["stages"][group]["energy_per_frame_uj"]))
    table.add_row("total", *[_fmt(acc["categories"][f"{c}_uj"]) for c in CATEGORIES],
                  _fmt(acc["energy_per_frame_uj"]), _fmt(cpu["energy_per_frame_uj"]), style="bold")
    console.print(table)
    mem, pub, codec = report["memory"], report["published"], report["codec"]
    console.print(f"power: {acc['name']} {_fmt(acc['power_mw'])} mW, {cpu['name']} {_fmt(cpu['power_mw'])} mW; "
                  f"CPU/accelerator {_fmt(report['ratio_cpu_over_accelerator'])}x; "
                  f"{_fmt(pub['power_over_navion'])}x Navion's 2 mW at 20 fps", markup=False)
    console.print(f"memory: peak on-chip {mem['peak_onchip_bytes'] / 1024:.0f} kB of {mem['budget_bytes'] / 1024:.0f} kB"
                  f" (spilled: {', '.join(mem['spilled']) or 'none'}); reduction {_fmt(mem['reduction_factor'])}x vs "
                  f"naive ({_fmt(pub['reduction_over_navion'])}x Navion's 4.1x); codec ratio {_fmt(codec['ratio'])} "
                  f"({codec['note']})", markup=False)
    busy = [f"{d['name']} {_fmt(d['utilisation'])}" + (" (cannot sustain the frame rate)" if d["utilisation"] > 1 else "")
            for d in (acc, cpu)]
    console.print("utilisation (issued per cycle / capacity): " + "; ".join(busy), markup=False)
    measured = report["measured"]
    lines = [f"{k} {_fmt(v['power_mw'])} mW" for k in ("cpu_time", "rapl", "perf") if (v := measured.get(k))]
    console.print("measured: " + ("; ".join(lines) if lines else "n/a"), markup=False)


def plot_report(report: dict, path: str | Path) -> None:
    """Stacked bars of energy per frame by category for each stage, design next to CPU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key in zip(axes, ("accelerator", "cpu")):
        section = report[key]
        bottom = [0.0] * len(STAGE_GROUPS)
        for c in CATEGORIES:
            values = [section["stages"][g][f"{c}_uj"] for g in STAGE_GROUPS]
            ax.bar(STAGE_GROUPS, values, bottom=bottom, label=c.replace("_", " "))
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_title(f"{section['name']}: {section['energy_per_frame_uj']:.3g} uJ/frame, {section['power_mw']:.3g} mW")
        ax.set_ylabel("energy per frame [uJ]")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


REPORT_NUMBERS = (  # the figures compare_rows reads (load_report checks they are finite numbers)
    ("accelerator", "energy_per_frame_uj"), ("accelerator", "power_mw"),
    ("cpu", "energy_per_frame_uj"), ("cpu", "power_mw"),
    *(("stages", g, "energy_per_frame_uj") for g in STAGE_GROUPS),
    *(("accelerator", "categories", f"{c}_uj") for c in CATEGORIES),
    ("memory", "peak_onchip_bytes"), ("memory", "reduction_factor"))


def compare_rows(reports: list[tuple[str, dict]]) -> list[tuple[str, list[float]]]:
    """Rows (label, value per report) for a side-by-side comparison: totals, power, stages, memory."""
    rows = [("energy per frame [uJ]", [r["accelerator"]["energy_per_frame_uj"] for _, r in reports]),
            ("power [mW]", [r["accelerator"]["power_mw"] for _, r in reports])]
    rows += [(f"{g} [uJ]", [r["stages"][g]["energy_per_frame_uj"] for _, r in reports]) for g in STAGE_GROUPS]
    rows += [(f"{c.replace('_', ' ')} [uJ]", [r["accelerator"]["categories"][f"{c}_uj"] for _, r in reports])
             for c in CATEGORIES]
    rows += [("cpu energy per frame [uJ]", [r["cpu"]["energy_per_frame_uj"] for _, r in reports]),
             ("peak on-chip [kB]", [r["memory"]["peak_onchip_bytes"] / 1024 for _, r in reports]),
             ("memory reduction [x]", [r["memory"]["reduction_factor"] for _, r in reports])]
    return rows


def print_comparison(reports: list[tuple[str, dict]], console=None) -> None:
    """Side-by-side table; ratio columns are each report over the first."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    table = Table(title="energy reports")
    table.add_column("figure")
    for label, _ in reports:
        table.add_column(label, justify="right")
    for label, _ in reports[1:]:
        table.add_column(f"{label} / {reports[0][0]}", justify="right")
    for name, values in compare_rows(reports):
        ratios = [_fmt(v / values[0]) if values[0] else "n/a" for v in values[1:]]
        table.add_row(escape(name), *[_fmt(v) for v in values], *ratios)
    console.print(table)


def plot_comparison(reports: list[tuple[str, dict]], path: str | Path) -> None:
    """Stacked bars of each report's stage energies per frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(reports) + 2), 4.5))
    labels = [label for label, _ in reports]
    bottom = [0.0] * len(reports)
    for g in STAGE_GROUPS:
        values = [r["stages"][g]["energy_per_frame_uj"] for _, r in reports]
        ax.bar(labels, values, bottom=bottom, label=g)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("energy per frame [uJ]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
