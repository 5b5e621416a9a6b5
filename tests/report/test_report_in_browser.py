"""report.html opened in a real headless chromium: the bokeh plots render, offline, without JavaScript errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import NEEDS_CHROMIUM, headless_chromium

from dask_runner.report.html_report import write_html_report

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def test_plots_render_in_a_real_browser(finished_run: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    path = write_html_report(finished_run, max_scenario_plots=3)
    browser.get(path.resolve().as_uri())
    # scores chart + runtime histogram + 3 scenario plots, all built by the page from its JSON data
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.Bokeh !== undefined && "
                                   "Bokeh.documents.reduce((n, doc) => n + doc.roots().length, 0)") == 5
    )
    plots = browser.execute_script("""
        return Bokeh.documents.flatMap(doc => doc.roots()).map(plot => [
            plot.title ? plot.title.text : "",
            [...plot.center, ...plot.right, ...plot.left].filter(model => model.items !== undefined)
                .flatMap(legend => legend.items.map(item => item.label.value))]);""")
    scenario_legends = [labels for title, labels in plots if " | " in title]  # "planner | type | scenario"
    planners = {"SimplePlanner", "LogFuturePlanner", "IDMPlanner"}
    assert [set(labels) for title, labels in plots if title == "Runtime per runner"] == [planners]
    bars = browser.execute_script("""
        return Bokeh.documents.flatMap(doc => doc.roots()).filter(plot => plot.title.text.startsWith("Mean "))
            .map(plot => plot.x_range.factors);""")
    # One bar per scenario type and planner with metrics (the fixture's IDM runners all time out).
    assert len(bars) == 1 and len(bars[0]) == 6 and {planner for _, planner in bars[0]} == planners - {"IDMPlanner"}
    assert len(scenario_legends) == 3
    assert all({"drivable area", "lanes", "expert", "ego", "agents"} <= set(labels) for labels in scenario_legends)
    sizes = WebDriverWait(browser, 30).until(lambda d: d.execute_script("""
        const find = root => [...root.querySelectorAll('*')].reduce(
            (found, el) => el.shadowRoot ? found.concat(find(el.shadowRoot)) : found,
            [...root.querySelectorAll('canvas')]);
        const canvases = find(document);
        const drawn = canvases.filter(c => c.width > 0 && c.height > 0);
        return drawn.length >= 5 ? drawn.map(c => [c.width, c.height]) : null;"""))
    assert len(sizes) >= 5
    assert browser.execute_script("return document.querySelectorAll('details').length") == 3
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
