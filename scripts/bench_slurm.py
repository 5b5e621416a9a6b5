"""Figures of dask_runner on SLURM: time from command to first simulation, and runners per second.

Runs the same batch with ``dask-runner simulate`` three ways, side by side: ``worker=dask_local`` on this
machine, ``worker=dask_slurm`` (worker jobs submitted by the driver) and ``worker=dask_slurm_runner``
(inside one ``srun`` allocation). The times come from the runner reports (epoch seconds): the first
simulation's start minus the moment the command was started, and runners / (last end - first start).

    python scripts/bench_slurm.py --start-test-slurm      # the tests' three-node SLURM on 127.0.0.1 (root)
    SLURM_CONF=... python scripts/bench_slurm.py --interface ib0   # a real cluster, from a login node
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def test_slurm(start: bool) -> Iterator[None]:
    if not start:
        yield
        return
    sys.path.insert(0, str(REPO / "tests" / "slurm"))
    from local_slurm import LocalSlurm  # the tests' cluster: three slurmd on 127.0.0.1

    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as root:
        cluster = LocalSlurm(Path(root))
        cluster.start()
        os.environ["SLURM_CONF"] = str(cluster.conf)
        try:
            yield
        finally:
            cluster.stop()


def measure(name: str, command: list[str], out: Path, env: dict[str, str]) -> tuple[float, float, int]:
    import pandas as pd

    started = time.time()
    done = subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    reports = pd.read_parquet(out / "runner_report.parquet")
    first_start = float(reports["start_time"].min())
    span = float(reports["end_time"].max()) - first_start
    return first_start - started, len(reports) / span, len(reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=96)
    parser.add_argument("--jobs", type=int, default=3, help="worker jobs of worker=dask_slurm (one core each)")
    parser.add_argument("--ranks", type=int, default=5, help="srun ranks of worker=dask_slurm_runner (2 + workers)")
    parser.add_argument("--interface", default="lo")
    parser.add_argument("--start-test-slurm", action="store_true")
    args = parser.parse_args()
    batch = [f"scenario_filter.limit_total_scenarios={args.scenarios}", "show_progress=false", "html_report=false"]
    cli = [sys.executable, "-m", "dask_runner.cli", "simulate"]
    with test_slurm(args.start_test_slurm), tempfile.TemporaryDirectory(prefix="bench-slurm-out-") as scratch:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        runs = {
            "dask_local (this machine)": [*cli, "worker=dask_local", "worker.dashboard_address=null"],
            f"dask_slurm ({args.jobs} worker jobs)": [
                *cli, "worker=dask_slurm", f"worker.jobs={args.jobs}", f"worker.interface={args.interface}",
                "worker.dashboard_port=0"],
            f"dask_slurm_runner (srun -n {args.ranks})": [
                "srun", f"--ntasks={args.ranks}", *cli, "worker=dask_slurm_runner",
                f"worker.interface={args.interface}", "worker.dashboard_port=0",
                f"worker.scheduler_file='{scratch}/scheduler-{{job_id}}.json'"],
        }
        print(f"{args.scenarios} simulations (IDM planner, metrics on) per run")
        print(f"{'pool':36} {'command to first simulation (s)':>32} {'runners/s':>10}")
        for index, (name, command) in enumerate(runs.items()):
            out = Path(scratch) / f"run{index}"
            lag, rate, count = measure(name, [*command, *batch, f"output_dir={out}"], out, env)
            assert count == args.scenarios
            print(f"{name:36} {lag:>32.1f} {rate:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
