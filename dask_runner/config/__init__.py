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


def signature_default(name: str, _parent_: Any) -> Any:
    """The default of parameter ``name`` of the ``_target_`` of the YAML node that holds the key."""
    from hydra.utils import get_object

    target_path = _parent_.get("_target_") if _parent_ is not None else None
    if not target_path:
        raise ValueError(f"${{{RESOLVER}:{name}}} is only valid in a node with a _target_")
    target = get_object(str(target_path))
    # A factory that passes its keywords on (nuPlan's worker entries, worker=dask_slurm) names where their
    # defaults are; that one may forward again (nuPlan's dask_slurm -> slurm_worker_pool -> DaskDistributed).
    candidate: Any = target
    for _ in range(8):
        parameter = inspect.signature(candidate).parameters.get(name)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
        forwarded = getattr(candidate, "keyword_defaults_from", None)
        if forwarded is None:
            break
        candidate = get_object(forwarded) if isinstance(forwarded, str) else forwarded
    raise ValueError(f"{target_path} has no parameter {name!r} with a default (in ${{{RESOLVER}:{name}}})")


def _register() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, signature_default)


_register()
