"""Sensitivity of a design's energy to its uncertain settings: one at a time, and together.

A ranges file (``presets/ranges/<preset>.yaml`` for the shipped presets, or any yaml) lists
hardware fields whose values are assumptions or estimates, the other values each could
plausibly take, and where that range comes from::

    dram_pj_per_bit:                 # a HardwareConfig field (dotted for sections)
      values: [20.3, 40.6]           # alternatives to the design's own value
      source: Horowitz ISSCC 2014, 1.3-2.6 nJ per 64-bit access

:func:`sensitivity` prices the run once per alternative with every other field at the
design's value (one at a time), then twice with every field set together at its
lowest-energy and at its highest-energy setting (the corners). The corners bound the
model's answer under the listed uncertainty as far as the fields act independently. The
CPU baseline is not varied.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from datasets.calibration import load_yaml_text, read_yaml_file
from datasets.config_paths import apply_overrides, unknown_path_message, yaml_key_lines
from datasets.configuration import ConfigError

from .energy import EnergyModelError
from .hardware import HardwareConfig, load_preset
from .report import codec_measurement, load_run, power_over_navion, price_design, sequence_path

RANGE_KEYS = ("values", "source")


@dataclass(frozen=True)
class Range:
    """Alternatives ``values`` of the hardware field at dotted ``path``, and their ``source``."""

    path: str
    values: tuple
    source: str


def shipped_ranges(preset: str) -> Path | None:
    """The ranges file shipped for preset ``preset`` (None if there is none)."""
    entry = resources.files("accel_model") / "presets" / "ranges" / f"{preset}.yaml"
    return Path(str(entry)) if entry.is_file() else None


def load_ranges(path: str | Path, hw: HardwareConfig) -> tuple[Range, ...]:
    """Reads a ranges file and checks every alternative builds a valid variant of ``hw``;
    ConfigError naming the file and line on any mistake."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such ranges file", str(path))
    text = read_yaml_file(path)
    data = load_yaml_text(text, str(path)) if text.strip() else None
    lines = yaml_key_lines(text) if data is not None else {}

    def error(message: str, *where) -> ConfigError:
        return ConfigError(message, str(path), lines.get(tuple(where)))

    if not isinstance(data, dict) or not data:
        raise error("a ranges file maps hardware fields to {values: [...], source: ...}")
    out = []
    for field_path, entry in data.items():
        problem = unknown_path_message(hw, str(field_path))
        if problem is not None:
            raise error(problem.replace("knob", "hardware field"), field_path)
        if not isinstance(entry, dict) or set(entry) - set(RANGE_KEYS) or "values" not in entry:
            raise error(f"{field_path}: give 'values' (a list of alternatives) and 'source' (why this range)",
                        field_path)
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise error(f"{field_path}: 'source' must say where the range comes from", field_path)
        values = entry["values"]
        if not isinstance(values, list) or not values:
            raise error(f"{field_path}: 'values' must be a non-empty list", field_path, "values")
        for i, value in enumerate(values):
            if value in values[:i]:
                raise error(f"{field_path}: lists {value!r} twice", field_path, "values", i)
            try:
                apply_overrides(hw, {field_path: value})
            except (ConfigError, ValueError, TypeError) as exc:
                raise error(f"{field_path} = {value!r}: {exc}", field_path, "values", i) from None
        out.append(Range(str(field_path), tuple(values), source.strip()))
    return tuple(out)


def _field(hw: HardwareConfig, path: str):
    value = hw
    for part in path.split("."):
        value = getattr(value, part)
    return value


def sensitivity(run_dir: str | Path, hw: HardwareConfig, ranges: tuple[Range, ...],
                cpu: HardwareConfig | None = None, sequence: str | Path | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Energy of ``run_dir`` on ``hw`` with each field of ``ranges`` varied alone, and at the
    two corners; ``progress(done, total)`` is called after each pricing. JSON-safe dict:
    ``base``, ``fields`` (largest swing first) and ``corners``, each with the figures of
    :func:`_figures`."""
    run = load_run(run_dir)
    seq = sequence_path(run, sequence)
    codec: dict[tuple, tuple] = {}
    total = 2 + sum(len(r.values) for r in ranges) + 2  # design, CPU baseline, alternatives, corners
    done = 0

    def price(design: HardwareConfig) -> dict:
        nonlocal done
        key = (design.codec_near, design.codec_sample_frames)
        if key not in codec:
            codec[key] = codec_measurement(run, seq, design)
        ratio, geometry, _ = codec[key]
        section, plan = price_design(run, design, geometry, ratio)
        done += 1
        if progress is not None:
            progress(done, total)
        return {"energy_per_frame_uj": section["energy_per_frame_uj"], "power_mw": section["power_mw"],
                "spilled_bytes": plan.total_bytes - plan.onchip_bytes}

    base = price(hw)
    ratio, geometry, _ = codec[(hw.codec_near, hw.codec_sample_frames)]
    cpu_uj = price_design(run, cpu or load_preset("cpu"), geometry, ratio)[0]["energy_per_frame_uj"]
    done += 1
    fields = []
    for r in ranges:
        settings = [(_field(hw, r.path), base)] + [(v, price(apply_overrides(hw, {r.path: v}))) for v in r.values]
        energies = [f["energy_per_frame_uj"] for _, f in settings]
        fields.append({
            "field": r.path, "source": r.source, "design_value": _plain(settings[0][0]),
            "alternatives": [{"value": _plain(v), **_figures(f, cpu_uj)} for v, f in settings[1:]],
            "lowest": _plain(settings[energies.index(min(energies))][0]),
            "highest": _plain(settings[energies.index(max(energies))][0]),
            "swing_uj": max(energies) - min(energies)})
    fields.sort(key=lambda f: -f["swing_uj"])
    corners = {}
    for corner in ("lowest", "highest"):
        settings = {f["field"]: f[corner] for f in fields}
        try:
            design = apply_overrides(hw, settings)
        except (ConfigError, ValueError, TypeError) as exc:
            raise EnergyModelError(f"the fields' {corner}-energy settings are invalid together: {exc}") from None
        corners[corner] = {"settings": settings, **_figures(price(design), cpu_uj)}
    return {"design": hw.name, "base": _figures(base, cpu_uj), "fields": fields, "corners": corners}


def _figures(priced: dict, cpu_uj: float) -> dict:
    """Energy per frame [uJ], power [mW], power over Navion's at 20 fps, CPU over design, and
    the bytes that spill off chip."""
    energy = priced["energy_per_frame_uj"]
    return {"energy_per_frame_uj": energy, "power_mw": priced["power_mw"],
            "power_over_navion": power_over_navion(energy),
            "ratio_cpu_over_accelerator": cpu_uj / energy if energy > 0 else math.inf,
            "spilled_bytes": priced["spilled_bytes"]}


def _plain(value):
    """A field value as JSON holds it (tuples as lists, config sections as dicts)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def print_sensitivity(section: dict, console=None) -> None:
    """Terminal table of :func:`sensitivity`'s result (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    base = section["base"]
    table = Table(title=f"sensitivity of {section['design']}: {base['energy_per_frame_uj']:.4g} uJ/frame, "
                        f"{base['power_over_navion']:.3g}x Navion's 2 mW, CPU/accelerator "
                        f"{base['ratio_cpu_over_accelerator']:.3g}x")
    table.add_column("field (design value)")
    for name in ("alternative", "uJ/frame", "x Navion", "CPU/acc"):
        table.add_column(name, justify="left" if name == "alternative" else "right")
    for f in section["fields"]:
        design = f"(design {f['design_value']})"
        labels = [f["field"], design] if len(f["alternatives"]) > 1 else [f"{f['field']}\n{design}"]
        for label, alt in zip(labels + [""] * len(f["alternatives"]), f["alternatives"]):
            table.add_row(label, str(alt["value"]), f"{alt['energy_per_frame_uj']:.4g}",
                          f"{alt['power_over_navion']:.3g}", f"{alt['ratio_cpu_over_accelerator']:.3g}")
    for name, corner in section["corners"].items():
        table.add_row(f"all at {name}", "", f"{corner['energy_per_frame_uj']:.4g}",
                      f"{corner['power_over_navion']:.3g}", f"{corner['ratio_cpu_over_accelerator']:.3g}", style="bold")
    console.print(table)
    for f in section["fields"]:
        console.print(f"{f['field']}: {f['source']}", markup=False)


def plot_sensitivity(section: dict, path: str | Path) -> None:
    """Tornado chart: each field's range of energy per frame around the design's, largest
    swing on top, with the two corners as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fields = section["fields"]
    base = section["base"]["energy_per_frame_uj"]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * max(len(fields), 1)))
    for row, f in enumerate(reversed(fields)):
        energies = [a["energy_per_frame_uj"] for a in f["alternatives"]] + [base]
        low, high = min(energies), max(energies)
        ax.barh(row, base - low, left=low, color="tab:green")
        ax.barh(row, high - base, left=base, color="tab:red")
        for alt in f["alternatives"]:
            below = alt["energy_per_frame_uj"] < base
            ax.annotate(str(alt["value"]), (alt["energy_per_frame_uj"], row), xytext=(-3 if below else 3, 0),
                        textcoords="offset points", ha="right" if below else "left", va="center", fontsize=7)
    ax.set_yticks(range(len(fields)), [f"{f['field']} ({f['design_value']})" for f in reversed(fields)])
    ax.axvline(base, color="black", lw=1, label=f"{section['design']}: {base:.4g} uJ")
    for name, style in (("lowest", "tab:green"), ("highest", "tab:red")):
        energy = section["corners"][name]["energy_per_frame_uj"]
        ax.axvline(energy, color=style, ls="--", lw=1, label=f"all at {name}: {energy:.4g} uJ")
    ax.set_xlabel("energy per frame [uJ] (one field changed at a time)")
    # top axis: the same energies as power over Navion's 2 mW at 20 fps
    top = ax.secondary_xaxis("top", functions=(power_over_navion, lambda x: x / power_over_navion(1.0)))
    top.set_xlabel("power over Navion's 2 mW at 20 fps [x]")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
