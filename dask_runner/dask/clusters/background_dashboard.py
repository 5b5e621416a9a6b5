"""The dashboard of a local cluster we start, attached from a background thread when a page is first asked for.

Dask builds its dashboard while the scheduler starts, and importing it (bokeh) takes the driver ~0.5 s of
CPU: on 2 cores that delayed the first simulation of a batch by as much, and attaching it later during the
batch still took that CPU from the workers (a batch of short runners ran ~5% longer). So the clusters
dask_runner starts open their scheduler's HTTP server at once, on the same address (its JSON and health
routes answer from the start), and the first request for a page starts a thread that imports the
dashboard and attaches it on the scheduler's event loop; that request is held and answered once the
dashboard is there (a redirect to itself), so the dashboard link works from the moment the cluster is
returned and a batch nobody watches never pays for it. Nothing is lost by attaching late: Dask's pages
build their plots, and add the plugins that feed them (the task stream), when a page is opened, and
the Simulations page reads the batch's events the scheduler kept from the start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from tornado import web

from dask_runner.dask.compat import (
    add_http_application,
    connect_dashboard,
    import_dashboard_pages,
    remove_http_application,
)

logger = logging.getLogger(__name__)

HOLD_S = 60.0  # the longest a request waits for the dashboard before it is answered anyway


class _HeldPage(web.RequestHandler):
    """Any page asked for before the dashboard is attached: redirected to itself once it is."""

    def initialize(self, ready: asyncio.Event, start: Callable[[], None]) -> None:
        self.ready = ready
        self.start = start

    async def get(self, *_: str) -> None:
        self.start()  # someone is looking: attach now
        try:
            await asyncio.wait_for(self.ready.wait(), HOLD_S)
        except asyncio.TimeoutError:
            pass
        self.redirect(self.request.uri or "/", status=307)


def start_dashboard_in_background(cluster: Any) -> threading.Thread:
    """Attach Dask's dashboard pages to ``cluster``'s in-process scheduler, started without them, when a page
    is first asked for (see above); returns the thread that will import them.

    Plugins of the scheduler with a ``dashboard_starting()`` method are called just before (the Simulations
    page registers itself among Dask's pages that way).
    """
    scheduler = cluster.scheduler
    ready = asyncio.Event()
    started = threading.Event()

    def attach(pages: Any) -> None:  # on the scheduler's event loop
        from distributed.core import Status

        try:
            if pages is not None and scheduler.status == Status.running:
                for plugin in list(scheduler.plugins.values()):
                    starting = getattr(plugin, "dashboard_starting", None)
                    if callable(starting):
                        starting()
                connect_dashboard(pages, scheduler)
        except Exception:  # noqa: BLE001  (the batch runs without the pages; the log says why)
            logger.warning("The Dask dashboard could not be attached; its pages are not served", exc_info=True)
        finally:
            remove_http_application(scheduler, holder)
            ready.set()

    def import_then_attach() -> None:
        pages: Any = None
        try:
            pages = import_dashboard_pages()
        except Exception:  # noqa: BLE001  (bokeh unusable after all: say so, release held requests)
            logger.warning("The Dask dashboard could not be imported; its pages are not served", exc_info=True)
        try:
            cluster.loop.add_callback(attach, pages)
        except RuntimeError:  # the cluster closed first
            logger.debug("cluster closed before its dashboard was attached")

    thread = threading.Thread(target=import_then_attach, name="dask_runner-dashboard", daemon=True)

    def start() -> None:  # on the event loop
        if not started.is_set():
            started.set()
            thread.start()

    holder = web.Application([(r"/.*", _HeldPage, {"ready": ready, "start": start})])
    add_http_application(scheduler, holder)

    return thread
