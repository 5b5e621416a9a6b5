"""worker=dask_slurm without a SLURM: the settings are checked at construction and the job script says what it should."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dask_runner.dask.clusters.jobqueue import AdaptiveJobs, job_script
from dask_runner.dask.clusters.slurm import SLURMSettings, walltime_seconds
from dask_runner.errors import ConfigError, NothingToRun

pytest.importorskip("dask_jobqueue")


def test_cpu_job_script_runs_one_single_threaded_worker_per_core_with_the_drivers_python() -> None:
    script = job_script(SLURMSettings(cores=4, memory="8GB", walltime="02:00:00", queue="cpu",
                                            account="proj", interface="lo", local_directory="/scratch",
                                            job_script_prologue=["export PYTHONPATH=/my/code"]))
    assert "#SBATCH --cpus-per-task=4" in script
    assert "#SBATCH -t 02:00:00" in script and "#SBATCH -p cpu" in script and "#SBATCH -A proj" in script
    assert "export PYTHONPATH=/my/code" in script
    command = script.strip().splitlines()[-1]
    assert command.startswith(f"{sys.executable} -m distributed.cli.dask_worker")
    assert "--nworkers 4" in command and "--nthreads 1" in command
    assert "--resources CPU=1" in command and "--interface lo" in command
    assert "--local-directory /scratch" in command
    # Workers retire 5 minutes (+/- 1) before the two-hour walltime.
    assert "--lifetime 6900s --lifetime-stagger 60s" in command
    assert "--preload dask_runner.dask.worker_setup" in command


def test_gpu_job_script_asks_for_gres_and_starts_dask_cuda_workers_declaring_a_gpu_each() -> None:
    script = job_script(SLURMSettings(cores=8, gpus_per_job=2, memory="32GB"))
    assert "#SBATCH --gres=gpu:2" in script
    command = script.strip().splitlines()[-1]
    assert " -m dask cuda worker " in command
    # One dask-cuda worker per GPU, each with 4 threads: GPU shares of 0.25 run four simulations per GPU.
    assert "--nthreads 4" in command and "--resources CPU=4,GPU=1" in command


def test_user_worker_args_come_last_and_lifetime_can_be_set_or_switched_off() -> None:
    command = job_script(SLURMSettings(lifetime="10m", worker_extra_args=["--resources", "BIG=1"], security=False))
    assert "--lifetime 600s" in command and command.rstrip().endswith("--resources BIG=1")
    assert "--lifetime" not in job_script(SLURMSettings(lifetime_margin=None))


def test_worker_jobs_use_tls_by_default_with_the_certificates_in_a_private_folder_of_the_log_directory() -> None:
    command = job_script(SLURMSettings(log_directory="/shared/logs")).strip().splitlines()[-1]
    folder = "/shared/logs/dask-runner-tls-<batch>"
    assert "tls://<scheduler-address>:8786" in command and "--protocol tls://" in command
    assert f"--tls-ca-file {folder}/cert.pem" in command
    assert f"--tls-cert {folder}/cert.pem" in command and f"--tls-key {folder}/key.pem" in command
    plain = job_script(SLURMSettings(log_directory="/shared/logs", security=False))
    assert "tcp://<scheduler-address>:8786" in plain and "--tls" not in plain


@pytest.mark.parametrize(("kwargs", "names"), [
    ({"cores": 0}, "cores"),
    ({"cores": 3, "processes": 2}, "multiple of processes"),
    ({"memory": "lots"}, "memory"),
    ({"walltime": "two hours"}, "walltime"),
    ({"walltime": "00:04:00"}, "lifetime"),
    ({"lifetime_margin": "30s", "lifetime_stagger": "1m"}, "lifetime_stagger"),
    ({"python": "python3"}, "absolute path"),
    ({"interface": "no-such-nic0"}, "no-such-nic0"),
    ({"jobs": 2, "adapt": AdaptiveJobs(0, 4)}, "either jobs"),
    ({"gpus_per_job": 2, "processes": 1, "cores": 2}, "one worker process per GPU"),
    ({"job_extra_directives": "--exclusive"}, "list of strings"),
    ({"security": "yes"}, "security must be true"),
])
def test_bad_settings_fail_at_construction_with_a_correct_call(kwargs: dict, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        SLURMSettings(**kwargs)


def test_adaptive_bounds_are_checked() -> None:
    with pytest.raises(ConfigError, match="maximum_jobs"):
        AdaptiveJobs(minimum_jobs=3, maximum_jobs=2)


def test_slurm_time_formats() -> None:
    assert walltime_seconds("30") == 1800
    assert walltime_seconds("01:30") == 90
    assert walltime_seconds("1-02:00:00") == 93600


def test_print_job_script_prints_and_exits_0_without_submitting_or_creating_a_folder(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    from cli_helpers import run_cli

    done = run_cli(["simulate", "worker=dask_slurm", "worker.print_job_script=true", "worker.cores=2",
                    "output_dir=out", "scenario_filter.limit_total_scenarios=1"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("#!/usr/bin/env bash") and "#SBATCH --cpus-per-task=2" in done.stdout
    assert not (tmp_path / "out").exists()


def test_nothing_to_run_carries_the_text_to_print() -> None:
    assert NothingToRun("printed", output="#!/bin/bash\n").output == "#!/bin/bash\n"


def test_one_allocation_needs_srun_and_three_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    from dask_runner.dask.clusters.slurm_runner import slurm_rank

    for name in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="srun -n"):
        slurm_rank()
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    with pytest.raises(ConfigError, match="at least 3 ranks"):
        slurm_rank()


def test_one_allocation_turns_worker_flags_into_worker_options() -> None:
    from dask_runner.dask.clusters.slurm_runner import SLURMRunnerSettings, worker_options_from_args

    options = SLURMRunnerSettings(interface="lo", worker_extra_args=["--resources", "GPU=1", "--lifetime", "55m"],
                                  threads_per_worker=4).worker_options()
    assert options["resources"] == {"CPU": 4.0, "GPU": 1.0} and options["lifetime"] == "55m"
    assert options["nthreads"] == 4 and options["interface"] == "lo"
    assert "dask_runner.dask.worker_setup" in options["preload"]
    with pytest.raises(ConfigError, match="not supported in one allocation"):
        worker_options_from_args(["--nworkers", "4"])


def test_memory_too_small_for_the_worker_processes_is_refused_naming_the_minimum_and_the_fix() -> None:
    """32 cores with the default 2GB would give each of 32 workers 60 MiB: Dask pauses them and the batch hangs."""
    from dask_runner.dask.clusters.slurm import MIN_MEMORY_PER_PROCESS

    with pytest.raises(ConfigError) as info:
        SLURMSettings(cores=32)
    message = str(info.value)
    assert "32 worker process(es)" in message and "256 MiB" in message
    assert "worker.memory=9GB" in message and "worker.processes" in message  # 32 x 256 MiB = 8.6 GB
    with pytest.raises(ConfigError, match="256 MiB"):
        SLURMSettings(cores=4, processes=2, memory="500MB")
    # Exactly the minimum per process is accepted, and so is the suggested fix.
    SLURMSettings(cores=4, memory=f"{4 * MIN_MEMORY_PER_PROCESS}B")
    SLURMSettings(cores=32, memory="9GB")
    SLURMSettings(cores=32, processes=4, memory="2GB")


def test_in_one_allocation_the_role_comes_first_and_the_worker_settings_are_checked_on_every_rank(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's first step: on the driver it returns (building nothing); a bad worker value fails on any rank."""
    from dask_runner.experiment.components import first_step
    from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config

    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    end = first_step(compose_config(SIMULATION_CONFIG, ["worker=dask_slurm_runner", "worker.security=true"]))
    assert callable(end)  # what ends the other ranks if the driver stops before its pool; not called here
    with pytest.raises(ConfigError, match="threads_per_worker must be a whole number"):
        first_step(compose_config(SIMULATION_CONFIG, ["worker=dask_slurm_runner", "worker.threads_per_worker=0"]))
    with pytest.raises(ConfigError, match=r"worker\.security: Value 'maybe' is not a valid bool"):
        first_step(compose_config(SIMULATION_CONFIG, ["worker=dask_slurm_runner", "worker.security=maybe"]))
    monkeypatch.setenv("SLURM_NTASKS", "2")
    with pytest.raises(ConfigError, match="at least 3 ranks"):
        first_step(compose_config(SIMULATION_CONFIG, ["worker=dask_slurm_runner"]))
    assert first_step(compose_config(SIMULATION_CONFIG, ["worker=dask_scheduler", "worker.address=tcp://127.0.0.1:1"]))() \
        is None  # other pools: nothing


def test_the_allocation_certificates_are_private_files_loaded_by_the_other_ranks(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    import stat

    from dask_runner.dask.clusters.tls import (
        certificate_folder,
        load_certificates,
        make_certificates,
        remove_certificates,
    )
    from dask_runner.errors import ClusterError

    folder = certificate_folder(tmp_path / "scheduler-7.json", "7", "0")
    with pytest.raises(ClusterError, match="filesystem every node"):
        load_certificates(folder, timeout_s=0.1)  # rank 0 has not written them (or another filesystem)
    made = make_certificates(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted((p.name, stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()) == [
        ("cert.pem", 0o600), ("key.pem", 0o600)]
    loaded = load_certificates(folder, timeout_s=1)
    assert loaded is not None and loaded.require_encryption and loaded.tls_worker_cert == made.tls_scheduler_cert
    assert loaded.tls_client_key == made.tls_scheduler_key and loaded.tls_ca_file == made.tls_ca_file
    remove_certificates(folder)
    assert not folder.exists()
