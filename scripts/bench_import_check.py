"""Cost of the workers' import checks of a Dask batch (dask_runner.dask.import_check, dask_tasks.GroupRunners).

    python scripts/bench_import_check.py [--scenarios 64] [--workers 2]

Prints the median time of the start-of-batch check (one client.run on every worker) over ten batches' worth
of calls on a local process cluster, the time to collect the modules from the runners' pickles, and what
carrying the runners as bytes inside the group task costs (so that a worker that joins later and lacks a
module fails the task instead of leaving): the task's pickle made as Dask makes it, with the runners as a
plain list and as ``GroupRunners``, and unpickled again, median of 20 rounds each, side by side.
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

    from distributed.protocol.pickle import dumps, loads

    from dask_runner.dask.import_check import check_workers_can_import, modules_needed
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.dask.tasks import GroupRunners
    from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config
    from dask_runner.experiment.job import resolve_output_dir
    from dask_runner.experiment.simulation_job import build_runners

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
    carried: dict[str, list[float]] = {"list": [], "GroupRunners": [], "list (load)": [], "GroupRunners (load)": []}
    for _ in range(20):  # alternating, so that both see the same machine
        for name, make in (("list", lambda: list(runners)), ("GroupRunners", lambda: GroupRunners(list(runners)))):
            started = time.perf_counter()
            data = dumps(make())
            carried[name].append(time.perf_counter() - started)
            started = time.perf_counter()
            loaded = loads(data)
            if isinstance(loaded, GroupRunners):
                loaded.load()
            carried[f"{name} (load)"].append(time.perf_counter() - started)
    ms = {name: statistics.median(values) * 1e3 for name, values in carried.items()}
    print(f"{len(runners)} runners, {len(modules)} modules, {args.workers} workers: check {statistics.median(times) * 1e3:.1f} ms "
          f"per batch (median of {len(times)}), of which collecting the modules {collect * 1e3:.1f} ms")
    print(f"the runners of one task pickled: as a list {ms['list']:.2f} ms, as GroupRunners {ms['GroupRunners']:.2f} ms "
          f"(x{ms['GroupRunners'] / ms['list']:.2f}); unpickled: {ms['list (load)']:.2f} ms and "
          f"{ms['GroupRunners (load)']:.2f} ms (x{ms['GroupRunners (load)'] / ms['list (load)']:.2f})")


if __name__ == "__main__":
    main()
