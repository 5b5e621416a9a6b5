"""The ``dask-runner train`` job: extract (or reuse) the training rows on a local Dask cluster, fit, write the checkpoint."""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass

import pandas as pd

from dask_runner.planners.ml.training import (
    TrainingSettings,
    cache_file,
    extract_to_cache,
    fit,
    training_pairs,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    checkpoint_path: str
    train_loss: float
    validation_loss: float
    rows: int
    seconds: float


def build_cache(pairs: list[tuple[str, int]], cache_dir: str, n_workers: int | None = None) -> list[str]:
    """The cached parquet file of every pair, extracting the missing ones on a local Dask cluster."""
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.task import Task

    missing = [pair for pair in pairs if not os.path.isfile(cache_file(cache_dir, *pair))]
    if missing:
        logger.info("Extracting %d of %d scenarios on a local Dask cluster", len(missing), len(pairs))
        with DaskDistributed(n_workers=n_workers, dashboard_address=None) as pool:
            pool.map(Task(extract_to_cache), [t for t, _ in missing], [s for _, s in missing], cache_dir)
    return [cache_file(cache_dir, *pair) for pair in pairs]


def train(settings: TrainingSettings, checkpoint_path: str, cache_dir: str, command: str,
          n_workers: int | None = None) -> TrainingResult:
    """Extract (or reuse) the training rows, fit the network, write the checkpoint with how it was made."""
    import torch

    from dask_runner.planners.ml.model import save_checkpoint

    start = time.perf_counter()
    pairs = training_pairs(settings.scenarios_per_type, settings.first_seed, settings.scenario_types)
    files = build_cache(pairs, cache_dir, n_workers)
    frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    model, train_loss, validation_loss = fit(frame, settings)
    metadata = {
        "command": command,
        "data_seed": settings.first_seed,
        "scenario_set": {"generator": "dask_runner.scenarios.synthetic",
                         "types": sorted({t for t, _ in pairs}),
                         "seeds": [settings.first_seed, settings.first_seed + settings.scenarios_per_type - 1],
                         "scenarios": len(pairs)},
        "settings": json.dumps(asdict(settings), sort_keys=True),
        "rows": len(frame),
        "train_loss": train_loss,
        "validation_loss": validation_loss,
        "torch_version": str(torch.__version__),
        "python": platform.python_version(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(checkpoint_path)), exist_ok=True)
    save_checkpoint(checkpoint_path, model, {"hidden": list(settings.hidden)}, metadata)
    return TrainingResult(checkpoint_path, train_loss, validation_loss, len(frame), time.perf_counter() - start)
