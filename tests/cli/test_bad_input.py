"""Bad input: one clear line on stderr naming the fix, no traceback, exit status 2, nothing simulated."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import QUICK, run_cli

USAGE = 2


def _assert_usage_error(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == USAGE, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_unknown_planner_lists_the_valid_ones(workdir: Path) -> None:
    result = run_cli(["simulate", "planner=nope", *QUICK], workdir)
    _assert_usage_error(result, "unknown planner 'nope'", "idm_planner", "log_future_planner", "simple_planner")
    assert not (workdir / "output").exists()


def test_unknown_worker_lists_the_valid_ones(workdir: Path) -> None:
    result = run_cli(["simulate", "worker=nope"], workdir)
    _assert_usage_error(result, "unknown worker 'nope'", "sequential", "dask_local", "ray_distributed", "dask_cuda",
                        "dask_scheduler", "single_machine_thread_pool")


def test_malformed_override_shows_the_right_syntax(workdir: Path) -> None:
    result = run_cli(["simulate", "scenario_filter.scenario_types=[a,b", *QUICK], workdir)
    _assert_usage_error(result, "malformed override", "key=value", "planner=simple_planner")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_key_says_how_to_add_one(workdir: Path) -> None:
    result = run_cli(["simulate", "no_such_key=3", *QUICK], workdir)
    _assert_usage_error(result, "+no_such_key=3")


def test_unwritable_output_folder_fails_before_any_simulation(workdir: Path) -> None:
    (workdir / "a_file").write_text("in the way")
    result = run_cli(["simulate", *QUICK, f"output_dir={workdir / 'a_file' / 'run'}"], workdir)
    _assert_usage_error(result, "not writable", "output_dir=")
    assert "planner" not in result.stdout  # no summary: nothing ran


def test_too_little_free_disk_fails_before_any_simulation(workdir: Path) -> None:
    result = run_cli(["simulate", *QUICK, f"output_dir={workdir / 'run'}", "min_free_disk_gb=1000000000"], workdir)
    _assert_usage_error(result, "min_free_disk_gb")
    assert not (workdir / "run" / "runner_report.parquet").exists()


def test_existing_results_without_resume_are_never_overwritten(workdir: Path) -> None:
    run = workdir / "run"
    run.mkdir()
    (run / "runner_report.parquet").write_bytes(b"earlier results")
    result = run_cli(["simulate", *QUICK, f"output_dir={run}"], workdir)
    _assert_usage_error(result, "resume=true", "output_dir=")
    assert (run / "runner_report.parquet").read_bytes() == b"earlier results"


def test_resume_without_output_dir_asks_for_it(workdir: Path) -> None:
    _assert_usage_error(run_cli(["simulate", *QUICK, "resume=true"], workdir), "output_dir=")


def test_missing_scenario_folder_names_the_path(workdir: Path) -> None:
    missing = workdir / "no_such_scenarios"
    result = run_cli(["simulate", *QUICK, "scenario_builder=commonroad", f"scenario_builder.path={missing}",
                      f"output_dir={workdir / 'run'}"], workdir)
    _assert_usage_error(result, str(missing))
    assert not (workdir / "run").exists()


def test_metrics_without_log_folder_names_the_key(workdir: Path) -> None:
    _assert_usage_error(run_cli(["metrics"], workdir), "simulation_log_dir=")
    missing = workdir / "nowhere"
    _assert_usage_error(run_cli(["metrics", f"simulation_log_dir={missing}"], workdir), str(missing))


def test_no_command_prints_usage(workdir: Path) -> None:
    result = run_cli([], workdir)
    assert result.returncode == USAGE and "simulate" in result.stderr


def test_a_worker_config_error_touches_no_folder_and_the_fix_runs_there(workdir: Path) -> None:
    run = workdir / "run"
    common = ["simulate", "scenario_filter.limit_total_scenarios=2", "show_progress=false", f"output_dir={run}",
              "html_report=false"]
    bad = run_cli([*common, "worker=single_machine_thread_pool", "worker.max_workers=-1"], workdir)
    _assert_usage_error(bad, "max_workers must be at least 1")
    assert not run.exists()
    fixed = run_cli([*common, "worker=single_machine_thread_pool", "worker.max_workers=2"], workdir)
    assert fixed.returncode == 0, fixed.stderr
    assert len(list((run / "reports").glob("*.json"))) == 2


def test_negative_gpu_share_is_refused_before_the_folder(workdir: Path) -> None:
    run = workdir / "run"
    result = run_cli(["simulate", *QUICK, f"output_dir={run}", "number_of_gpus_allocated_per_simulation=-1"], workdir)
    _assert_usage_error(result, "number_of_gpus_allocated_per_simulation must be a share >= 0")
    assert not run.exists()
