"""report.html: one self-contained file with the tables, the failures and the scenario plots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from dask_runner.report.html_report import write_html_report


def test_report_holds_every_section_and_no_external_resource(finished_run: Path) -> None:
    path = write_html_report(finished_run, max_scenario_plots=4)
    text = path.read_text()
    reports = pd.read_parquet(finished_run / "runner_report.parquet")
    assert len(reports) == 9 and (~reports["succeeded"]).sum() == 3
    for heading in ("Metrics per scenario type", "Runtime", "Failures", "Scenarios"):
        assert f"<h2>{heading}</h2>" in text
    assert "<h2>Scores per planner: closed_loop_score</h2>" in text  # the score is named (a challenge's, or this)
    assert text.count("<details>") == 3  # one folded traceback per failed runner
    assert "RunnerTimeoutError" in text
    assert "Showing 4 of 6 simulated scenarios" in text
    assert "cdn.bokeh.org" not in text and '<script type="text/javascript" src=' not in text
    assert "SimplePlanner" in text and "LogFuturePlanner" in text


def test_report_command_rewrites_the_report_of_a_moved_folder(finished_run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(finished_run, moved)
    (moved / "report.html").unlink(missing_ok=True)
    result = subprocess.run([sys.executable, "-m", "dask_runner.cli", "report", str(moved)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert (moved / "report.html").is_file()
    assert "Showing 6 of 6" in (moved / "report.html").read_text()


def test_report_of_a_folder_without_results_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dask_runner.cli", "report", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "holds no dask_runner results" in result.stderr and "Traceback" not in result.stderr


def test_scenarios_are_drawn_from_todays_logs_and_earlier_versions(finished_run: Path, tmp_path: Path) -> None:
    from dask_runner.report.html_report import scenario_plots

    old_logs = Path(__file__).parents[1] / "simulation" / "data"
    logs = tmp_path / "logs"
    shutil.copytree(finished_run / "simulation_logs", logs)
    new = sorted(logs.rglob("*.msgpack.zst"))
    for log in new[1:]:
        log.unlink()
    for old in old_logs.glob("straight_1_v1.*"):  # .msgpack.xz and .pkl.xz of format version 1
        shutil.copy(old, logs / old.name)
    (logs / ".half-written.msgpack.zst.123.tmp").write_bytes(b"")  # a log being written: not drawn
    (logs / "notes.txt").write_text("not a log")
    plots, note = scenario_plots(logs, limit=10)
    assert len(plots) == 3
    for plot in plots:  # every plot has its map, the expert's path, the ego's path and the agents
        assert plot["area"]["xs"] and plot["lanes"]["xs"] and plot["agents"]["x"]
        assert len(plot["ego"]["x"]) == len(plot["ego"]["y"]) > 1 and len(plot["expert"]["x"]) > 1
    assert note.startswith("Showing 3 of 3") and "Could not draw" not in note


def test_failures_beyond_the_cap_are_counted_and_pointed_to(finished_run: Path) -> None:
    from dask_runner.report.html_report import failure_section, load_reports

    section = failure_section(load_reports(finished_run), max_rows=2)
    assert section.count("<details>") == 2
    assert "The first 2 of 3 failures" in section and "runner_report.parquet" in section
