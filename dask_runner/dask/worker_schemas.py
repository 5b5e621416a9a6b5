"""Each worker pool's Hydra schema, made from the one description of its settings and stored in Hydra's ConfigStore.

A pool's keys, their types and defaults are written once, in Python: the settings dataclass its factory builds
(``LocalClusterSettings``, ``DaskBatchSettings``, ``SLURMSettings``, ...) and the keywords of the pool class or
factory that takes them. From those this module makes a structured config per pool (``worker_schema/<name>``),
so a worker YAML lists ``defaults: [/worker_schema/<name>@_here_, _self_]`` and only what differs; every key
can be overridden without ``+``, and a value of the wrong type fails naming the key
(``worker.n_workers=four``). OmegaConf types what YAML can hold: a union of such types becomes ``Any`` (the
settings class checks the value), and a type YAML cannot hold (``distributed.security.Security``) is left out of
its union (``security: bool``).

Imported by dask_runner's command line and by the search-path plugin dask_runner installs for every Hydra app
(nuPlan's and NAVSIM's scripts), before a worker YAML is read.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

GROUP = "worker_schema"
_YAML_SCALARS = (int, float, bool, str)
# What nuPlan's and NAVSIM's worker nodes add: nuPlan's output folder for per-task logs, the time limit of their
# map() calls, and Hydra's conversion of the node to plain containers.
NUPLAN_KEYS: list[tuple[str, Any, Any]] = [
    ("time_limit_s", Optional[float], None),
    ("output_dir", Optional[str], None),
    ("logs_subdir", Optional[str], None),
    ("_convert_", str, "all"),
]


class _Names(dict[str, Any]):
    """A module's names for evaluating its annotations; those it only imports for type checking (``Security``,
    ``Client``) become classes YAML cannot hold."""

    def __init__(self, module: str) -> None:
        super().__init__()
        self.module = vars(sys.modules[module])

    def __missing__(self, name: str) -> Any:
        if name in self.module:
            return self.module[name]
        return getattr(builtins, name) if hasattr(builtins, name) else type(name, (), {})


def _hints(source: Callable[..., Any]) -> dict[str, Any]:
    """The evaluated annotations of ``source``'s keywords (a dataclass's fields, a function's or class's parameters),
    each in the module that wrote it."""
    if dataclasses.is_dataclass(source) and isinstance(source, type):
        written = {}
        for owner in reversed(source.__mro__):
            written.update({name: (annotation, owner.__module__)
                            for name, annotation in vars(owner).get("__annotations__", {}).items()})
    else:
        function = source.__init__ if isinstance(source, type) else source  # type: ignore[misc]
        written = {name: (annotation, source.__module__)
                   for name, annotation in getattr(function, "__annotations__", {}).items()}
    return {name: eval(annotation, {}, _Names(module)) if isinstance(annotation, str) else annotation
            for name, (annotation, module) in written.items()}


def _yaml_type(annotation: Any) -> Any:
    """The type OmegaConf checks a value against (see the module docstring)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        kinds = [kind for kind in args if kind is not type(None)]
        held = [kind for kind in kinds if _holds(kind)]
        inner = _yaml_type(held[0]) if len(held) == 1 else Any
        return Optional[inner] if len(kinds) < len(args) and inner is not Any else inner
    if origin is list:
        return types.GenericAlias(list, (_yaml_type(args[0]),)) if args else list[Any]
    if origin is dict:
        return types.GenericAlias(dict, (args[0], _yaml_type(args[1]))) if args else dict[str, Any]
    if annotation in _YAML_SCALARS or annotation is Any:
        return annotation
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return schema(annotation, target=annotation)
    return Any


def _holds(kind: Any) -> bool:
    origin = typing.get_origin(kind)
    return kind in _YAML_SCALARS or origin in (list, dict) or (dataclasses.is_dataclass(kind) and isinstance(kind, type))


def _keywords(source: Callable[..., Any]) -> Iterable[tuple[str, Any, Any]]:
    """(name, annotation, default) of each keyword of ``source`` that has a default (``**keys`` passes others on)."""
    hints = _hints(source)
    for parameter in inspect.signature(source).parameters.values():
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL) or parameter.default is parameter.empty:
            continue
        yield parameter.name, hints.get(parameter.name, Any), parameter.default


def _field(name: str, annotation: Any, default: Any) -> tuple[str, Any, Any]:
    kind = _yaml_type(annotation)
    node = [k for k in (kind, *typing.get_args(kind)) if dataclasses.is_dataclass(k) and isinstance(k, type)]
    if node:
        # A nested settings node (adapt: {_target_: AdaptiveJobs, ...}) is there to be set, even while off.
        return name, Optional[node[0]], dataclasses.field(default_factory=node[0])
    if default is None and any(typing.get_origin(k) is dict for k in typing.get_args(kind)):
        # OmegaConf 2.3 cannot merge a mapping into a typed dict node that holds None (worker.resources={GPU: 1}
        # fails with AttributeError): untyped here, checked by the settings class.
        kind = Any
    if isinstance(default, (list, dict)):
        return name, kind, dataclasses.field(default_factory=functools.partial(copy.deepcopy, default))
    if default is not None and not isinstance(default, _YAML_SCALARS):
        default = None  # e.g. a Security object: not a YAML value
    return name, kind, dataclasses.field(default=default)


def schema(*sources: Callable[..., Any], target: Callable[..., Any], exclude: Iterable[str] = (),
           nested: dict[str, type] | None = None, extra: Iterable[tuple[str, Any, Any]] = (),
           base: type | None = None) -> type:
    """The structured config of a node built by ``target``: ``_target_`` and each keyword of ``sources`` (the first
    that names it wins), less ``exclude``; ``nested`` replaces a keyword's node by a schema of its own; ``extra``
    adds (name, type, default) keys; ``base``: a schema whose keys it has too."""
    names: dict[str, tuple[str, Any, Any]] = {}
    inherited = {f.name for f in dataclasses.fields(base)} if base is not None else set()
    for source in sources:
        for name, annotation, default in _keywords(source):
            if name not in names and name not in set(exclude):
                names[name] = _field(name, annotation, default)
    for name, node in (nested or {}).items():
        names[name] = (name, node, dataclasses.field(default_factory=node))
    for name, annotation, default in extra:
        if name not in inherited:
            names.setdefault(name, (name, annotation, dataclasses.field(default=default)))
    path = f"{target.__module__}.{target.__qualname__}"
    return dataclasses.make_dataclass(f"{target.__qualname__}Schema".replace(".", ""),
                                      [("_target_", str, dataclasses.field(default=path)), *names.values()],
                                      bases=(base,) if base is not None else ())


@functools.cache
def pool_schemas() -> dict[str, type]:
    """worker name -> its schema (and ``nuplan_<name>``: the same with nuPlan's keys, built by nuPlan's entry)."""
    from dask_runner.dask import nuplan_pools as nuplan_compat
    from dask_runner.dask.allocation_pool import SLURMAllocationPool
    from dask_runner.dask.batch import DaskBatchSettings
    from dask_runner.dask.clusters.cuda import cuda_worker_pool, start_cuda_cluster
    from dask_runner.dask.clusters.htcondor import HTCondorSettings, htcondor_worker_pool
    from dask_runner.dask.clusters.lsf import LSFSettings, lsf_worker_pool
    from dask_runner.dask.clusters.pbs import PBSSettings, pbs_worker_pool
    from dask_runner.dask.clusters.sge import SGESettings, sge_worker_pool
    from dask_runner.dask.clusters.slurm import SLURMSettings, slurm_worker_pool
    from dask_runner.dask.clusters.slurm_runner import SLURMRunnerSettings
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.dask.ray_shim import RayDistributed
    from dask_runner.execution.parallel import SingleMachineParallelExecutor
    from dask_runner.execution.sequential import Sequential

    # DaskDistributed's keywords for Python callers (a cluster or client object), and the time limit of its map(),
    # which only nuPlan's scripts call (their nodes add it).
    handed = ("cluster", "client", "time_limit_s")
    cuda_cluster = schema(start_cuda_cluster, target=start_cuda_cluster)
    jobqueue = {"dask_slurm": (slurm_worker_pool, SLURMSettings), "dask_sge": (sge_worker_pool, SGESettings),
                "dask_pbs": (pbs_worker_pool, PBSSettings), "dask_lsf": (lsf_worker_pool, LSFSettings),
                "dask_htcondor": (htcondor_worker_pool, HTCondorSettings)}
    schemas = {
        "dask_distributed": schema(DaskDistributed, target=DaskDistributed, exclude=handed),
        # The pool starts its cluster itself, after checking the other keys (so Hydra must not build it first).
        "dask_cuda": schema(cuda_worker_pool, DaskBatchSettings, target=cuda_worker_pool,
                            nested={"cluster": cuda_cluster}, extra=[("_recursive_", bool, False)]),
        "dask_slurm_runner": schema(SLURMRunnerSettings, DaskBatchSettings, target=SLURMAllocationPool),
        **{name: schema(factory, settings, DaskBatchSettings, target=factory)
           for name, (factory, settings) in jobqueue.items()},
        "ray_distributed": schema(RayDistributed, target=RayDistributed, extra=[("_convert_", str, "all")],
                                  exclude=("number_of_nodes", "number_of_gpus_per_node", "number_of_cpus_per_node")),
        "single_machine_thread_pool": schema(SingleMachineParallelExecutor, target=SingleMachineParallelExecutor),
        "sequential": schema(Sequential, target=Sequential),
    }
    nuplan = {"dask_distributed": nuplan_compat.nuplan_dask_distributed, "dask_cuda": nuplan_compat.nuplan_dask_cuda,
              "dask_slurm": nuplan_compat.nuplan_dask_slurm,
              "dask_slurm_runner": nuplan_compat.nuplan_dask_slurm_runner}
    for name, entry in nuplan.items():
        schemas[f"nuplan_{name}"] = schema(target=entry, base=schemas[name], extra=NUPLAN_KEYS)
    return schemas


def register() -> None:
    """Store every pool's schema in Hydra's ConfigStore (``/worker_schema/<name>``), unless there."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    stored = store.repo.get(GROUP, {})
    for name, node in pool_schemas().items():
        if f"{name}.yaml" not in stored:
            store.store(group=GROUP, name=name, node=node)


__all__ = ["GROUP", "pool_schemas", "register", "schema"]
