"""Every dask_runner pool in nuPlan's and NAVSIM's own apps, and NAVSIM's build_worker + worker_map on Dask.

Needs the environment of ``scripts/make_nuplan_env.sh`` (see test_nuplan_scripts.py); the NAVSIM tests also
``DASK_RUNNER_NAVSIM`` (the NAVSIM checkout the script installed). Skipped, with the reason, without them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

# nuPlan's environment, its skip marker and flags (mock scenarios, map-free metrics), shared with the other tests
from test_nuplan_scripts import COMMON, DEVKIT, HERE, PYTHON, REPO, metric_tables, pytestmark, reports

NAVSIM = os.environ.get("DASK_RUNNER_NAVSIM", "")
__all__ = ["pytestmark"]  # nuPlan's skip marker and the slow mark apply here too
needs_navsim = pytest.mark.skipif(not NAVSIM, reason="no NAVSIM checkout: set DASK_RUNNER_NAVSIM (installed into "
                                  "the nuPlan environment by scripts/make_nuplan_env.sh, its third argument)")

# nuPlan-family node -> dask_runner's own node(s) it includes
POOLS = {"dask_distributed": ["dask_local", "dask_scheduler"], "dask_scheduler": ["dask_scheduler"],
         "dask_cuda": ["dask_cuda"], "dask_slurm": ["dask_slurm"], "dask_slurm_runner": ["dask_slurm_runner"]}
ADDED_FOR_NUPLAN = {"_target_", "_convert_", "output_dir", "logs_subdir", "time_limit_s"}


def nuplan_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    roots = tmp_path / "roots"
    for name in ("exp", "data", "maps"):
        (roots / name).mkdir(parents=True, exist_ok=True)
    return {**os.environ, "NUPLAN_SIMULATION_ALLOW_ANY_BUILDER": "1", "NUPLAN_EXP_ROOT": str(roots / "exp"),
            "NUPLAN_DATA_ROOT": str(roots / "data"), "NUPLAN_MAPS_ROOT": str(roots / "maps"),
            "NAVSIM_EXP_ROOT": str(roots / "exp"), "OPENSCENE_DATA_ROOT": str(roots / "data"),
            "NAVSIM_DEVKIT_ROOT": NAVSIM, "MARKS": str(tmp_path),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]), **extra}


def _job_worker(tmp_path: Path, script: Path, *overrides: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The app's own ``--cfg job --resolve``: the worker node as the script would build it."""
    result = subprocess.run([PYTHON, str(script), *overrides, "--cfg", "job", "--resolve"], cwd=tmp_path,
                            env=nuplan_environment(tmp_path, **(env or {})), capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    worker = yaml.safe_load(result.stdout)["worker"]
    assert isinstance(worker, dict)
    return worker


def _own_keys(pool: str) -> set[str]:
    keys: set[str] = set()
    for name in POOLS[pool]:
        with initialize_config_module(config_module="dask_runner.config", version_base=None):
            keys |= set(OmegaConf.to_container(compose("default_simulation", overrides=[f"worker={name}"]).worker))
    return keys


def _apps() -> list[Any]:
    nuplan = pytest.param(Path(DEVKIT) / "nuplan/planning/script/run_simulation.py", id="nuplan-run_simulation")
    navsim = pytest.param(Path(NAVSIM) / "navsim/planning/script/run_pdm_score.py", id="navsim-run_pdm_score",
                          marks=needs_navsim)
    return [nuplan, navsim]


@pytest.mark.parametrize("script", _apps())
@pytest.mark.parametrize("pool", sorted(POOLS))
def test_each_pool_composes_in_the_apps_own_script_with_every_key(tmp_path: Path, script: Path, pool: str) -> None:
    worker = _job_worker(tmp_path, script, f"worker={pool}", f"output_dir={tmp_path}/out")
    assert set(worker) == _own_keys(pool) | ADDED_FOR_NUPLAN
    assert worker["_target_"].startswith("dask_runner.dask.nuplan_pools.nuplan_")
    assert worker["output_dir"] == f"{tmp_path}/out"
    assert "${" not in json.dumps(worker)  # every default resolved against the pool's own signature


@needs_navsim
def test_navsims_default_worker_is_caught_by_the_ray_shim_with_all_its_keys(tmp_path: Path) -> None:
    script = Path(NAVSIM) / "navsim/planning/script/run_pdm_score.py"
    assert _job_worker(tmp_path, script)["_target_"].endswith("RayDistributedNoTorch")  # no switch: NAVSIM's own
    worker = _job_worker(tmp_path, script, "worker.threads_per_node=2", "worker.master_node_ip=null",
                         "worker.debug_mode=false", "worker.log_to_driver=true", "worker.logs_subdir=logs",
                         "worker.use_distributed=false", f"output_dir={tmp_path}/out", env={"DASK_RUNNER_RAY_SHIM": "1"})
    assert worker["_target_"] == "dask_runner.dask.ray_shim.RayDistributed"
    assert worker["threads_per_node"] == 2 and worker["output_dir"] == f"{tmp_path}/out"


def _navsim_map(tmp_path: Path, *overrides: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run([PYTHON, "-c", "import navsim_parts; navsim_parts.main()", *overrides,
                             f"output_dir={tmp_path}/out"], cwd=tmp_path, env=nuplan_environment(tmp_path, **(env or {})),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("NAVSIM_OUTCOME "))
    return json.loads(line.removeprefix("NAVSIM_OUTCOME "))  # type: ignore[no-any-return]


@needs_navsim
def test_navsims_build_worker_and_worker_map_on_dask_match_sequential(tmp_path: Path) -> None:
    expected = _navsim_map(tmp_path / "sequential", "worker=sequential")
    assert expected["worker"] == "Sequential" and len(expected["results"]) == 12
    dask = _navsim_map(tmp_path / "dask", "worker=dask_distributed", "worker.n_workers=2")
    assert dask["worker"] == "DaskDistributed" and dask["results"] == expected["results"]
    shim = _navsim_map(tmp_path / "shim", "worker=ray_distributed_no_torch", "worker.threads_per_node=2",
                       env={"DASK_RUNNER_RAY_SHIM": "1"})
    assert shim["worker"] == "RayDistributed" and shim["results"] == expected["results"]


@needs_navsim
def test_a_function_that_kills_its_worker_fails_only_its_items(tmp_path: Path) -> None:
    outcome = _navsim_map(tmp_path, "worker=dask_distributed", "worker.n_workers=2", env={"KILL_ITEM": "5"})
    assert "error" in outcome and "KilledWorker" in outcome["error"], outcome
    innocent = [item for chunk in outcome["chunks"] if 5 not in chunk for item in chunk]
    assert innocent and all((tmp_path / str(item)).exists() for item in innocent)


# -- planners built on the workers: dask_runner.nuplan.PlannerOnWorker in nuPlan's own run_simulation.py ------

BALLAST = ("{_target_:nuplan_parts.BallastPlanner,megabytes:%d,horizon_seconds:10.0,sampling_time:0.25,"
           "acceleration:[0.0,0.0]}")


def _on_worker(node: str) -> str:
    return "{_target_:dask_runner.nuplan.PlannerOnWorker,_recursive_:false,planner:%s}" % node


def _run_with_planner(tmp_path: Path, name: str, planner: str,
                      keep_simple_planner: bool = False) -> tuple[subprocess.Popen[str], Path, Path]:
    output, builds = tmp_path / name, tmp_path / f"{name}-builds.txt"
    process = subprocess.Popen([PYTHON, str(Path(DEVKIT) / "nuplan/planning/script/run_simulation.py"), *COMMON,
                                *([] if keep_simple_planner else ["~planner.simple_planner"]), f"+planner.ballast={planner}",
                                "worker=dask_distributed", "worker.n_workers=2", f"output_dir={output}"],
                               cwd=tmp_path, env=nuplan_environment(tmp_path, BUILD_LOG=str(builds)),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, output, builds


def _finish(process: subprocess.Popen[str]) -> None:
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out[-3000:]


def test_planner_on_worker_builds_each_planner_in_a_worker_with_nuplans_results(tmp_path: Path) -> None:
    driver_built, expected, expected_builds = _run_with_planner(tmp_path, "driver", BALLAST % 1)
    _finish(driver_built)
    on_worker, output, builds = _run_with_planner(tmp_path, "worker", _on_worker(BALLAST % 1))
    _finish(on_worker)
    assert set(expected_builds.read_text().split()) == {str(driver_built.pid)}  # nuPlan: all in the driver
    pids = builds.read_text().split()
    assert len(pids) == 4 and str(on_worker.pid) not in pids  # one build per simulation, each in a worker
    table = reports(output)
    assert table["succeeded"].all() and set(table["planner_name"]) == {"BallastPlanner"}  # nuPlan's name
    ours, theirs = metric_tables(output), metric_tables(expected)
    assert sorted(ours) == sorted(theirs) and ours
    for name in theirs:
        pd.testing.assert_frame_equal(ours[name], theirs[name], check_like=True, obj=name)


def test_a_planner_that_fails_to_build_on_its_worker_fails_only_its_runners(tmp_path: Path) -> None:
    process, output, _ = _run_with_planner(tmp_path, "failing", _on_worker(BALLAST % -1), keep_simple_planner=True)
    _finish(process)
    table = reports(output)
    by_planner = table.groupby("planner_name")["succeeded"].apply(list).to_dict()
    assert by_planner == {"BallastPlanner": [False] * 4, "SimplePlanner": [True] * 4}
    assert table[~table["succeeded"]]["error_message"].str.contains("negative dimensions").all()


def test_nuplans_ml_planner_loads_its_model_once_per_worker_process(tmp_path: Path) -> None:
    result = subprocess.run([PYTHON, "-c", "import ml_parts; ml_parts.main()", str(tmp_path)], cwd=tmp_path,
                            env=nuplan_environment(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("ML_OUTCOME "))
    outcome = json.loads(line.removeprefix("ML_OUTCOME "))
    builds = outcome["builds"]
    assert len(builds) == 8 and {b["name"] for b in builds} == {"MLPlanner"}
    assert outcome["driver"] not in {b["pid"] for b in builds}  # built on the workers only
    models_per_process: dict[int, set[int]] = {}
    for build in builds:
        models_per_process.setdefault(build["pid"], set()).add(build["model"])
    assert all(len(models) == 1 for models in models_per_process.values()), models_per_process  # loaded once
    assert {b["device"] for b in builds} == {"cpu"}  # no GPU here: the same path on device cpu
    assert outcome["pickled_bytes"] < 20_000  # what travels is the config, not the model


def test_the_ml_planner_drop_in_composes_in_nuplans_script(tmp_path: Path) -> None:
    script = Path(DEVKIT) / "nuplan/planning/script/run_simulation.py"
    result = subprocess.run([PYTHON, str(script), "planner=ml_planner_on_worker", "model=simple_vector_model",
                             "planner.ml_planner.planner.model_config=${model}",
                             "planner.ml_planner.planner.checkpoint_path=/ckpt/model.ckpt", "--cfg", "job", "--resolve"],
                            cwd=tmp_path, env=nuplan_environment(tmp_path), capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    node = yaml.safe_load(result.stdout)["planner"]["ml_planner"]
    assert node["_target_"] == "dask_runner.nuplan.PlannerOnWorker"
    assert node["planner"]["model_config"]["_target_"].endswith("VectorMapSimpleMLP")
