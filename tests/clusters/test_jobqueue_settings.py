"""Every dask-jobqueue scheduler on the one core: each job script checked as text against the directives its
scheduler documents (SLURM and Grid Engine also run for real, in tests/slurm and tests/sge), and settings that
scheduler would refuse fail at construction with the fix."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

import dask_runner.config
from dask_runner.dask.batch import DaskBatchSettings
from dask_runner.dask.clusters.htcondor import HTCondorSettings, htcondor_worker_pool
from dask_runner.dask.clusters.jobqueue import JobQueueSettings, job_script
from dask_runner.dask.clusters.lsf import LSFSettings
from dask_runner.dask.clusters.pbs import PBSSettings
from dask_runner.dask.clusters.sge import SGESettings
from dask_runner.dask.clusters.slurm import SLURMSettings
from dask_runner.errors import ConfigError, NothingToRun

CONFIG = Path(dask_runner.config.__file__).parent
SCHEDULERS: list[type[JobQueueSettings]] = [SLURMSettings, SGESettings, PBSSettings, LSFSettings, HTCondorSettings]


def _worker_keys(settings_class: type[JobQueueSettings]) -> set[str]:
    """The keys of the composed worker node (its YAML lists the schema made from the settings class)."""
    from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config

    return set(compose_config(SIMULATION_CONFIG, [f"worker={settings_class.worker_key}"]).worker)


@pytest.mark.parametrize("settings_class", SCHEDULERS, ids=lambda c: c.worker_key)
def test_each_scheduler_yaml_lists_every_setting_and_the_batch_tuning(settings_class: type[JobQueueSettings]) -> None:
    wanted = {f.name for f in fields(settings_class)} | {f.name for f in fields(DaskBatchSettings)}
    assert _worker_keys(settings_class) == wanted | {"_target_", "print_job_script"}


@pytest.mark.parametrize("settings_class", SCHEDULERS, ids=lambda c: c.worker_key)
def test_workers_retire_before_the_walltime_and_declare_their_threads_everywhere(
        settings_class: type[JobQueueSettings]) -> None:
    walltime = "02:00" if settings_class is LSFSettings else "02:00:00"
    script = job_script(settings_class(cores=4, processes=2, memory="8GB", walltime=walltime))
    assert "--lifetime 6900s --lifetime-stagger 60s" in script  # 2 h minus the 5 min margin
    assert "--resources CPU=2" in script and "--nthreads 2" in script
    assert "--preload dask_runner.dask.worker_setup" in script


def test_grid_engine_script_asks_for_project_queue_walltime_and_the_sites_gpu_consumable() -> None:
    script = job_script(SGESettings(queue="gpu.q", project="av", resource_spec="h_vmem=8G", gpus_per_job=2,
                                    gpu_resource="gpus", memory="8GB", cores=2, walltime="04:00:00"))
    for directive in ("#$ -q gpu.q", "#$ -P av", "#$ -l h_vmem=8G", "#$ -l h_rt=04:00:00", "#$ -l gpus=2", "#$ -cwd"):
        assert directive in script.splitlines(), directive
    assert "dask cuda worker" in script and "GPU=1" in script


def test_pbs_script_puts_gpus_into_the_select_statement_unless_one_is_given() -> None:
    script = job_script(PBSSettings(account="proj1", queue="workq", cores=8, gpus_per_job=2, processes=2,
                                    memory="32GB", walltime="03:00:00"))
    lines = script.splitlines()
    for directive in ("#PBS -A proj1", "#PBS -q workq", "#PBS -l select=1:ncpus=8:ngpus=2:mem=32GB",
                      "#PBS -l walltime=03:00:00"):
        assert directive in lines, directive
    given = job_script(PBSSettings(resource_spec="nodes=1:ppn=8:gpus=2", cores=8, gpus_per_job=2, processes=2))
    assert "#PBS -l nodes=1:ppn=8:gpus=2" in given.splitlines() and "select=" not in given


def test_lsf_script_uses_its_walltime_format_gpu_option_and_memory_unit() -> None:
    script = job_script(LSFSettings(project="av", queue="normal", cores=4, gpus_per_job=1, processes=1,
                                    memory="4GB", walltime="02:30", lsf_units="mb"))
    lines = script.splitlines()
    for directive in ('#BSUB -P "av"', "#BSUB -q normal", "#BSUB -n 4", "#BSUB -W 02:30", '#BSUB -gpu "num=1"'):
        assert directive in lines, directive
    assert re.search(r"^#BSUB -M \d+$", script, re.M)
    assert "--lifetime 8700s" in script  # 2 h 30 min minus 5 min


def test_htcondor_submit_description_has_gpus_runtime_disk_and_the_users_lines() -> None:
    script = job_script(HTCondorSettings(gpus_per_job=1, walltime="01:00:00", disk="5GB",
                                         job_extra_directives=['+ProjectName = "av"']))
    lines = script.splitlines()
    for line in ("request_gpus = 1", "+MaxRuntime = 3600", "MY.DaskWorkerDisk = 5000000000", '+ProjectName = "av"'):
        assert line in lines, line


@pytest.mark.parametrize(("settings", "fix"), [
    (lambda: LSFSettings(walltime="01:00:00"), "walltime='01:00'"),
    (lambda: HTCondorSettings(queue="long"), "requirements"),
    (lambda: HTCondorSettings(job_extra_directives=["--exclusive"]), "key = value"),
    (lambda: SGESettings(walltime="soon"), "walltime='01:00:00'"),
    (lambda: PBSSettings(cores=2, processes=3), "cores=12 processes=3"),
    (lambda: SGESettings(memory="300MB", processes=2, cores=2), "worker.memory=1GB"),
])
def test_settings_a_scheduler_would_refuse_fail_at_construction_naming_the_fix(settings: object, fix: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fix)):
        settings()  # type: ignore[operator]


def test_an_unknown_key_names_the_valid_ones_and_print_job_script_submits_nothing() -> None:
    with pytest.raises(ConfigError, match=r"worker=dask_htcondor has no key walltim; its keys are .*walltime"):
        htcondor_worker_pool(walltim="01:00:00")
    with pytest.raises(NothingToRun) as printed:
        htcondor_worker_pool(print_job_script=True, disk="2GB", max_group_size=4)
    assert "RequestDisk" in str(printed.value.output)


@pytest.mark.parametrize("settings_class", SCHEDULERS, ids=lambda c: c.worker_key)
def test_every_schedulers_workers_use_tls_by_default_with_the_certificate_from_the_log_directory(
        settings_class: type[JobQueueSettings]) -> None:
    walltime = "02:00" if settings_class is LSFSettings else "02:00:00"
    script = job_script(settings_class(walltime=walltime, log_directory="/shared/logs"))
    folder = "/shared/logs/dask-runner-tls-<batch>"
    assert "tls://<scheduler-address>:8786" in script and "--protocol tls://" in script
    assert f"--tls-ca-file {folder}/cert.pem" in script and f"--tls-key {folder}/key.pem" in script
    plain = job_script(settings_class(walltime=walltime, log_directory="/shared/logs", security=False))
    assert "tcp://<scheduler-address>:8786" in plain and "--tls" not in plain
