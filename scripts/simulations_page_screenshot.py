"""A screenshot of the dashboard's Simulations page in the middle of a real batch (for the README).

    python scripts/simulations_page_screenshot.py docs/simulations-page.png

Runs IDM and simple-planner simulations of built-in scenarios with reactive agents on a local Dask cluster
with a short time
limit (the longest scenarios fail with stage "timeout", so the failures table has rows), opens the page
in Debian's headless chromium once a third of the batch is done, and saves what it shows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
import urllib.request
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--scenarios", type=int, default=150)
    parser.add_argument("--time-limit", type=float, default=1.5, help="seconds per simulation")
    args = parser.parse_args(argv)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from dask_runner.dashboard.install import status_link
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners
    from dask_runner.planners.idm_planner import IDMPlanner
    from dask_runner.planners.simple_planner import SimplePlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        print("needs Debian's chromium and chromium-driver (make browser)", file=sys.stderr)
        return 1
    scenarios = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=args.scenarios))
    # Reactive agents (nuPlan's closed_loop_reactive_agents challenge): simulations long enough to watch.
    runners = build_simulation_runners(scenarios, [IDMPlanner, SimplePlanner], observation="idm_agents")
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as pool:
        url, page = status_link(pool.client), pool.simulations_page
        assert url is not None and page is not None
        batch = threading.Thread(target=execute_runners, args=(runners, pool),
                                 kwargs={"experiment_name": "idm-vs-simple", "time_limit_s": args.time_limit},
                                 daemon=True)
        batch.start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with urllib.request.urlopen(url, timeout=10) as response:
                batches = json.load(response)["batches"]
            if not batches:
                continue
            total, done = batches[0]["total"], batches[0]["total"]["succeeded"] + batches[0]["total"]["failed"]
            if batches[0]["state"] != "running" or done >= len(runners) // (3 if total["failed"] else 2):
                break
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1300,1050", "--hide-scrollbars"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(chromedriver), options=options)
        try:
            browser.get(page)
            time.sleep(1.5)  # a picture, not a test: let the page draw and refresh once
            args.output.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(args.output))
        finally:
            browser.quit()
        batch.join()
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
