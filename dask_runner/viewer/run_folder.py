"""One output folder as the viewer reads it: its scenario table once, each replay only when it is asked for.

Everything is found relative to the folder (the layout of :mod:`dask_runner.io.output_dir`), so a folder
that was moved, copied from a cluster or resumed opens the same. A scenario whose log is missing or
cannot be read is *unavailable*, with the reason; the rest of the folder opens as usual.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dask_runner.errors import OutputDirError
from dask_runner.io.output_dir import OutputLayout

if TYPE_CHECKING:
    import pandas as pd

REPLAY_CACHE_SIZE = 16


class RunFolder:
    """An output folder of a simulate or metrics job."""

    def __init__(self, root: str | Path, simulation_log_dir: str | Path | None = None,
                 index: pd.DataFrame | None = None) -> None:
        """``index``: the scenario table when the caller has built it already (the end of a job)."""
        self.root = Path(root).expanduser()
        layout = OutputLayout(self.root)
        if not layout.runner_report.is_file() and not layout.reports_dir.is_dir():
            raise OutputDirError(f"{self.root} holds no dask_runner results (no runner_report.parquet or reports/); "
                                 "pass the output folder of a simulate or metrics run")
        self.log_dir = Path(simulation_log_dir) if simulation_log_dir is not None else _log_dir_of(layout)
        self.label = self.root.resolve().name
        self._replays: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        if index is not None:
            self.__dict__["index"] = index  # what the cached property would compute

    @cached_property
    def index(self) -> pd.DataFrame:
        from dask_runner.viewer.scenario_index import load_index

        return load_index(self.root, self.read_tables, self.index_file)

    @property
    def index_file(self) -> Path:
        """Where the scenario table is kept between opens."""
        from dask_runner.viewer.scenario_index import index_path

        return index_path(self.root)

    def read_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The runner reports and the metric rows the scenario table is built from."""
        from dask_runner.io.report_store import load_reports
        from dask_runner.metrics.metric_aggregation import aggregate_metrics

        return load_reports(self.root), aggregate_metrics(OutputLayout(self.root).metrics_dir)

    def load_replay(self, path: Path, row: dict[str, Any]) -> dict[str, Any]:
        """The replay of the log at ``path`` (``row``: the runner's row of the table)."""
        from dask_runner.simulation.simulation_log import SimulationLog
        from dask_runner.viewer.replay import replay_data

        return replay_data(SimulationLog.load_data(path))

    @cached_property
    def overview(self) -> dict[str, Any]:
        from dask_runner.viewer.scenario_index import overview

        return {"label": self.label, **overview(self.index)}

    def row(self, runner_id: str) -> dict[str, Any] | None:
        rows = self.index[self.index["runner_id"] == runner_id]
        return None if rows.empty else {str(k): v for k, v in rows.iloc[0].to_dict().items()}

    def log_path(self, row: dict[str, Any]) -> Path | None:
        """Where the runner's simulation log is (``<planner>/<type>/<log>/<scenario>.<suffix>``), or None."""
        from dask_runner.simulation.simulation_log import READABLE_SUFFIXES, safe_file_name

        planner, log = safe_file_name(str(row["planner"])), safe_file_name(str(row["log"]))
        scenario = safe_file_name(str(row["scenario"]))
        if row.get("scenario_type"):
            folder = self.log_dir / planner / safe_file_name(str(row["scenario_type"])) / log
            candidates = [folder / f"{scenario}{suffix}" for suffix in READABLE_SUFFIXES]
        else:  # a runner without metrics (it failed): its type is not in the table
            candidates = [p for suffix in READABLE_SUFFIXES
                          for p in self.log_dir.glob(f"{planner}/*/{log}/{scenario}{suffix}")]
        return next((p for p in candidates if p.is_file()), None)

    def replay(self, runner_id: str) -> dict[str, Any]:
        """The replay of one runner, or ``{"unavailable": reason}`` (kept for the last few asked for)."""
        with self._lock:
            cached = self._replays.get(runner_id)
            if cached is not None:
                self._replays.move_to_end(runner_id)
                return cached
        data = self._read_replay(runner_id)
        with self._lock:
            self._replays[runner_id] = data
            while len(self._replays) > REPLAY_CACHE_SIZE:
                self._replays.popitem(last=False)
        return data

    def _read_replay(self, runner_id: str) -> dict[str, Any]:
        from dask_runner.errors import DaskRunnerError
        from dask_runner.report.summary import last_line

        row = self.row(runner_id)
        if row is None:
            return {"runner_id": runner_id, "unavailable": f"no runner {runner_id!r} in {self.label}"}
        head = {"runner_id": runner_id, "planner": row["planner"], "scenario": row["scenario"], "log": row["log"],
                "scenario_type": row.get("scenario_type", ""), "run": self.label}
        path = self.log_path(row)
        if path is None:
            reason = ("no simulation log (the runner failed before its log was written: "
                      f"{row.get('error') or row.get('stage')})" if not row["succeeded"]
                      else "no simulation log in simulation_logs/ (simulation_log_callback off, or the file was "
                           "removed)")
            return {**head, "unavailable": reason}
        try:
            return {**head, **self.load_replay(path, row),
                    "log_file": str(path.relative_to(self.root)) if path.is_relative_to(self.root) else path.name}
        except DaskRunnerError as exc:
            return {**head, "unavailable": last_line(str(exc).replace(str(self.root), "<folder>"))}
        except Exception as exc:  # noqa: BLE001 - one bad log must not take the viewer down
            return {**head, "unavailable": f"cannot draw {path.name}: {type(exc).__name__}: {last_line(exc)}"}

    def same_scenario(self, runner_id: str) -> list[str]:
        """The runners (every planner) of the same log and scenario, this one first."""
        row = self.row(runner_id)
        if row is None:
            return []
        index = self.index
        others = index[(index["log"] == row["log"]) & (index["scenario"] == row["scenario"])]
        return [runner_id, *[r for r in others["runner_id"].tolist() if r != runner_id]]


def _log_dir_of(layout: OutputLayout) -> Path:
    """The folder's ``simulation_logs/``; for the folder of a ``dask-runner metrics`` job, which writes none, the
    ``simulation_log_dir`` its config names (the logs it scored, wherever they still are)."""
    if layout.simulation_logs_dir.is_dir() or not layout.config_file.is_file():
        return layout.simulation_logs_dir
    import yaml

    try:
        named = (yaml.safe_load(layout.config_file.read_text()) or {}).get("simulation_log_dir")
    except (OSError, yaml.YAMLError, AttributeError):
        named = None
    return Path(str(named)) if named else layout.simulation_logs_dir


def run_diff(before: RunFolder, after: RunFolder, offset: int = 0, limit: int = 200) -> dict[str, Any]:
    """Per-scenario score deltas from ``before`` to ``after``, regressions first (a failed runner scores 0).

    Scenarios are matched by planner, log and scenario name; when the runs share no planner and each has
    one (two checkpoints under different names), by log and scenario name."""
    from dask_runner.viewer.scenario_index import records

    a, b = before.index, after.index
    keys = ["planner", "log", "scenario"]
    if not set(a["planner"]) & set(b["planner"]) and a["planner"].nunique() == 1 and b["planner"].nunique() == 1:
        keys = ["log", "scenario"]
    columns = ["runner_id", "planner", "scenario_type", "log", "scenario", "score", "succeeded"]
    merged = a[columns].merge(b[columns], on=keys, suffixes=("_a", "_b"), how="inner")
    for side in ("a", "b"):
        merged[f"score_{side}"] = merged[f"score_{side}"].where(merged[f"succeeded_{side}"], 0.0).fillna(0.0)
    merged["delta"] = merged["score_b"] - merged["score_a"]
    merged = merged.sort_values(["delta", *keys], kind="stable")
    if "planner" in keys:
        merged["planner_a"] = merged["planner_b"] = merged["planner"]
    shown = ["planner_a", "planner_b", "scenario_type_a", "log", "scenario", "score_a", "score_b", "delta",
             "runner_id_a", "runner_id_b"]
    page = merged[shown].iloc[offset: offset + limit]
    regressions = int((merged["delta"] < -1e-9).sum())
    improvements = int((merged["delta"] > 1e-9).sum())
    mean = float(merged["delta"].mean()) if len(merged) else math.nan
    return {"before": before.label, "after": after.label, "matched": int(len(merged)),
            "regressions": regressions, "improvements": improvements,
            "mean_delta": None if not math.isfinite(mean) else round(mean, 4),
            "columns": ["planner_a", "planner_b", "scenario_type", "log", "scenario", "score_a", "score_b", "delta",
                        "runner_a", "runner_b"],
            "offset": offset, "rows": records(page)}
