"""Composing the Hydra config of a job from nuPlan-style overrides, with one-line errors that name the fix.

The Compose API (not ``@hydra.main``) is used so the same code serves the console script, the
scripts under ``scripts/`` and library callers, without Hydra changing the working directory or
printing its own tracebacks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

CONFIG_MODULE = "dask_runner.config"
SIMULATION_CONFIG = "default_simulation"
METRIC_CONFIG = "default_metric"
OVERRIDE_EXAMPLE = "planner=simple_planner worker=sequential scenario_filter.scenario_types=[lane_following]"

_MISSING_OPTION = re.compile(r"Could not find '(?P<group>[^']+)/(?P<option>[^']+)'")
_AVAILABLE = re.compile(r"Available options in '[^']+':\n((?:\t.*\n?)+)")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("See https://"))


def _explain(exc: Exception) -> str:
    """The Hydra error as one line that says what to do."""
    from hydra.errors import MissingConfigException, OverrideParseException

    message = str(exc)
    if isinstance(exc, OverrideParseException):
        return (
            f"malformed override: {_one_line(message)}; write overrides as key=value, "
            f"lists as key=[a,b] and new keys as +key=value, e.g. {OVERRIDE_EXAMPLE}"
        )
    missing = _MISSING_OPTION.search(message)
    if isinstance(exc, MissingConfigException) and missing:
        group, option = missing.group("group"), missing.group("option")
        available = _AVAILABLE.search(message)
        options = [o.strip() for o in available.group(1).splitlines() if o.strip()] if available else []
        valid = ", ".join(options) if options else "(none found)"
        example = f" (e.g. {group}={options[0]})" if options else ""
        return f"unknown {group} {option!r}; valid values of {group}: {valid}{example}"
    from omegaconf.errors import ValidationError

    if isinstance(exc.__cause__, ValidationError):  # a value of the wrong type for a key of a pool's schema
        wrong = exc.__cause__
        reason = str(wrong.msg).splitlines()[0] if wrong.msg else type(wrong).__name__
        return f"invalid configuration: {wrong.full_key}: {reason}; give it a value of that type"
    return f"invalid configuration: {_one_line(message)}"


def compose_config(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The job's config (``default_simulation`` or ``default_metric``) with ``overrides`` applied."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from dask_runner.dask.worker_schemas import register

    register()  # the pools' schemas, which the worker nodes list (also done by the search-path plugin)
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            return compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_explain(exc)) from exc
