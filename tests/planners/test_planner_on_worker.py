"""PlannerOnWorker without nuPlan: the driver keeps a config, the planner is built where the runner arrives.

nuPlan's own scripts with it (builds in worker processes, nuPlan's reports and metrics, a failing build) are
in tests/nuplan/test_nuplan_family_pools.py; dask_runner's planners follow nuPlan's planner API, so they
stand in for nuPlan's here.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from dask_runner.errors import ConfigError
from dask_runner.nuplan import PlannerOnWorker, model_key
from dask_runner.per_worker import release_gpu_memory


def _node(**changes: Any) -> Any:
    return OmegaConf.create({"_target_": "dask_runner.planners.simple_planner.SimplePlanner", "horizon_seconds": 10.0,
                             "sampling_time": 0.25, **changes})


def _travelled(wrapper: PlannerOnWorker) -> PlannerOnWorker:
    copy = pickle.loads(pickle.dumps(wrapper))
    assert isinstance(copy, PlannerOnWorker)
    return copy


def test_the_driver_names_the_planner_without_building_it() -> None:
    wrapper = PlannerOnWorker(planner=_node())
    assert wrapper.name() == "SimplePlanner"
    assert not hasattr(wrapper, "observation_type_of_the_built_planner")  # a probe does not build it either
    assert "built=False" in repr(wrapper)


def test_on_a_worker_it_is_built_at_the_first_question_and_a_built_planner_never_travels() -> None:
    wrapper = _travelled(PlannerOnWorker(planner=_node(horizon_seconds=4.0)))
    assert wrapper.name() == "SimplePlanner" and "built=True" in repr(wrapper)
    assert wrapper.built().horizon_seconds == 4.0  # the node's own values
    assert "built=False" in repr(_travelled(wrapper))


def test_a_planner_that_fails_to_build_is_named_and_fails_its_runner_at_initialize() -> None:
    wrapper = _travelled(PlannerOnWorker(planner=_node(no_such_argument=1)))
    assert wrapper.name() == "SimplePlanner"  # nuPlan names the report before anything else
    with pytest.raises(Exception, match="no_such_argument"):
        wrapper.initialize(None)
    with pytest.raises(Exception, match="no_such_argument"):  # remembered, not rebuilt
        wrapper.compute_trajectory(None)


def test_a_planner_node_that_hydra_already_built_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="_recursive_: false"):
        PlannerOnWorker(planner=object())  # type: ignore[arg-type]


def test_a_model_is_keyed_by_its_config_and_its_checkpoint(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"weights-1")
    config = OmegaConf.create({"_target_": "some.Model", "width": 64})
    key = model_key(config, str(checkpoint))
    assert key == model_key(OmegaConf.create({"_target_": "some.Model", "width": 64}), str(checkpoint))
    assert key != model_key(OmegaConf.create({"_target_": "some.Model", "width": 128}), str(checkpoint))
    checkpoint.write_bytes(b"weights-2, retrained")  # same path, new weights: another model
    assert key != model_key(config, str(checkpoint))


def test_releasing_gpu_memory_never_starts_cuda_in_a_process_that_did_not() -> None:
    torch = pytest.importorskip("torch")
    release_gpu_memory()
    assert not torch.cuda.is_initialized()


def test_what_travels_is_the_node_alone_with_the_apps_interpolations_filled_in() -> None:
    app = OmegaConf.create({"horizon": 4.0, "big": list(range(10_000)), "planner": _node(horizon_seconds="${horizon}")})
    wrapper = PlannerOnWorker(planner=app.planner)
    assert len(pickle.dumps(wrapper)) < 5_000  # not the app's whole config
    assert _travelled(wrapper).built().horizon_seconds == 4.0
