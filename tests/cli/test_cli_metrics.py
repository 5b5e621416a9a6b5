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


def test_metrics_reads_todays_and_earlier_versions_logs_side_by_side(simulated: Path, tmp_path: Path) -> None:
    """Logs of format version 1 (.msgpack.xz, .pkl.xz, written before zstandard) are found and scored beside
    today's .msgpack.zst, and today's logs give exactly the rows the simulate job wrote."""
    logs = tmp_path / "logs"
    shutil.copytree(simulated / "simulation_logs", logs)
    old = logs / "idm_planner" / "following" / "log_a"
    old.mkdir(parents=True)
    for suffix in (".msgpack.xz", ".pkl.xz"):
        shutil.copy(Path(__file__).parents[1] / "simulation" / "data" / f"straight_1_v1{suffix}", old / f"s{suffix}")
    out = tmp_path / "out"
    result = run_cli(["metrics", f"simulation_log_dir={logs}", f"output_dir={out}", "show_progress=false",
                      "html_report=false"], tmp_path)
    assert result.returncode == 0, result.stderr
    reports = pd.read_parquet(out / "runner_report.parquet")
    assert len(reports) == 5 and reports["succeeded"].all()

    def rows(root: Path, planner: str) -> pd.DataFrame:
        frame = pd.concat(pd.read_parquet(p) for p in (root / "metrics").rglob("*.parquet"))
        frame = frame[frame["planner_name"] == planner].drop(columns="runner_id")
        return frame.sort_values(["scenario_name", "metric_name"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(out, "SimplePlanner"), rows(simulated, "SimplePlanner"))
    assert len(rows(out, "idm/planner")) == 2 * len(rows(out, "idm/planner").metric_name.unique())


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
