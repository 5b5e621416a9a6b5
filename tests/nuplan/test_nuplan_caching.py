"""nuPlan's feature caching (``run_training.py py_func=cache``, unmodified) on dask_runner's pools.

Caching maps nuPlan's ``cache_scenarios`` through ``worker_map`` as the simulation does its runners. The
dataset-free path is nuplan-devkit's own ``test_cache_mocked.py`` (mock scenario builder, ``+training=...``,
``py_func=cache``), with two changes so that the cache says something when compared: that test patches the model
to return a constant feature, a patch that lives in the driver only (the model is built inside each mapped
call, on a worker), so here the real ``simple_vector_model`` computes its real features (ego and agents, the
future trajectory) of scenarios that differ (``nuplan_parts.NamedMockScenarioBuilder``). Its vector map
feature fails on the mock map (it has no lanes), identically everywhere: nuPlan counts those as failed.

Needs the environment of ``scripts/make_nuplan_env.sh`` (see test_nuplan_scripts.py); skipped without it.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from test_nuplan_family_pools import nuplan_environment
from test_nuplan_scripts import DEVKIT, PYTHON, pytestmark

__all__ = ["pytestmark"]  # nuPlan's skip marker and the slow mark apply here too

SCENARIOS = 6
CACHING = [
    "py_func=cache",
    "+training=training_simple_vector_model",
    "scenario_builder=mock_abstract_scenario_builder",
    "scenario_builder._target_=nuplan_parts.NamedMockScenarioBuilder",
    f"scenario_builder.num_scenarios={SCENARIOS}",
]


def _cache(tmp_path: Path, name: str, *overrides: str, env: dict[str, str] | None = None) -> tuple[Path, str]:
    """nuPlan's run_training.py caching into ``tmp_path/name``; returns the cache folder and the script's log."""
    cache = tmp_path / name
    result = subprocess.run([PYTHON, str(Path(DEVKIT) / "nuplan/planning/script/run_training.py"), *CACHING,
                             f"group={tmp_path / 'experiments'}", f"cache.cache_path={cache}", *overrides],
                            cwd=tmp_path, env=nuplan_environment(tmp_path, **(env or {})), capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return cache, result.stdout + result.stderr


def _contents(cache: Path) -> dict[str, bytes]:
    """Every cached feature, by its path in the cache, as its pickle (gzip's header holds a time: not compared)."""
    return {str(path.relative_to(cache)): gzip.decompress(path.read_bytes()) for path in sorted(cache.rglob("*.gz"))}


def _metadata(cache: Path) -> list[str]:
    """The metadata CSV's feature paths, relative to the cache (nuPlan's training reads the cache through it)."""
    (csv,) = (cache / "metadata").glob("*.csv")
    header, *rows = csv.read_text().split()
    assert header == "file_name"
    return sorted(str(Path(row).relative_to(cache)) for row in rows)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nuPlan's own ``worker=sequential``: the cache every pool must write."""
    cache, log = _cache(tmp_path_factory.mktemp("nuplan_cache"), "sequential", "worker=sequential")
    assert f"Failed features and targets: {SCENARIOS} out of {3 * SCENARIOS}" in log  # the vector map, only
    return cache


@pytest.mark.parametrize("pool_says, overrides, env", [
    pytest.param("DaskDistributed on tls://", ["worker=dask_distributed", "worker.n_workers=2"], {},
                 id="dask_distributed"),
    pytest.param("RayDistributed runs on Dask distributed", ["worker=ray_distributed", "worker.threads_per_node=2"],
                 {"DASK_RUNNER_RAY_SHIM": "1"}, id="ray_shim"),
])
def test_feature_caching_on_dask_writes_nuplans_sequential_cache(tmp_path: Path, sequential: Path, pool_says: str,
                                                                 overrides: list[str], env: dict[str, str]) -> None:
    cache, log = _cache(tmp_path, "cache", *overrides, env=env)
    assert pool_says in log and f"Starting dataset caching of {SCENARIOS} files" in log
    assert "Number of failed calls of cache_scenarios: 0" in log  # what the pool ran, named as what it is
    expected = _contents(sequential)
    assert len(expected) == 2 * SCENARIOS  # agents and trajectory of every scenario
    assert _contents(cache) == expected
    assert _metadata(cache) == _metadata(sequential)
