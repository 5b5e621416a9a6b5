"""`dask-runner metrics` / scripts/run_metric.py: offline metrics from saved simulation logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import QUICK, run_cli, run_script


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sim")
    result = run_cli(["simulate", *QUICK, "scenario_filter.limit_total_scenarios=3", "planner=simple_planner",
                      f"output_dir={root / 'run'}", "html_report=false"], root)
    assert result.returncode == 0, result.stderr
    return root / "run"


def test_metrics_recomputed_from_logs_match_the_simulation(simulated: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics_run"
    result = run_script("run_metric.py", [f"simulation_log_dir={simulated / 'simulation_logs'}",
                                          f"output_dir={out}", "show_progress=false"], tmp_path)
    assert result.returncode == 0, result.stderr
    reports = pd.read_parquet(out / "runner_report.parquet")
    assert len(reports) == 3 and reports["succeeded"].all()
    assert (out / "report.html").is_file() and list((out / "aggregator_metric").glob("*.parquet"))

    def scores(root: Path) -> list[float]:
        rows = pd.concat(pd.read_parquet(p) for p in (root / "metrics").rglob("*.parquet"))
        rows = rows[rows["metric_name"] == "closed_loop_score"]
        return sorted(rows["score"].round(9))

    assert scores(out) == scores(simulated)


def test_a_corrupt_log_fails_only_its_own_runner(simulated: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(simulated / "simulation_logs", logs)
    corrupt = min(logs.rglob("*.msgpack.zst"))
    corrupt.write_bytes(corrupt.read_bytes()[:40])  # truncated, as by a full disk
    out = tmp_path / "out"
    result = run_cli(["metrics", f"simulation_log_dir={logs}", f"output_dir={out}", "show_progress=false"], tmp_path)
    assert result.returncode == 1
    assert len(pd.read_parquet(out / "runner_report.parquet")) == 3
    failed = pd.read_parquet(out / "runner_report.parquet").query("not succeeded")
    assert len(failed) == 1 and corrupt.name in failed["error_message"].iloc[0]
    assert "SimulationLogError" in failed["error_message"].iloc[0]
    assert len(list((out / "metrics").rglob("*.parquet"))) == 2  # the other two were scored
