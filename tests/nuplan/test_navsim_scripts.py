"""NAVSIM's own run_metric_caching.py and run_pdm_score.py, unmodified, on dask_runner's pools.

Both map over the logs with nuPlan's ``worker_map``. They read an OpenScene dataset and nuPlan's maps: here a
tiny one written in those formats (``synthetic_map.py``: one road; ``synthetic_openscene.py``: two logs, ego
behind a slower vehicle, and the synthetic second-stage scenes and mapping NAVSIM's two-stage scoring needs).
The metric caches and the score CSV must be those of ``worker=sequential``.

Needs the environment of ``scripts/make_nuplan_env.sh`` with NAVSIM (``DASK_RUNNER_NAVSIM``); skipped without it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from test_nuplan_family_pools import NAVSIM, needs_navsim, nuplan_environment
from test_nuplan_scripts import HERE, PYTHON, pytestmark

pytestmark = [*pytestmark, needs_navsim]
SCRIPTS = Path(NAVSIM) / "navsim/planning/script"


class Dataset:
    """The synthetic dataset and map, written once, and NAVSIM's scripts run on it in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.environment = nuplan_environment(root)
        subprocess.run([PYTHON, str(HERE / "synthetic_map.py"), self.environment["NUPLAN_MAPS_ROOT"]],
                       env=self.environment, check=True, timeout=300)
        written = subprocess.run([PYTHON, str(HERE / "synthetic_openscene.py"), self.environment["OPENSCENE_DATA_ROOT"],
                                  "test"], env=self.environment, capture_output=True, text=True, timeout=300, check=True)
        self.split = json.loads(written.stdout)  # overrides that select it: train_test_split=navtest ...

    def run(self, script: str, *overrides: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run([PYTHON, str(SCRIPTS / script), *self.split, *overrides], cwd=self.root,
                                env={**self.environment, **(env or {})}, capture_output=True, text=True, timeout=600,
                                check=False)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        return result.stdout + result.stderr

    def cache_and_score(self, name: str, *worker: str, env: dict[str, str] | None = None) -> tuple[Path, Path, str]:
        """Metric caching, then scoring of NAVSIM's constant-velocity agent on that cache, with the pool ``worker``."""
        cache, scores = self.root / name / "metric_cache", self.root / name / "scores"
        log = self.run("run_metric_caching.py", *worker, f"metric_cache_path={cache}", env=env)
        log += self.run("run_pdm_score.py", *worker, "agent=constant_velocity_agent", f"metric_cache_path={cache}",
                        f"output_dir={scores}", f"experiment_name={name}", env=env)
        return cache, scores, log

    def metric_caches(self, cache: Path) -> dict[str, str]:
        result = subprocess.run([PYTHON, "-c", f"import navsim_parts; navsim_parts.print_metric_cache_digests({str(cache)!r})"],
                                env=self.environment, capture_output=True, text=True, timeout=300, check=True)
        line = next(line for line in result.stdout.splitlines() if line.startswith("METRIC_CACHE "))
        return json.loads(line.removeprefix("METRIC_CACHE "))  # type: ignore[no-any-return]


def _scores(folder: Path) -> pd.DataFrame:
    """The score CSV run_pdm_score.py writes, by token (its row order follows set iteration: it varies per run)."""
    (csv,) = folder.glob("*.csv")
    return pd.read_csv(csv, index_col=0).sort_values("token").reset_index(drop=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return Dataset(tmp_path_factory.mktemp("navsim"))


@pytest.fixture(scope="module")
def sequential(dataset: Dataset) -> tuple[dict[str, str], pd.DataFrame]:
    """NAVSIM's scripts on ``worker=sequential``: what every pool must write."""
    cache, scores, _ = dataset.cache_and_score("sequential", "worker=sequential")
    caches, table = dataset.metric_caches(cache), _scores(scores)
    assert len(caches) == 24 and any(name.startswith("synthetic_log_1/") and "/syn-" in name for name in caches)
    per_scene = table[~table["token"].str.startswith("extended_pdm_score")]
    assert len(per_scene) == 24 and per_scene["valid"].all()  # every scene and second stage scored
    return caches, table


@pytest.mark.parametrize("worker, env, pool_says", [
    pytest.param(["worker=dask_distributed", "worker.n_workers=2"], {}, "DaskDistributed on tls://", id="dask_distributed"),
    # NAVSIM's default worker, ray_distributed_no_torch, caught by the shim
    pytest.param(["worker.threads_per_node=2"], {"DASK_RUNNER_RAY_SHIM": "1"}, "RayDistributed runs on Dask distributed",
                 id="ray_shim"),
])
def test_navsims_metric_caching_and_scoring_on_dask_match_sequential(
        dataset: Dataset, sequential: tuple[dict[str, str], pd.DataFrame], worker: list[str], env: dict[str, str],
        pool_says: str) -> None:
    expected_caches, expected_scores = sequential
    cache, scores, log = dataset.cache_and_score(worker[0].replace("=", "_"), *worker, env=env)
    assert log.count(pool_says) == 2  # both scripts ran on dask_runner's pool
    assert dataset.metric_caches(cache) == expected_caches
    pd.testing.assert_frame_equal(_scores(scores), expected_scores)
