"""The learned planner: the shipped checkpoint loads and drives, bad checkpoints fail before anything runs,
its held-out evaluation scenarios are not in its training set, and batched inference equals batch-one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dask_runner.errors import ConfigError
from dask_runner.metrics import build_metric_engine
from dask_runner.per_worker import per_worker_keys
from dask_runner.planners.ml.features import FEATURE_COUNT, HORIZON_STEPS, STEP_S
from dask_runner.planners.ml.ml_planner import SHIPPED_CHECKPOINT, MLPlanner
from dask_runner.planners.ml.model import INFERENCE_ROWS, load_model, predict, read_checkpoint
from dask_runner.planners.ml.training import training_pairs
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios
from tests.cli.cli_helpers import cli_env


def test_the_shipped_checkpoint_loads_and_drives() -> None:
    (scenario,) = build_synthetic_scenarios(ScenarioFilter(scenario_types=["following_lane_with_lead"],
                                                           limit_total_scenarios=1), lazy=False)
    (runner,) = build_simulation_runners([scenario], [MLPlanner])
    report = runner.run()
    assert report.succeeded and report.planner_name == "MLPlanner"
    history = runner.simulation.history
    first_plan = history.samples[0].trajectory
    assert first_plan.states.shape[0] == HORIZON_STEPS + 1
    assert first_plan.end_time - first_plan.start_time == pytest.approx(HORIZON_STEPS * STEP_S)
    ego = history.ego_array()
    assert np.hypot(*(ego[-1, 1:3] - ego[0, 1:3])) > 30.0  # it drives: tens of metres in 15 s
    assert any(key.startswith("ml-planner:") for key in per_worker_keys())  # loaded through per_worker
    result = build_metric_engine().compute(scenario, history, "MLPlanner")
    assert result.score_of("no_ego_at_fault_collisions") == 1.0


def test_the_checkpoint_records_how_it_was_made_and_evaluation_scenarios_are_held_out() -> None:
    metadata = read_checkpoint(SHIPPED_CHECKPOINT)["metadata"]
    assert metadata["command"].startswith("dask-runner train")
    scenario_set = metadata["scenario_set"]
    first, last = scenario_set["seeds"]
    assert metadata["data_seed"] == first
    trained = set(training_pairs(last - first + 1, first, scenario_set["types"]))
    assert len(trained) == scenario_set["scenarios"]
    held_out = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=64))
    assert len(held_out) == 64
    assert not {(s.scenario_type, int(s.scenario_name.rsplit("-", 1)[1])) for s in held_out} & trained


def test_a_missing_or_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        MLPlanner(checkpoint_path=str(tmp_path / "nowhere.pt"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(Path(SHIPPED_CHECKPOINT).read_bytes()[:1000])
    with pytest.raises(ConfigError, match="corrupt"):
        MLPlanner(checkpoint_path=str(corrupt))
    with pytest.raises(ConfigError, match="does not fit model_config"):
        MLPlanner(model_config={"hidden": [7]})
    with pytest.raises(ConfigError, match="model_config"):
        MLPlanner(model_config={"layers": 3})


def test_without_torch_the_planner_names_the_extra_to_install() -> None:
    code = ("import sys; sys.modules['torch'] = None\n"
            "from dask_runner.planners.ml.ml_planner import MLPlanner\n"
            "from dask_runner.errors import ConfigError\n"
            "try:\n    MLPlanner()\nexcept ConfigError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True)
    assert "pip install 'dask_runner[ml]'" in result.stdout


def test_batched_inference_equals_batch_one_bit_for_bit() -> None:
    model = load_model(SHIPPED_CHECKPOINT, None, "cpu")
    rows = np.random.default_rng(0).normal(size=(2 * INFERENCE_ROWS + 3, FEATURE_COUNT)).astype(np.float32)
    together = predict(model, rows)
    alone = np.concatenate([predict(model, rows[i:i + 1]) for i in range(len(rows))])
    assert np.array_equal(together, alone)
    shuffled = np.random.default_rng(1).permutation(len(rows))
    assert np.array_equal(predict(model, rows[shuffled]), together[shuffled])
