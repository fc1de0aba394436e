#!/usr/bin/env python3
"""Checks that a run's report.html renders in headless Chromium without errors.

Loads the page twice in a fresh, offline browser profile: once dumping the DOM after
the page's scripts ran (the page sets ``data-report-ok="yes"`` on <body> when every
image decoded, ``data-js-error`` on <html> on a script error), once taking a screenshot
(``--screenshot OUT.png``). Fails on a missing section, a broken image, a script error,
a console error in the browser log, or a request for anything outside the page.

Usage: scripts/check_report.py REPORT.html [--screenshot OUT.png] [--sections a,b,...]
Exit codes: 0 ok, 1 a check failed, 2 no chromium found.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SECTIONS = ("summary", "trajectory", "errors", "energy", "clock", "queues", "run")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,2000")


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(binary: str, url: str, extra: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="navion-chromium-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                   "--virtual-time-budget=5000", *extra, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)


def check(report: Path, screenshot: Path | None = None, sections: tuple[str, ...] = SECTIONS,
          timeout_s: float = 120.0) -> list[str]:
    """Problems found rendering ``report`` (empty when it is fine); RuntimeError without chromium."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("chromium not found (apt-get install chromium)")
    url = report.resolve().as_uri()
    dom_run = _chromium(binary, url, ["--dump-dom"], timeout_s)
    dom, log = dom_run.stdout, dom_run.stderr
    problems = []
    if dom_run.returncode != 0 or "<body" not in dom:
        problems.append(f"chromium exited with {dom_run.returncode} and no DOM: {log.strip()[-400:]}")
    body = re.search(r"<body([^>]*)>", dom)
    marker = re.search(r'data-report-ok="([^"]*)"', body.group(1)) if body else None
    if marker is None:
        problems.append("the page's load check did not run (no data-report-ok on <body>)")
    elif marker.group(1) != "yes":
        problems.append(f"images failed to load: {marker.group(1)}")
    error = re.search(r'<html[^>]*data-js-error="([^"]*)"', dom)
    if error:
        problems.append(f"script error: {error.group(1)}")
    for ident in sections:
        if not re.search(rf"<section id=\"{re.escape(ident)}\"", dom):
            problems.append(f"section '{ident}' missing")
    for line in log.splitlines():
        if "CONSOLE" in line and ("error" in line.lower() or "Uncaught" in line):
            problems.append(f"console: {line.strip()}")
        if "net::ERR" in line:
            problems.append(f"network: {line.strip()}")
    if screenshot is not None:
        shot = _chromium(binary, url, [f"--screenshot={screenshot.resolve()}"], timeout_s)
        if shot.returncode != 0 or not screenshot.is_file() or screenshot.stat().st_size == 0:
            problems.append(f"no screenshot written (chromium exit {shot.returncode})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="section ids that must be present")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"check_report: {args.report}: no such file", file=sys.stderr)
        return 1
    try:
        problems = check(args.report, args.screenshot, tuple(s for s in args.sections.split(",") if s))
    except RuntimeError as exc:
        print(f"check_report: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"check_report: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.report}: renders without errors" + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
