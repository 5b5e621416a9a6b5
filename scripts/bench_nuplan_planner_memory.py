"""Peak memory of nuPlan's own run_simulation.py with planners built in the driver vs on the workers.

    python scripts/bench_nuplan_planner_memory.py --python NUPLAN_ENV/bin/python --devkit NUPLAN_DEVKIT

Runs nuplan-devkit's unmodified script on its dataset-free mock scenarios (tests/nuplan/nuplan_parts.py) with
``worker=dask_distributed worker.n_workers=2`` and a planner holding ``--megabytes`` MB (BallastPlanner, a
SimplePlanner with ballast, as a learned planner holds its weights), once as nuPlan builds it (every planner
in the driver, one per scenario) and once wrapped in ``dask_runner.nuplan.PlannerOnWorker`` (built on the
worker that runs it), for each scenario count. It samples the resident memory of the driver and of every
process it starts (every 0.1 s) and prints the peaks: driver, largest other process, and all together.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
PARTS = REPO / "tests" / "nuplan"
PLANNER = "{_target_:nuplan_parts.BallastPlanner,megabytes:%d,horizon_seconds:10.0,sampling_time:0.25,acceleration:[0.0,0.0]}"
COMMON = [
    "+simulation=closed_loop_nonreactive_agents", "planner=simple_planner", "~planner.simple_planner",
    "ego_controller.motion_model.vehicle={_target_:nuplan.common.actor_state.vehicle_parameters.get_pacifica_parameters}",
    "main_callback=[time_callback,metric_file_callback,metric_aggregator_callback]",
    "selected_simulation_metrics=[ego_jerk_statistics,ego_lat_acceleration_statistics]",
    "scenario_builder=mock_abstract_scenario_builder", "scenario_builder._target_=nuplan_parts.NamedMockScenarioBuilder",
    "worker=dask_distributed", "worker.n_workers=2",
]


def planner_override(megabytes: int, on_worker: bool) -> str:
    node = PLANNER % megabytes
    if on_worker:
        node = "{_target_:dask_runner.nuplan.PlannerOnWorker,_recursive_:false,planner:%s}" % node
    return f"+planner.ballast={node}"


def run(python: str, devkit: str, scenarios: int, megabytes: int, on_worker: bool, scratch: Path) -> dict[str, float]:
    output = scratch / f"{scenarios}-{'worker' if on_worker else 'driver'}"
    roots = {name: scratch / name for name in ("exp", "data", "maps")}
    for root in roots.values():
        root.mkdir(exist_ok=True)
    env = {**os.environ, "NUPLAN_SIMULATION_ALLOW_ANY_BUILDER": "1", "NUPLAN_EXP_ROOT": str(roots["exp"]),
           "NUPLAN_DATA_ROOT": str(roots["data"]), "NUPLAN_MAPS_ROOT": str(roots["maps"]),
           "PYTHONPATH": os.pathsep.join([str(PARTS), str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [python, str(Path(devkit) / "nuplan/planning/script/run_simulation.py"), *COMMON,
               f"scenario_builder.num_scenarios={scenarios}", planner_override(megabytes, on_worker),
               f"output_dir={output}"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    driver = psutil.Process(process.pid)
    peaks: dict[int, int] = {}
    peak_total = 0
    while process.poll() is None:
        total = 0
        try:
            family = [driver, *driver.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in family:
            try:
                rss = member.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            peaks[member.pid] = max(peaks.get(member.pid, 0), rss)
            total += rss
        peak_total = max(peak_total, total)
        time.sleep(0.1)
    _, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"nuPlan's script failed ({process.returncode}): {stderr[-2000:]}")
    others = [rss for pid, rss in peaks.items() if pid != process.pid]
    return {"driver": peaks.get(process.pid, 0) / 1e9, "largest_other": max(others, default=0) / 1e9,
            "all": peak_total / 1e9, "wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="the interpreter of the nuPlan environment")
    parser.add_argument("--devkit", required=True, help="the nuplan-devkit checkout")
    parser.add_argument("--scenarios", type=int, nargs="+", default=[8, 48])
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()
    print(f"{'planners built':<16} {'scenarios':>9} {'driver GB':>10} {'largest other GB':>17} {'all GB':>7} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for on_worker in (False, True):
            for scenarios in args.scenarios:
                peak = run(args.python, args.devkit, scenarios, args.megabytes, on_worker, Path(scratch))
                where = "on the workers" if on_worker else "in the driver"
                print(f"{where:<16} {scenarios:>9} {peak['driver']:>10.2f} {peak['largest_other']:>17.2f} "
                      f"{peak['all']:>7.2f} {peak['wall_s']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
