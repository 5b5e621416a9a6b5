"""What simulation logs cost: the default job's CPU with logs on against off, and bytes and CPU per log by format.

Usage: python scripts/bench_logs.py [--scenarios N] [--rounds R] [--baseline-checkout DIR] [-- extra overrides]

1. The whole job: ``dask-runner simulate worker=sequential scenario_filter.limit_total_scenarios=N`` (the
   default job otherwise: IDM planner, metrics, report.html) with ``callback=default`` (simulation logs
   and timings) and with ``callback=none``, each in a fresh Python process, taking turns for R rounds.
   The figure is the CPU time of the child process (user + system, from the operating system's account
   of finished children), which other load on a shared machine disturbs far less than wall time. The
   ratio of the medians is printed against the target of 1.3, and so is each round's ratio (the two
   runs of a round share the load of the moment) and their median. ``--baseline-checkout`` adds a third
   column: the same job with logs on, run from another dask_runner checkout (e.g. an earlier commit).
2. Per log: the logs the first ``callback=default`` round wrote are read back and written again, in this
   process, in today's format (``.msgpack.zst``) and in format version 1 (``.msgpack.xz``, xz preset 1,
   what dask_runner wrote before), R times each, interleaved: median CPU ms per log, mean and largest
   bytes, and the largest per-log ratio of new to old bytes. ``--levels`` also prints the zstd levels
   measured to choose the one the writer uses.
"""

from __future__ import annotations

import argparse
import lzma
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_RATIO = 1.3  # logs on at most 1.3 times the CPU of logs off
ROOT = Path(__file__).resolve().parents[1]


def job_cpu_s(checkout: Path, output_dir: Path, scenarios: int, callback: str, extra: Sequence[str]) -> float:
    """CPU seconds (user + system) of one ``dask-runner simulate`` process run from ``checkout``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "dask_runner.cli", "simulate", "worker=sequential",
               f"scenario_filter.limit_total_scenarios={scenarios}", f"callback={callback}",
               f"output_dir={output_dir}", "show_progress=false", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, cwd=checkout, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_jobs(args: argparse.Namespace, work: Path) -> Path:
    """Part 1; returns the simulation_logs folder of the first run with logs on."""
    variants = {"logs on": (ROOT, "default"), "logs off": (ROOT, "none")}
    if args.baseline_checkout:
        variants["logs on, baseline checkout"] = (Path(args.baseline_checkout).resolve(), "default")
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for number in range(1, args.rounds + 1):
        for name, (checkout, callback) in variants.items():  # interleaved: a slow spell hits every variant
            out = work / f"{name.replace(' ', '_').replace(',', '')}-{number}"
            cpu[name].append(job_cpu_s(checkout, out, args.scenarios, callback, args.extra))
        print(f"round {number}: " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in cpu.items()),
              flush=True)
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"\nwhole-process CPU of `dask-runner simulate worker=sequential "
          f"scenario_filter.limit_total_scenarios={args.scenarios}`, median of {args.rounds} round(s):")
    for name, median in medians.items():
        print(f"  {name:28s} {median:7.2f} s")
    ratio = medians["logs on"] / medians["logs off"]
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"logs on / logs off: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    # The two runs of one round share the machine's load of the moment: their ratio is less noisy.
    per_round = [on / off for on, off in zip(cpu["logs on"], cpu["logs off"])]
    print(f"per round: {', '.join(f'{r:.2f}' for r in per_round)}; median {statistics.median(per_round):.2f}")
    if args.baseline_checkout:
        print(f"baseline checkout, logs on / logs off: {medians['logs on, baseline checkout'] / medians['logs off']:.2f}")
    return work / "logs_on-1" / "simulation_logs"


def measure_logs(log_dir: Path, rounds: int, levels: bool) -> None:
    """Part 2: bytes and CPU per log, today's format against version 1."""
    sys.path.insert(0, str(ROOT))  # the checkout whose jobs were measured, whatever is installed
    from dask_runner.simulation.simulation_log import SimulationLog, _to_msgpack

    logs = [SimulationLog.load_data(p) for p in sorted(log_dir.rglob("*.msgpack.zst"))]
    formats = {"today (.msgpack.zst)": ".msgpack.zst", "version 1 (.msgpack.xz)": ".msgpack.xz"}
    cpu_ms: dict[str, list[float]] = {name: [] for name in formats}
    sizes: dict[str, list[int]] = {name: [] for name in formats}
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(rounds):
            for name, suffix in formats.items():
                paths = [Path(tmp) / f"{i}{suffix}" for i in range(len(logs))]
                start = time.process_time()
                for log, path in zip(logs, paths):
                    SimulationLog(path, log.scenario, log.planner_name, log.simulation_history).save_to_file()
                cpu_ms[name].append((time.process_time() - start) / len(logs) * 1e3)
                if number == 0:
                    sizes[name] = [p.stat().st_size for p in paths]
    print(f"\nper log, {len(logs)} logs of the default job (CPU to build and write one, median of {rounds}):")
    print(f"  {'format':26s} {'CPU ms':>7s} {'mean KiB':>9s} {'max KiB':>8s}")
    for name in formats:
        print(f"  {name:26s} {statistics.median(cpu_ms[name]):7.2f} {statistics.mean(sizes[name]) / 1024:9.1f} "
              f"{max(sizes[name]) / 1024:8.1f}")
    new, old = sizes["today (.msgpack.zst)"], sizes["version 1 (.msgpack.xz)"]
    print(f"  largest per-log ratio of today's bytes to version 1's: {max(n / o for n, o in zip(new, old)):.3f}")
    if not levels:
        return
    import zstandard

    # The chosen level: version 2's payload under each zstd level, against version 1's payload under xz.
    payloads = {version: [_to_msgpack(log, version) for log in logs] for version in (1, 2)}
    print(f"\n  {'compression of the msgpack payload':40s} {'CPU ms':>7s} {'mean KiB':>9s}")
    candidates = [("version 1, xz preset 1 (before)", 1, lambda b: lzma.compress(b, preset=1))]
    for level in (1, 3, 6, 9, 19):
        compressor = zstandard.ZstdCompressor(level=level)
        candidates.append((f"version 2, zstd level {level}", 2, compressor.compress))
    for label, version, compress in candidates:
        start = time.process_time()
        total = sum(len(compress(payload)) for payload in payloads[version])
        ms = (time.process_time() - start) / len(logs) * 1e3
        print(f"  {label:40s} {ms:7.2f} {total / len(logs) / 1024:9.1f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=64, help="scenario_filter.limit_total_scenarios")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-checkout", help="another dask_runner checkout to run with logs on, side by side")
    parser.add_argument("--levels", action="store_true", help="also print the zstd level table")
    parser.add_argument("extra", nargs="*", help="extra overrides for every simulate run (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        log_dir = measure_jobs(args, Path(work))
        measure_logs(log_dir, args.rounds, args.levels)


if __name__ == "__main__":
    main()
