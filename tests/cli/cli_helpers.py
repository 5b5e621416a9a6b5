"""Run the real ``dask-runner`` command (or nuPlan-style scripts) in a subprocess, as users do."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICK = ("worker=sequential", "scenario_filter.limit_total_scenarios=2", "show_progress=false")


def cli_env(*extra_paths: Path | str) -> dict[str, str]:
    """The command's environment: this checkout's dask_runner first on the import path (not whichever copy
    the interpreter has installed, e.g. another worktree's), then ``extra_paths`` (modules a command
    line names, such as a user's metric class). Worker processes the command starts inherit it."""
    paths = [str(REPO), *map(str, extra_paths)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_cli(args: Sequence[str], cwd: Path, timeout: float = 180,
            pythonpath: Sequence[Path | str] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dask_runner.cli", *args], cwd=cwd, capture_output=True,
                          check=False, text=True, timeout=timeout, env=cli_env(*pythonpath))


def run_script(script: str, args: Sequence[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=cwd, capture_output=True,
                          check=False, text=True, timeout=timeout, env=cli_env())
