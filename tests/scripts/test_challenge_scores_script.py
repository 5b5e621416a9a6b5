"""scripts/challenge_scores.py, which measures the README's table of the three challenges' scores."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_challenge_scores_prints_one_row_per_planner_and_one_column_per_challenge(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "challenge_scores.py"), "--scenarios", "2",
                           "--worker", "sequential"], capture_output=True, text=True, timeout=240, check=False,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| planner | open_loop_boxes | closed_loop_nonreactive_agents | closed_loop_reactive_agents |" in done.stdout
    rows = {m.group(1): [float(v) for v in m.group(2).split(" | ")]
            for m in re.finditer(r"^\| (\w+) \| ([\d. |]+) \|$", done.stdout, re.MULTILINE)}
    assert set(rows) == {"IDMPlanner", "LogFuturePlanner", "SimplePlanner"}
    assert rows["LogFuturePlanner"] == [1.0, 1.0, 1.0]
    assert all(0.0 <= v <= 1.0 for values in rows.values() for v in values)
