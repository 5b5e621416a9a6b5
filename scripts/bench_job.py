"""Wall time of the job `make run` runs (`dask-runner simulate`, the defaults), end to end, in fresh processes.

    python scripts/bench_job.py                                # 6 runs of this checkout
    python scripts/bench_job.py --compare ../older-checkout    # interleaved with another checkout: the ratio

Each run is a new Python process, as a user's command is: configuration, scenarios, the local Dask
cluster, the batch (16 scenarios, IDM planner, metrics and simulation logs) and the outputs (reports,
metrics, report.html), into a fresh folder. ``--compare`` runs another checkout of dask_runner (a
``git worktree`` of an older commit, say) with this Python, turn about, and prints the median of the
per-round ratios: on a shared machine compare those, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
COMMAND = "import sys; from dask_runner.cli import main; sys.exit(main())"


def run_job(checkout: Path, folder: Path, overrides: list[str]) -> float:
    """Seconds the default job takes with ``checkout``'s dask_runner, writing into ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", COMMAND, "simulate", f"output_dir={folder}", *overrides],
                          env=env, cwd=folder.parent, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the job with {checkout} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--compare", type=Path, help="another checkout of dask_runner, run turn about with this one")
    parser.add_argument("overrides", nargs="*", help="overrides for both jobs, e.g. scenario_filter.limit_total_scenarios=64")
    args = parser.parse_args(argv)
    checkouts = {"this": HERE}
    if args.compare is not None:
        if not (args.compare / "dask_runner" / "__init__.py").is_file():
            parser.error(f"--compare {args.compare} is not a dask_runner checkout (no dask_runner/__init__.py)")
        checkouts["compared"] = args.compare.resolve()
    seconds: dict[str, list[float]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory(prefix="bench-job-") as scratch:
        for number in range(1, args.rounds + 1):
            for name, checkout in checkouts.items():
                folder = Path(scratch) / f"{name}-{number}"
                seconds[name].append(run_job(checkout, folder, args.overrides))
                shutil.rmtree(folder, ignore_errors=True)
            print(f"  round {number}: " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in seconds.items()),
                  flush=True)
    for name, values in seconds.items():
        print(f"{name:9s} median {statistics.median(values):.2f} s over {len(values)} runs")
    if "compared" in seconds:
        ratios = [a / b for a, b in zip(seconds["this"], seconds["compared"])]
        print(f"this / compared: median {statistics.median(ratios):.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
