"""The one skeleton of the simulate and metrics jobs: check, build, then run with streamed reports.

Order matters, and is the same for both jobs:
0. the worker pool's first step (``components.first_step``): a process that only serves the cluster (a
   SLURMRunner rank other than the driver) learns so and serves, building nothing; a local cluster's
   workers' fork server starts importing Dask;
1. everything that needs no write is checked and built first: the output folder (a file? results
   without ``resume``? a resume with another configuration?), the runners (planners, scenarios,
   filter, metrics), the batch settings (GPU/CPU shares, time limit), and the worker pool itself (its
   construction validates it); so a configuration error leaves no folder behind;
2. only then is the folder created and the configuration recorded (``config_record``);
3. reports are written one file per runner the moment each is final, and consolidated into
   ``runner_report.parquet`` in a ``finally`` block, so an interrupted job leaves a consistent folder
   that ``resume=true`` continues.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dask_runner.errors import ConfigError
from dask_runner.experiment.config_record import check_resume_config, record_config
from dask_runner.io.driver_log import driver_log, log_failure
from dask_runner.io.output_dir import OutputLayout, check_output_dir, default_output_dir, prepare_output_dir
from dask_runner.io.report_store import ReportStore

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

    from dask_runner.execution.worker_pool import WorkerPool
    from dask_runner.runner.abstract_runner import AbstractRunner
    from dask_runner.runner.report import RunnerReport

logger = logging.getLogger("dask_runner")


@dataclass(frozen=True)
class JobResult:
    """The outcome of a simulate or metrics job: where it wrote, and the consolidated report table."""

    output_dir: Path
    reports: pd.DataFrame
    ran: int  # runners run by this invocation
    skipped: int  # runners already reported before (resume)
    html_report: Path | None

    @property
    def num_failed(self) -> int:
        return 0 if self.reports.empty else int((~self.reports["succeeded"].astype(bool)).sum())

    @property
    def num_succeeded(self) -> int:
        return len(self.reports) - self.num_failed

    @property
    def num_to_rerun(self) -> int:
        """Failed runners that ``resume=true`` runs again (``RERUN_ON_RESUME``: no worker was there for them)."""
        from dask_runner.runner.report import RERUN_ON_RESUME

        if self.reports.empty or "error_stage" not in self.reports:
            return 0
        return int(self.reports["error_stage"].isin(sorted(RERUN_ON_RESUME)).sum())

    def exit_code(self, allow_failures: bool = False) -> int:
        """0 when every runner succeeded (or failures are allowed), else 1."""
        return 0 if self.num_failed == 0 or allow_failures else 1


@dataclass(frozen=True)
class JobKind:
    """What differs between the simulate and metrics jobs: how runners are built and how that is logged."""

    name: str  # names the driver log, logs/<name>.log
    build_runners: Callable[[DictConfig, OutputLayout], list[AbstractRunner]]
    describe: Callable[[DictConfig, Sequence[AbstractRunner]], str]


@dataclass(frozen=True)
class BatchSettings:
    """The per-runner resources and limits of a job, checked before anything runs."""

    num_gpus: float | None
    num_cpus: int | None
    time_limit_s: float | None


def batch_settings(cfg: DictConfig) -> BatchSettings:
    """``number_of_gpus/cpus_allocated_per_simulation`` and ``time_limit_s``, or a ConfigError naming the key."""
    gpus = cfg.get("number_of_gpus_allocated_per_simulation") or 0
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
        raise ConfigError(f"number_of_gpus_allocated_per_simulation must be a share >= 0 (0.25 lets four "
                          f"simulations share a GPU, 0 runs on CPUs), got {gpus!r}")
    cpus = cfg.get("number_of_cpus_allocated_per_simulation")
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
        raise ConfigError(f"number_of_cpus_allocated_per_simulation must be a whole number >= 1, got {cpus!r}")
    limit = cfg.get("time_limit_s")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0):
        raise ConfigError(f"time_limit_s must be a number of seconds > 0, or null for no limit; got {limit!r}")
    return BatchSettings(float(gpus) if gpus > 0 else None, int(cpus) if cpus else None,
                         float(limit) if limit is not None else None)


def resolve_output_dir(cfg: DictConfig) -> OutputLayout:
    """Where the job writes: ``output_dir`` or ``output/<experiment_name>/<timestamp>``; pins ``cfg.output_dir``."""
    if cfg.get("resume") and not cfg.get("output_dir"):
        raise ConfigError("resume=true needs the folder to continue: pass output_dir=<the earlier run's folder>")
    root = Path(cfg.get("output_dir") or default_output_dir(str(cfg.experiment_name))).expanduser()
    cfg.output_dir = str(root.resolve())
    return OutputLayout(Path(cfg.output_dir))


def pending_runners(runners: Sequence[AbstractRunner], store: ReportStore, resume: bool) -> list[AbstractRunner]:
    """The runners still to run: all of them, or with ``resume`` those without a stored report."""
    if not resume:
        return list(runners)
    from dask_runner.execution.batch_execution import assign_runner_ids

    done = store.completed_ids()
    todo = [r for r, runner_id in zip(runners, assign_runner_ids(runners)) if runner_id not in done]
    logger.info("Resuming: %d of %d runners already reported, %d to run", len(runners) - len(todo), len(runners),
                len(todo))
    return todo


def persist_report(store: ReportStore) -> Callable[[RunnerReport], None]:
    """The ``on_report`` hook: each final report to disk at once; failures' tracebacks to the driver log."""

    def on_report(report: RunnerReport) -> None:
        store.write(report)
        if not report.succeeded:
            log_failure(report)

    return on_report


def run_job(kind: JobKind, cfg: DictConfig, out: TextIO = sys.stdout) -> JobResult:
    """Run the job ``cfg`` describes (see the module docstring for the order) and write every output."""
    from dask_runner.experiment.components import first_step

    with driver_log(kind.name, verbose=bool(cfg.verbose)) as log:
        # The worker pool's first step: processes that only serve the cluster (SLURMRunner's scheduler and
        # worker ranks) do so here and build nothing; a local cluster's fork server starts. What it returns
        # undoes that if the driver stops before its worker pool takes over (ends those ranks, stops the server).
        end_unused_cluster = first_step(cfg)
        try:
            resume = bool(cfg.get("resume"))
            layout = check_output_dir(resolve_output_dir(cfg).root, resume)
            check_resume_config(cfg, layout)
            runners = kind.build_runners(cfg, layout)
            settings = batch_settings(cfg)
            store = ReportStore(layout.reports_dir)
            todo = pending_runners(runners, store, resume)
            if not todo:
                end_unused_cluster()
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):  # Ctrl-C and SIGTERM reach every rank of an srun step
                end_unused_cluster()
            raise
        with _worker_if_needed(cfg, todo) as worker:
            if worker is not None:
                worker.check_resources(settings.num_gpus, settings.num_cpus)  # e.g. a GPU share no worker has
            layout = prepare_output_dir(layout.root, resume=resume, min_free_disk_gb=float(cfg.min_free_disk_gb))
            record_config(cfg, layout)
            log.attach(layout.logs_dir)
            print(f"Output folder: {layout.root}", file=out, flush=True)
            logger.info(kind.describe(cfg, runners))
            try:
                if worker is not None:
                    _execute(cfg, settings, todo, worker, store, out)
                else:
                    print(f"All {len(runners)} runners are already reported; nothing to run.", file=out)
            except BaseException as exc:  # interrupted or stopped: leave a consistent runner_report.parquet
                logger.info("Job stopped by %s", type(exc).__name__, exc_info=not isinstance(exc, KeyboardInterrupt))
                store.consolidate(layout.runner_report)
                raise
        return finish_job(cfg, layout, store, ran=len(todo), skipped=len(runners) - len(todo), out=out)


@contextlib.contextmanager
def _worker_if_needed(cfg: DictConfig, todo: Sequence[AbstractRunner]) -> Iterator[WorkerPool | None]:
    """The job's worker pool, built (and so validated) before the folder is touched; none when nothing is left."""
    if not todo:
        yield None
        return
    from dask_runner.experiment.components import build_worker

    with build_worker(cfg) as worker:
        yield worker


def _execute(cfg: DictConfig, settings: BatchSettings, runners: Sequence[AbstractRunner], worker: WorkerPool,
             store: ReportStore, out: TextIO) -> None:
    """Run ``runners`` on ``worker`` with the job's resources, streaming each report to ``store``."""
    from dask_runner.execution.executor import execute_runners

    if worker.dashboard_link:
        print(f"Dask dashboard: {worker.dashboard_link}", file=out, flush=True)
    page = worker.simulations_page
    if page:
        print(f"Simulations page: {page}", file=out, flush=True)
    execute_runners(
        runners, worker,
        num_gpus=settings.num_gpus,
        num_cpus=settings.num_cpus,
        exit_on_failure=bool(cfg.exit_on_failure),
        verbose=bool(cfg.get("show_progress", True)),
        on_report=persist_report(store),
        time_limit_s=settings.time_limit_s,
        experiment_name=str(cfg.get("experiment_name") or "") or None,
    )


def consolidate_outputs(layout: OutputLayout, store: ReportStore,
                        into: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``runner_report.parquet`` and ``aggregator_metric/`` (under ``into``, the job's folder unless
    given) and return the report table and the metric rows, each read once for every later output."""
    from dask_runner.metrics.metric_aggregation import aggregate_metrics, save_aggregates

    target = OutputLayout(into) if into is not None else layout
    reports = store.consolidate(target.runner_report)
    metric_rows = aggregate_metrics(layout.metrics_dir)
    if not metric_rows.empty:
        save_aggregates(layout.metrics_dir, target.root, rows=metric_rows)
    return reports, metric_rows


def finish_job(
    cfg: DictConfig, layout: OutputLayout, store: ReportStore, ran: int, skipped: int, out: TextIO = sys.stdout,
) -> JobResult:
    """Consolidate the reports, aggregate the metrics, print the summary and write report.html."""
    from dask_runner.report.summary import format_summary

    reports, metric_rows = consolidate_outputs(layout, store)
    summary = format_summary(reports, metric_rows)
    logger.info("Summary:\n%s", summary)
    print(summary, file=out)
    html: Path | None = None
    if cfg.get("html_report", True):
        log_dir = cfg.get("simulation_log_dir")
        html = write_report_safely(layout.root, _optional_int(cfg.get("max_report_scenario_plots")),
                                   Path(str(log_dir)) if log_dir else None, tables=(reports, metric_rows))
    print(f"Results in {layout.root}" + (f" (open {html.name})" if html else ""), file=out, flush=True)
    return JobResult(layout.root, reports, ran, skipped, html)


def _optional_int(value: object) -> int | None:
    """A key whose null means "the default of the code that reads it"."""
    return None if value is None else int(str(value))


def write_report_safely(root: Path, max_scenario_plots: int | None, simulation_log_dir: Path | None = None,
                        tables: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Path | None:
    """report.html (from ``tables``, the reports and metric rows, when they were read already); a failure
    to draw it never loses the job's results (it is logged, and can be redone)."""
    from dask_runner.optional_dependencies import MissingDependencyError
    from dask_runner.report.html_report import write_html_report

    try:
        return write_html_report(root, max_scenario_plots=max_scenario_plots, simulation_log_dir=simulation_log_dir,
                                 tables=tables)
    except MissingDependencyError as exc:  # the results are complete without it
        logger.warning("No report.html: %s", exc)
        print(f"No report.html: {exc}", file=sys.stderr)
        return None
    except Exception:
        logger.exception("Could not write report.html; run `dask-runner report %s` to retry", root)
        return None
