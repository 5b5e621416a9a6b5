"""Reading the Simulations page back: its JSON twin over HTTP, its rendered rows in a browser, reports counted alike."""

from __future__ import annotations

import collections
import json
import urllib.request
from collections.abc import Iterable
from typing import Any

from sync_helpers import wait_until

from dask_runner.runner.report import RunnerReport

# The page's rows live inside bokeh's shadow DOM: walk every shadow root.
ROWS_JS = """
const rows = [];
const walk = root => {
  root.querySelectorAll('tr[data-row], h2[data-state]').forEach(el => rows.push(el));
  root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
};
walk(document);
return rows.map(el => ({
  row: el.dataset.row || 'batch', batch: el.dataset.batch, state: el.dataset.state || null,
  experiment: el.dataset.experiment || null, planner: el.dataset.planner || null,
  cells: Object.fromEntries([...el.querySelectorAll('td[data-field]')].map(td => [td.dataset.field,
                                                                                  parseInt(td.textContent)])),
}));
"""


def http_base(client: Any) -> str:
    """The dashboard's server on loopback (an in-process cluster's dashboard_link names the machine's address)."""
    port = client.run_on_scheduler(_http_port)
    return f"http://127.0.0.1:{port}"


def _http_port(dask_scheduler: Any) -> int:
    return int(dask_scheduler.http_server.port)


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def counts_of(reports: Iterable[RunnerReport]) -> dict[str, tuple[int, int]]:
    """(succeeded, failed) per planner."""
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for report in reports:
        counts[report.planner_name][0 if report.succeeded else 1] += 1
    return {name: (c[0], c[1]) for name, c in counts.items()}


def batch_named(status: dict[str, Any], experiment: str) -> dict[str, Any] | None:
    return next((b for b in status["batches"] if b["experiment"] == experiment), None)


def json_counts(batch: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {name: (c["succeeded"], c["failed"]) for name, c in batch["planners"].items()}


def page_rows(browser: Any) -> list[dict[str, Any]]:
    return list(browser.execute_script(ROWS_JS))


def page_counts(rows: list[dict[str, Any]], experiment: str) -> dict[str, dict[str, int]]:
    """Per planner, the numbers of the rendered planners table of one experiment."""
    return {r["planner"]: r["cells"] for r in rows if r["row"] == "planner" and r["experiment"] == experiment}


def wait_for_batch(url: str, experiment: str, state: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """The batch ``experiment`` of status.json at ``url`` once it is in ``state``."""
    def ready() -> dict[str, Any] | None:
        batch = batch_named(get_json(url), experiment)
        return batch if batch is not None and batch["state"] == state else None

    return wait_until(ready, timeout_s, f"batch {experiment!r} {state} in status.json", 0.1)
