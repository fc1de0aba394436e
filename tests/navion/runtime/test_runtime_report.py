"""report.html of a run without ground truth or energy report; message stamps."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from datasets.tum import write_tum
from navion.runtime.messages import ImuMessage
from navion.runtime.report_html import render_report


def test_report_without_ground_truth_plots_the_estimate_alone(tmp_path):
    t = np.arange(50, dtype=np.int64) * 50_000_000 + 10**18
    angle = np.linspace(0, np.pi, 50)
    p = np.stack([np.cos(angle), np.sin(angle), 0.1 * angle], axis=1)
    q = np.tile([0.0, 0.0, 0.0, 1.0], (50, 1))
    write_tum(tmp_path / "trajectory.tum", t, p, q)
    (tmp_path / "summary.json").write_text(json.dumps({"status": "interrupted", "frames": 50, "nodes": {}}))
    html = render_report(tmp_path)
    ids = re.findall(r"<section id='([a-z]+)'>", html)
    assert ids == ["summary", "trajectory", "errors", "energy", "clock", "queues", "run"]
    trajectory = html[html.index("<section id='trajectory'>"):html.index("<section id='errors'>")]
    assert "No ground truth" in trajectory
    png = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)'", trajectory).group(1))
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "No energy report" in html and "run.json missing" in html
    assert "status-interrupted" in html


def test_message_stamps_are_integer_nanoseconds():
    assert ImuMessage(np.int64(5), None).stamp_ns == 5
    assert type(ImuMessage(np.int64(5), None).stamp_ns) is int
    for bad in (1.5, True, "1"):
        with pytest.raises(TypeError, match="stamp_ns"):
            ImuMessage(bad, None)
