"""nuPlan's and NAVSIM's worker nodes are dask_runner's own, included: same keys, same defaults, plus output_dir.

Composed in a Hydra application of their shape (a top-level ``worker`` group and ``output_dir``; NAVSIM has no
``number_of_gpus_allocated_per_simulation``), found through dask_runner's search-path plugin as in their
apps. tests/nuplan composes them in nuPlan's and NAVSIM's real scripts.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dask_runner.dask.worker_schemas import pool_schemas

# nuPlan-family node -> dask_runner's own node(s) it includes
NUPLAN_NODES = {
    "dask_distributed": ["dask_local", "dask_scheduler"],
    "dask_scheduler": ["dask_scheduler"],
    "dask_cuda": ["dask_cuda"],
    "dask_slurm": ["dask_slurm"],
    "dask_slurm_runner": ["dask_slurm_runner"],
}
ADDED_FOR_NUPLAN = {"output_dir", "logs_subdir", "time_limit_s"}
NAVSIM_RAY_KEYS = {"master_node_ip", "threads_per_node", "debug_mode", "log_to_driver", "logs_subdir", "use_distributed"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Path]:
    """A Hydra app of NAVSIM's shape: a worker group of its own, output_dir, no GPU-share key."""
    config_dir = tmp_path / "app_config"
    (config_dir / "worker").mkdir(parents=True)
    (config_dir / "worker" / "sequential.yaml").write_text("_target_: some.app.Sequential\n")
    (config_dir / "app.yaml").write_text(f"defaults:\n  - worker: sequential\n  - _self_\noutput_dir: {tmp_path}/out\n")
    yield config_dir


def _in_app(config_dir: Path, *overrides: str) -> dict[str, Any]:
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        cfg = compose("app", overrides=list(overrides))
    node = OmegaConf.to_container(cfg.worker, resolve=True)
    assert isinstance(node, dict)
    return node


def _own(name: str) -> dict[str, Any]:
    with initialize_config_module(config_module="dask_runner.config", version_base=None):
        cfg = compose("default_simulation", overrides=[f"worker={name}"])
    node = OmegaConf.to_container(cfg.worker, resolve=True)
    assert isinstance(node, dict)
    return node


@pytest.mark.parametrize("name", sorted(NUPLAN_NODES))
def test_each_nuplan_node_is_dask_runners_own_with_nuplans_output_dir(app: Path, name: str) -> None:
    ours = _in_app(app, f"worker={name}")
    own: dict[str, Any] = {}
    for included in NUPLAN_NODES[name]:
        own.update({k: v for k, v in _own(included).items() if k != "_target_"})
    factory = "nuplan_dask_distributed" if name == "dask_scheduler" else f"nuplan_{name}"
    assert ours["_target_"] == f"dask_runner.dask.nuplan_pools.{factory}"
    if "cluster" in own:  # the app's GPU share (this app, like NAVSIM, has none): see the test below
        own["cluster"]["num_gpus_per_simulation"] = ours["cluster"]["num_gpus_per_simulation"]
    assert {k: ours[k] for k in own} == own  # every key of dask_runner's node, with its value
    assert set(ours) - set(own) - {"_target_", "_convert_"} == ADDED_FOR_NUPLAN
    assert ours["output_dir"] == str(app.parent / "out")
    assert ours["logs_subdir"] is None and ours["time_limit_s"] is None


@pytest.mark.parametrize("name", sorted(NUPLAN_NODES))
def test_every_key_of_a_nuplan_node_can_be_set_from_the_command_line(app: Path, name: str) -> None:
    """A key of the included node overridden as nuPlan users do (worker.<key>=...), nested ones included."""
    defaults = _in_app(app, f"worker={name}")
    keys = [k for k, v in defaults.items() if not k.startswith("_") and not isinstance(v, dict)]
    schema = pool_schemas()["nuplan_" + ("dask_distributed" if name == "dask_scheduler" else name)]
    values = {key: _sentinel(key, kind, defaults[key]) for key, kind in typing.get_type_hints(schema).items() if key in keys}
    assert set(values) == set(keys)
    ours = _in_app(app, f"worker={name}", *(f"worker.{key}={text}" for key, (text, _) in values.items()))
    assert {key: ours[key] for key in keys} == {key: value for key, (_, value) in values.items()}


def _sentinel(key: str, kind: Any, default: Any) -> tuple[str, Any]:
    """(override text, value) of the key's type (the schema types every key) that no default has."""
    kinds = [k for k in typing.get_args(kind) if k is not type(None)] or [kind]
    kind = kinds[0]
    if kind is bool:
        return ("false", False) if default else ("true", True)
    if kind is int:
        return "7", 7
    if kind is float:
        return "7.5", 7.5
    if typing.get_origin(kind) is list:
        return f"[sentinel_{key}]", [f"sentinel_{key}"]
    if typing.get_origin(kind) is dict:
        return "{SENTINEL: 2}", {"SENTINEL": 2.0}
    return f"sentinel_{key}", f"sentinel_{key}"


def test_dask_cuda_composes_without_the_apps_gpu_share_key(app: Path) -> None:
    """NAVSIM has no number_of_gpus_allocated_per_simulation: the share is then left to the pool (threads)."""
    assert _in_app(app, "worker=dask_cuda")["cluster"]["num_gpus_per_simulation"] is None
    assert _own("dask_cuda")["cluster"]["num_gpus_per_simulation"] == 0  # dask_runner's own key is read


def test_navsims_default_worker_is_caught_by_the_ray_shim(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (app / "worker" / "ray_distributed_no_torch.yaml").write_text(
        "_target_: navsim.planning.utils.multithreading.worker_ray_no_torch.RayDistributedNoTorch\n")
    assert _in_app(app, "worker=ray_distributed_no_torch")["_target_"].startswith("navsim.")  # switch off: NAVSIM's
    monkeypatch.setenv("DASK_RUNNER_RAY_SHIM", "1")
    ours = _in_app(app, "worker=ray_distributed_no_torch", "worker.threads_per_node=2", "worker.debug_mode=true")
    assert ours["_target_"] == "dask_runner.dask.ray_shim.RayDistributed"
    assert NAVSIM_RAY_KEYS <= set(ours) and ours["output_dir"] == str(app.parent / "out")
    assert ours["threads_per_node"] == 2 and ours["debug_mode"] is True


def test_navsims_build_worker_call_gets_a_working_pool(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NAVSIM's build_worker: instantiate(cfg.worker, output_dir=cfg.output_dir); the shim in debug mode."""
    monkeypatch.setenv("DASK_RUNNER_RAY_SHIM", "1")
    with initialize_config_dir(config_dir=str(app), version_base=None):
        cfg = compose("app", overrides=["worker=ray_distributed_no_torch", "worker.debug_mode=true"])
    pool = instantiate(cfg.worker, output_dir=cfg.output_dir)
    try:
        from dask_runner.execution.worker_pool import Task

        assert pool.map(Task(fn=len), [[1, 2], [3]]) == [2, 1]
    finally:
        pool.shutdown()


def test_print_job_script_through_nuplans_node_prints_and_exits_0(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dask_jobqueue")
    with initialize_config_dir(config_dir=str(app), version_base=None):
        cfg = compose("app", overrides=["worker=dask_slurm", "worker.print_job_script=true", "worker.cores=3"])
    with pytest.raises(SystemExit) as exit_:
        instantiate(cfg.worker)
    assert exit_.value.code == 0
    assert "#SBATCH --cpus-per-task=3" in capsys.readouterr().out


def test_the_ml_planner_drop_in_wraps_nuplans_ml_planner_node(app: Path) -> None:
    with initialize_config_dir(config_dir=str(app), version_base=None):
        cfg = compose("app", overrides=["+planner=ml_planner_on_worker", "+model={_target_: some.Model, width: 8}",
                                        "planner.ml_planner.planner.model_config=${model}",
                                        "planner.ml_planner.planner.checkpoint_path=/ckpt/model.ckpt"])
    node = OmegaConf.to_container(cfg.planner.ml_planner, resolve=True)
    assert isinstance(node, dict)
    assert node["_target_"] == "dask_runner.nuplan.PlannerOnWorker" and node["_recursive_"] is False
    assert node["planner"]["_target_"].endswith("ml_planner.MLPlanner")
    assert node["planner"]["model_config"] == {"_target_": "some.Model", "width": 8}
    assert node["planner"]["checkpoint_path"] == "/ckpt/model.ckpt"
