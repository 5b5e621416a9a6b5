"""What the driver tells the scheduler about a batch: small messages on one event topic.

The driver sends them with ``client.log_event(TOPIC, msg)``; the scheduler keeps every event in a
bounded log, so a message carries counts (deltas since the last one) and at most a few failures, never
a row per runner. Messages are plain dicts of msgpack types (Dask's event log requires it).

- ``start``: the batch's id, experiment name, client, runners per planner, GPU share, time limit.
- ``progress``: per planner, runners finished since the last message (``[succeeded, failed]``), runners
  now on the cluster (absolute), the latest failures and the re-runs decided since the last message.
- ``end``: the final per-planner totals (the driver's own, which make the page exact) and how it ended.
"""

from __future__ import annotations

from typing import Any, Literal

TOPIC = "dask_runner-simulations"
MAX_FAILURES_PER_MESSAGE = 20
MAX_ERROR_CHARS = 300

Message = dict[str, Any]
EndState = Literal["finished", "stopped"]


def start_message(batch: str, experiment: str, client: str, planners: dict[str, int], gpu_share: float | None,
                  time_limit_s: float | None, now: float) -> Message:
    return {"kind": "start", "batch": batch, "experiment": experiment, "client": client, "planners": planners,
            "gpu_share": gpu_share, "time_limit_s": time_limit_s, "time": now}


def failure_row(runner_id: str, planner: str, scenario: str, stage: str | None, error: str | None,
                worker: str | None, now: float) -> list[Any]:
    """One failure as the page lists it: the error's last line only (the full traceback is in the report)."""
    lines = (error or "").strip().splitlines()
    last = lines[-1].strip() if lines else ""
    return [runner_id, planner, scenario, stage or "simulation", last[:MAX_ERROR_CHARS], worker, now]


def progress_message(batch: str, done: dict[str, list[int]], running: dict[str, int], failures: list[list[Any]],
                     reruns: list[list[Any]], now: float) -> Message:
    return {"kind": "progress", "batch": batch, "done": done, "running": running,
            "failures": failures[-MAX_FAILURES_PER_MESSAGE:], "reruns": reruns, "time": now}


def end_message(batch: str, totals: dict[str, list[int]], state: EndState, now: float) -> Message:
    return {"kind": "end", "batch": batch, "totals": totals, "state": state, "time": now}
