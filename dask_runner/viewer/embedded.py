"""The viewer's data embedded in report.html: every run's overview, its scenario table, and the replays of a
selection, within a size budget (the file must open from disk, with no server).

The selection, in order, until the budget is spent: every failed runner, then each (planner, scenario
type)'s lowest scores, then (when comparing runs) the largest regressions, both sides. The others are listed
in the table; opening one says the ``dask-runner view`` command that shows it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dask_runner.viewer.scenario_index import records

if TYPE_CHECKING:
    import pandas as pd

    from dask_runner.viewer.run_folder import RunFolder

LOWEST_PER_TYPE = 2
DIFF_REGRESSIONS = 10
# Of the budget, at most this share for the tables: a few hundred bytes a row, so 10,000 rows fit in 3 MB.
TABLE_SHARE = 0.3


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), allow_nan=False))


def _selection(index: pd.DataFrame) -> list[str]:
    """Runner ids in the order their replays are embedded: failed first, then the lowest scores per type."""
    failed = index.loc[~index["succeeded"], "runner_id"].tolist()
    scored = index[index["succeeded"]].sort_values("score", kind="stable", na_position="first")
    lowest = scored.groupby(["planner", "scenario_type"], sort=True).head(LOWEST_PER_TYPE)
    rest = scored.drop(lowest.index)
    return list(dict.fromkeys([*failed, *lowest["runner_id"].tolist(), *rest["runner_id"].tolist()]))


def _table_rows(index: pd.DataFrame, budget: int) -> tuple[list[list[Any]], int]:
    """The rows that fit in ``budget`` bytes: all, or the failed and lowest-scoring first; and how many."""
    order = index.sort_values(["succeeded", "score"], kind="stable", na_position="first")
    rows = records(order)
    total, kept = 0, []
    for row in rows:
        total += _size(row) + 1
        if total > budget:
            break
        kept.append(row)
    return kept, len(rows)


def view_command(folders: list[Path], report_dir: Path) -> str:
    """``dask-runner view`` of ``folders`` written relative to the report's folder (it still works once moved)."""
    parts = []
    for folder in folders:
        relative = os.path.relpath(folder.resolve(), report_dir.resolve())
        parts.append("." if relative == "." else relative)
    return "dask-runner view " + " ".join(parts) + "   (run in the folder of this report.html)"


def embedded_data(runs: list[RunFolder], report_dir: Path, budget: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data, summary): the JSON the page reads in file mode, and what went in (replays embedded, rows listed)."""
    from dask_runner.viewer.run_folder import run_diff

    command = view_command([r.root for r in runs], report_dir)
    diffs = {f"0-{i}": run_diff(runs[0], runs[i], 0, 500) for i in range(1, len(runs))}
    used = _size(diffs)
    table_budget = int(budget * TABLE_SHARE / len(runs))
    entries: list[dict[str, Any]] = []
    replays: list[dict[str, Any]] = []
    for run in runs:
        rows, total = _table_rows(run.index, table_budget)
        note = None
        if len(rows) < total:
            note = (f"This file lists the {len(rows)} lowest-scoring of {total} runners (failed first); all of them: "
                    f"{command}")
        replays.append({})
        entry: dict[str, Any] = {"label": run.label, "overview": run.overview, "columns": list(run.index.columns),
                                 "rows": rows, "replays": replays[-1], "view_command": command, "note": note}
        used += _size(entry)
        entries.append(entry)
    wanted: list[tuple[int, str]] = []
    for b in range(1, len(runs)):  # the largest regressions, both sides, first: what a comparison opens
        diff = diffs[f"0-{b}"]
        runner_a, runner_b = diff["columns"].index("runner_a"), diff["columns"].index("runner_b")
        for row in diff["rows"][:DIFF_REGRESSIONS]:
            wanted += [(0, row[runner_a]), (b, row[runner_b])]
    order = [_selection(run.index) for run in runs]
    for rank in range(max((len(o) for o in order), default=0)):  # the runs take turns
        wanted += [(i, o[rank]) for i, o in enumerate(order) if rank < len(o)]
    embedded = 0
    for i, runner_id in dict.fromkeys(wanted):
        if runner_id in replays[i]:
            continue
        replay = runs[i].replay(runner_id)
        size = _size(replay)
        if used + size > budget:
            if "unavailable" in replay:
                continue
            break
        replays[i][runner_id] = replay
        used += size
        embedded += "unavailable" not in replay
    total_runners = sum(len(r.index) for r in runs)
    for entry, held in zip(entries, replays):
        if entry["note"] is None and len(held) < len(entry["rows"]):
            entry["note"] = (f"This file holds the replays of {len(held)} of {len(entry['rows'])} "
                             f"runners (failed first, then the lowest scores per planner and scenario type); the "
                             f"others: {command}")
    return ({"runs": entries, "diffs": diffs},
            {"replays": embedded, "runners": total_runners, "bytes": used, "command": command})
