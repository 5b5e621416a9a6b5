"""The viewer's data layer on real batches: replays, the scenario table, its index file, the run diff, report.html."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dask_runner.experiment.simulation_job import simulate
from dask_runner.simulation.simulation_log import SimulationLog
from dask_runner.viewer.run_folder import RunFolder, run_diff
from dask_runner.viewer.scenario_index import INDEX_FILE, query
from tests.viewer.viewer_helpers import COLLISION_SCENARIO, first_overlap_step


def runner_of(folder: RunFolder, planner: str, scenario: str) -> str:
    index = folder.index
    rows = index[(index["planner"] == planner) & (index["scenario"] == scenario)]
    assert len(rows) == 1
    return str(rows["runner_id"].iloc[0])


def test_replay_has_every_step_and_the_collision_marker_at_the_collision_step(two_planner_run: Path) -> None:
    folder = RunFolder(two_planner_run)
    runner = runner_of(folder, "SimplePlanner", COLLISION_SCENARIO)
    replay = folder.replay(runner)
    assert "unavailable" not in replay
    log = SimulationLog.load_data(two_planner_run / replay["log_file"])
    steps = len(log.simulation_history.samples)
    assert replay["steps"] == steps == len(replay["time"]) == len(replay["ego"]["x"])
    assert len(replay["agents"]["count"]) == len(replay["trajectories"]["count"]) == steps
    assert all(len(replay["tracks"][name]) == steps for name in ("speed", "acceleration", "jerk", "progress", "ttc"))
    assert replay["markers"]["no_ego_at_fault_collisions"] == [first_overlap_step(log)]
    # the metric files say the same: a collision, and a time to collision under the bound
    scores = folder.row(runner)
    assert scores is not None and scores["no_ego_at_fault_collisions"] == 0.0
    assert replay["markers"]["time_to_collision_within_bound"]
    assert replay["map"]["lanes"] and replay["map"]["area"]
    idm = folder.replay(runner_of(folder, "IDMPlanner", COLLISION_SCENARIO))
    assert idm["markers"]["no_ego_at_fault_collisions"] == []


def test_per_step_quantities_agree_with_the_metrics(two_planner_run: Path) -> None:
    from dask_runner.metrics.drivable_area_compliance import (
        DrivableAreaCompliance,
        drivable_area_excess_per_step,
    )
    from dask_runner.metrics.metric_context import MetricContext
    from dask_runner.metrics.time_to_collision_within_bound import (
        min_time_to_collision,
        time_to_collision_per_step,
    )

    for path in sorted((two_planner_run / "simulation_logs").rglob("*.msgpack.zst")):
        log = SimulationLog.load_data(path)
        ctx = MetricContext(log.scenario, log.simulation_history)
        ttc = time_to_collision_per_step(ctx)
        assert ttc.shape == (ctx.num_steps,) and ttc.min() == min_time_to_collision(ctx)
        assert drivable_area_excess_per_step(ctx).max() == DrivableAreaCompliance().compute(ctx).value


def test_table_filters_sorts_and_pages(two_planner_run: Path) -> None:
    index = RunFolder(two_planner_run).index
    assert len(index) == 16 and set(index["planner"]) == {"SimplePlanner", "IDMPlanner"}
    page = query(index, {"planner": "simple", "score": "<0.5"}, sort="score", limit=3)
    expected = index[(index["planner"] == "SimplePlanner") & (index["score"] < 0.5)]
    assert page["total"] == len(expected) > 3 and len(page["rows"]) == 3
    scores = [row[page["columns"].index("score")] for row in page["rows"]]
    assert scores == sorted(scores)
    collisions = query(index, {"no_ego_at_fault_collisions": "=0"})
    assert [row[page["columns"].index("scenario")] for row in collisions["rows"]] == [COLLISION_SCENARIO]
    assert query(index, offset=15, limit=10)["rows"].__len__() == 1


def test_a_moved_folder_opens_the_same(two_planner_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copied"
    shutil.copytree(two_planner_run, copy)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    copy.rename(moved)
    folder = RunFolder(moved)
    assert len(folder.index) == 16
    replay = folder.replay(runner_of(folder, "SimplePlanner", COLLISION_SCENARIO))
    assert "unavailable" not in replay and not Path(replay["log_file"]).is_absolute()


def test_a_corrupt_or_missing_log_is_unavailable_with_its_reason_and_the_rest_opens(two_planner_run: Path,
                                                                                    tmp_path: Path) -> None:
    copy = tmp_path / "broken"
    shutil.copytree(two_planner_run, copy)
    folder = RunFolder(copy)
    corrupt = runner_of(folder, "SimplePlanner", COLLISION_SCENARIO)
    missing = runner_of(folder, "IDMPlanner", COLLISION_SCENARIO)
    log = folder.log_path(folder.row(corrupt) or {})
    assert log is not None
    log.write_bytes(log.read_bytes()[: len(log.read_bytes()) // 2])
    gone = folder.log_path(folder.row(missing) or {})
    assert gone is not None
    gone.unlink()
    assert "truncated or corrupt" in folder.replay(corrupt)["unavailable"]
    assert "no simulation log" in folder.replay(missing)["unavailable"]
    others = [r for r in folder.index["runner_id"] if r not in (corrupt, missing)]
    assert all("unavailable" not in folder.replay(r) for r in others)


def test_the_index_file_is_used_and_a_resume_renews_it(tmp_path: Path) -> None:
    root = tmp_path / "run"
    common = ["planner=simple_planner", "worker=sequential", f"output_dir={root}", "show_progress=false",
              "html_report=false"]
    simulate([*common, "scenario_filter.limit_total_scenarios=2"], out=io.StringIO())
    assert len(RunFolder(root).index) == 2
    index_file = root / "aggregator_metric" / INDEX_FILE
    assert index_file.is_file()
    for metric_file in (root / "metrics").rglob("*.parquet"):  # the index alone answers now
        metric_file.unlink()
    assert RunFolder(root).index["score"].notna().all()
    simulate([*common, "scenario_filter.limit_total_scenarios=4", "resume=true"], out=io.StringIO())
    index = RunFolder(root).index
    assert len(index) == 4  # runner_report.parquet changed: the index was built again
    assert index["score"].isna().sum() == 2  # the two whose metric files were removed above


def test_run_diff_lists_the_largest_regression_first(idm_run: Path, simple_run: Path) -> None:
    before, after = RunFolder(idm_run), RunFolder(simple_run)
    diff = run_diff(before, after)
    columns = diff["columns"]
    deltas = [row[columns.index("delta")] for row in diff["rows"]]
    assert diff["matched"] == 8 and deltas == sorted(deltas) and deltas[0] < 0
    # computed here from the two tables: the largest drop
    merged = before.index.merge(after.index, on=["log", "scenario"], suffixes=("_a", "_b"))
    drops = merged["score_b"] - merged["score_a"]
    worst = set(merged.loc[np.isclose(drops, drops.min()), "scenario"])
    assert diff["rows"][0][columns.index("scenario")] in worst
    assert np.isclose(deltas[0], drops.min())
    assert diff["regressions"] == int((drops < -1e-9).sum())


def test_report_html_embeds_a_selection_within_its_size(two_planner_run: Path, tmp_path: Path) -> None:
    from dask_runner.report.html_report import write_html_report

    copy = tmp_path / "report-size"
    shutil.copytree(two_planner_run, copy)
    full = write_html_report(copy).read_text()
    small = write_html_report(copy, max_bytes=2_500_000).read_text()
    assert len(small.encode()) <= 2_500_000 < len(full.encode()) <= 10_000_000
    data = json.loads(small.split('<script type="application/json" id="viewer-data">')[1].split("</script>")[0])
    run = data["runs"][0]
    assert 0 < len(run["replays"]) < 16 and len(run["rows"]) == 16
    assert "dask-runner view ." in run["note"]
    # the failed and lowest-scoring runners come first: the collision is in
    collision = next(row[0] for row in run["rows"] if row[run["columns"].index("scenario")] == COLLISION_SCENARIO
                     and row[run["columns"].index("planner")] == "SimplePlanner")
    assert collision in run["replays"]


def test_report_command_compares_two_runs(idm_run: Path, simple_run: Path, tmp_path: Path) -> None:
    after = tmp_path / "after"
    shutil.copytree(simple_run, after)
    result = subprocess.run([sys.executable, "-m", "dask_runner.cli", "report", str(idm_run), str(after)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    text = (after / "report.html").read_text()
    data = json.loads(text.split('<script type="application/json" id="viewer-data">')[1].split("</script>")[0])
    assert [run["label"] for run in data["runs"]] == ["idm", "after"]
    diff = data["diffs"]["0-1"]
    first = diff["rows"][0]
    assert first[diff["columns"].index("delta")] < 0
    assert first[diff["columns"].index("runner_b")] in data["runs"][1]["replays"]  # opens from the file


@pytest.mark.parametrize("args, message", [
    (["view"], "the following arguments are required"),
    (["view", "NOWHERE"], "holds no dask_runner results"),
    (["view", "HERE", "--port", "70000"], "--port must be a port number"),
])
def test_view_refuses_bad_input_with_the_fix(args: list[str], message: str, two_planner_run: Path,
                                             tmp_path: Path) -> None:
    argv = [str(tmp_path / "missing") if a == "NOWHERE" else str(two_planner_run) if a == "HERE" else a
            for a in args]
    result = subprocess.run([sys.executable, "-m", "dask_runner.cli", *argv], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_index_rows_are_plain_json(two_planner_run: Path) -> None:
    page = query(RunFolder(two_planner_run).index, limit=100)
    json.dumps(page, allow_nan=False)
    assert isinstance(pd.DataFrame(page["rows"], columns=page["columns"])["succeeded"].iloc[0], (bool, np.bool_))


def test_the_folder_of_a_metrics_job_replays_the_logs_it_scored(two_planner_run: Path, tmp_path: Path) -> None:
    from dask_runner.experiment.metric_job import compute_metrics

    out = tmp_path / "rescored"
    compute_metrics([f"simulation_log_dir={two_planner_run / 'simulation_logs'}", f"output_dir={out}",
                     "worker=sequential", "show_progress=false", "html_report=false"], out=io.StringIO())
    folder = RunFolder(out)
    assert len(folder.index) == 16 and folder.index["score"].notna().all()
    replay = folder.replay(runner_of(folder, "SimplePlanner", COLLISION_SCENARIO))
    assert replay.get("unavailable") is None and replay["markers"]["no_ego_at_fault_collisions"]


def test_a_failed_runner_is_listed_with_its_stage_and_its_replay_says_why_there_is_none(tmp_path: Path) -> None:
    root = tmp_path / "failing"
    simulate(["planner=idm_planner", "worker=sequential", "scenario_filter.limit_total_scenarios=2",
              f"output_dir={root}", "time_limit_s=0.001", "show_progress=false", "html_report=false"],
             out=io.StringIO())
    folder = RunFolder(root)
    assert query(folder.index, {"stage": "timeout"})["total"] == 2
    reason = folder.replay(str(folder.index["runner_id"].iloc[0]))["unavailable"]
    assert "failed before its log was written" in reason and "RunnerTimeoutError" in reason


def test_view_on_a_taken_port_says_so(two_planner_run: Path, start_viewer: Callable[..., str]) -> None:
    port = start_viewer(two_planner_run).rstrip("/").rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "dask_runner.cli", "view", str(two_planner_run), "--port", port],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "leave it out for a free one" in result.stderr
