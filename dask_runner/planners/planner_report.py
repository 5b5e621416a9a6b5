"""What a planner reports about itself after a simulation (nuPlan's PlannerReport)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class PlannerReport:
    """Per-step compute times of ``compute_trajectory`` in seconds; subclasses add fields of their own."""

    compute_trajectory_runtimes: list[float] = field(default_factory=list)

    def compute_summary_statistics(self) -> dict[str, float]:
        """``<field>_mean``, ``_median`` and ``_std`` for every list field (NaN when empty)."""
        import numpy as np  # here: every runner report imports this module, composing a job included

        stats: dict[str, float] = {}
        for f in fields(self):
            values = getattr(self, f.name)
            if not isinstance(values, (list, tuple)):
                continue
            arr = np.asarray(values, dtype=np.float64)
            empty = arr.size == 0
            stats[f"{f.name}_mean"] = float("nan") if empty else float(np.mean(arr))
            stats[f"{f.name}_median"] = float("nan") if empty else float(np.median(arr))
            stats[f"{f.name}_std"] = float("nan") if empty else float(np.std(arr))
        return stats
