"""Each pool's settings are described once, in Python: its Hydra schema is made from them, and the worker YAML files
list the schema and only what differs from it."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

import dask_runner.config
from dask_runner.dask.batch import DaskBatchSettings
from dask_runner.dask.clusters.local import LocalClusterSettings
from dask_runner.dask.pool import DaskDistributed
from dask_runner.dask.worker_schemas import GROUP, pool_schemas
from dask_runner.errors import ConfigError
from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config

CONFIG = Path(dask_runner.config.__file__).parent
WORKER_FILES = sorted(CONFIG.glob("worker/*.yaml")) + sorted(CONFIG.glob("nuplan*/worker/*.yaml"))
SCHEMAS = pool_schemas()


def _schema_of(raw: dict) -> str | None:
    listed = [str(entry) for entry in raw.get("defaults", []) if str(entry).startswith(f"/{GROUP}/")]
    return listed[0].removeprefix(f"/{GROUP}/").removesuffix("@_here_") if listed else None


def _differences(node: dict, defaults: dict, path: str) -> list[str]:
    """Keys of ``node`` (a YAML's own keys) whose value is the schema's default."""
    same = []
    for key, value in node.items():
        if key in ("defaults", "_target_"):
            continue
        if isinstance(value, dict):
            same += _differences(value, defaults.get(key) or {}, f"{path}.{key}")
        elif key in defaults and value == defaults[key]:
            same.append(f"{path}.{key}")
    return same


@pytest.mark.parametrize("path", WORKER_FILES, ids=lambda p: str(p.relative_to(CONFIG)))
def test_a_worker_yaml_lists_its_schema_and_only_what_differs(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    name = _schema_of(raw)
    if name is None:  # a node without settings, or one that includes another worker node (NAVSIM's alias)
        assert set(raw) <= {"_target_", "defaults"}, f"{path.name} has keys but no /{GROUP}/ schema"
        return
    assert name in SCHEMAS and raw["defaults"][-1] == "_self_", path.name
    defaults = OmegaConf.to_container(OmegaConf.structured(SCHEMAS[name]))
    assert isinstance(defaults, dict)
    assert raw["_target_"] == defaults["_target_"], f"{path.name}: _target_ is not its schema's"
    assert _differences(raw, defaults, "worker") == [], f"{path.name} restates its schema's defaults"
    assert set(raw) - {"defaults"} <= set(defaults), f"{path.name} has keys its schema lacks"


def test_the_schemas_defaults_are_the_settings_classes() -> None:
    pool = OmegaConf.structured(SCHEMAS["dask_distributed"])
    for settings in (LocalClusterSettings(), DaskBatchSettings()):
        for name, default in vars(settings).items():
            assert pool[name] == default, name
    slurm = OmegaConf.structured(SCHEMAS["dask_slurm"])
    from dask_runner.dask.clusters.slurm import SLURMSettings

    for field in dataclasses.fields(SLURMSettings):
        if field.name != "adapt":
            assert slurm[field.name] == field.default, field.name
    assert slurm.adapt.maximum_jobs is None  # the node is there to be set; adaptive scaling stays off


def test_daskdistributeds_keywords_take_their_defaults_from_the_settings_classes() -> None:
    """DaskDistributed keeps its keyword constructor (public): its defaults are the settings classes' own."""
    pool = inspect.signature(DaskDistributed).parameters
    for settings in (LocalClusterSettings(), DaskBatchSettings()):
        for name, default in vars(settings).items():
            assert pool[name].default == default, name


def test_every_key_is_set_without_a_plus_and_a_wrong_type_names_the_key() -> None:
    cfg = compose_config(SIMULATION_CONFIG, ["worker=dask_slurm", "worker.adapt.maximum_jobs=4", "worker.cores=8",
                                             "worker.job_extra_directives=[--exclusive]"])
    assert (cfg.worker.adapt.maximum_jobs, cfg.worker.cores) == (4, 8)
    assert list(cfg.worker.job_extra_directives) == ["--exclusive"]
    cfg = compose_config(SIMULATION_CONFIG, ["worker.memory_limit=0.5", "worker.resources={GPU: 1}"])
    assert cfg.worker.memory_limit == 0.5 and dict(cfg.worker.resources) == {"GPU": 1.0}  # a fraction of RAM stays one
    with pytest.raises(ConfigError, match=r"worker\.n_workers: Value 'four' .* Integer"):
        compose_config(SIMULATION_CONFIG, ["worker.n_workers=four"])
    with pytest.raises(ConfigError, match=r"worker\.adapt\.maximum_jobs: Value 'x'"):
        compose_config(SIMULATION_CONFIG, ["worker=dask_slurm", "worker.adapt.maximum_jobs=x"])
    with pytest.raises(ConfigError, match=r"worker\.security: Value 'maybe'"):
        compose_config(SIMULATION_CONFIG, ["worker=dask_slurm_runner", "worker.security=maybe"])


def test_every_pool_keyword_is_in_the_nuplan_worker_yaml() -> None:
    """nuPlan users tune the pool from their YAML: every keyword of DaskDistributed must be in the composed node."""
    keys = set(compose_config(SIMULATION_CONFIG, ["worker=dask_distributed"]).worker)
    wanted = {name for name in inspect.signature(DaskDistributed).parameters if name not in ("cluster", "client")}
    assert wanted - keys == set()
