"""The Dask keys of a batch's tasks: written by the batch loop, read back by the dashboard and the task logs.

A key reads ``<kind>-<part>-...-<token>`` and names what runs, so the dashboard's task stream and the task
logs say which planner and scenario a task is. No part contains ``-`` (``key_part`` replaces it), so the
dashboard splits a key back exactly. This module is the only place that knows the format.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

SIMULATION_PREFIX = "simulate-"
SUMMARY_PREFIX = "summary-"  # our bookkeeping tasks: no task log of their own
CALLBACK_PREFIX = "callback-"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def key_part(text: str, limit: int = 48) -> str:
    """A fragment safe in a Dask key: no separators or brackets the dashboard would split or parse."""
    return _UNSAFE.sub("_", text)[:limit] or "_"


def _token() -> str:
    return uuid.uuid4().hex[:8]


def simulation_stem(planner: str, scenario: str) -> str:
    return f"{SIMULATION_PREFIX}{key_part(planner)}-{key_part(scenario)}"


def call_stem(function_name: str, planner: str | None = None, scenario: str | None = None) -> str:
    """A mapped call's stem: ``<function>[-<planner>-<scenario>]`` (its subject's names when it simulates one)."""
    name = key_part(function_name)
    return name if planner is None or scenario is None else f"{name}-{key_part(planner)}-{key_part(scenario)}"


def group_key(stem: str, runner_id: str, group_size: int) -> str:
    """``<stem>-<runner id>[-and_<n>_more]-<token>``: a task running ``group_size`` runners, named by its first."""
    more = f"-and_{group_size - 1}_more" if group_size > 1 else ""
    return f"{stem}-{key_part(runner_id)}{more}-{_token()}"


def summary_key(group: str) -> str:
    """The key of the small task that summarizes the group task ``group`` for the driver."""
    return SUMMARY_PREFIX + group.partition("-")[2]


def callback_key(runner_id: str, work_index: int) -> str:
    return f"{CALLBACK_PREFIX}{key_part(runner_id)}-{work_index}-{_token()}"


def is_summary_key(key: object) -> bool:
    return str(key).startswith(SUMMARY_PREFIX)


@dataclass(frozen=True)
class SimulationKey:
    planner: str
    scenario: str
    runner_id: str
    group_size: int


def parse_simulation_key(key: str) -> SimulationKey | None:
    """Read a simulation task's key back (``simulate-<planner>-<scenario>-<runner id>[-and_<n>_more]-<token>``)."""
    if not key.startswith(SIMULATION_PREFIX):
        return None
    parts = key.split("-")
    if len(parts) == 6 and parts[4].startswith("and_") and parts[4].endswith("_more"):
        try:
            more = int(parts[4][4:-5])
        except ValueError:
            return None
        return SimulationKey(parts[1], parts[2], parts[3], more + 1)
    if len(parts) == 5:
        return SimulationKey(parts[1], parts[2], parts[3], 1)
    return None
