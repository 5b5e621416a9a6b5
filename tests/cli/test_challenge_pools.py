"""The seed's command with +simulation=closed_loop_reactive_agents added runs on every worker pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli

SEED_COMMAND = ["simulate", "+simulation=closed_loop_reactive_agents", "planner=idm_planner",
                "scenario_filter.limit_total_scenarios=3", "show_progress=false"]


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    """A Dask scheduler on loopback with one in-process worker, for worker=dask_scheduler."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address="127.0.0.1:0") as cluster:
        yield str(cluster.scheduler_address)


POOLS = {
    "sequential": ["worker=sequential"],
    "threads": ["worker=single_machine_thread_pool", "worker.max_workers=2"],
    "processes": ["worker=single_machine_thread_pool", "worker.max_workers=2", "worker.use_process_pool=true"],
    "ray_distributed": ["worker=ray_distributed", "worker.threads_per_node=2"],
    "dask_local": ["worker=dask_local", "worker.n_workers=2", "worker.dashboard_address=127.0.0.1:0"],
    "dask_scheduler": ["worker=dask_scheduler"],
}


@pytest.mark.parametrize("pool", [pytest.param(p, marks=() if p == "sequential" else pytest.mark.slow) for p in POOLS])
def test_reactive_challenge_runs_on_every_pool(pool: str, workdir: Path, request: pytest.FixtureRequest) -> None:
    extra = list(POOLS[pool])
    if pool == "dask_scheduler":
        extra.append(f"worker.address={request.getfixturevalue('scheduler_address')}")
    run = workdir / "run"
    result = run_cli([*SEED_COMMAND, *extra, f"output_dir={run}"], workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    reports = pd.read_parquet(run / "runner_report.parquet")
    assert len(reports) == 3 and reports["succeeded"].all()
    scores = pd.read_parquet(run / "aggregator_metric" / "closed_loop_reactive_agents_scores.parquet")
    assert scores.loc[scores["scenario_type"] == "all", "num_scenarios"].tolist() == [3]
    assert "mean_score: closed_loop_reactive_agents_score" in result.stdout


@pytest.mark.gpu
def test_reactive_challenge_runs_on_dask_cuda(workdir: Path) -> None:
    from dask_runner.dask.clusters.cuda import gpu_count

    if gpu_count() == 0:
        pytest.skip("no GPU on this machine: worker=dask_cuda needs one")
    result = run_cli([*SEED_COMMAND, "worker=dask_cuda", "number_of_gpus_allocated_per_simulation=0.25",
                      f"output_dir={workdir / 'run'}"], workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    assert pd.read_parquet(workdir / "run" / "runner_report.parquet")["succeeded"].all()
