"""``/api/dask_runner/status.json``: the Simulations page's numbers for scripts and tests.

Listed in ``routes`` so that a scheduler can also load it through the config key
``distributed.scheduler.http.routes``; ``install`` adds it at run time otherwise.
"""

from __future__ import annotations

import json

from distributed.http.utils import RequestHandler

from dask_runner.dashboard.plugin import plugin_of

STATUS_ROUTE = "/api/dask_runner/status.json"


class StatusHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        plugin = plugin_of(self.server)
        if plugin is None:
            self.set_status(503)
            self.write(json.dumps({"error": "the dask_runner plugin is not installed on this scheduler; start it "
                                            "with `dask scheduler --preload dask_runner.dashboard`"}))
            return
        snapshot = plugin.snapshot()
        with plugin.counting_cpu():
            self.write(json.dumps(snapshot))


routes: list[tuple[str, type, dict[str, object]]] = [(STATUS_ROUTE, StatusHandler, {})]
