"""Each default of a worker is defined once, in Python; the worker YAML files refer to it or override it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml
from hydra.utils import get_object
from omegaconf import OmegaConf

import dask_runner.config
from dask_runner.clusters.local import LocalClusterSettings, start_local_cluster
from dask_runner.workers.dask import DaskDistributed
from dask_runner.workers.dask_execution import DaskBatchSettings

CONFIG = Path(dask_runner.config.__file__).parent
WORKER_FILES = sorted(CONFIG.glob("worker/*.yaml")) + sorted(CONFIG.glob("nuplan*/worker/*.yaml"))
# Keys whose value is not a default but comes from elsewhere in the job's config.
FROM_THE_JOB = {"output_dir", "num_gpus_per_simulation"}


def _nodes(node: dict, path: str = "worker") -> list[tuple[str, dict]]:
    found = [(path, node)] if "_target_" in node else []
    for key, value in node.items():
        if isinstance(value, dict):
            found += _nodes(value, f"{path}.{key}")
    return found


def _parameters(target_path: str) -> dict[str, inspect.Parameter]:
    """The keywords of a target and of those it forwards its keywords to (``keyword_defaults_from``, chained)."""
    parameters: dict[str, inspect.Parameter] = {}
    target = get_object(target_path)
    while target is not None:
        parameters = {**inspect.signature(target).parameters, **parameters}
        forwarded = getattr(target, "keyword_defaults_from", None)
        target = get_object(forwarded) if forwarded else None
    return parameters


@pytest.mark.parametrize("path", WORKER_FILES, ids=lambda p: str(p.relative_to(CONFIG)))
def test_worker_yaml_values_are_the_targets_defaults_by_reference(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    for where, node in _nodes(raw):
        parameters = _parameters(node["_target_"])
        for key, value in node.items():
            if key.startswith("_") or key == "defaults" or isinstance(value, dict) or key in FROM_THE_JOB:
                continue
            assert key in parameters, f"{path.name}: {where}.{key} is not a parameter of {node['_target_']}"
            assert value == f"${{dask_runner.default:{key}}}", (
                f"{path.name}: {where}.{key} restates a default ({value!r}); refer to it with "
                f"${{dask_runner.default:{key}}} so the signature stays its only definition")
        own = {k: v for k, v in node.items() if k not in FROM_THE_JOB | {"defaults"} and not isinstance(v, dict)}
        resolved = OmegaConf.to_container(OmegaConf.create(own), resolve=True)
        assert isinstance(resolved, dict)
        for key, value in resolved.items():
            if key in parameters and not key.startswith("_") and key not in FROM_THE_JOB:
                assert value == parameters[key].default, f"{path.name}: {where}.{key}"


def test_the_pool_and_the_cluster_share_the_local_cluster_defaults() -> None:
    pool = inspect.signature(DaskDistributed).parameters
    cluster = inspect.signature(start_local_cluster).parameters
    for name, default in vars(LocalClusterSettings()).items():
        assert pool[name].default == default == cluster[name].default, name
    for name, default in vars(DaskBatchSettings()).items():
        assert pool[name].default == default, name


def test_every_pool_keyword_is_in_the_nuplan_worker_yaml() -> None:
    """nuPlan users tune the pool from their YAML: every keyword of DaskDistributed must be in the composed node."""
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="dask_runner.config", version_base=None):
        keys = set(compose("default_simulation", overrides=["worker=dask_distributed"]).worker)
    wanted = {name for name in inspect.signature(DaskDistributed).parameters if name not in ("cluster", "client")}
    assert wanted - keys == set()
