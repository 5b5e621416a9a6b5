"""Cost of the workers' import check that runs before every Dask batch (dask_runner.workers.dask_imports).

    python scripts/bench_import_check.py [--scenarios 64] [--workers 2]

Prints the median time of the check (one client.run on every worker) over ten batches' worth of calls on
a local process cluster, the time to collect the modules from the runners' pickles, and the median time to
register and remove the per-batch worker plugin that checks the workers joining during a batch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config
    from dask_runner.experiment.job import resolve_output_dir
    from dask_runner.experiment.simulation_job import build_runners
    from dask_runner.workers.dask import DaskDistributed
    from dask_runner.workers.dask_imports import JoinerCheck, check_workers_can_import, modules_needed

    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(SIMULATION_CONFIG, [f"scenario_filter.limit_total_scenarios={args.scenarios}",
                                                 f"output_dir={scratch}/out"])
        resolve_output_dir(cfg)
        runners = build_runners(cfg, f"{scratch}/metrics")
        with DaskDistributed(n_workers=args.workers, dashboard_address=None) as pool:
            check_workers_can_import(pool.client, runners)  # warm-up: the workers import the modules once
            times = []
            for _ in range(10):
                started = time.perf_counter()
                check_workers_can_import(pool.client, runners)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            modules = modules_needed(runners)
            collect = time.perf_counter() - started
            joiner_times = []
            for _ in range(10):
                started = time.perf_counter()
                with JoinerCheck(pool.client, sorted(modules), wake=lambda: None):
                    pass
                joiner_times.append(time.perf_counter() - started)
    print(f"{len(runners)} runners, {len(modules)} modules, {args.workers} workers: check {statistics.median(times) * 1e3:.1f} ms "
          f"per batch (median of 10), of which collecting the modules {collect * 1e3:.1f} ms; the plugin that "
          f"checks joining workers {statistics.median(joiner_times) * 1e3:.1f} ms per batch")


if __name__ == "__main__":
    main()
