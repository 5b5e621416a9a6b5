"""Turning config nodes into the parts of a job: worker pool, scenarios, planner and callback factories, metrics.

Planners and callbacks are built per runner from picklable ``functools.partial`` objects (class plus
keyword arguments), so a runner carries no Hydra object and planners are created fresh for each run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dask_runner.errors import ConfigError, DaskRunnerError, raised_from

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from dask_runner.execution.worker_pool import WorkerPool
    from dask_runner.metrics.metric_engine import MetricEngine
    from dask_runner.metrics.weighted_average_score import WeightedAverageScore
    from dask_runner.scenarios.abstract_scenario import AbstractScenario

logger = logging.getLogger(__name__)


def _container(node: Any) -> Any:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _cause_or(exc: BaseException, where: str) -> DaskRunnerError:
    """Our own error from inside a constructor as is; anything else as a ConfigError that names the entry."""
    ours = raised_from(exc, DaskRunnerError)
    if isinstance(ours, DaskRunnerError):
        return ours
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = " ".join(str(root).split())
    return ConfigError(f"cannot build {where}: {type(root).__name__}: {text}")


def resolve_target(target: str, where: str) -> Any:
    """The class or function a ``_target_`` names; ConfigError naming the entry if it cannot be imported."""
    from hydra.utils import get_object

    try:
        return get_object(target)
    except Exception as exc:  # hydra wraps ImportError/AttributeError in its own exceptions
        raise ConfigError(
            f"{where}: cannot import _target_ {target!r} ({' '.join(str(exc).split())}); "
            "check the dotted path and that its package is installed"
        ) from exc


def partial_from_config(node: Any, where: str) -> functools.partial[Any]:
    """``functools.partial(target, **arguments)`` from a ``{_target_: ..., arguments...}`` node (picklable)."""
    from hydra.utils import instantiate

    config = _container(node)
    if not isinstance(config, Mapping) or "_target_" not in config:
        raise ConfigError(f"{where} needs a _target_ (a dotted class path), got {config!r}")
    target = resolve_target(str(config["_target_"]), where)
    kwargs = {}
    for key, value in config.items():
        if str(key).startswith("_"):
            continue
        kwargs[str(key)] = instantiate(value) if isinstance(value, Mapping) and "_target_" in value else value
    return functools.partial(target, **kwargs)


def build_worker(cfg: DictConfig) -> WorkerPool:
    """The worker pool of ``cfg.worker`` (a ``_target_`` node); our construction errors pass through unchanged."""
    from hydra.utils import instantiate

    resolve_target(str(cfg.worker.get("_target_")), "worker")
    try:
        worker = instantiate(cfg.worker, _convert_="all")
    except Exception as exc:
        raise _cause_or(exc, f"worker {cfg.worker.get('_target_')}") from exc
    return worker


def first_step(cfg: DictConfig) -> Callable[[], None]:
    """The worker pool's first step, before anything is built; returns what undoes it should the job end
    before its worker pool exists.

    A pool class declares it (``WorkerPool.first_step``, called with the node's values; a factory function that
    is no pool class has none): ``worker=dask_slurm_runner``'s scheduler and worker ranks serve there and leave
    by NothingToRun, so only the driver builds runners (it gets back what ends those ranks); ``worker=dask_local``
    starts its workers' fork server there, so it imports Dask on another core while the job builds its runners
    (it gets back what stops that server).
    """
    from dask_runner.execution.worker_pool import WorkerPool

    where = f"worker {cfg.worker.get('_target_')}"
    target = resolve_target(str(cfg.worker.get("_target_")), "worker")
    if not (isinstance(target, type) and issubclass(target, WorkerPool)):
        return lambda: None
    try:
        # The node's values resolved against its own _target_ (its defaults), then given to the step.
        arguments = {str(k): v for k, v in _container(cfg.worker).items() if not str(k).startswith("_")}
    except Exception as exc:
        raise _cause_or(exc, where) from exc
    try:
        return target.first_step(**arguments)
    except DaskRunnerError:  # NothingToRun included: a rank that has served
        raise
    except Exception as exc:
        raise _cause_or(exc, where) from exc


def build_planner_factories(cfg: DictConfig) -> list[functools.partial[Any]]:
    """One factory per entry of ``cfg.planner`` (``planner=[simple_planner,idm_planner]`` gives two)."""
    planners = _container(cfg.planner) or {}
    if not planners:
        raise ConfigError("no planner configured; choose one, e.g. planner=idm_planner")
    return [partial_from_config(node, f"planner {name}") for name, node in planners.items()]


def build_callback_factories(cfg: DictConfig) -> list[functools.partial[Any]]:
    """Zero-argument factories of the ``callback`` group's callbacks (called once per runner)."""
    callbacks = _container(cfg.get("callback")) or {}
    return [partial_from_config(node, f"callback {name}") for name, node in callbacks.items() if node is not None]


def build_scenario_part_factory(cfg: DictConfig, group: str) -> functools.partial[Any] | None:
    """``functools.partial(cls, **arguments)`` of the ``observation`` or ``ego_controller`` group, called with each
    runner's scenario; None when the config has no such group (the builder's default is used)."""
    node = cfg.get(group)
    if node is None:
        return None
    return partial_from_config(node, group)


def build_score(cfg: DictConfig) -> WeightedAverageScore | None:
    """The aggregator of ``cfg.metric_aggregator`` (one entry, as each nuPlan challenge has); None without one."""
    from dask_runner.metrics.weighted_average_score import WeightedAverageScore

    aggregators = _container(cfg.get("metric_aggregator")) or {}
    entries = [(name, node) for name, node in aggregators.items() if node is not None]
    if not entries:
        return None
    if len(entries) > 1:
        raise ConfigError(
            f"metric_aggregator lists {len(entries)} aggregators ({[n for n, _ in entries]}); a job has one score: "
            "choose one, e.g. metric_aggregator=closed_loop_reactive_agents_weighted_average"
        )
    name, node = entries[0]
    try:
        score = partial_from_config(node, f"metric_aggregator {name}")()
    except DaskRunnerError:
        raise
    except Exception as exc:
        raise _cause_or(exc, f"metric_aggregator {name}") from exc
    if not isinstance(score, WeightedAverageScore):
        raise ConfigError(f"metric_aggregator {name} must build a dask_runner.metrics.weighted_average_score."
                          f"WeightedAverageScore, got {type(score).__name__}")
    return score


def build_metric_engine_from_config(cfg: DictConfig) -> MetricEngine:
    """The metric engine of ``cfg.simulation_metric`` (built-in metrics and users' ``_target_`` classes), scored by
    ``cfg.metric_aggregator``."""
    from dask_runner.metrics.metric_engine import build_metric_engine

    metrics = _container(cfg.get("simulation_metric")) or {}
    instances = []
    for name, node in metrics.items():
        if node is None:
            continue
        try:
            instances.append(partial_from_config(node, f"simulation_metric {name}")())
        except DaskRunnerError:
            raise
        except Exception as exc:
            raise _cause_or(exc, f"simulation_metric {name}") from exc
    if not instances:
        raise ConfigError("simulation_metric lists no metric; use simulation_metric=default or run_metric=false")
    return build_metric_engine(instances, build_score(cfg))


def build_scenarios(cfg: DictConfig) -> list[AbstractScenario]:
    """The scenarios of ``cfg.scenario_builder`` selected by ``cfg.scenario_filter``."""
    from hydra.utils import instantiate

    try:
        scenario_filter = instantiate(cfg.scenario_filter, _convert_="all")
    except Exception as exc:
        raise _cause_or(exc, "scenario_filter") from exc
    builder = partial_from_config(cfg.scenario_builder, "scenario_builder")
    scenarios = builder(scenario_filter)
    if not scenarios:
        raise ConfigError(
            "the scenario filter selects no scenario; loosen scenario_filter (e.g. scenario_filter.scenario_types=null)"
        )
    return scenarios
