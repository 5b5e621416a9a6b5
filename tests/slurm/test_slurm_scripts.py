"""The example job scripts of scripts/slurm, submitted with sbatch to the real three-node SLURM, as a user would.

Each script takes its paths from environment variables it documents; here they point at the test's
environment (this interpreter's virtual environment, this checkout first on PYTHONPATH, interface lo).
The GPU script is checked as text (no GPU here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from local_slurm import LocalSlurm
from sync_helpers import wait_until

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(900)]  # set-up may apt-get SLURM

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "slurm"
QUICK = "show_progress=false html_report=false planner=simple_planner"


def script_env(run_dir: Path, overrides: str) -> dict[str, str]:
    return {**os.environ, "DASK_RUNNER_ENV": sys.prefix, "RUN_DIR": str(run_dir), "INTERFACE": "lo",
            "EXTRA_OVERRIDES": overrides, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def sbatch(script: str, run_dir: Path, overrides: str, *options: str, wait: bool = True) -> tuple[str, Path]:
    """Submit ``script``; returns (job id, its output file). With ``wait``, returns once the job has ended."""
    run_dir.mkdir(parents=True, exist_ok=True)
    output = run_dir / "job-%A_%a.out"
    done = subprocess.run(["sbatch", "--parsable", f"--output={output}", *(["--wait"] if wait else []), *options,
                           str(SCRIPTS / script)], env=script_env(run_dir, overrides), cwd=run_dir,
                          capture_output=True, text=True, timeout=600, check=False)
    job = done.stdout.strip().split(";")[0].splitlines()[0] if done.stdout.strip() else ""
    outputs = sorted(run_dir.glob("job-*.out"))
    assert not wait or done.returncode == 0, (done.stderr, [p.read_text()[-3000:] for p in outputs])
    return job, run_dir


def reports_of(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "out" / "runner_report.parquet")


def job_output(run_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(run_dir.glob("job-*.out")))


def test_worker_jobs_script_submits_worker_jobs_and_finishes_the_batch(clean_queue: LocalSlurm,
                                                                       tmp_path: Path) -> None:
    sbatch("worker_jobs_cpu.sh", tmp_path, f"{QUICK} scenario_filter.limit_total_scenarios=8",
           "--export=ALL,WORKER_JOBS=2,WORKER_CORES=2,WORKER_MEMORY=2GB")
    reports = reports_of(tmp_path)
    assert len(reports) == 8 and reports["succeeded"].all()
    assert len(list((tmp_path / "worker-logs").glob("*.err"))) >= 2  # two worker jobs ran


def test_one_allocation_script_runs_the_batch_across_three_nodes_and_only_the_driver_writes(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    sbatch("one_allocation.sh", tmp_path, f"{QUICK} scenario_filter.limit_total_scenarios=8 worker.dashboard_port=0",
           "--ntasks=5")
    reports = reports_of(tmp_path)
    assert len(reports) == 8 and reports["succeeded"].all()
    output = job_output(tmp_path)
    assert output.count("Results in ") == 1 and output.count("Output folder: ") == 1  # only rank 1 printed
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["out"]  # one output folder


def test_scheduler_file_script_deletes_a_stale_file_and_runs_the_batch(clean_queue: LocalSlurm,
                                                                       tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    # A file an earlier job left behind, naming a scheduler that is gone.
    (tmp_path / "scheduler.json").write_text(json.dumps({"type": "Scheduler", "address": "tcp://127.0.0.1:9"}))
    sbatch("scheduler_file.sh", tmp_path, f"{QUICK} scenario_filter.limit_total_scenarios=6")
    reports = reports_of(tmp_path)
    assert len(reports) == 6 and reports["succeeded"].all()


def test_array_of_drivers_finishes_the_batch_after_one_is_killed_like_at_its_walltime(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """The first driver gets SIGTERM mid-batch (what SLURM sends at the walltime); the next array task resumes."""
    total = 60
    job, _ = sbatch("driver_array.sh", tmp_path,
                    f"{QUICK} scenario_filter.limit_total_scenarios={total} worker.cores=1 worker.memory=1GB",
                    "--array=0-1%1", "--export=ALL,WORKER_JOBS=1", wait=False)
    reports_dir = tmp_path / "out" / "reports"
    wait_until(lambda: reports_dir.is_dir() and len(list(reports_dir.iterdir())) >= 3, 180,
               "the first driver to report three runners")
    subprocess.run(["scancel", "--signal=TERM", "--full", f"{job}_0"], check=True, timeout=30)
    wait_until(lambda: not [j for j in clean_queue.squeue() if j["id"].startswith(job)], 300,
               "both array tasks to end")
    reports = reports_of(tmp_path)
    assert len(reports) == total and reports["succeeded"].all()
    assert reports["runner_id"].is_unique
    logs = job_output(tmp_path) + "\n".join(p.read_text() for p in (tmp_path / "out" / "logs").glob("*.log"))
    already = [int(n) for n in re.findall(r"Resuming: (\d+) of \d+ runners already reported", logs)]
    assert any(0 < n < total for n in already), already  # the second driver continued a half-done batch


def test_gpu_script_asks_for_gpus_and_quarter_shares() -> None:
    text = (SCRIPTS / "worker_jobs_gpu.sh").read_text()
    assert subprocess.run(["bash", "-n", str(SCRIPTS / "worker_jobs_gpu.sh")], check=False).returncode == 0
    assert "worker=dask_slurm" in text and "worker.gpus_per_job=2" in text
    assert "number_of_gpus_allocated_per_simulation=0.25" in text and "resume=true" in text
    assert re.search(r"^#SBATCH --time=", text, re.MULTILINE)
    for script in SCRIPTS.glob("*.sh"):
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0, script.name


def test_slurm_benchmark_reports_each_way(clean_queue: LocalSlurm) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_slurm.py"), "--scenarios", "6"],
                          capture_output=True, text=True, timeout=600, check=False, env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for way in ("dask_local", "dask_slurm", "dask_slurm_runner"):
        assert re.search(rf"^{way} .*\s[\d.]+\s+[\d.]+$", done.stdout, re.MULTILINE), done.stdout
