"""Each default of a worker is defined once, in Python; the worker YAML files refer to it or override it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml
from hydra.utils import get_object
from omegaconf import OmegaConf

import dask_runner.config
from dask_runner.config import default_sources
from dask_runner.dask.batch import DaskBatchSettings
from dask_runner.dask.clusters.local import LocalClusterSettings, start_local_cluster
from dask_runner.dask.pool import DaskDistributed

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


def _included(name: str) -> Path:
    """The file an absolute include names, found as Hydra finds it: in the roots dask_runner's plugin adds."""
    roots = [CONFIG, CONFIG / "shared", CONFIG.parent]  # pkg://dask_runner.config, .config.shared, pkg://dask_runner
    found = [root / f"{name}.yaml" for root in roots if (root / f"{name}.yaml").is_file()]
    assert found, f"include /{name} is in none of {roots}"
    return found[0]


def _with_includes(path: Path) -> dict:
    """The file's keys with those of the files its defaults list includes ``@_here_`` (as Hydra merges them)."""
    raw = yaml.safe_load(path.read_text())
    merged: dict = {}
    for entry in raw.pop("defaults", []):
        if entry == "_self_":
            continue
        name, _, package = str(entry).partition("@")
        assert package == "_here_" and name.startswith("/"), f"{path.name}: include {entry!r} as /group/file@_here_"
        merged.update(_with_includes(_included(name[1:])))
    return {**merged, **raw}


@pytest.mark.parametrize("path", WORKER_FILES, ids=lambda p: str(p.relative_to(CONFIG)))
def test_worker_yaml_values_are_the_targets_defaults_by_reference(path: Path) -> None:
    raw = _with_includes(path)
    for where, node in _nodes(raw):
        target = get_object(node["_target_"])
        parameters = {}
        for source in reversed(default_sources(target)):  # the first source wins, as resolved
            parameters.update(inspect.signature(source).parameters)
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
