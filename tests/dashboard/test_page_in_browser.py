"""The Simulations page in a real headless chromium while a batch runs on a process cluster, and at its end.

The runners wait on gate files the test opens, so the page is read at known points of the batch: all
counts come from the rendered page (bokeh's shadow DOM) and must equal the reports, and at the end the
rows of runner_report.parquet.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from browser_helpers import NEEDS_CHROMIUM, headless_chromium  # noqa: E402
from dashboard_helpers import counts_of, page_counts, page_rows  # noqa: E402
from gated_runners import GatedRunner  # noqa: E402
from sync_helpers import wait_until  # noqa: E402

from dask_runner.dask.pool import DaskDistributed  # noqa: E402
from dask_runner.execution.executor import execute_runners  # noqa: E402
from dask_runner.runner.report import RunnerReport  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.slow, NEEDS_CHROMIUM]
EXPERIMENT = "browser check"


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def rendered(browser: Any, want: Any, what: str) -> list[dict[str, Any]]:
    """The page's rows once ``want(rows)`` holds (the page redraws every second)."""
    def wanted() -> list[dict[str, Any]] | None:
        rows = page_rows(browser)
        return rows if want(rows) else None

    return wait_until(wanted, 60, what, 0.2)


def done(rows: list[dict[str, Any]]) -> int:
    return sum(c["succeeded"] + c["failed"] for c in page_counts(rows, EXPERIMENT).values())


def test_counts_on_the_rendered_page_mid_batch_and_at_the_end(tmp_path: Path, browser: Any) -> None:
    import pandas as pd

    from dask_runner.io.runner_report import save_runner_reports

    first, second = tmp_path / "first", tmp_path / "second"
    runners = [GatedRunner(f"r{i}", ("idm", "pdm")[i % 2], first if i < 4 else second, fail=i in (1, 6))
               for i in range(8)]
    so_far: list[RunnerReport] = []
    final: list[RunnerReport] = []
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0",
                         max_group_size=1) as pool:
        assert pool.simulations_page is not None
        batch = threading.Thread(target=lambda: final.extend(execute_runners(
            runners, pool, experiment_name=EXPERIMENT, on_report=so_far.append)))
        batch.start()
        try:
            browser.get(pool.simulations_page)
            # Nothing finished yet: four runners on the cluster (two per worker slot), two executing, four queued.
            rows = rendered(browser, lambda rows: sum(r["row"] == "running" for r in rows) == 2
                            and sum(c["running"] for c in page_counts(rows, EXPERIMENT).values()) == 4,
                            "the first runners running on the page")
            counts = page_counts(rows, EXPERIMENT)
            assert {p: (c["total"], c["queued"], c["running"], c["succeeded"], c["failed"])
                    for p, c in counts.items()} == {"idm": (4, 2, 2, 0, 0), "pdm": (4, 2, 2, 0, 0)}

            first.touch()  # the first four finish (r1 fails); the next four start and wait on the second gate
            rows = rendered(browser, lambda rows: done(rows) == 4 and sum(r["row"] == "running" for r in rows) == 2,
                            "four runners done while the others run")
            assert len(so_far) == 4 and not final  # the batch is still running
            counts = page_counts(rows, EXPERIMENT)
            assert {p: (c["succeeded"], c["failed"]) for p, c in counts.items()} == counts_of(so_far)
            assert all(c["running"] + c["queued"] + c["succeeded"] + c["failed"] == c["total"] == 4
                       for c in counts.values())
            assert [r["planner"] for r in rows if r["row"] == "planner"] == ["idm", "pdm"]
            assert sum(r["row"] == "failure" for r in rows) == 1
            browser.save_screenshot(str(tmp_path / "mid-batch.png"))
        finally:
            second.touch()
            batch.join(timeout=120)
        rows = rendered(browser, lambda rows: any(r["state"] == "finished" for r in rows), "the batch finished")
    assert len(final) == 8
    save_runner_reports(final, str(tmp_path / "out"))
    table = pd.read_parquet(tmp_path / "out" / "runner_report.parquet")
    from_parquet = {planner: (int(group["succeeded"].sum()), int((~group["succeeded"]).sum()))
                    for planner, group in table.groupby("planner_name")}
    counts = page_counts(rows, EXPERIMENT)
    assert {p: (c["succeeded"], c["failed"]) for p, c in counts.items()} == from_parquet == counts_of(final) \
        == {"idm": (3, 1), "pdm": (3, 1)}
    assert all(c["running"] == c["queued"] == 0 for c in counts.values())
    assert sum(r["row"] == "failure" for r in rows) == 2 and sum(r["row"] == "running" for r in rows) == 0
