"""What a job's outputs cost against its batch: runner_report.parquet, the metrics consolidation and report.html.

Usage: python scripts/bench_outputs.py --scenarios N [--rounds R] [--work DIR] [-- extra overrides]
       python scripts/bench_outputs.py --folder DIR [--rounds R]

1. With ``--scenarios N``, runs the default job ``dask-runner simulate scenario_filter.limit_total_scenarios=N``
   (IDM planner, metrics, simulation logs, the default local Dask cluster) into ``--work`` (a temporary
   folder unless given) and keeps its folder; ``--folder`` reuses the folder of a finished job instead
   (e.g. a 10,000-scenario job produced once).
2. The batch's time is read from the folder itself: from the first runner's start to the last runner's
   end in its reports (the cluster's start-up and the job's imports are left out, so the ratios printed
   are, if anything, too high).
3. Each output step the end of a job runs is timed in this process, R rounds, writing into a scratch
   folder so the job's folder is left as it was: consolidating ``reports/`` into
   ``runner_report.parquet``, reading the metric rows and writing ``aggregator_metric/``, and building
   and writing ``report.html`` from the tables the first step read, as a job does; and, apart, ``dask-runner
   report``, which reads the folder again. The first round pays the imports, as a job does; the table gives the
   first round and the median of the others, each as a fraction of the batch's time, and the size of
   report.html. Target: all outputs together in under 10% of the batch's time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_FRACTION = 0.10  # all outputs together in under 10% of the batch's time
ROOT = Path(__file__).resolve().parents[1]
REPORT_COMMAND = "`dask-runner report` (apart)"


def run_job(folder: Path, scenarios: int, extra: list[str]) -> float:
    """Run the default job into ``folder``; returns its wall time (the whole process)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "dask_runner.cli", "simulate", f"scenario_filter.limit_total_scenarios={scenarios}",
               f"output_dir={folder}", "show_progress=false", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def batch_seconds(folder: Path) -> tuple[float, int]:
    """From the first runner's start to the last runner's end, and the number of runners, from the reports."""
    from dask_runner.io.report_store import ReportStore

    reports = ReportStore(folder / "reports").to_dataframe()
    if reports.empty:
        raise SystemExit(f"{folder} holds no runner reports")
    return float(reports["end_time"].max() - reports["start_time"].min()), len(reports)


def output_steps(folder: Path, scratch: Path) -> dict[str, Callable[[], object]]:
    """The end-of-job steps of :func:`dask_runner.experiment.job.finish_job`, in its order, writing into
    ``scratch``; then ``dask-runner report`` (which reads the folder again), measured apart."""
    from dask_runner.experiment.job import consolidate_outputs
    from dask_runner.io.output_dir import OutputLayout, atomic_write_bytes
    from dask_runner.io.report_store import ReportStore
    from dask_runner.report.html_report import build_html

    layout = OutputLayout(folder)
    tables: list[Any] = []

    def consolidate() -> None:
        tables[:] = [consolidate_outputs(layout, ReportStore(layout.reports_dir), into=scratch)]

    def html_of_the_job() -> None:
        atomic_write_bytes(scratch / "report.html", build_html(folder, tables=tables[0]).encode())

    def report_command() -> None:
        atomic_write_bytes(scratch / "report-command.html", build_html(folder).encode())

    return {"runner_report + aggregator_metric": consolidate, "report.html": html_of_the_job,
            REPORT_COMMAND: report_command}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenarios", type=int, help="run the default job on this many scenarios first")
    source.add_argument("--folder", type=Path, help="the output folder of a finished job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, help="where --scenarios writes its job (default: a temporary folder)")
    parser.add_argument("extra", nargs="*", help="extra overrides for the job (after --)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # the checkout measured, whatever is installed

    if args.folder is not None:
        folder = args.folder.resolve()
    else:
        work = args.work or Path(tempfile.mkdtemp(prefix="bench_outputs-"))
        folder = work / f"job-{args.scenarios}"
        wall = run_job(folder, args.scenarios, args.extra)
        print(f"job of {args.scenarios} scenarios: {wall:.1f} s wall, folder {folder}")
    batch, runners = batch_seconds(folder)
    print(f"batch: {runners} runners, {batch:.1f} s from the first runner's start to the last one's end")

    with tempfile.TemporaryDirectory(prefix="bench_outputs-scratch-") as tmp:
        scratch = Path(tmp)
        steps = output_steps(folder, scratch)
        seconds: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                seconds[name].append(time.perf_counter() - start)
        html_bytes = (scratch / "report.html").stat().st_size

    print(f"\noutput steps, wall seconds in this process (first round with the imports; median of rounds 2-{args.rounds}):")
    print(f"  {'step':34s} {'first':>8s} {'× batch':>8s} {'median':>8s} {'× batch':>8s}")
    first_total = median_total = 0.0
    for name, values in seconds.items():
        first = values[0]
        median = statistics.median(values[1:]) if len(values) > 1 else first
        if name == REPORT_COMMAND:
            print(f"  {'all outputs of the job':34s} {first_total:8.2f} {first_total / batch:8.3f} "
                  f"{median_total:8.2f} {median_total / batch:8.3f}")
        else:
            first_total += first
            median_total += median
        print(f"  {name:34s} {first:8.2f} {first / batch:8.3f} {median:8.2f} {median / batch:8.3f}")
    verdict = "met" if first_total / batch < TARGET_FRACTION else "NOT met"
    print(f"outputs / batch (first round): {first_total / batch:.3f} (target < {TARGET_FRACTION}: {verdict})")
    print(f"report.html: {html_bytes / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
