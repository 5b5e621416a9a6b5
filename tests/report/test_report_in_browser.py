"""report.html opened in a real headless chromium: the bokeh plots render, offline, without JavaScript errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dask_runner.report.html_report import write_html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"),
]


@pytest.fixture()
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_plots_render_in_a_real_browser(finished_run: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    path = write_html_report(finished_run, max_scenario_plots=3)
    browser.get(path.resolve().as_uri())
    # scores chart + runtime histogram + 3 scenario plots, all roots of one bokeh document
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.Bokeh !== undefined && Bokeh.documents.length > 0 && "
                                   "Bokeh.documents[0].roots().length") == 5
    )
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
