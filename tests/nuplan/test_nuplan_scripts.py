"""nuplan-devkit's own run_simulation.py, unmodified, with dask_runner as its worker pool.

nuplan-devkit is not on the package index, so these tests need an environment where it is installed
beside dask_runner (see the README's nuPlan section) and two variables naming it:
``DASK_RUNNER_NUPLAN_PYTHON`` (that environment's interpreter) and ``DASK_RUNNER_NUPLAN_DEVKIT`` (the
checkout). Without them the tests are skipped, with that reason printed. Scenarios come from nuPlan's
dataset-free mock scenario builder (``nuplan_parts.py``: with a past, and a name of their own).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

PYTHON = os.environ.get("DASK_RUNNER_NUPLAN_PYTHON", "")
DEVKIT = os.environ.get("DASK_RUNNER_NUPLAN_DEVKIT", "")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (PYTHON and DEVKIT), reason="no nuplan-devkit environment: set DASK_RUNNER_NUPLAN_PYTHON "
                       "and DASK_RUNNER_NUPLAN_DEVKIT (nuplan-devkit is not on the package index; see the README)"),
]

SCENARIOS = 4
COMMON = [
    "+simulation=closed_loop_nonreactive_agents",
    "planner=simple_planner",
    "ego_controller.motion_model.vehicle={_target_:nuplan.common.actor_state.vehicle_parameters.get_pacifica_parameters}",
    "main_callback=[time_callback,metric_file_callback,metric_aggregator_callback]",
    # the mock map has no lanes: only the map-free metrics
    "selected_simulation_metrics=[ego_jerk_statistics,ego_lat_acceleration_statistics,ego_lon_acceleration_statistics,"
    "ego_lon_jerk_statistics,ego_yaw_acceleration_statistics,ego_yaw_rate_statistics,ego_is_comfortable_statistics]",
    "scenario_builder=mock_abstract_scenario_builder",
    "scenario_builder._target_=nuplan_parts.NamedMockScenarioBuilder",
    f"scenario_builder.num_scenarios={SCENARIOS}",
]


def run_nuplan(tmp_path: Path, name: str, *overrides: str, env: dict[str, str] | None = None,
               script: str = "run_simulation.py",
               launcher: Callable[[list[str]], list[str]] | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    """nuPlan's script as a user runs it, with its outputs in ``tmp_path/name``; ``launcher`` turns its command
    line into the one to run (``sbatch ... srun <command>``, say)."""
    output = tmp_path / name
    scratch = tmp_path / "nuplan_roots"
    for root in ("exp", "data", "maps"):
        (scratch / root).mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ, **(env or {}),
        "NUPLAN_SIMULATION_ALLOW_ANY_BUILDER": "1", "NUPLAN_EXP_ROOT": str(scratch / "exp"),
        "NUPLAN_DATA_ROOT": str(scratch / "data"), "NUPLAN_MAPS_ROOT": str(scratch / "maps"),
        "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [PYTHON, str(Path(DEVKIT) / "nuplan/planning/script" / script), *COMMON, f"output_dir={output}",
               *overrides]
    result = subprocess.run(launcher(command) if launcher else command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600,
                            check=False)
    return result, output


def reports(output: Path) -> pd.DataFrame:
    return pd.read_parquet(output / "runner_report.parquet").sort_values(["planner_name", "scenario_name"])


def metric_tables(output: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for path in sorted((output / "metrics").glob("*.parquet")):
        frame = pd.read_parquet(path)
        frame = frame[[c for c in frame.columns if frame[c].map(lambda v: not hasattr(v, "__len__") or
                                                                 isinstance(v, str)).all()]]
        tables[path.name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return tables


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nuPlan's own worker=sequential: the results every dask_runner run must reproduce."""
    result, output = run_nuplan(tmp_path_factory.mktemp("nuplan"), "sequential", "worker=sequential")
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def assert_same_results(output: Path, expected: Path) -> None:
    assert reports(output)["succeeded"].all()
    ours, theirs = metric_tables(output), metric_tables(expected)
    assert sorted(ours) == sorted(theirs) and ours
    for name in theirs:
        pd.testing.assert_frame_equal(ours[name], theirs[name], check_like=True, obj=name)


def test_the_readme_command_runs_without_a_search_path_override(tmp_path: Path, sequential: Path) -> None:
    result, output = run_nuplan(tmp_path, "dask", "worker=dask_distributed", "worker.n_workers=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting 4 simulations using DaskDistributed" in result.stdout + result.stderr
    # The same default as dask_runner's own command line: the local cluster requires TLS.
    assert "DaskDistributed on tls://127.0.0.1:" in result.stdout + result.stderr
    assert_same_results(output, sequential)


def test_security_false_runs_on_plain_tcp_and_says_what_that_allows(tmp_path: Path, sequential: Path) -> None:
    result, output = run_nuplan(tmp_path, "plain", "worker=dask_distributed", "worker.n_workers=2",
                                "worker.security=false")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DaskDistributed on tcp://127.0.0.1:" in result.stdout + result.stderr
    assert "runs without TLS (security=false)" in result.stdout + result.stderr
    assert_same_results(output, sequential)


def test_worker_ray_distributed_runs_on_dask_behind_the_switch(tmp_path: Path, sequential: Path) -> None:
    shim = {"DASK_RUNNER_RAY_SHIM": "1"}
    result, output = run_nuplan(tmp_path, "ray", "worker=ray_distributed", "worker.threads_per_node=2",
                                "worker.debug_mode=false", "worker.log_to_driver=true", "worker.use_distributed=false",
                                "worker.master_node_ip=null", "worker.logs_subdir=logs", env=shim)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RayDistributed runs on Dask distributed" in result.stdout + result.stderr
    assert_same_results(output, sequential)
    assert list((output / "logs").glob("run_simulation-*.log")), "logs_subdir wrote no task log"

    # The seed's GPU command: on a machine without GPUs, the no-GPU error at once.
    gpu, _ = run_nuplan(tmp_path, "ray_gpu", "worker=ray_distributed", "worker.threads_per_node=4",
                        "number_of_gpus_allocated_per_simulation=0.25", env=shim)
    assert gpu.returncode != 0
    assert "no worker can ever run a task that needs {'GPU': 0.25}" in gpu.stderr
    assert "number_of_gpus_allocated_per_simulation=0" in gpu.stderr


def test_without_the_switch_nuplans_ray_worker_is_untouched(tmp_path: Path) -> None:
    result, _ = run_nuplan(tmp_path, "cfg", "worker=ray_distributed", "--cfg", "job")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "_target_: nuplan.planning.utils.multithreading.worker_ray.RayDistributed" in result.stdout


def test_logs_subdir_writes_one_log_per_task_under_nuplans_output_dir(tmp_path: Path) -> None:
    result, output = run_nuplan(tmp_path, "logs", "worker=dask_distributed", "worker.n_workers=2",
                                "worker.logs_subdir=logs")
    assert result.returncode == 0, result.stderr[-3000:]
    logs = sorted((output / "logs").glob("*.log"))
    assert logs and all(log.name.startswith("run_simulation-SimplePlanner-mock_scenario_") for log in logs)


def test_a_raising_planner_fails_its_runners_only(tmp_path: Path) -> None:
    result, output = run_nuplan(tmp_path, "raising", "worker=dask_distributed", "worker.n_workers=2",
                                "+planner.raising={_target_:nuplan_parts.RaisingPlanner,horizon_seconds:10.0,"
                                "sampling_time:0.25,acceleration:[0.0,0.0]}")
    assert result.returncode == 0, result.stderr[-3000:]
    table = reports(output)
    by_planner = table.groupby("planner_name")["succeeded"].apply(list).to_dict()
    assert by_planner == {"RaisingPlanner": [False] * SCENARIOS, "SimplePlanner": [True] * SCENARIOS}
    assert table[~table["succeeded"]]["error_message"].str.contains("RaisingPlanner raised on purpose").all()


def test_a_planner_that_kills_its_worker_fails_only_its_runners(tmp_path: Path, sequential: Path) -> None:
    result, output = run_nuplan(tmp_path, "exiting", "worker=dask_distributed", "worker.n_workers=2",
                                "+planner.exiting={_target_:nuplan_parts.ExitingPlanner,horizon_seconds:10.0,"
                                "sampling_time:0.25,acceleration:[0.0,0.0]}")
    assert result.returncode == 0, result.stderr[-3000:]
    table = reports(output)
    by_planner = table.groupby("planner_name")["succeeded"].apply(list).to_dict()
    assert by_planner == {"ExitingPlanner": [False] * SCENARIOS, "SimplePlanner": [True] * SCENARIOS}
    lost = table[~table["succeeded"]]["error_message"]
    assert lost.str.contains(r"\[worker_lost\]").all() and lost.str.contains("KilledWorker").all()
    # The innocent runners that shared the dying workers were re-run: their results are nuPlan's own.
    simple = {name: frame[frame["planner_name"] == "SimplePlanner"].reset_index(drop=True)
              for name, frame in metric_tables(output).items()}
    for name, expected in metric_tables(sequential).items():
        pd.testing.assert_frame_equal(simple[name], expected, check_like=True, obj=name)


def test_run_metric_recomputes_the_same_metrics_on_dask(tmp_path: Path, sequential: Path) -> None:
    result, output = run_nuplan(tmp_path, "metrics", "worker=dask_distributed", "worker.n_workers=2",
                                f"simulation_log_main_path={sequential}", script="run_metric.py")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "using DaskDistributed" in result.stdout + result.stderr
    ours, theirs = metric_tables(output), metric_tables(sequential)
    assert sorted(ours) == sorted(theirs) and ours
    for name in theirs:
        pd.testing.assert_frame_equal(ours[name], theirs[name], check_like=True, obj=name)


def test_installing_dask_runner_leaves_nuplans_packages_and_default_callbacks_working(tmp_path: Path) -> None:
    versions = subprocess.run([PYTHON, "-c", "import bokeh, numpy, dask_runner; print(bokeh.__version__, "
                               "numpy.__version__)"], capture_output=True, text=True, check=True).stdout.split()
    assert versions[0].startswith("2.4") and versions[1].startswith("1."), versions  # what nuPlan needs
    # nuPlan's default main callbacks, the summary rendered with bokeh 2.4 included.
    result, output = run_nuplan(tmp_path, "defaults", "worker=dask_distributed", "worker.n_workers=2",
                                "main_callback=[time_callback,metric_file_callback,metric_aggregator_callback,"
                                "metric_summary_callback]")
    assert result.returncode == 0, result.stderr[-3000:]
    assert reports(output)["succeeded"].all()
    assert list((output / "summary").glob("*.pdf")), "nuPlan's metric summary was not rendered"


def test_dask_runner_view_opens_nuplans_own_output_folder(tmp_path: Path) -> None:
    """nuPlan's run_simulation.py with its simulation logs, on dask_runner's pool; then `dask-runner view` of its
    folder, in nuPlan's environment (its logs are nuPlan's pickled objects)."""
    import json
    import re
    import signal
    import urllib.request

    result, output = run_nuplan(tmp_path, "with_logs", "worker=dask_distributed", "worker.n_workers=1",
                                "callback=[simulation_log_callback]")
    assert result.returncode == 0, result.stderr[-3000:]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]), "PYTHONUNBUFFERED": "1"}
    viewer = subprocess.Popen([PYTHON, "-m", "dask_runner.cli", "view", str(output)], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert viewer.stdout is not None
        line = viewer.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + viewer.stdout.read()[-3000:]
        url = match.group(0)

        def get(path: str) -> dict:  # type: ignore[type-arg]
            with urllib.request.urlopen(url + path, timeout=120) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]

        (run,) = get("api/runs")
        assert run["overview"]["scenarios"] == SCENARIOS and run["overview"]["planners"] == ["SimplePlanner"]
        assert "ego_is_comfortable" in run["overview"]["metrics"]  # nuPlan's metric files, as table columns
        page = get("api/runs/0/scenarios?sort=scenario&offset=0&limit=50&filters=%7B%7D")
        runners = [row[0] for row in page["rows"]]
        assert runners == [f"SimplePlanner/mock_log_{i}/mock_scenario_{i}" for i in range(SCENARIOS)]
        replays = [get("api/runs/0/replay?id=" + urllib.request.quote(runner)) for runner in runners]
        for i, replay in enumerate(replays):
            assert "unavailable" not in replay, replay
            steps = replay["steps"]
            assert steps > 10 and len(replay["ego"]["x"]) == len(replay["trajectories"]["count"]) == steps
            assert replay["agents"]["count"][0] > 0 and len(replay["tracks"]["jerk"]) == steps
            assert replay["map_note"].startswith("map")  # the mock map draws nothing; the trajectories are drawn
            # the mock scenarios drive straight along x, faster with their index (1 + 0.5 i m/s at the start)
            xs = replay["ego"]["x"]
            assert xs == sorted(xs) and xs[-1] > xs[0] and set(replay["ego"]["y"]) == {0.0}
        moved = [r["ego"]["x"][-1] - r["ego"]["x"][0] for r in replays]
        assert moved == sorted(moved)
    finally:
        viewer.send_signal(signal.SIGINT)
        viewer.wait(timeout=30)
