"""The end-of-job summary: per planner the scenarios, successes, failures, mean score and runtime; then the failures."""

from __future__ import annotations

import math

import pandas as pd

SUMMARY_COLUMNS = ("planner", "scenarios", "succeeded", "failed", "mean_score", "mean_runtime_s")
CLOSED_LOOP_SCORE = "closed_loop_score"
SCORE_CATEGORY = "score"


def closed_loop_scores(metric_rows: pd.DataFrame) -> pd.DataFrame:
    """The score rows of the metric table (one per scored runner): ``closed_loop_score``, or a challenge's
    ``<challenge>_score`` (rows of category ``score``)."""
    if metric_rows.empty or "metric_name" not in metric_rows.columns:
        return metric_rows.iloc[0:0]
    if "category" in metric_rows.columns:
        return metric_rows[metric_rows["category"] == SCORE_CATEGORY]
    return metric_rows[metric_rows["metric_name"] == CLOSED_LOOP_SCORE]


def score_label(metric_rows: pd.DataFrame) -> str:
    """What ``mean_score`` means: the score's name(s), e.g. ``closed_loop_reactive_agents_score``."""
    names = sorted(set(closed_loop_scores(metric_rows)["metric_name"].astype(str)))
    return ", ".join(names) if names else CLOSED_LOOP_SCORE


def planner_summary(reports: pd.DataFrame, metric_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per planner. ``mean_score`` is the mean closed-loop score over that planner's scored runners."""
    if reports.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    succeeded = reports["succeeded"].astype(bool)
    grouped = reports.assign(_ok=succeeded, _failed=~succeeded).groupby("planner_name", sort=True)
    table = pd.DataFrame({
        "scenarios": grouped.size(),
        "succeeded": grouped["_ok"].sum().astype(int),
        "failed": grouped["_failed"].sum().astype(int),
        "mean_runtime_s": grouped["duration"].mean(),
    })
    scores = closed_loop_scores(metric_rows)
    if not scores.empty and "runner_id" in scores.columns:  # only runners of this table that succeeded
        keyed = scores["runner_id"].fillna("").astype(str) != ""
        scores = scores[~keyed | scores["runner_id"].isin(reports.loc[succeeded, "runner_id"])]
    if not scores.empty:
        table["mean_score"] = scores.groupby("planner_name")["score"].mean()
    else:
        table["mean_score"] = math.nan
    table = table.rename_axis("planner").reset_index()
    return table[list(SUMMARY_COLUMNS)]


def last_line(text: object) -> str:
    """The last non-empty line of an error message (the exception line of a traceback)."""
    lines = [line for line in str(text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def failures(reports: pd.DataFrame) -> pd.DataFrame:
    """Failed runners: log, scenario, planner, stage and the last line of the error."""
    columns = ["log_name", "scenario_name", "planner_name", "error_stage", "error"]
    if reports.empty:
        return pd.DataFrame(columns=columns)
    failed = reports[~reports["succeeded"].astype(bool)]
    return failed.assign(error=failed["error_message"].map(last_line))[columns].reset_index(drop=True)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def format_table(frame: pd.DataFrame) -> str:
    """A plain text table (no extra dependency) that reads well in a terminal and a log file."""
    header = [str(c) for c in frame.columns]
    body = [[_fmt(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
    return "\n".join(lines)


def format_summary(reports: pd.DataFrame, metric_rows: pd.DataFrame, max_failures: int = 50) -> str:
    """The text printed at the end of a job."""
    parts = [format_table(planner_summary(reports, metric_rows))]
    label = score_label(metric_rows)
    if label != CLOSED_LOOP_SCORE:  # a challenge: say which score mean_score is
        parts.insert(0, f"mean_score: {label}")
    failed = failures(reports)
    if not failed.empty:
        parts.append(f"\nFailed [log, scenario] ({len(failed)}; full tracebacks in runner_report.parquet and logs/):")
        for row in failed.head(max_failures).itertuples(index=False):
            parts.append(f"  [{row.log_name}, {row.scenario_name}] {row.planner_name} ({row.error_stage}): {row.error}")
        if len(failed) > max_failures:
            parts.append(f"  ... and {len(failed) - max_failures} more")
    return "\n".join(parts)
