"""The metrics job as a function: recompute metrics offline from saved simulation logs through MetricRunner.

Each log is one runner; a corrupt or truncated log fails only its own runner (its report says which
file), while the others are scored.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dask_runner.errors import ConfigError
from dask_runner.experiment.config_loading import METRIC_CONFIG, compose_config
from dask_runner.experiment.job import JobKind, JobResult, run_job
from dask_runner.simulation.simulation_log import READABLE_SUFFIXES

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from dask_runner.io.output_dir import OutputLayout
    from dask_runner.runner.abstract_runner import AbstractRunner

# Today's logs (.msgpack.zst) and those of earlier versions (.msgpack.xz, .pkl.xz).
LOG_PATTERNS = tuple(f"*{suffix}" for suffix in READABLE_SUFFIXES)


def find_simulation_logs(simulation_log_dir: str | Path) -> list[Path]:
    """Every simulation log below ``simulation_log_dir`` (recursively), sorted; ConfigError naming the path if none."""
    root = Path(simulation_log_dir).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"simulation_log_dir {root} does not exist or is not a folder; pass the simulation_logs folder of "
            "an earlier `dask-runner simulate` run, e.g. simulation_log_dir=output/simulation/<timestamp>/simulation_logs"
        )
    paths = sorted({p for pattern in LOG_PATTERNS for p in root.rglob(pattern) if not p.name.startswith(".")})
    if not paths:
        raise ConfigError(f"no simulation log ({', '.join(LOG_PATTERNS)}) below {root}; run `dask-runner simulate` first")
    return paths


def metric_runner_id(log_path: Path, root: Path) -> str:
    """Stable across runs (the log's path inside the log folder), so ``resume=true`` recognises the runner."""
    return "metrics-" + log_path.relative_to(root).as_posix()


def build_metric_runners(cfg: DictConfig, metrics_dir: Path) -> list[AbstractRunner]:
    from dask_runner.experiment.components import build_metric_engine_from_config
    from dask_runner.runner.metric_runner import MetricRunner
    from dask_runner.simulation.callback.metric_callback import MetricCallback

    if cfg.get("simulation_log_dir") in (None, "", "???"):
        raise ConfigError("the metrics command needs simulation_log_dir=<folder of simulation logs>")
    root = Path(str(cfg.simulation_log_dir)).expanduser()
    logs = find_simulation_logs(root)
    engine = build_metric_engine_from_config(cfg)
    return [
        MetricRunner(path, MetricCallback(engine, metrics_dir), runner_id=metric_runner_id(path, root))
        for path in logs
    ]


def _build(cfg: DictConfig, layout: OutputLayout) -> list[AbstractRunner]:
    from omegaconf import OmegaConf

    if OmegaConf.is_missing(cfg, "simulation_log_dir"):
        raise ConfigError("the metrics command needs simulation_log_dir=<folder of simulation logs>, "
                          "e.g. simulation_log_dir=output/simulation/<timestamp>/simulation_logs")
    return build_metric_runners(cfg, layout.metrics_dir)


def _describe(cfg: DictConfig, runners: Sequence[AbstractRunner]) -> str:
    return f"Computing metrics of {len(runners)} simulation logs from {cfg.simulation_log_dir}"


METRIC_JOB = JobKind("metrics", _build, _describe)


def run_metric_job(cfg: DictConfig, out: TextIO = sys.stdout) -> JobResult:
    """Score every log below ``cfg.simulation_log_dir``; writes reports, metrics/, aggregator_metric/ and report.html."""
    return run_job(METRIC_JOB, cfg, out)


def compute_metrics(overrides: Sequence[str] = (), out: TextIO = sys.stdout) -> JobResult:
    """``dask-runner metrics`` from Python: compose ``default_metric`` with ``overrides`` and run it."""
    return run_metric_job(compose_config(METRIC_CONFIG, overrides), out)
