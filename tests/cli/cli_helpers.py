"""Run the real ``dask-runner`` command (or nuPlan-style scripts) in a subprocess, as users do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICK = ("worker=sequential", "scenario_filter.limit_total_scenarios=2", "show_progress=false")


def run_cli(args: Sequence[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dask_runner.cli", *args], cwd=cwd, capture_output=True,
                          check=False, text=True, timeout=timeout)


def run_script(script: str, args: Sequence[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=cwd, capture_output=True,
                          check=False, text=True, timeout=timeout)
