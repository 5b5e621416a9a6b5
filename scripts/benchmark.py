"""Side-by-side timings of the worker pools on one batch of built-in scenarios (ratios, not absolute targets).

    python scripts/benchmark.py                      # 1024 scenarios x 3 rounds, 2000 no-op runners, 20,000 queued
    python scripts/benchmark.py --quick              # a smoke run in well under a minute
    python scripts/benchmark.py --scenarios 256 --rounds 5 --skip parallel_threads
    python scripts/benchmark.py --workload short --scenarios 1024 --skip parallel_threads ray overhead memory
                                                     # 1024 runners of ~13 ms of pure-Python work each
    python scripts/benchmark.py --workload noop --scenarios 1000000 --workers 16
                                                     # scale: a million no-op runners on 16 worker processes

Each pool runs the batch in a fresh Python process, as a user's batch starts; the pools take turns,
round after round, and the medians over rounds are printed (one round on a shared machine can be 20%
off). It prints, for each pool: wall time (pool start included), efficiency = (sequential time / cores) / wall,
the ratio to a plain ``concurrent.futures.ProcessPoolExecutor`` calling ``run_simulation`` (its workers
spawned, fresh interpreters as Dask's are: forking a driver that runs threads is unsafe), and Dask's ratio to
the same pool with Python's default start method, what a user's ``ProcessPoolExecutor()`` gets on Linux (fork),
with the driver's CPU per runner of both beside it; when the first
simulation started, and the CPU seconds of this (driver) process and of the worker processes (wall times
are noisy on a shared machine; the CPU figures show where the time goes); with both pools run, also how
much longer a fresh interpreter takes to import what a Dask worker needs than what a process-pool worker
needs (most of the start-up gap: a worker process started with its pool pays it); then the per-runner overhead
of ``execute_runners`` on DaskDistributed against raw ``client.submit`` on no-op runners, and the
driver's peak memory (RSS) with many no-op runners queued. Ray (one remote task per runner, as nuPlan's
pool does) runs only when ray is importable.

``--tls`` measures what the local pool's default TLS (a temporary certificate, see the README's Security
section) costs against the same pool with ``security=False``, side by side: the batch of the pool
comparison (each in a fresh process, the two taking turns and starting in alternate order, round after
round) and the per-runner overhead of no-op runners on both pools kept warm (also taking turns); it prints
each round, the medians and the per-round ratios TLS / plain:

    python scripts/benchmark.py --tls --workload short --scenarios 1024 --rounds 5

``--page`` measures what the dashboard's Simulations page costs the scheduler: a `dask scheduler` process
with and without ``--preload dask_runner.dashboard`` (one `dask worker` process per core beside it), the
same IDM batch through ``DaskDistributed(scheduler_file=...)``, and with the page a watcher reading
status.json every second; it prints the scheduler's CPU seconds per 1000 runners and their ratio:

    python scripts/benchmark.py --page --page-runners 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Self

import psutil

from dask_runner.planners.planner_report import PlannerReport
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport

MODES = ("sequential", "parallel_threads", "parallel_processes", "process_pool", "process_pool_fork", "dask", "ray")
MiB = 1024 * 1024


class NoOpRunner(AbstractRunner):
    """A runner that does nothing: what is left of its time is the pool's overhead."""

    def __init__(self, index: int) -> None:
        self.runner_id = f"noop-{index}"

    @property
    def scenario(self) -> Any:
        return None

    @property
    def planner(self) -> Any:
        return None

    def run(self) -> RunnerReport:
        now = time.time()
        return RunnerReport(True, None, now, now, PlannerReport([]), self.runner_id, "noop", "noop",
                            runner_id=self.runner_id)


def noop(index: int) -> int:
    return index


class ComputeRunner(NoOpRunner):
    """A runner whose ``run()`` only computes, in pure Python, for about ``SHORT_RUNNER_MS`` (the issue's short
    runners: no scenario, no metrics, nothing to send back but the report)."""

    def __init__(self, index: int, loops: int) -> None:
        self.runner_id = f"compute-{index}"
        self.loops = loops

    def run(self) -> RunnerReport:
        start = time.time()
        spin(self.loops)
        return RunnerReport(True, None, start, time.time(), PlannerReport(), "compute", "ComputeRunner", "compute",
                            runner_id=self.runner_id)


SHORT_RUNNER_MS = 13.0


def spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def loops_for(milliseconds: float) -> int:
    """How many ``spin`` loops take ``milliseconds`` of CPU here (best of a few tries: the machine is shared)."""
    probe = 200_000
    best = min(_cpu_of(lambda: spin(probe)) for _ in range(5))
    return max(1, int(probe * milliseconds / 1000 / best))


def _cpu_of(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def build_runners(count: int, unique: int, loops: int = 0) -> list[AbstractRunner]:
    """``count`` IDM runners over ``unique`` generated scenarios (cycled), as the command line builds them;
    with ``loops`` > 0, ``count`` short pure-Python runners of that many loops instead (``--workload short``).

    The scenarios are lazy references (a ~2 kB runner): each worker process generates a scenario
    where it runs, so generation is part of every pool's time, as it is in a real batch.
    """
    if loops > 0:
        return [ComputeRunner(index, loops) for index in range(count)]
    from dask_runner.planners.idm_planner import IDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios

    distinct = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=min(unique, count)))
    scenarios = [distinct[i % len(distinct)] for i in range(count)]
    return list(build_simulation_runners(scenarios, [IDMPlanner]))


# What a pool run returns: its reports and the CPU seconds of its worker processes (None: the driver's).
PoolResult = tuple[list[RunnerReport], float | None]


@dataclass(frozen=True)
class PoolRun:
    wall: float
    succeeded: int
    first_start: float  # from the pool's creation to the first simulation's start
    driver_cpu: float  # this process: for Dask also its scheduler, nannies and client
    workers_cpu: float | None


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], PoolResult]) -> PoolRun:
    gc.collect()
    driver_cpu = cpu_seconds()
    started = time.time()
    start = time.perf_counter()
    reports, workers_cpu = run()
    wall = time.perf_counter() - start
    first_start = min((r.start_time for r in reports if r.start_time is not None), default=started) - started
    return PoolRun(wall, sum(1 for r in reports if r.succeeded), first_start, cpu_seconds() - driver_cpu, workers_cpu)


def run_sequential(runners: list[AbstractRunner], cores: int) -> PoolResult:
    from dask_runner.execution.executor import execute_runners
    from dask_runner.execution.sequential import Sequential

    with Sequential() as pool:
        return execute_runners(runners, pool), None


def run_parallel(runners: list[AbstractRunner], cores: int, processes: bool) -> PoolResult:
    from dask_runner.execution.executor import execute_runners
    from dask_runner.execution.parallel import SingleMachineParallelExecutor

    children = cpu_seconds(resource.RUSAGE_CHILDREN)
    with SingleMachineParallelExecutor(use_process_pool=processes, max_workers=cores) as pool:
        reports = execute_runners(runners, pool)
    return reports, (cpu_seconds(resource.RUSAGE_CHILDREN) - children if processes else None)


def run_process_pool(runners: list[AbstractRunner], cores: int, start_method: str | None = "spawn") -> PoolResult:
    """``start_method=None``: Python's default, what a user's ``ProcessPoolExecutor()`` gets (fork on Linux)."""
    import multiprocessing

    from dask_runner.runner.run_simulation import run_simulation

    children = cpu_seconds(resource.RUSAGE_CHILDREN)
    context = multiprocessing.get_context(start_method) if start_method else None
    with ProcessPoolExecutor(max_workers=cores, mp_context=context) as pool:
        reports = list(pool.map(run_simulation, runners))
    return reports, cpu_seconds(resource.RUSAGE_CHILDREN) - children  # the pool's workers, joined


def worker_cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def run_dask(runners: list[AbstractRunner], cores: int, security: bool = True) -> PoolResult:
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners

    pool = DaskDistributed(n_workers=cores, threads_per_worker=1, dashboard_address="127.0.0.1:0", security=security)
    with pool:
        reports = execute_runners(runners, pool)
        # Asked of the workers before they close (they are not this process's children to be joined).
        workers_cpu = sum(pool.client.run(worker_cpu_seconds).values())
    return reports, workers_cpu


def run_ray(runners: list[AbstractRunner], cores: int) -> PoolResult:
    import ray

    from dask_runner.runner.run_simulation import run_simulation

    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        remote = ray.remote(run_simulation)
        return list(ray.get([remote.remote(runner) for runner in runners])), None
    finally:
        ray.shutdown()


MODE_RUNS: dict[str, Callable[[list[AbstractRunner], int], PoolResult]] = {
    "sequential": run_sequential,
    "parallel_threads": lambda runners, cores: run_parallel(runners, cores, processes=False),
    "parallel_processes": lambda runners, cores: run_parallel(runners, cores, processes=True),
    "process_pool": run_process_pool,
    "process_pool_fork": lambda runners, cores: run_process_pool(runners, cores, start_method=None),
    "dask": run_dask,
    "ray": run_ray,
    "dask_plain": lambda runners, cores: run_dask(runners, cores, security=False),  # --tls: without TLS
}
_RESULT_MARK = "POOL-RESULT "


def run_child(mode: str, scenarios: int, unique: int, cores: int, loops: int = 0) -> None:
    """In a fresh interpreter: build the batch (not timed), time one pool on it, print the result as JSON."""
    runners = build_runners(scenarios, unique, loops)
    result = timed(lambda: MODE_RUNS[mode](runners, cores))
    print(_RESULT_MARK + json.dumps(dataclasses.asdict(result)), flush=True)


def measure_in_child(mode: str, args: argparse.Namespace, unique: int, cores: int) -> PoolRun:
    """One pool on one batch, in a new Python process: every pool starts cold, as a user's batch does.

    In one long-lived process the pools measured later would find distributed, bokeh or Ray already
    imported and the scenario caches warm, and the order of the modes would decide the ratios."""
    command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--scenarios", str(args.scenarios),
               "--unique", str(unique), "--cores", str(cores), "--loops", str(args.loops)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {mode} measurement failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return PoolRun(**json.loads(lines[-1][len(_RESULT_MARK):]))


def compare_pools(args: argparse.Namespace, cores: int) -> None:
    unique = args.unique or args.scenarios
    what = (f"short runners of ~{SHORT_RUNNER_MS:g} ms of pure Python ({args.loops} loops)" if args.loops
            else f"IDM simulations ({unique} distinct scenarios)")
    print(f"\n== {args.scenarios} {what} on {cores} cores, {args.rounds} round(s) ==")
    print("each pool runs in a fresh Python process (cold start included); rounds interleave the pools, so\n"
          "a slow spell of a shared machine hits every pool alike; ratios are taken within a round")
    modes = [m for m in MODES if m not in args.skip]
    if "ray" in modes and importlib.util.find_spec("ray") is None:
        print("ray is not importable: skipping the Ray comparison (pip install 'dask_runner[ray]' to add it)")
        modes.remove("ray")

    rounds: list[dict[str, PoolRun]] = []
    floors: list[tuple[float, float]] = []  # per round: import seconds of a Dask worker, of a process-pool worker
    for number in range(1, args.rounds + 1):
        results: dict[str, PoolRun] = {}
        for name in modes:
            result = results[name] = measure_in_child(name, args, unique, cores)
            print(f"  round {number}  {name:<20} {result.wall:8.2f} s   {result.succeeded}/{args.scenarios} "
                  f"succeeded", flush=True)
        rounds.append(results)
        if {"dask", "process_pool"} <= set(modes):
            floors.append((import_seconds(DASK_WORKER_IMPORTS), import_seconds(POOL_WORKER_IMPORTS)))

    def per_round(name: str, value: Callable[[dict[str, PoolRun]], float | None]) -> list[float]:
        return [v for results in rounds if name in results and (v := value(results)) is not None]

    def efficiency(name: str) -> list[float]:
        return per_round(name, lambda r: (r["sequential"].wall / cores) / r[name].wall if "sequential" in r else None)

    def ratio(name: str) -> list[float]:
        return per_round(name, lambda r: r[name].wall / r["process_pool"].wall if "process_pool" in r else None)

    def cell(values: list[float], width: int, digits: int = 2) -> str:
        return f"{statistics.median(values):{width}.{digits}f}" if values else f"{'-':>{width}}"

    print(f"\n  medians over {args.rounds} round(s)")
    print(f"  {'pool':<20} {'wall s':>8} {'efficiency':>11} {'x process pool':>15} {'first sim s':>12} "
          f"{'driver CPU s':>13} {'workers CPU s':>14}")
    for name in modes:
        workers = per_round(name, lambda r: r[name].workers_cpu)
        print(f"  {name:<20} {cell(per_round(name, lambda r: r[name].wall), 8)} {cell(efficiency(name), 11)} "
              f"{cell(ratio(name), 15)} {cell(per_round(name, lambda r: r[name].first_start), 12)} "
              f"{cell(per_round(name, lambda r: r[name].driver_cpu), 13, 1)} {cell(workers, 14, 1)}")
    dask_efficiency, dask_ratio = efficiency("dask"), ratio("dask")
    if dask_efficiency and dask_ratio:
        def spread(values: list[float]) -> str:
            return f"median {statistics.median(values):.2f}, rounds {', '.join(f'{v:.2f}' for v in values)}"

        print(f"\n  targets: dask efficiency {spread(dask_efficiency)} (>= 0.85); "
              f"dask / process pool {spread(dask_ratio)} (<= 1.10)")
    fork_ratio = per_round("dask", lambda r: r["dask"].wall / r["process_pool_fork"].wall
                           if "process_pool_fork" in r else None)
    if fork_ratio:
        print(f"  dask / forking process pool (a user's default ProcessPoolExecutor on Linux) "
              f"median {statistics.median(fork_ratio):.2f}, rounds {', '.join(f'{v:.2f}' for v in fork_ratio)} "
              "(<= 1.10)")
        per_runner = {name: statistics.median(per_round(name, lambda r: r[name].driver_cpu)) / args.scenarios * 1e3
                      for name in ("dask", "process_pool_fork")}
        print(f"  driver CPU per runner: dask {per_runner['dask']:.2f} ms, forking process pool "
              f"{per_runner['process_pool_fork']:.2f} ms")
    later = per_round("dask", lambda r: r["dask"].first_start - r["process_pool"].first_start
                      if "process_pool" in r else None)
    if later:
        print(f"  start-up: dask's first simulation starts {statistics.median(later):.2f} s after the process pool's "
              f"(rounds {', '.join(f'{v:.2f}' for v in later)}; target <= 0.30 s)")
    if floors:
        dask_imports, pool_imports = (statistics.median(column) for column in zip(*floors))
        print(f"  worker imports: a fresh interpreter imports what a Dask worker needs ({DASK_WORKER_IMPORTS}) "
              f"in {dask_imports:.2f} s, what a process-pool worker needs ({POOL_WORKER_IMPORTS}) in {pool_imports:.2f} s: "
              f"{dask_imports - pool_imports:.2f} s more, alone on a core (rounds "
              f"{', '.join(f'{d - p:.2f}' for d, p in floors)})")


# What a worker process must import before its first runner: a Dask worker (which our clusters fork from a
# server that imports it), and a process pool's worker (unpickling run_simulation and the runners).
DASK_WORKER_IMPORTS = "distributed, dask_runner.dask.tasks"
POOL_WORKER_IMPORTS = "dask_runner.runner.run_simulation"


def import_seconds(modules: str) -> float:
    """From launching a fresh interpreter to its having imported ``modules`` (its exit not included)."""
    start = time.time()
    done = subprocess.run([sys.executable, "-c", f"import time\nimport {modules}\nprint(time.time())"],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1]) - start


def warm_pool(cores: int, security: bool = True) -> Any:
    """A DaskDistributed whose workers have run tasks and a small batch already (what a warm pool costs is measured)."""
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners

    pool = DaskDistributed(n_workers=cores, threads_per_worker=1, dashboard_address="127.0.0.1:0", security=security)
    client = pool.client
    client.gather(client.map(noop, range(cores * 4), pure=False))  # warm the workers up
    execute_runners([NoOpRunner(i) for i in range(100)], pool)
    return pool


def overhead_per_runner(pool: Any, count: int) -> float:
    """Seconds per no-op runner of ``execute_runners`` on ``pool``."""
    from dask_runner.execution.executor import execute_runners

    runners = [NoOpRunner(i) for i in range(count)]
    start = time.perf_counter()
    reports = execute_runners(runners, pool)
    elapsed = (time.perf_counter() - start) / count
    assert len(reports) == count and all(r.succeeded for r in reports)
    return elapsed


def measure_overhead(count: int, cores: int) -> None:
    from distributed import wait

    print(f"\n== overhead per runner: {count} no-op runners on a warm DaskDistributed ({cores} workers) ==")
    with warm_pool(cores) as pool:
        client = pool.client
        ours = overhead_per_runner(pool, count)

        start = time.perf_counter()
        futures = [client.submit(noop, i, pure=False) for i in range(count)]
        wait(futures)
        raw = (time.perf_counter() - start) / count
        del futures
    print(f"  execute_runners: {ours * 1e3:7.3f} ms per runner (target <= 0.5 ms)")
    print(f"  raw client.submit, one task each: {raw * 1e3:7.3f} ms per task")
    print(f"  ratio: {ours / raw:.2f}")


def measure_tls_cost(args: argparse.Namespace, cores: int) -> None:
    """The local pool with its default TLS and with ``security=False``, side by side (see the module docstring)."""
    unique = args.unique or args.scenarios
    what = (f"short runners of ~{SHORT_RUNNER_MS:g} ms of pure Python" if args.loops
            else f"IDM simulations ({unique} distinct scenarios)")
    names = {"dask": "TLS (default)", "dask_plain": "plain TCP"}

    def summary(tls: list[float], plain: list[float], unit: str, scale: float, digits: int) -> None:
        ratios = [t / p for t, p in zip(tls, plain)]
        print(f"  medians: TLS {statistics.median(tls) * scale:.{digits}f} {unit}, plain "
              f"{statistics.median(plain) * scale:.{digits}f} {unit}; TLS / plain per round "
              f"{', '.join(f'{r:.3f}' for r in ratios)}: median {statistics.median(ratios):.3f} "
              f"({(statistics.median(ratios) - 1) * 100:+.1f}%)")

    print(f"\n== TLS: {args.scenarios} {what} on {cores} workers, {args.rounds} round(s) ==")
    print("each batch in a fresh Python process (pool start included); the two pools take turns, in alternate order")
    runs: dict[str, list[PoolRun]] = {name: [] for name in names}
    for number, name in taking_turns(list(names), args.rounds):
        result = measure_in_child(name, args, unique, cores)
        runs[name].append(result)
        print(f"  round {number}  {names[name]:<14} {result.wall:8.2f} s wall, CPU: driver {result.driver_cpu:5.2f} s, "
              f"workers {result.workers_cpu or 0:5.2f} s   {result.succeeded}/{args.scenarios} succeeded", flush=True)
    # Wall time is what a user waits for, but on a shared machine it moves with the neighbours; the CPU seconds
    # the batch's own processes spent (encryption and handshakes are CPU) move much less.
    for what, value in (("wall", lambda run: run.wall), ("driver + workers CPU",
                                                          lambda run: run.driver_cpu + (run.workers_cpu or 0))):
        print(f"  {what}:")
        summary([value(run) for run in runs["dask"]], [value(run) for run in runs["dask_plain"]], "s", 1, 2)

    print(f"\n== TLS: overhead per runner, {args.noop} no-op runners on a warm pool of {cores} workers ==")
    print("each pool in a fresh Python process (with two pools in one process, the first one started runs several\n"
          "times slower, TLS or not), taking turns")
    per_runner: dict[str, list[float]] = {name: [] for name in names}
    for number, name in taking_turns(list(names), args.rounds):
        per_runner[name].append(overhead_in_child(name == "dask", args.noop, cores))
        print(f"  round {number}  {names[name]:<14} {per_runner[name][-1] * 1e3:6.3f} ms per runner", flush=True)
    summary(per_runner["dask"], per_runner["dask_plain"], "ms", 1e3, 3)


def taking_turns(names: list[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, name) for ``rounds`` rounds, the names in alternate order each round, so that neither always goes
    first (a slow spell of the machine, or what the first leaves behind, hits both alike)."""
    for number in range(1, rounds + 1):
        for name in names if number % 2 else names[::-1]:
            yield number, name


_OVERHEAD_MARK = "OVERHEAD "


def run_overhead_child(security: bool, count: int, cores: int) -> None:
    """In a fresh interpreter: a warm pool, then the per-runner overhead of ``count`` no-op runners (printed)."""
    with warm_pool(cores, security=security) as pool:
        print(_OVERHEAD_MARK + json.dumps(overhead_per_runner(pool, count)), flush=True)


def overhead_in_child(security: bool, count: int, cores: int) -> float:
    command = [sys.executable, os.path.abspath(__file__), "--child-overhead", "tls" if security else "plain",
               "--noop", str(count), "--cores", str(cores)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_OVERHEAD_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the overhead measurement failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return float(lines[-1][len(_OVERHEAD_MARK):])


@dataclass(frozen=True)
class PageRun:
    scheduler_cpu: float  # CPU seconds of the scheduler process during the batch
    wall: float
    succeeded: int
    page_cpu: float  # of which in the page's own code (its plugin counts it; 0 without the page)


def _start_scheduler(folder: str, cores: int, page: bool) -> tuple[list[subprocess.Popen[bytes]], str]:
    """A `dask scheduler` (with the page's preload or without) and `dask worker` processes; the scheduler file."""
    import dask_runner

    dask_command = os.path.join(os.path.dirname(sys.executable), "dask")
    scheduler_file = os.path.join(folder, "scheduler.json")
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(dask_runner.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": folder}
    preload = ["--preload", "dask_runner.dashboard"] if page else []
    processes = [subprocess.Popen([dask_command, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--dashboard-address", "127.0.0.1:0", "--scheduler-file", scheduler_file, *preload],
                                  **quiet)]  # type: ignore[call-overload]
    deadline = time.monotonic() + 60
    while not os.path.exists(scheduler_file):
        if time.monotonic() > deadline or processes[0].poll() is not None:
            raise RuntimeError("the dask scheduler did not start")
        time.sleep(0.05)
    processes.append(subprocess.Popen([dask_command, "worker", "--scheduler-file", scheduler_file, "--nworkers",
                                       str(cores), "--nthreads", "1", "--host", "127.0.0.1",
                                       "--dashboard-address", "127.0.0.1:0"], **quiet))  # type: ignore[call-overload]
    return processes, scheduler_file


def _watch_status(url: str, stop: threading.Event) -> None:
    """What a person (or a script) watching the batch costs: one status.json a second."""
    import urllib.request

    while not stop.wait(1.0):
        with urllib.request.urlopen(url, timeout=10) as response:
            json.load(response)


def _page_cpu(url: str | None) -> float:
    import urllib.request

    if url is None:
        return 0.0
    with urllib.request.urlopen(url, timeout=10) as response:
        return float(json.load(response).get("page_cpu_s", 0.0))


def run_page_child(page: bool, count: int, unique: int, cores: int) -> None:
    """In a fresh interpreter: one batch on a scheduler process with or without the page; prints a PageRun."""
    import tempfile

    import dask

    from dask_runner.dashboard.install import status_link
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners

    runners = build_runners(count, unique)
    with tempfile.TemporaryDirectory() as folder:
        processes, scheduler_file = _start_scheduler(folder, cores, page)
        try:
            with dask.config.set({"dask_runner.simulations-page": page}), \
                    DaskDistributed(scheduler_file=scheduler_file) as pool:
                pool.client.wait_for_workers(cores, timeout=120)
                execute_runners(build_runners(4 * cores, unique), pool)  # warm the workers up (imports, caches)
                scheduler = psutil.Process(processes[0].pid)
                stop = threading.Event()
                url = status_link(pool.client)
                watcher = threading.Thread(target=_watch_status, args=(url, stop), daemon=True)
                if page and url:
                    watcher.start()
                page_before = _page_cpu(url) if page else 0.0
                before = scheduler.cpu_times()
                start = time.perf_counter()
                reports = execute_runners(runners, pool, experiment_name="benchmark")
                wall = time.perf_counter() - start
                after = scheduler.cpu_times()
                stop.set()
                page_cpu = _page_cpu(url) - page_before if page else 0.0
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    cpu = (after.user + after.system) - (before.user + before.system)
    result = PageRun(cpu, wall, sum(1 for r in reports if r.succeeded), page_cpu)
    print(_RESULT_MARK + json.dumps(dataclasses.asdict(result)), flush=True)


def measure_page_cost(args: argparse.Namespace, cores: int) -> None:
    count, unique = args.page_runners, args.unique or min(args.page_runners, 64)
    print(f"\n== the Simulations page's cost to the scheduler: {count} IDM simulations, {cores} worker processes, "
          f"{args.rounds} round(s) ==")
    cpu: dict[bool, list[float]] = {False: [], True: []}
    own: list[float] = []
    for number in range(1, args.rounds + 1):
        for page in (False, True):
            command = [sys.executable, os.path.abspath(__file__), "--child-page", "on" if page else "off",
                       "--page-runners", str(count), "--unique", str(unique), "--cores", str(cores)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_MARK)]
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"the page measurement failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            result = PageRun(**json.loads(lines[-1][len(_RESULT_MARK):]))
            per_thousand = result.scheduler_cpu * 1000 / count
            cpu[page].append(per_thousand)
            if page:
                own.append(result.page_cpu * 1000 / count)
            print(f"  round {number}  page {'on ' if page else 'off'}  scheduler CPU {per_thousand:6.3f} s per 1000 "
                  f"runners   wall {result.wall:6.1f} s   {result.succeeded}/{count} succeeded"
                  + (f"   page's own code {own[-1]:.4f} s" if page else ""), flush=True)
    off, on = statistics.median(cpu[False]), statistics.median(cpu[True])
    ratios = [b / a for a, b in zip(cpu[False], cpu[True]) if a > 0]
    print(f"  medians: scheduler CPU per 1000 runners {off:.3f} s without the page, {on:.3f} s with it: "
          f"ratio {on / off:.3f} (rounds {', '.join(f'{r:.3f}' for r in ratios)}; target < 1.05)")
    print(f"  the page's own code on the scheduler (events, snapshots, status.json each second): "
          f"{statistics.median(own):.4f} s per 1000 runners = {statistics.median(own) / off:.2%} of the scheduler's "
          "CPU without the page (the A/B ratio above also carries the machine's noise)")


class PeakRss:
    """Samples this process's RSS in a thread; ``peak`` is the largest seen."""

    def __init__(self, interval: float = 0.01) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_driver_memory(count: int, cores: int) -> None:
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners

    print(f"\n== driver memory with {count} queued no-op runners ==")
    rss = psutil.Process().memory_info().rss
    with DaskDistributed(n_workers=cores, threads_per_worker=1, dashboard_address="127.0.0.1:0") as pool:
        gc.collect()
        before_runners = psutil.Process().memory_info().rss
        runners = [NoOpRunner(i) for i in range(count)]
        before_run = psutil.Process().memory_info().rss
        with PeakRss() as peak:
            start = time.perf_counter()
            reports = execute_runners(runners, pool)
            wall = time.perf_counter() - start
        assert len(reports) == count
    print(f"  RSS at start {rss / MiB:.0f} MiB; with the pool {before_runners / MiB:.0f} MiB; "
          f"with {count} runners built {before_run / MiB:.0f} MiB")
    print(f"  peak while running {peak.peak / MiB:.0f} MiB: +{(peak.peak - before_run) / MiB:.0f} MiB over the "
          f"built batch ({(peak.peak - before_run) / count:.0f} bytes per runner, reports included), "
          f"{wall:.1f} s")


def run_scale_child(count: int, workers: int) -> None:
    """In a fresh interpreter: ``count`` no-op runners through a warm ``DaskDistributed`` of ``workers`` processes.

    Prints the cluster's start, the per-runner overhead of ``execute_runners`` (its wall time over the
    runners, the cluster warm) and this driver process's peak RSS (``ru_maxrss``: the scheduler, which a
    LocalCluster runs in the driver, the runners built by the script and the million reports included).
    """
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners

    start_rss = psutil.Process().memory_info().rss
    start = time.perf_counter()
    pool = DaskDistributed(n_workers=workers, threads_per_worker=1, dashboard_address="127.0.0.1:0")
    with pool:
        pool.client.wait_for_workers(workers, timeout=300)
        cluster_start = time.perf_counter() - start
        execute_runners([NoOpRunner(i) for i in range(min(count, 20 * workers))], pool)  # warm every worker up
        gc.collect()
        pool_rss = psutil.Process().memory_info().rss
        start = time.perf_counter()
        runners = [NoOpRunner(i) for i in range(count)]
        build = time.perf_counter() - start
        built_rss = psutil.Process().memory_info().rss
        driver_cpu = cpu_seconds()
        start = time.perf_counter()
        reports = execute_runners(runners, pool)
        wall = time.perf_counter() - start
        driver_cpu = cpu_seconds() - driver_cpu
        end_rss = psutil.Process().memory_info().rss
        succeeded = sum(1 for r in reports if r.succeeded)
        assert len(reports) == count, f"{len(reports)} reports for {count} runners"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    result = {"count": count, "workers": workers, "cluster_start_s": cluster_start, "build_s": build, "wall_s": wall,
              "succeeded": succeeded, "driver_cpu_s": driver_cpu, "start_rss": start_rss, "pool_rss": pool_rss,
              "built_rss": built_rss, "end_rss": end_rss, "peak_rss": peak}
    print(_RESULT_MARK + json.dumps(result), flush=True)


def measure_scale(count: int, workers: int) -> None:
    """The scale case of issue #14, in a fresh process so that its peak RSS is this batch's alone."""
    cores = len(psutil.Process().cpu_affinity() or []) or os.cpu_count()
    print(f"\n== scale: {count} no-op runners through DaskDistributed, LocalCluster n_workers={workers}, "
          f"threads_per_worker=1, on {cores} cores ==")
    print("  no-op runners do no work, so more worker processes than cores only measure dask_runner's and Dask's "
          "own cost per runner")
    command = [sys.executable, os.path.abspath(__file__), "--child-scale", str(count), "--cores", str(workers)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the scale measurement failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    r = json.loads(lines[-1][len(_RESULT_MARK):])
    per_runner_ms = r["wall_s"] / count * 1e3
    print(f"  cluster start (not counted below): {r['cluster_start_s']:.1f} s; building the runners: {r['build_s']:.1f} s")
    print(f"  execute_runners: {r['wall_s']:.1f} s for {count} runners, {r['succeeded']} succeeded; driver CPU "
          f"{r['driver_cpu_s']:.1f} s (the in-process scheduler included)")
    print(f"  overhead per runner: {per_runner_ms:.3f} ms (target <= 0.2 ms: {'met' if per_runner_ms <= 0.2 else 'NOT met'})")
    print(f"  driver RSS: {r['start_rss'] / MiB:.0f} MiB at start, {r['pool_rss'] / MiB:.0f} MiB with the warm pool, "
          f"{r['built_rss'] / MiB:.0f} MiB with the runners built, {r['end_rss'] / MiB:.0f} MiB at the end "
          "(the reports held)")
    peak_gb = r["peak_rss"] / 1e9
    print(f"  driver peak RSS: {r['peak_rss'] / MiB:.0f} MiB = {peak_gb:.2f} GB (target < 1.5 GB: "
          f"{'met' if peak_gb < 1.5 else 'NOT met'}); {(r['peak_rss'] - r['pool_rss']) / count:.0f} bytes per runner "
          "over the warm pool (runners and reports included)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=1024, help="simulations in the pool comparison")
    parser.add_argument("--unique", type=int, default=None,
                        help="distinct generated scenarios, cycled (default: all distinct)")
    parser.add_argument("--noop", type=int, default=2000, help="no-op runners for the overhead measurement")
    parser.add_argument("--queued", type=int, default=20000, help="no-op runners for the driver-memory measurement")
    parser.add_argument("--cores", "--workers", type=int, default=None,
                        help="workers per pool (default: usable cores)")
    parser.add_argument("--skip", nargs="*", default=[], choices=MODES + ("overhead", "memory"),
                        help="parts to leave out")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds of the pool comparison, medians printed (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes and one round, for a smoke test")
    parser.add_argument("--page", action="store_true",
                        help="only measure the Simulations page's cost to the scheduler (with and without it)")
    parser.add_argument("--page-runners", type=int, default=1000, help="IDM simulations per page measurement")
    parser.add_argument("--tls", action="store_true",
                        help="only compare the local pool with its default TLS and with security=False")
    parser.add_argument("--child", choices=MODES + ("dask_plain",), help=argparse.SUPPRESS)  # one measurement, in a fresh process
    parser.add_argument("--child-page", choices=("on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--child-overhead", choices=("tls", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--child-scale", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=("idm", "short", "noop"), default="idm",
                        help=f"idm: built-in IDM simulations; short: runners of ~{SHORT_RUNNER_MS:g} ms of pure Python; "
                             "noop: only the scale case, --scenarios no-op runners on a warm DaskDistributed")
    parser.add_argument("--loops", type=int, default=0, help=argparse.SUPPRESS)  # the short runners' size, set once
    args = parser.parse_args(argv)
    if args.quick:
        args.scenarios, args.unique, args.noop, args.queued, args.page_runners = 16, 8, 200, 1000, 64
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    from dask_runner.dask.clusters.local import usable_cpu_count

    cores = args.cores or usable_cpu_count()
    if args.child_scale:
        run_scale_child(args.child_scale, cores)
        return 0
    if args.child:
        run_child(args.child, args.scenarios, args.unique or args.scenarios, cores, args.loops)
        return 0
    if args.child_overhead:
        run_overhead_child(args.child_overhead == "tls", args.noop, cores)
        return 0
    if args.workload == "short" and not args.loops:
        args.loops = loops_for(SHORT_RUNNER_MS)  # measured once here, the same for every pool
    if args.child_page:
        run_page_child(args.child_page == "on", args.page_runners, args.unique or 64, cores)
        return 0
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}, {usable_cpu_count()} usable cores, {cores} workers per pool")
    if args.page:
        measure_page_cost(args, cores)
        return 0
    if args.tls:
        measure_tls_cost(args, cores)
        return 0
    if args.workload == "noop":
        measure_scale(args.scenarios, cores)
        return 0
    compare_pools(args, cores)
    if "overhead" not in args.skip:
        measure_overhead(args.noop, cores)
    if "memory" not in args.skip:
        measure_driver_memory(args.queued, cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
