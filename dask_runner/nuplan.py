"""Planners of nuPlan's scripts built on the worker that runs them, learned models loaded once per worker.

nuPlan's ``build_simulations`` builds every planner in the driver, one per scenario, before any worker runs;
for its ``MLPlanner`` each build loads the checkpoint, so the driver holds one model per scenario and
pickles each to the workers (nuplan-devkit #237). :class:`PlannerOnWorker` wraps a planner's config node
instead::

    planner:
      ml_planner:
        _target_: dask_runner.nuplan.PlannerOnWorker
        _recursive_: false
        planner: {_target_: nuplan.planning.simulation.planner.ml_planner.ml_planner.MLPlanner, model_config: ..., checkpoint_path: ...}

The driver then holds only that config. On the worker the real planner is built when the simulation first
asks for it (its name, at the start of the run). For a node with ``model_config`` and ``checkpoint_path``
(nuPlan's ``MLPlanner`` and planners built like it) the model is loaded once per worker process
(:func:`~dask_runner.per_worker.per_worker`, keyed by the model config and the checkpoint), on the
worker's GPU when it has one, and each simulation gets its own planner around that shared model. A planner
that fails to build fails its own runners with its error (nuPlan's failed report), and only those.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

logger = logging.getLogger(__name__)

ABSTRACT_PLANNER = "nuplan.planning.simulation.planner.abstract_planner.AbstractPlanner"
# The keys nuPlan's planner builder takes out of an ML planner's node and turns into its ``model``.
MODEL_KEYS = ("model_config", "checkpoint_path")


def _register_with_nuplan() -> None:
    """Make this wrapper an instance of nuPlan's AbstractPlanner (an abc.ABC) for nuPlan's type checks."""
    from hydra.utils import get_object

    try:
        get_object(ABSTRACT_PLANNER).register(PlannerOnWorker)
    except Exception:  # nuPlan absent: nothing checks the type
        logger.debug("nuPlan's AbstractPlanner is not importable; PlannerOnWorker is not registered with it")


def model_key(model_config: Any, checkpoint_path: str) -> str:
    """The per-worker key of a model: its config and its checkpoint (path, size and modification time)."""
    from omegaconf import OmegaConf

    text = OmegaConf.to_yaml(model_config) if OmegaConf.is_config(model_config) else repr(model_config)
    try:
        stat = os.stat(checkpoint_path)
        version = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        version = "missing"
    digest = hashlib.sha256(f"{text}\n{checkpoint_path}\n{version}".encode()).hexdigest()[:16]
    return f"nuplan-model:{os.path.basename(str(checkpoint_path))}:{digest}"


def load_nuplan_model(model_config: Any, checkpoint_path: str) -> Any:
    """What nuPlan's planner builder does for an MLPlanner, once: the torch module from the checkpoint, in
    eval mode, on this worker's GPU when it has one."""
    import torch
    from nuplan.planning.script.builders.model_builder import build_torch_module_wrapper
    from nuplan.planning.training.modeling.lightning_module_wrapper import LightningModuleWrapper

    module = build_torch_module_wrapper(model_config)
    model = LightningModuleWrapper.load_from_checkpoint(checkpoint_path, model=module).model
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    logger.info("loaded %s from %s on %s (once in process %d)", type(model).__name__, checkpoint_path, device,
                os.getpid())
    return model.eval().to(device)


def build_planner(node: DictConfig, scenario: Any = None) -> Any:
    """The planner of ``node`` as nuPlan's planner builder makes it, with a learned model shared per worker."""
    from hydra.utils import get_object, instantiate
    from omegaconf import DictConfig, OmegaConf

    from dask_runner.errors import ConfigError
    from dask_runner.per_worker import per_worker

    config = OmegaConf.create(OmegaConf.to_container(node))  # our copy, free to edit
    if not isinstance(config, DictConfig):
        raise ConfigError(f"a planner's config node is a mapping with _target_, got {node!r}")
    if all(key in config for key in MODEL_KEYS):
        model_config, checkpoint_path = config.model_config, str(config.checkpoint_path)
        model = per_worker(model_key(model_config, checkpoint_path),
                           lambda: load_nuplan_model(model_config, checkpoint_path))
        for key in MODEL_KEYS:
            config.pop(key)
        return instantiate(config, model=model)
    if getattr(get_object(str(config._target_)), "requires_scenario", False):
        return instantiate(config, scenario=scenario)
    return instantiate(config)


class PlannerOnWorker:
    """A nuPlan planner built where its simulation runs (see the module's docstring). nuPlan's calls go to it."""

    # nuPlan passes the scenario to planners that ask for it; it travels with the runner anyway.
    requires_scenario = True

    def __init__(self, planner: DictConfig, scenario: Any = None) -> None:
        from hydra.utils import get_object
        from omegaconf import OmegaConf

        from dask_runner.errors import ConfigError

        if not OmegaConf.is_config(planner) or "_target_" not in planner:
            raise ConfigError(f"PlannerOnWorker needs planner: <a planner's config node with _target_>, got {planner!r};"
                              " and _recursive_: false beside it, so the driver keeps it a config, e.g. "
                              "{_target_: dask_runner.nuplan.PlannerOnWorker, _recursive_: false, planner: "
                              "{_target_: ...SimplePlanner, horizon_seconds: 10.0, ...}}")
        # Resolved and detached from the app's config: what travels is this node alone (``${model}`` and the
        # like already filled in), not the whole config it was part of.
        self._node: Any = OmegaConf.create(OmegaConf.to_container(planner, resolve=True))
        self._scenario = scenario
        self._class_name = get_object(str(planner._target_)).__name__
        self._planner: Any = None
        self._build_error: BaseException | None = None
        self._unpickled = False
        _register_with_nuplan()

    def __getstate__(self) -> dict[str, Any]:
        # The config travels, never a built planner: each runner builds its own where it runs.
        return {**self.__dict__, "_planner": None, "_build_error": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _unpickled=True)

    def built(self) -> Any:
        """The real planner, built on first use; a failed build raises its error at every use."""
        if self._planner is None:
            if self._build_error is not None:
                raise self._build_error
            try:
                self._planner = build_planner(self._node, self._scenario)
            except Exception as exc:
                self._build_error = exc
                raise
        return self._planner

    # -- nuPlan's AbstractPlanner, delegated ---------------------------------------------------------------

    def name(self) -> str:
        """The built planner's name. Where the runner arrived pickled (a worker) nuPlan asks for it first, so
        the planner is built then; where it did not (the driver, naming tasks), the class name, without a
        build. Never raises: a planner that fails to build is named by its class; its error comes at
        ``initialize``, and fails that runner."""
        if self._planner is None and not self._unpickled:
            return self._class_name
        try:
            return str(self.built().name())
        except Exception:
            return self._class_name

    def initialize(self, initialization: Any) -> None:
        self.built().initialize(initialization)

    def observation_type(self) -> Any:
        return self.built().observation_type()

    def compute_trajectory(self, current_input: Any) -> Any:
        return self.built().compute_trajectory(current_input)

    def compute_planner_trajectory(self, current_input: Any) -> Any:
        return self.built().compute_planner_trajectory(current_input)

    def generate_planner_report(self, clear_stats: bool = True) -> Any:
        return self.built().generate_planner_report(clear_stats)

    def __getattr__(self, name: str) -> Any:
        # Anything else a planner offers (a callback may ask), from the built planner; where it has not been
        # built and is not on a worker (the driver probing it), nothing: a probe must not build it there.
        own = ("_planner", "_node", "_build_error", "_scenario", "_class_name", "_unpickled")
        if name.startswith("__") or name in own or (self._planner is None and not self._unpickled):
            raise AttributeError(name)
        return getattr(self.built(), name)

    def __repr__(self) -> str:
        return f"PlannerOnWorker({self._class_name}, built={self._planner is not None})"


__all__ = ["PlannerOnWorker", "build_planner", "load_nuplan_model", "model_key"]
