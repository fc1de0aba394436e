"""navion replay --count-instructions: the child replays, the difference, the report line."""
from __future__ import annotations

import json

from cli_runner import expect_one_line_error, run

import navion.replay_instructions as ri

START_UP, PER_FRAME = 7_000_000, 250_000


def _fake_counter(calls):
    """A count_instructions stand-in: start-up plus a fixed count per replayed frame."""
    def count(command, timeout_s=None, env=None):
        frames = int(command[command.index("--max-frames") + 1])
        calls.append((command, env))
        return START_UP + PER_FRAME * frames, "perf"
    return count


def test_count_replay_instructions_differences_two_children(monkeypatch, capsys, euroc_micro, tmp_path):
    calls = []
    monkeypatch.setattr(ri, "count_instructions", _fake_counter(calls))
    monkeypatch.setattr(ri, "perf_instructions", lambda *a, **k: 1)  # perf works
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "replay", euroc_micro, "--out", out, "--max-frames", "12", "--count-instructions")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["measured"]["instructions"] == PER_FRAME * 12  # start-up cancelled
    assert summary["measured"]["instructions_tool"] == "perf"
    assert sorted(int(c[c.index("--max-frames") + 1]) for c, _ in calls) == [1, 12]
    assert all(str(euroc_micro) in c and "--count-instructions" not in c for c, _ in calls)
    code, stdout, err = run(capsys, "energy", out, "--json")
    report = json.loads(stdout)
    epi = report["cpu"]["energy_per_instruction_pj"]
    line = report["measured"]["perf"]
    assert abs(line["energy_per_frame_uj"] - PER_FRAME * epi * 1e-6) < 1e-9 * line["energy_per_frame_uj"]


def test_callgrind_fallback_uses_the_scalar_build(monkeypatch, capsys, euroc_micro, tmp_path):
    calls = []
    monkeypatch.setattr(ri, "count_instructions", _fake_counter(calls))
    monkeypatch.setattr(ri, "perf_instructions", lambda *a, **k: None)  # no counter: valgrind path
    monkeypatch.setattr(ri.subprocess, "run", lambda *a, **k: None)  # the native warm-up run
    summary = ri.count_replay_instructions([str(euroc_micro)], 5, log=lambda _: None)
    assert summary["instructions"] == PER_FRAME * 5 and "scalar build" in summary["instructions_note"]
    assert all(env["NUMBA_CPU_NAME"] == "generic" for _, env in calls)


def test_uncountable_is_one_line_error(monkeypatch, capsys, euroc_micro, tmp_path):
    monkeypatch.setattr(ri, "count_instructions", lambda *a, **k: None)
    monkeypatch.setattr(ri, "perf_instructions", lambda *a, **k: 1)
    expect_one_line_error(capsys, ["replay", euroc_micro, "--out", tmp_path / "r", "--max-frames", "3",
                                   "--count-instructions"], "perf has no instruction counter")
