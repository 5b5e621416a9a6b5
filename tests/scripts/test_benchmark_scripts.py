"""The benchmark scripts users run to check the speed figures of the README: they run and report every part."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import cli_env

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

pytestmark = pytest.mark.slow


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True,
                          timeout=240, check=False, env=cli_env())  # this checkout first on the import path
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_pool_benchmark_measures_each_pool_in_rounds_and_reports_the_targets(tmp_path: Path) -> None:
    out = run("benchmark.py", "--quick", "--rounds", "2", "--skip", "parallel_threads", "ray", "memory")
    pools = ("sequential", "parallel_processes", "process_pool", "process_pool_fork", "dask")
    for number in (1, 2):
        for pool in pools:
            assert re.search(rf"round {number}\s+{pool}\s+[\d.]+ s\s+16/16 succeeded", out), out
    table = out[out.index("medians over 2 round(s)"):]
    for pool in pools:
        row = re.search(rf"^\s+{pool}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", table, re.MULTILINE)
        assert row is not None, table
        assert float(row.group(1)) > 0 and float(row.group(2)) > 0
    assert re.search(r"^\s+process_pool\s+[\d.]+\s+[\d.]+\s+1\.00\s", table, re.MULTILINE), table
    targets = re.search(r"dask efficiency median ([\d.]+), rounds ([\d.]+), ([\d.]+) \(>= 0\.85\); "
                        r"dask / process pool median ([\d.]+), rounds ([\d.]+), ([\d.]+)", out)
    assert targets is not None, out
    assert re.search(r"dask / forking process pool \(a user's default ProcessPoolExecutor on Linux\) median [\d.]+, "
                     r"rounds [\d.]+, [\d.]+ \(<= 1\.10\)", out), out
    assert re.search(r"driver CPU per runner: dask [\d.]+ ms, forking process pool [\d.]+ ms", out), out
    assert re.search(r"execute_runners:\s+[\d.]+ ms per runner", out), out


def test_substrate_benchmark_reports_each_planner_against_the_target() -> None:
    out = run("bench_substrate.py", "--per-type", "1", "--repeats", "1")
    for planner in ("SimplePlanner", "IDMPlanner", "LogFuturePlanner"):
        assert re.search(rf"^{planner}\s+[\d.]+ \(\s*[\d.]+\)", out, re.MULTILINE), out
    best = re.search(r"IDMPlanner \+ metrics: ([\d.]+) ms at best, ([\d.]+)x the 15 ms target", out)
    assert best is not None and float(best.group(1)) > 0, out


def test_page_benchmark_reports_the_scheduler_cpu_with_and_without_the_page() -> None:
    out = run("benchmark.py", "--page", "--quick")  # cli_env(): the scheduler's --preload loads this checkout
    for page in ("off", "on "):
        assert re.search(rf"round 1  page {page}  scheduler CPU\s+[\d.]+ s per 1000 runners .* 64/64 succeeded", out), out
    assert re.search(r"medians: scheduler CPU per 1000 runners [\d.]+ s without the page, [\d.]+ s with it: "
                     r"ratio [\d.]+", out), out
    assert re.search(r"the page's own code on the scheduler .*: [\d.]+ s per 1000 runners = [\d.]+% of", out), out


def test_tls_benchmark_prints_both_pools_side_by_side_with_their_ratios() -> None:
    out = run("benchmark.py", "--tls", "--quick", "--workload", "short")
    for pool in ("TLS \\(default\\)", "plain TCP"):
        assert re.search(rf"round 1  {pool}\s+[\d.]+ s wall, CPU: driver\s+[\d.]+ s, workers\s+[\d.]+ s   16/16", out), out
    assert len(re.findall(r"medians: TLS [\d.]+ s, plain [\d.]+ s; TLS / plain per round [\d.]+: median", out)) == 2, out
    for pool in ("TLS \\(default\\)", "plain TCP"):
        assert re.search(rf"round 1  {pool}\s+[\d.]+ ms per runner", out), out
    assert re.search(r"medians: TLS [\d.]+ ms, plain [\d.]+ ms; TLS / plain per round", out), out


def test_log_benchmark_compares_logs_on_and_off_and_both_formats() -> None:
    out = run("bench_logs.py", "--scenarios", "4", "--rounds", "1", "--levels")
    assert re.search(r"^round 1: logs on [\d.]+ s, logs off [\d.]+ s$", out, re.MULTILINE), out
    ratio = re.search(r"^logs on / logs off: ([\d.]+) \(target <= 1\.3: (met|NOT met)\)$", out, re.MULTILINE)
    assert ratio is not None and float(ratio.group(1)) > 0, out
    for name in (r"today \(\.msgpack\.zst\)", r"version 1 \(\.msgpack\.xz\)"):
        row = re.search(rf"^  {name}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.MULTILINE)
        assert row is not None and float(row.group(2)) > 0, out
    assert re.search(r"largest per-log ratio of today's bytes to version 1's: [\d.]+", out), out
    assert re.search(r"^  version 2, zstd level 3\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE), out


def test_ml_planner_benchmark_prints_the_lockstep_ratio() -> None:
    out = run("bench_ml_planner.py", "--scenarios", "4", "--group-size", "4", "--rounds", "1")
    assert re.search(r"round 1: one at a time [\d.]+/s, lockstep [\d.]+/s, ratio [\d.]+", out), out
    assert re.search(r"\| lockstep groups of 4 \(one forward pass per step\) \| [\d.]+ \| [\d.]+ \|", out), out


def test_ml_planner_evaluation_prints_a_score_per_scenario_type() -> None:
    out = run("eval_ml_planner.py", "--scenarios", "7")
    table = out[out.index("7 held-out generated scenarios"):]
    assert len(re.findall(r"^\| \w+ \| 1 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$", table, re.MULTILINE)) >= 7, out


def test_pool_benchmark_runs_the_short_runner_case() -> None:
    out = run("benchmark.py", "--workload", "short", "--scenarios", "32", "--rounds", "1", "--skip", "parallel_threads",
              "parallel_processes", "ray", "overhead", "memory")
    assert re.search(r"== 32 short runners of ~13 ms of pure Python \(\d+ loops\) on \d+ cores", out), out
    for pool in ("sequential", "process_pool", "dask"):
        assert re.search(rf"round 1  {pool}\s+[\d.]+ s   32/32 succeeded", out), out
    assert re.search(r"targets: dask efficiency median [\d.]+.*dask / process pool median [\d.]+", out), out
    assert re.search(r"start-up: dask's first simulation starts -?[\d.]+ s after the process pool's", out), out
    floor = re.search(r"worker imports: .* in ([\d.]+) s, .* in ([\d.]+) s: (-?[\d.]+) s more", out)
    assert floor is not None, out
    assert float(floor.group(1)) > 0 and float(floor.group(2)) > 0


def test_job_benchmark_times_the_default_job_against_another_checkout(tmp_path: Path) -> None:
    checkout = str(Path(__file__).resolve().parents[2])
    out = run("bench_job.py", "--rounds", "1", "--compare", checkout, "scenario_filter.limit_total_scenarios=2",
              "worker.n_workers=1")
    assert re.search(r"round 1: this [\d.]+ s, compared [\d.]+ s", out), out
    assert re.search(r"this / compared: median [\d.]+ \(rounds [\d.]+\)", out), out
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_job.py"), "--compare", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "is not a dask_runner checkout" in done.stderr


def test_viewer_benchmark_times_both_folders_and_sizes_the_reports(tmp_path: Path) -> None:
    out = run("bench_viewer.py", "--large", "40", "--sizes", "16", "40", "--rounds", "1", "--work", str(tmp_path))
    for folder in ("small", "large"):
        for state in ("no index file", "index file"):
            assert re.search(rf"round 1  {folder}\s+{state}\s+first page\s+[\d.]+ s  replay\s+\d+ ms", out), out
    assert len(re.findall(r"first page small [\d.]+ s, large [\d.]+ s: ratio [\d.]+; one replay small \d+ ms, "
                          r"large \d+ ms: ratio [\d.]+", out)) == 2, out
    for n in (16, 40):
        assert re.search(rf"report.html of {n} runners: [\d.]+ MB", out), out
