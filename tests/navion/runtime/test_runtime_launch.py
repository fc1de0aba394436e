"""Launch files: composition (includes, overrides) and file:line errors for every mistake."""
from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import expect_one_line_error

from navion.runtime.errors import LaunchError
from navion.runtime.launch import load_launch

REPO = Path(__file__).resolve().parents[3]

BASE = """\
nodes:
  - name: player
    type: player
    params:
      path: /data/seq
      max_frames: 10
  - name: sink
    type: test_sink
    queues:
      stereo: {size: 3, policy: drop_newest, cost_ms: 2.5}
"""


def _line(text: str, needle: str) -> int:
    """1-based line of the first line holding ``needle``."""
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if needle in ln)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _error(path: Path, overrides=()) -> LaunchError:
    with pytest.raises(LaunchError) as info:
        load_launch(path, overrides)
    return info.value


def test_shipped_launch_file_resolves():
    launch = load_launch(REPO / "launch" / "euroc_replay.yaml", ["player.path=/some/seq", "vio.pipeline.solver.max_iterations=3"])
    nodes = {n.name: n for n in launch.nodes}
    assert [n.type_name for n in launch.nodes] == ["player", "vio", "energy_monitor", "recorder"]
    assert nodes["player"].params.path == "/some/seq"
    assert nodes["vio"].params.pipeline.solver.max_iterations == 3
    assert nodes["vio"].topics["stereo"] == nodes["player"].topics["stereo"]
    assert launch.clock.mode == "fast"


def test_include_with_overrides_remaps_and_queues(tmp_path):
    _write(tmp_path, "base.yaml", BASE)
    top = _write(tmp_path, "top.yaml", "include:\n  - file: base.yaml\n    set: {player.max_frames: 4}\n"
                 "clock: {mode: realtime, rate: 2.0}\n"
                 "nodes:\n  - name: sink2\n    type: test_sink\n    remap: {stereo: other/stereo}\n")
    launch = load_launch(top, ["player.duration_s=1.5", "clock.rate=3"])
    nodes = {n.name: n for n in launch.nodes}
    assert list(nodes) == ["player", "sink", "sink2"]
    assert nodes["player"].params.max_frames == 4 and nodes["player"].params.duration_s == 1.5
    assert nodes["sink2"].topics["stereo"] == "other/stereo"
    q = nodes["sink"].queues["stereo"]
    assert (q.size, q.policy, q.cost_ns) == (3, "drop_newest", 2_500_000)
    assert nodes["sink2"].queues["stereo"].size == 10  # the port's default
    assert (launch.clock.mode, launch.clock.rate) == ("realtime", 3.0)
    assert launch.to_dict()["nodes"][0]["params"]["max_frames"] == 4


@pytest.mark.parametrize("edit,needle,message", [
    (("type: test_sink", "type: test_sinc"), "type: test_sinc", "unknown node type 'test_sinc'"),
    (("      path: /data/seq\n", ""), "params:", "missing parameter 'path'"),
    (("max_frames: 10", "max_frames: ten"), "max_frames: ten", "'max_frames' must be an integer"),
    (("max_frames: 10", "max_frame: 10"), "max_frame: 10", "unknown parameter 'max_frame'"),
    (("max_frames: 10", "max_frames: 0"), "max_frames: 0", "'max_frames' must be >= 1"),
    (("policy: drop_newest", "policy: drop_all"), "stereo: {", "policy"),
    (("  - name: sink\n", "  - name: player  # again\n"), "# again", "already used"),
    (("queues:\n      stereo:", "queues:\n      imu:"), "imu:", "no input 'imu'"),
    (("    queues:", "    remap: {steero: x}\n    queues:"), "remap:", "no port 'steero'"),
    (("    queues:", "    remap: {stereo: sensors/imu}\n    queues:"), "remap:", "carries ImuMessage"),
    (("nodes:", "nodez:"), "nodez:", "unknown top-level key 'nodez'"),
    (("      max_frames: 10", "      max_frames: [1,"), None, "malformed yaml"),
])
def test_mistakes_name_file_and_line(tmp_path, edit, needle, message):
    text = BASE.replace(*edit)
    assert text != BASE
    path = _write(tmp_path, "bad.yaml", text)
    err = _error(path)
    assert message in str(err)
    assert err.path == str(path)
    if needle is not None:
        assert err.line == _line(text, needle), str(err)
    else:
        assert err.line is not None


def test_include_mistakes(tmp_path):
    top_text = "include:\n  - file: missing.yaml\nnodes: []\n"
    err = _error(_write(tmp_path, "top.yaml", top_text))
    assert (err.path, err.line) == (str(tmp_path / "top.yaml"), 2) and "missing.yaml" in str(err)
    _write(tmp_path, "a.yaml", "include: [b.yaml]\n")
    _write(tmp_path, "b.yaml", "include: [a.yaml]\n")
    assert "include cycle" in str(_error(tmp_path / "a.yaml"))
    _write(tmp_path, "base.yaml", BASE)
    text = "include:\n  - file: base.yaml\n    set:\n      player.max_frames: many\n"
    err = _error(_write(tmp_path, "set.yaml", text))
    assert (err.path, err.line) == (str(tmp_path / "set.yaml"), 4) and "max_frames" in str(err)
    text = "include:\n  - file: base.yaml\n    set:\n      playr.max_frames: 3\n"
    err = _error(_write(tmp_path, "set2.yaml", text))
    assert err.line == 4 and "no node named 'playr'" in str(err)


def test_set_overrides_are_validated_like_the_file(tmp_path):
    path = _write(tmp_path, "base.yaml", BASE)
    err = _error(path, ["player.max_frames=abc"])
    assert str(err).startswith("--set player.max_frames=abc: ") and "must be an integer" in str(err)
    assert "unknown parameter 'speed'" in str(_error(path, ["sink.speed=3"]))
    assert "expected node.param=value" in str(_error(path, ["player.max_frames"]))
    assert "clock mode" in str(_error(path, ["clock.mode=slow"]))
    assert load_launch(path, ["player.max_frames=7"]).nodes[0].params.max_frames == 7


def test_cli_reports_launch_mistakes_in_one_line(capsys, tmp_path):
    text = BASE.replace("type: test_sink", "type: nosuch")
    path = _write(tmp_path, "bad.yaml", text)
    expect_one_line_error(capsys, ["launch", path], f"{path}:{_line(text, 'type: nosuch')}", "unknown node type")
    good = _write(tmp_path, "good.yaml", BASE)
    expect_one_line_error(capsys, ["launch", good, "--set", "player.max_frames=x"], "--set player.max_frames=x")
    expect_one_line_error(capsys, ["launch", good, "--set", f"player.path={tmp_path / 'nope'}",
                                   "--out", tmp_path / "run"], "node 'player'", "nope")
    assert not (tmp_path / "run").exists()
    expect_one_line_error(capsys, ["launch", tmp_path / "absent.yaml"], "absent.yaml")
