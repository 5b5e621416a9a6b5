"""What the simulate and metrics jobs share: the output folder, streamed reports, resume, summary and report.html.

Reports are written one file per runner the moment each is final, and consolidated into
``runner_report.parquet`` in a ``finally`` block, so an interrupted job leaves a consistent folder
that ``resume=true`` continues.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dask_runner.errors import ConfigError
from dask_runner.io.driver_log import log_failure
from dask_runner.io.output_dir import OutputLayout, atomic_write_bytes, default_output_dir, prepare_output_dir
from dask_runner.io.report_store import ReportStore

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

    from dask_runner.runner.abstract_runner import AbstractRunner
    from dask_runner.runner.report import RunnerReport
    from dask_runner.workers.pool import WorkerPool

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

    def exit_code(self, allow_failures: bool = False) -> int:
        """0 when every runner succeeded (or failures are allowed), else 1."""
        return 0 if self.num_failed == 0 or allow_failures else 1


def resolve_output_dir(cfg: DictConfig) -> OutputLayout:
    """Where the job writes: ``output_dir`` or ``output/<experiment_name>/<timestamp>``; pins ``cfg.output_dir``.

    Nothing is created yet, so a config error found while building the job leaves no folder behind.
    """
    if cfg.get("resume") and not cfg.get("output_dir"):
        raise ConfigError("resume=true needs the folder to continue: pass output_dir=<the earlier run's folder>")
    root = Path(cfg.get("output_dir") or default_output_dir(str(cfg.experiment_name))).expanduser()
    cfg.output_dir = str(root.resolve())
    return OutputLayout(Path(cfg.output_dir))


def prepare_job_output(cfg: DictConfig, layout: OutputLayout) -> OutputLayout:
    """Check and create the output folder (before anything runs) and save the resolved config in it."""
    from omegaconf import OmegaConf

    checked = prepare_output_dir(layout.root, resume=bool(cfg.get("resume")),
                                 min_free_disk_gb=float(cfg.min_free_disk_gb))
    atomic_write_bytes(checked.config_file, OmegaConf.to_yaml(cfg, resolve=True).encode())
    return checked


def pending_runners(runners: Sequence[AbstractRunner], store: ReportStore, resume: bool) -> list[AbstractRunner]:
    """The runners still to run: all of them, or with ``resume`` those without a stored report."""
    if not resume:
        return list(runners)
    done = store.completed_ids()
    todo = [r for r in runners if r.runner_id not in done]
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


def execute_pending(
    cfg: DictConfig, runners: Sequence[AbstractRunner], worker: WorkerPool, store: ReportStore,
    out: TextIO = sys.stdout,
) -> None:
    """Run ``runners`` on ``worker`` with the job's resources, streaming each report to ``store``."""
    from dask_runner.runner.executor import execute_runners

    dashboard = getattr(worker, "dashboard_link", None)
    if dashboard:
        print(f"Dask dashboard: {dashboard}", file=out, flush=True)
    num_gpus = float(cfg.number_of_gpus_allocated_per_simulation or 0)
    num_cpus = cfg.get("number_of_cpus_allocated_per_simulation")
    execute_runners(
        runners, worker,
        num_gpus=num_gpus if num_gpus > 0 else None,
        num_cpus=int(num_cpus) if num_cpus else None,
        exit_on_failure=bool(cfg.exit_on_failure),
        verbose=bool(cfg.get("show_progress", True)),
        on_report=persist_report(store),
        time_limit_s=float(cfg.time_limit_s) if cfg.get("time_limit_s") else None,
    )


def finish_job(
    cfg: DictConfig, layout: OutputLayout, store: ReportStore, ran: int, skipped: int, out: TextIO = sys.stdout,
) -> JobResult:
    """Consolidate the reports, aggregate the metrics, print the summary and write report.html."""
    from dask_runner.metrics.metric_aggregation import aggregate_metrics, save_aggregates
    from dask_runner.report.summary import format_summary

    reports = store.consolidate(layout.runner_report)
    metric_rows = aggregate_metrics(layout.metrics_dir)
    if not metric_rows.empty:
        save_aggregates(layout.metrics_dir, layout.root)
    summary = format_summary(reports, metric_rows)
    logger.info("Summary:\n%s", summary)
    print(summary, file=out)
    html: Path | None = None
    if cfg.get("html_report", True):
        log_dir = cfg.get("simulation_log_dir")
        html = write_report_safely(layout.root, int(cfg.get("max_report_scenario_plots", 12)),
                                   Path(str(log_dir)) if log_dir else None)
    print(f"Results in {layout.root}" + (f" (open {html.name})" if html else ""), file=out, flush=True)
    return JobResult(layout.root, reports, ran, skipped, html)


def write_report_safely(root: Path, max_scenario_plots: int, simulation_log_dir: Path | None = None) -> Path | None:
    """report.html; a failure to draw it never loses the job's results (it is logged, and can be redone)."""
    from dask_runner.report.html_report import write_html_report

    try:
        return write_html_report(root, max_scenario_plots=max_scenario_plots, simulation_log_dir=simulation_log_dir)
    except Exception:
        logger.exception("Could not write report.html; run `dask-runner report %s` to retry", root)
        return None

