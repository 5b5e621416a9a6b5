"""Screenshots of `dask-runner view` for the README, taken in Debian's headless chromium.

    python scripts/viewer_screenshots.py docs/

Runs three small real batches (8 generated scenarios each, sequential worker: SimplePlanner and IDMPlanner;
IDMPlanner alone; SimplePlanner alone), opens them in `dask-runner view`, and saves: the overview and
histograms of the first (viewer-overview.png), a collision replay side by side with the other planner at the
collision step (viewer-replay.png), and the run diff from the IDM run to the simple-planner run
(viewer-diff.png).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="folder of the PNG files")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from browser_helpers import headless_chromium

    from dask_runner.experiment.simulation_job import simulate

    work = Path(tempfile.mkdtemp(prefix="viewer-shots-"))
    common = ["worker=sequential", "scenario_filter.limit_total_scenarios=8", "show_progress=false",
              "html_report=false"]
    for name, planners in (("two-planners", "[simple_planner,idm_planner]"), ("idm-only", "idm_planner"),
                           ("simple-only", "simple_planner")):
        simulate([f"planner={planners}", f"output_dir={work / name}", *common], out=io.StringIO())
    viewers = [_start_viewer(work / "two-planners"), _start_viewer(work / "idm-only", work / "simple-only")]
    try:
        args.output.mkdir(parents=True, exist_ok=True)
        with headless_chromium(work / "profile") as browser:
            browser.set_window_size(1300, 1000)
            browser.get(viewers[0][1])
            wait = lambda script: _wait(browser, script)  # noqa: E731
            wait("window.__viewer && window.__viewer.ready")
            browser.save_screenshot(str(args.output / "viewer-overview.png"))
            browser.execute_script("window.__viewer.setFilters({planner: 'Simple', scenario: 'stopping_with_lead'})")
            wait("window.__viewer.table.total === 1 && document.querySelector('#scenario-table tbody tr')")
            browser.execute_script("document.querySelector('#scenario-table tbody tr').click()")
            wait("window.__viewer.panes.length === 1 && window.__viewer.panes[0].drawn")
            browser.execute_script("document.getElementById('compare-planners').click()")
            wait("window.__viewer.panes.length === 2 && window.__viewer.panes.every(p => p.drawn)")
            step = browser.execute_script("return window.__viewer.panes[0].data.markers.no_ego_at_fault_collisions[0]")
            browser.execute_script("window.__viewer.setStep(arguments[0]);"
                                   "document.getElementById('follow-ego').click();"
                                   "document.getElementById('replay').scrollIntoView()", step)
            time.sleep(0.3)
            browser.save_screenshot(str(args.output / "viewer-replay.png"))
            browser.get(viewers[1][1])
            wait("window.__viewer && window.__viewer.ready")
            browser.execute_script("document.getElementById('diff-tab-1').click()")
            wait("document.querySelector('#run-diff tbody tr')")
            browser.execute_script("document.querySelector('#run-diff tbody tr').click()")
            wait("window.__viewer.panes.length === 2 && window.__viewer.panes.every(p => p.drawn)")
            browser.execute_script("window.__viewer.setStep(100); window.scrollTo(0, 0)")
            time.sleep(0.3)
            browser.save_screenshot(str(args.output / "viewer-diff.png"))
    finally:
        for process, _ in viewers:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"saved viewer-overview.png, viewer-replay.png, viewer-diff.png in {args.output}")
    return 0


def _start_viewer(*folders: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "dask_runner.cli", "view", *map(str, folders)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    match = re.search(r"http://127\.0\.0\.1:\d+/", process.stdout.readline())
    if not match:
        process.terminate()
        raise SystemExit("dask-runner view printed no address")
    return process, match.group(0)


def _wait(browser: object, script: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not browser.execute_script(f"return {script}"):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {script}")
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
