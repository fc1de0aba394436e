"""``report.html``: one self-contained page describing a run folder.

Everything is inline (CSS, base64 PNG images, a few lines of script): the page loads
no external resource. Sections (element ids): ``summary``, ``trajectory``, ``errors``,
``energy``, ``clock``, ``queues``, ``run``, and ``map`` / ``coverage`` when the run folder
holds ``map_slice.png`` / ``coverage.png``. After loading, the page's script checks that
every image decoded and sets ``data-report-ok="yes"`` on ``<body>`` (or
``"broken: ..."``); ``scripts/check_report.py`` reads that marker from a headless browser.
"""
from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path

SCRIPT = """
window.addEventListener('error', function (e) {
  document.documentElement.setAttribute('data-js-error', String(e.message));
});
window.addEventListener('load', function () {
  var broken = [];
  for (var i = 0; i < document.images.length; i++) {
    var img = document.images[i];
    if (!img.complete || img.naturalWidth === 0) { broken.push(img.alt); }
  }
  document.body.setAttribute('data-images', String(document.images.length));
  document.body.setAttribute('data-report-ok', broken.length ? 'broken: ' + broken.join(', ') : 'yes');
});
"""

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.status-completed { color: #070; } .status-failed, .status-interrupted { color: #a00; }
"""


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td class='n'>{escape(_fmt(v))}</td>" if isinstance(v, (int, float)) and not isinstance(v, bool)
        else f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _pairs(rows: list[tuple[str, object]]) -> str:
    return _table(["figure", "value"], [[k, v] for k, v in rows])


def _img(data: bytes, alt: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode('ascii')}'>"


def _png_file(path: Path, alt: str) -> str | None:
    return _img(path.read_bytes(), alt) if path.is_file() else None


def _trajectory_plot(path: Path) -> bytes | None:
    """Top and side views of the estimate alone (a run without ground truth)."""
    from datasets.errors import DatasetError
    from datasets.tum import read_tum

    try:
        traj = read_tum(path)
    except DatasetError:
        return None
    if len(traj.timestamps_ns) == 0:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5), layout="constrained")
    FigureCanvasAgg(fig)
    p = traj.p_world_body
    for ax, (a, b), title in zip(fig.subplots(1, 2), ((0, 1), (0, 2)), ("top view", "side view")):
        ax.plot(p[:, a], p[:, b], "-", color="tab:blue", lw=1, label="estimate")
        ax.set(title=title, xlabel=f"{'xyz'[a]} [m]", ylabel=f"{'xyz'[b]} [m]", aspect="equal")
        ax.set_adjustable("datalim")
        ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _section(ident: str, title: str, body: str) -> str:
    return f"<section id='{ident}'><h2>{escape(title)}</h2>{body}</section>"


def node_summary(summary: dict, type_name: str) -> dict:
    """The summary of the first node of type ``type_name`` in a run's summary ({} if none)."""
    return next((s for s in summary.get("nodes", {}).values() if s.get("type") == type_name), {})


def _summary_section(summary: dict) -> str:
    recorder, vio = node_summary(summary, "recorder"), node_summary(summary, "vio")
    error = summary.get("error")
    rows = [("status", summary.get("status")), ("error", None if error is None else f"{error['node']}: {error['message']}"),
            ("stop reason", summary.get("stop_reason")), ("sequence", summary.get("sequence")),
            ("stereo frames", summary.get("frames")), ("estimated frames", recorder.get("estimated_frames")),
            ("resets", vio.get("resets")), ("initialisation [s]", vio.get("init_time_s")),
            ("ATE RMSE [m]", recorder.get("ate_rmse_m")), ("frames/s", summary.get("fps")),
            ("real-time factor", summary.get("realtime_factor"))]
    rows += [(f"output error {i + 1}", e) for i, e in enumerate(summary.get("output_errors", []))]
    return _section("summary", "Summary", _pairs(rows))


def _trajectory_sections(run: Path, summary: dict) -> list[str]:
    traj = _png_file(run / "trajectory.png", "trajectory")
    if traj is not None:
        note = "<p>Estimate after SE(3) alignment onto the ground truth.</p>"
    else:
        data = _trajectory_plot(run / "trajectory.tum")
        traj = _img(data, "trajectory") if data is not None else "<p>No estimated poses.</p>"
        note = "<p>No ground truth: the estimate alone, in its own world frame.</p>" if data is not None else ""
    recorder = node_summary(summary, "recorder")
    errors = _png_file(run / "errors.png", "errors")
    ate = recorder.get("ate") or {}
    rows = [(f"ATE {k}", v) for k, v in ate.items() if isinstance(v, (int, float))]
    errors_body = (errors + (_pairs(rows) if rows else "")) if errors is not None else \
        f"<p>No error plot ({escape(recorder.get('evaluation_error') or 'no ground truth or too few poses')}).</p>"
    return [_section("trajectory", "Trajectory", note + traj), _section("errors", "Errors", errors_body)]


def _energy_section(run: Path) -> str:
    report = _load(run / "energy.json")
    if report is None:
        return _section("energy", "Energy", "<p>No energy report (no energy_monitor in the launch).</p>")
    acc, cpu = report["accelerator"], report["cpu"]
    cats = ("compute", "onchip_memory", "offchip_memory", "leakage")
    rows = [[g, *[s[f"{c}_uj"] for c in cats], s["energy_per_frame_uj"], cpu["stages"][g]["energy_per_frame_uj"]]
            for g, s in acc["stages"].items()]
    rows.append(["total", *[acc["categories"][f"{c}_uj"] for c in cats], acc["energy_per_frame_uj"],
                 cpu["energy_per_frame_uj"]])
    table = _table(["stage [uJ/frame]", *[c.replace("_", " ") for c in cats], f"{acc['name']} total",
                    f"{cpu['name']} total"], rows)
    mem = report["memory"]
    figures = _pairs([(f"{acc['name']} power [mW]", acc["power_mw"]), (f"{cpu['name']} power [mW]", cpu["power_mw"]),
                      ("CPU / accelerator", report["ratio_cpu_over_accelerator"]),
                      ("frames priced", report["run"]["frames"]), ("frame rate [Hz]", report["run"]["fps"]),
                      ("peak on-chip [kB]", mem["peak_onchip_bytes"] / 1024),
                      ("memory reduction [x]", mem["reduction_factor"]), ("codec ratio", report["codec"]["ratio"])])
    png = _png_file(run / "energy.png", "energy breakdown") or ""
    return _section("energy", "Energy", png + table + figures)


def _clock_section(summary: dict) -> str:
    clock = summary.get("clock", {})
    rows = [("mode", clock.get("mode")), ("rate [x real time]", clock.get("rate")), ("events", clock.get("events")),
            ("simulated time [s]", clock.get("sim_time_s")), ("wall time [s]", clock.get("wall_time_s")),
            ("real-time factor", clock.get("realtime_factor")), ("events/s", clock.get("events_per_s")),
            ("CPU [%]", clock.get("cpu_percent")), ("lag max [s]", clock.get("lag_max_s")),
            ("lag mean [s]", clock.get("lag_mean_s"))]
    return _section("clock", "Clock", _pairs(rows))


def _queues_section(summary: dict) -> str:
    keys = ("node", "input", "topic", "size", "policy", "cost_ns", "received", "processed", "dropped", "blocked",
            "queued")
    queues = _table(list(keys), [[q.get(k) for k in keys] for q in summary.get("queues", [])])
    topics = _table(["topic", "type", "published", "subscribers"],
                    [[name, t["type"], t["published"], t["subscribers"]] for name, t in summary.get("topics", {}).items()])
    return _section("queues", "Topics and queues", topics + queues)


def _run_section(run_info: dict | None) -> str:
    if run_info is None:
        return _section("run", "Run", "<p>run.json missing.</p>")
    versions = _pairs(list(run_info.get("versions", {}).items()) + [("python", run_info.get("python"))])
    git = run_info.get("git") or {}
    provenance = _pairs([("git commit", git.get("commit")), ("uncommitted changes", git.get("dirty")),
                         ("seeds", json.dumps(run_info.get("seeds", {}))),
                         ("command", " ".join(run_info.get("command") or []) or None)])
    launch = escape(json.dumps(run_info.get("launch", {}), indent=2))
    return _section("run", "Run", versions + provenance + f"<h3>Resolved launch</h3><pre>{launch}</pre>")


def render_report(run_dir: str | Path) -> str:
    """The HTML text of the report of ``run_dir``."""
    run = Path(run_dir)
    summary = _load(run / "summary.json") or {}
    sections = [_summary_section(summary), *_trajectory_sections(run, summary), _energy_section(run)]
    for ident, name, title in (("map", "map_slice.png", "Map slice"), ("coverage", "coverage.png", "Coverage")):
        image = _png_file(run / name, title.lower())
        if image is not None:
            sections.append(_section(ident, title, image))
    sections += [_clock_section(summary), _queues_section(summary), _run_section(_load(run / "run.json"))]
    status = str(summary.get("status", "unknown"))
    title = f"navion run: {Path(summary.get('launch', '')).name or run.name}"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
            f"<h1>{escape(title)} <span class='status-{escape(status)}'>({escape(status)})</span></h1>"
            + "".join(sections) + "</body></html>\n")


def write_report(run_dir: str | Path) -> Path:
    """Writes ``run_dir/report.html`` and returns its path."""
    path = Path(run_dir) / "report.html"
    path.write_text(render_report(run_dir), encoding="utf-8")
    return path
