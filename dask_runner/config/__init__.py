"""dask_runner's Hydra config tree (``pkg://dask_runner.config``).

Worker YAML files list every key of their ``_target_`` with a comment, but take the default values
from the target's own signature: ``n_workers: ${dask_runner.default:n_workers}``. The Python
signature stays the one definition of each default; a YAML value other than the resolver is an
override. Hydra imports this package before it reads a file of it (for our commands and, through the
search path, for nuPlan's scripts), which is when the resolver is registered.
"""

from __future__ import annotations

import inspect
from typing import Any

RESOLVER = "dask_runner.default"


def keyword_default_sources(target: Any) -> list[Any]:
    """Where a factory that passes its keywords on (a pool's settings class, nuPlan's worker entry) takes their
    defaults from: its ``keyword_defaults_from``, one dotted name or a tuple of them, in order."""
    from hydra.utils import get_object

    forwarded = getattr(target, "keyword_defaults_from", None)
    if forwarded is None:
        return []
    names = (forwarded,) if isinstance(forwarded, str) else tuple(forwarded)
    return [get_object(name) if isinstance(name, str) else name for name in names]


def default_sources(target: Any) -> list[Any]:
    """``target`` and, in order, every source its keyword defaults come from, followed through: nuPlan's
    ``worker=dask_slurm`` entry forwards to ``slurm_worker_pool``, which forwards to its settings class."""
    sources: list[Any] = []
    pending = [target]
    while pending:
        source = pending.pop(0)
        if source not in sources:
            sources.append(source)
            pending.extend(keyword_default_sources(source))
    return sources


def signature_default(name: str, _parent_: Any) -> Any:
    """The default of parameter ``name`` of the ``_target_`` of the YAML node that holds the key."""
    from hydra.utils import get_object

    target_path = _parent_.get("_target_") if _parent_ is not None else None
    if not target_path:
        raise ValueError(f"${{{RESOLVER}:{name}}} is only valid in a node with a _target_")
    target = get_object(str(target_path))
    for candidate in default_sources(target):
        parameter = inspect.signature(candidate).parameters.get(name)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    raise ValueError(f"{target_path} has no parameter {name!r} with a default (in ${{{RESOLVER}:{name}}})")


def _register() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, signature_default)


_register()
