"""The benchmark scripts users run to check the speed figures of the README: they run and report every part."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import cli_env

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

pytestmark = pytest.mark.slow


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True,
                          timeout=240, check=False, env=cli_env())  # this checkout first on the import path
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_pool_benchmark_measures_each_pool_in_rounds_and_reports_the_targets(tmp_path: Path) -> None:
    out = run("benchmark.py", "--quick", "--rounds", "2", "--skip", "parallel_threads", "ray", "memory")
    pools = ("sequential", "parallel_processes", "process_pool", "dask")
    for number in (1, 2):
        for pool in pools:
            assert re.search(rf"round {number}\s+{pool}\s+[\d.]+ s\s+16/16 succeeded", out), out
    table = out[out.index("medians over 2 round(s)"):]
    for pool in pools:
        row = re.search(rf"^\s+{pool}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", table, re.MULTILINE)
        assert row is not None, table
        assert float(row.group(1)) > 0 and float(row.group(2)) > 0
    assert re.search(r"^\s+process_pool\s+[\d.]+\s+[\d.]+\s+1\.00\s", table, re.MULTILINE), table
    targets = re.search(r"dask efficiency median ([\d.]+), rounds ([\d.]+), ([\d.]+) \(>= 0\.85\); "
                        r"dask / process pool median ([\d.]+), rounds ([\d.]+), ([\d.]+)", out)
    assert targets is not None, out
    assert re.search(r"execute_runners:\s+[\d.]+ ms per runner", out), out


def test_substrate_benchmark_reports_each_planner_against_the_target() -> None:
    out = run("bench_substrate.py", "--per-type", "1", "--repeats", "1")
    for planner in ("SimplePlanner", "IDMPlanner", "LogFuturePlanner"):
        assert re.search(rf"^{planner}\s+[\d.]+ \(\s*[\d.]+\)", out, re.MULTILINE), out
    best = re.search(r"IDMPlanner \+ metrics: ([\d.]+) ms at best, ([\d.]+)x the 15 ms target", out)
    assert best is not None and float(best.group(1)) > 0, out


def test_ml_planner_benchmark_prints_the_lockstep_ratio() -> None:
    out = run("bench_ml_planner.py", "--scenarios", "4", "--group-size", "4", "--rounds", "1")
    assert re.search(r"round 1: one at a time [\d.]+/s, lockstep [\d.]+/s, ratio [\d.]+", out), out
    assert re.search(r"\| lockstep groups of 4 \(one forward pass per step\) \| [\d.]+ \| [\d.]+ \|", out), out


def test_ml_planner_evaluation_prints_a_score_per_scenario_type() -> None:
    out = run("eval_ml_planner.py", "--scenarios", "7")
    table = out[out.index("7 held-out generated scenarios"):]
    assert len(re.findall(r"^\| \w+ \| 1 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$", table, re.MULTILINE)) >= 7, out
