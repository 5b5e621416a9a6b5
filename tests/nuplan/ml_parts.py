"""nuPlan's MLPlanner through PlannerOnWorker on a dask_runner pool: how many models each worker process loads.

Run in nuPlan's environment: ``python -c "import ml_parts; ml_parts.main()" SCRATCH``. It writes a checkpoint of
nuPlan's own simple_vector_model (untrained: loading is what is counted), wraps nuPlan's ml_planner node for 8
simulations, maps a build of each over ``worker=dask_distributed``'s pool with 2 worker processes, and prints
one JSON line: per build, the process, the model object and its device.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

SIMULATIONS = 8


def write_checkpoint(model_config: Any, path: Path) -> None:
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate
    from nuplan.planning.training.modeling.lightning_module_wrapper import LightningModuleWrapper

    wrapper = LightningModuleWrapper(model=instantiate(model_config), objectives=[], metrics=[], batch_size=1)
    torch.save({"state_dict": wrapper.state_dict(), "hyper_parameters": dict(wrapper.hparams),
                "pytorch-lightning_version": pl.__version__}, path)


def build_here(wrapper: Any) -> dict[str, Any]:
    """What a simulation does first on its worker: ask the planner's name (which builds it there)."""
    name = wrapper.name()
    model = wrapper.built()._model_loader._model
    return {"pid": os.getpid(), "model": id(model), "name": name, "device": str(next(model.parameters()).device)}


def main() -> None:
    import nuplan
    from omegaconf import OmegaConf

    from dask_runner.dask.nuplan_pools import nuplan_dask_distributed
    from dask_runner.execution.worker_pool import Task
    from dask_runner.nuplan import PlannerOnWorker

    scratch = Path(sys.argv[1])
    model_config = OmegaConf.load(Path(nuplan.__file__).parent / "planning/script/config/common/model/simple_vector_model.yaml")
    checkpoint = scratch / "simple_vector_model.ckpt"
    write_checkpoint(model_config, checkpoint)
    node = OmegaConf.create({"_target_": "nuplan.planning.simulation.planner.ml_planner.ml_planner.MLPlanner",
                             "model_config": model_config, "checkpoint_path": str(checkpoint)})
    wrappers = [PlannerOnWorker(planner=node) for _ in range(SIMULATIONS)]
    pool = nuplan_dask_distributed(n_workers=2, dashboard_address=None)
    try:
        builds = pool.map(Task(fn=build_here), wrappers)
    finally:
        pool.shutdown()
    print("ML_OUTCOME " + json.dumps({"driver": os.getpid(), "builds": builds,
                                      "pickled_bytes": len(pickle.dumps(wrappers[0]))}), flush=True)
