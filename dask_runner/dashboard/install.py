"""Putting the Simulations page on a scheduler: before it starts, from its preload, or at run time.

- Clusters dask_runner starts: ``scheduler_config()`` (set around the cluster's start) registers the page
  among Dask's own pages and names our preload, whose ``dask_setup`` adds the plugin and the JSON route.
- ``dask scheduler --preload dask_runner.dashboard``: the same ``dask_setup``; the page is added to the
  running dashboard.
- A scheduler with neither: ``ensure_on_scheduler(client)`` from the driver installs all of it through
  ``client.run_on_scheduler``.
Either way ``install_on_scheduler`` runs on the scheduler's event loop and is idempotent. The parts of
distributed it relies on that are not documented API are checked for and logged when missing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dask_runner.dashboard.page import PAGE_ROUTE, simulations_doc
from dask_runner.dashboard.plugin import SimulationsPlugin, plugin_of
from dask_runner.dashboard.routes import StatusHandler
from dask_runner.dashboard.routes import routes as status_routes
from dask_runner.dask.compat import (
    add_dashboard_page,
    add_http_routes,
    dashboard_applications,
    dashboard_menu,
    register_dashboard_page,
)

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

PRELOAD = "dask_runner.dashboard"
SWITCH = "dask_runner.simulations-page"  # dask config: False keeps the page (and the driver's events) off
MENU_ENTRY = {"url": PAGE_ROUTE.strip("/"), "name": "Simulations"}


def enabled() -> bool:
    import dask

    return bool(dask.config.get(SWITCH, default=True))


def scheduler_config(dashboard_at_start: bool = True) -> dict[str, object]:
    """dask config for a scheduler dask_runner is about to start in this process (empty when switched off).

    Its preload adds the plugin and status.json as the scheduler starts. A scheduler that builds its
    dashboard as it starts (Dask's way, ``dashboard_at_start``) gets the page registered now, which
    imports the dashboard (bokeh); the local clusters dask_runner starts attach theirs later, and the
    plugin registers the page then (``SimulationsPlugin.dashboard_starting``).
    """
    import dask

    if not enabled():
        return {}
    if dashboard_at_start:
        register_page()
    preload = list(dask.config.get("distributed.scheduler.preload", default=None) or [])
    return {"distributed.scheduler.preload": preload if PRELOAD in preload else [*preload, PRELOAD]}


def register_page() -> None:
    """Put the page among Dask's own pages, for dashboards built from now on in this process: in the
    "More..." menu and ``/individual-plots.json`` (``distributed.dashboard.scheduler.applications``)."""
    if not register_dashboard_page(PAGE_ROUTE, simulations_doc):  # no bokeh: no dashboard, status.json is served
        logger.debug("bokeh is missing: the Simulations page will not be served, status.json will")


def install_on_scheduler(scheduler: Any, how: str) -> str:
    """Add the plugin, the JSON route and the page to ``scheduler``, unless there; returns how they came.

    ``"preload"``, ``"run time"`` (added just now) or ``"earlier run time"`` (another driver added them).
    """
    existing = plugin_of(scheduler)
    if existing is not None:
        return "earlier run time" if existing.installed_by == "run time" else existing.installed_by
    plugin = SimulationsPlugin(before_dashboard=register_page)
    plugin.scheduler = scheduler
    plugin.installed_by = how
    scheduler.add_plugin(plugin)
    _add_status_route(scheduler)
    _add_page(scheduler)
    return how


def install_at_run_time(dask_scheduler: Any) -> str:
    """Run by ``client.run_on_scheduler``: install unless the scheduler has it already."""
    return install_on_scheduler(dask_scheduler, "run time")


def ensure_on_scheduler(client: Client) -> str | None:
    """Make sure the scheduler behind ``client`` serves the page; one log line says how. Its address, or None."""
    if not enabled():
        return None
    try:
        how = client.run_on_scheduler(install_at_run_time)
    except Exception as exc:  # noqa: BLE001  (an old scheduler, one without dask_runner: the batch still runs)
        logger.warning("The Simulations page could not be installed on the scheduler (%s: %s); start it with "
                       "`dask scheduler --preload %s` in an environment that has dask_runner", type(exc).__name__,
                       exc, PRELOAD)
        return None
    link = page_link(client)
    if how == "run time":
        logger.info("Simulations page added at run time to a scheduler started without it (start schedulers with "
                    "`--preload %s` to have it from the start): %s", PRELOAD, link or "no dashboard")
    elif how == "earlier run time":
        logger.info("Simulations page already added at run time by an earlier driver: %s", link or "no dashboard")
    else:
        logger.info("Simulations page installed with the scheduler (preload %s): %s", PRELOAD, link or "no dashboard")
    return link


def page_link(client: Client) -> str | None:
    """The page's address next to the dashboard's (``.../status`` becomes ``.../individual-simulations``)."""
    try:
        link = str(client.dashboard_link or "")
    except Exception:  # noqa: BLE001  (no dashboard on this scheduler)
        return None
    if not link:
        return None
    base = link[: -len("/status")] if link.endswith("/status") else link.rstrip("/")
    return base + PAGE_ROUTE


def status_link(client: Client) -> str | None:
    page = page_link(client)
    return page[: -len(PAGE_ROUTE)] + status_routes[0][0] if page else None


def _add_status_route(scheduler: Any) -> None:
    route, handler, kwargs = status_routes[0]
    assert handler is StatusHandler
    if not add_http_routes(scheduler, [(route, handler, {**kwargs, "dask_server": scheduler})]):
        logger.warning("This scheduler has no HTTP server: status.json is not served")


def _add_page(scheduler: Any) -> None:
    apps = dashboard_applications(scheduler) or []
    if any(PAGE_ROUTE in app.app_paths for app in apps):
        return  # registered before the scheduler started
    if not apps:
        # Clusters dask_runner starts attach their dashboard later; the plugin registers the page then.
        logger.debug("This scheduler runs no dashboard (yet): only status.json is served")
        return
    add_dashboard_page(scheduler, PAGE_ROUTE, simulations_doc, prefix=getattr(apps[0], "prefix", "") or "")
    _add_menu_entry(scheduler)


def _add_menu_entry(scheduler: Any) -> None:
    """Dask builds the "More..." menu once per scheduler (a memoized list its pages share); add ours to it."""
    plots = dashboard_menu(scheduler)
    if plots is None:
        logger.info("Could not add Simulations to the dashboard's More... menu; open %s directly", PAGE_ROUTE)
        return
    if MENU_ENTRY not in plots:
        plots.append(dict(MENU_ENTRY))
        plots.sort(key=lambda entry: str(entry.get("name", "")))
