"""Training the learned planner on a small scenario set: the cache, the loss, and a closed-loop win over SimplePlanner."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd
import pytest

from dask_runner.experiment.training_job import train
from dask_runner.metrics import build_metric_engine
from dask_runner.planners.ml.ml_planner import MLPlanner
from dask_runner.planners.ml.model import read_checkpoint
from dask_runner.planners.ml.training import TrainingSettings, cache_file, training_pairs
from dask_runner.planners.simple_planner import SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios
from dask_runner.scenarios.synthetic import SCENARIO_TYPES

SMALL = TrainingSettings(scenarios_per_type=3, epochs=40, hidden=[64, 64])
LOSS_THRESHOLD = 0.01  # masked MSE of the scaled advances (a unit is 5 m per half-second)


def mean_score(planner_factory: object, scenarios: list) -> float:  # type: ignore[type-arg]
    engine = build_metric_engine()
    scores = []
    for runner in build_simulation_runners(scenarios, [planner_factory]):  # type: ignore[list-item]
        runner.run()
        scores.append(engine.compute(runner.scenario, runner.simulation.history, "planner").closed_loop_score)
    return sum(scores) / len(scores)


@pytest.mark.slow
@pytest.mark.processes
def test_training_on_a_small_set_learns_and_beats_the_simple_planner(tmp_path: Path) -> None:
    checkpoint = tmp_path / "small.pt"
    cache = tmp_path / "cache"
    result = train(SMALL, str(checkpoint), str(cache), command="test", n_workers=2)
    assert result.train_loss < LOSS_THRESHOLD, result
    pairs = training_pairs(SMALL.scenarios_per_type)
    assert len(pairs) == 3 * len(SCENARIO_TYPES)
    files = [cache_file(str(cache), *pair) for pair in pairs]
    assert all(os.path.isfile(path) for path in files)  # one parquet file per scenario, read back as rows
    assert len(pd.concat(pd.read_parquet(path) for path in files)) == result.rows
    metadata = read_checkpoint(str(checkpoint))["metadata"]
    assert metadata["data_seed"] == SMALL.first_seed and metadata["scenario_set"]["scenarios"] == len(pairs)

    stamp = os.stat(files[0]).st_mtime_ns  # a second training reuses the cache instead of extracting again
    train(SMALL, str(tmp_path / "again.pt"), str(cache), command="test", n_workers=2)
    assert os.stat(files[0]).st_mtime_ns == stamp

    held_out = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=len(SCENARIO_TYPES)), lazy=False)
    learned = mean_score(functools.partial(MLPlanner, checkpoint_path=str(checkpoint)), held_out)
    assert learned > mean_score(SimplePlanner, held_out) + 0.1
