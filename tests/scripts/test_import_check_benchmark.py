"""scripts/bench_import_check.py runs and reports the cost of the workers' import check per batch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

pytestmark = pytest.mark.slow


def test_import_check_benchmark_reports_the_cost_per_batch() -> None:
    # This checkout's dask_runner first, not whichever copy the interpreter has installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SCRIPTS.parent), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_import_check.py"), "--scenarios", "8"],
                          capture_output=True, text=True, timeout=240, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"8 runners, \d+ modules, 2 workers: check [\d.]+ ms per batch", done.stdout), done.stdout
