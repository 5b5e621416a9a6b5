"""tuplan_garage's PDM-Closed through nuPlan's unmodified run_simulation.py, as its sim_pdm_closed.sh runs it.

The command line is the script's own (its challenge, ``planner=pdm_closed_planner`` and its ``hydra.searchpath``,
read from the script), with the nuPlan dataset replaced: PDM-Closed reads lanes and roadblocks, so the scenarios
are nuPlan's mock scenarios on a one-road map written in nuPlan's map format (``synthetic_map.py``,
``nuplan_parts.MappedMockScenarioBuilder``). Needs the environment of ``scripts/make_nuplan_env.sh`` with
tuplan_garage (its fourth argument) and ``DASK_RUNNER_TUPLAN_GARAGE`` naming that checkout; skipped without it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from test_nuplan_family_pools import nuplan_environment
from test_nuplan_scripts import COMMON, DEVKIT, HERE, PYTHON, assert_same_results, pytestmark, reports

TUPLAN_GARAGE = os.environ.get("DASK_RUNNER_TUPLAN_GARAGE", "")
pytestmark = [*pytestmark, pytest.mark.skipif(
    not TUPLAN_GARAGE, reason="no tuplan_garage checkout: set DASK_RUNNER_TUPLAN_GARAGE (installed into the nuPlan "
    "environment by scripts/make_nuplan_env.sh, its fourth argument)")]

SCENARIOS = 4
# the map-free metrics and the pacifica vehicle of the other nuPlan tests; the map-based metrics need map layers
# (traffic lights, stop lines) the one-road map does not have
METRICS_AND_VEHICLE = [o for o in COMMON if o.startswith(("ego_controller", "main_callback", "selected_simulation"))]


def _script_overrides() -> list[str]:
    """sim_pdm_closed.sh's own challenge, planner and search path (its scenarios need the dataset: not taken)."""
    text = (Path(TUPLAN_GARAGE) / "scripts/simulation/sim_pdm_closed.sh").read_text()
    challenge = re.search(r"^CHALLENGE=(\S+)", text, re.MULTILINE)
    assert challenge is not None, "sim_pdm_closed.sh no longer sets CHALLENGE"
    command = shlex.split(text[text.index("run_simulation.py"):].replace("\\\n", " "))
    wanted = [arg for arg in command if arg.startswith(("planner=", "hydra.searchpath="))]
    assert len(wanted) == 2, command
    return [f"+simulation={challenge.group(1)}", *wanted]


def _simulate(tmp_path: Path, name: str, *overrides: str, env: dict[str, str] | None = None) -> tuple[Path, str]:
    output = tmp_path / name
    environment = nuplan_environment(tmp_path, **(env or {}))
    maps = Path(environment["NUPLAN_MAPS_ROOT"])
    if not any(maps.iterdir()):
        subprocess.run([PYTHON, str(HERE / "synthetic_map.py"), str(maps)], env=environment, check=True, timeout=300)
    result = subprocess.run([PYTHON, str(Path(DEVKIT) / "nuplan/planning/script/run_simulation.py"),
                             *_script_overrides(), *METRICS_AND_VEHICLE, "scenario_builder=mock_abstract_scenario_builder",
                             "scenario_builder._target_=nuplan_parts.MappedMockScenarioBuilder",
                             f"scenario_builder.num_scenarios={SCENARIOS}", f"output_dir={output}", *overrides],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return output, result.stdout + result.stderr


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output, _ = _simulate(tmp_path_factory.mktemp("tuplan_garage"), "sequential", "worker=sequential")
    table = reports(output)
    assert table["succeeded"].all() and len(table) == SCENARIOS
    assert set(table["planner_name"]) == {"PDMClosedPlanner"}
    return output


@pytest.mark.parametrize("overrides, env, pool_says", [
    pytest.param(["worker=dask_distributed", "worker.n_workers=2"], {}, "using DaskDistributed", id="dask_distributed"),
    # the script names no worker: nuPlan's default, ray_distributed, caught by the shim
    pytest.param(["worker.threads_per_node=2"], {"DASK_RUNNER_RAY_SHIM": "1"},
                 "RayDistributed runs on Dask distributed", id="ray_shim"),
])
def test_pdm_closed_through_sim_pdm_closed_command_on_dask_matches_sequential(
        tmp_path: Path, sequential: Path, overrides: list[str], env: dict[str, str], pool_says: str) -> None:
    output, log = _simulate(tmp_path, "dask", *overrides, env=env)
    assert pool_says in log
    assert_same_results(output, sequential)
    assert set(reports(output)["planner_name"]) == {"PDMClosedPlanner"}
