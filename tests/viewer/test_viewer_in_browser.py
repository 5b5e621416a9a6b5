"""The viewer in a real headless chromium: served by `dask-runner view`, and inlined in report.html.

What is drawn is read back from ``window.__viewer`` (the page keeps there the ego box it drew in pixels,
the cursor's and markers' positions, the agents drawn...), and compared with the simulation logs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_helpers import NEEDS_CHROMIUM, headless_chromium

from dask_runner.simulation.simulation_log import SimulationLog
from dask_runner.viewer.run_folder import RunFolder
from tests.viewer.viewer_helpers import COLLISION_SCENARIO, first_overlap_step
from tests.viewer.webm import frame_timestamps

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    """Its downloads (the exports) go to ``tmp_path/downloads``."""
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        (tmp_path / "downloads").mkdir()
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(tmp_path / "downloads")})
        yield driver


def downloaded(folder: Path, suffix: str, timeout: float = 60.0) -> Path:
    """The file the page saved into ``folder`` (once chromium has finished writing it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done and not any(p.suffix == ".crdownload" for p in folder.iterdir()):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"nothing saved with {suffix} in {folder}: {list(folder.iterdir())}")


def wait_for(browser: Any, script: str, timeout: float = 30.0) -> Any:
    """Poll ``script`` (a JS expression) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script(f"return {script}")
        if value:
            return value
        if time.monotonic() > deadline:
            errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            raise AssertionError(f"timed out waiting for {script}; page errors: {errors}")
        time.sleep(0.05)


def open_viewer(browser: Any, url: str) -> None:
    browser.get(url)
    wait_for(browser, "window.__viewer && window.__viewer.ready")


def table_changed(browser: Any, action: Callable[[], None]) -> None:
    """Do ``action`` and wait until the table has been drawn again."""
    before = browser.execute_script("return window.__viewer.tableRenders")
    action()
    wait_for(browser, f"window.__viewer.tableRenders > {before}")


def filter_table(browser: Any, column: str, text: str) -> None:
    """Type a filter as a user does: the table reloads when the box changes."""
    box = browser.find_element("css selector", f'#scenario-table input[data-filter="{column}"]')
    table_changed(browser, lambda: box.send_keys(text + "\n"))


def open_scenario(browser: Any, planner: str, scenario: str) -> None:
    table_changed(browser, lambda: browser.execute_script("window.__viewer.setFilters({})"))
    filter_table(browser, "scenario", scenario)
    filter_table(browser, "planner", planner)
    assert browser.execute_script("return window.__viewer.table.total") == 1
    row = browser.find_element("css selector", "#scenario-table tbody tr")
    runner = row.get_attribute("data-runner")
    row.click()
    wait_for(browser, f"window.__viewer.panes.length === 1 && window.__viewer.panes[0].runner_id === '{runner}' && "
                      "(window.__viewer.panes[0].drawn || window.__viewer.panes[0].unavailable)")


def move_slider(browser: Any, step: int) -> None:
    browser.execute_script("const s = document.getElementById('step-slider'); s.value = arguments[0];"
                           "s.dispatchEvent(new Event('input'));", step)


def logged_ego_centre(log: SimulationLog, step: int) -> np.ndarray:
    ego = log.simulation_history.samples[step].ego_state
    d = log.scenario.ego_vehicle_parameters.rear_axle_to_center
    return np.array([ego.x + d * np.cos(ego.heading), ego.y + d * np.sin(ego.heading)])


@pytest.fixture()
def viewer_url(two_planner_run: Path, start_viewer: Callable[..., str]) -> str:
    return start_viewer(two_planner_run)


def test_slider_moves_the_ego_box_to_the_logged_pose(browser: Any, viewer_url: str, two_planner_run: Path) -> None:
    open_viewer(browser, viewer_url)
    open_scenario(browser, "SimplePlanner", COLLISION_SCENARIO)
    runner = browser.execute_script("return window.__viewer.panes[0].runner_id")
    folder = RunFolder(two_planner_run)
    log = SimulationLog.load_data(folder.log_path(folder.row(runner) or {}) or "")
    for step in (0, 37, 120):
        move_slider(browser, step)
        drawn = wait_for(browser, f"window.__viewer.panes[0].drawn.step === {step} && window.__viewer.panes[0].drawn")
        centre = logged_ego_centre(log, step)
        assert np.allclose(drawn["egoWorld"][:2], centre, atol=0.01)
        # the box's pixels are the logged centre's pixels, as the pane maps the world
        expected_px = browser.execute_script("return window.__viewer.panes[0].toPx(arguments[0], arguments[1])",
                                             *centre.tolist())
        assert np.allclose(np.mean(drawn["egoPixels"], axis=0), expected_px, atol=0.5)
        assert browser.find_element("id", "step-label").text.startswith(f"step {step} /")


def test_play_pause_step_layers_and_the_track_cursor(browser: Any, viewer_url: str) -> None:
    open_viewer(browser, viewer_url)
    open_scenario(browser, "IDMPlanner", COLLISION_SCENARIO)
    frames = browser.execute_script("return window.__viewer.framesDrawn")
    browser.find_element("id", "play").click()
    wait_for(browser, "window.__viewer.step >= 5")
    browser.find_element("id", "play").click()  # pause
    paused_at = browser.execute_script("return window.__viewer.step")
    assert browser.execute_script("return window.__viewer.playing") is False
    assert browser.execute_script("return window.__viewer.framesDrawn") >= frames + 5
    time.sleep(0.3)
    assert browser.execute_script("return window.__viewer.step") == paused_at
    browser.find_element("id", "step-forward").click()
    assert browser.execute_script("return window.__viewer.step") == paused_at + 1
    # the cursor of the tracks follows the slider
    cursors = []
    for step in (10, 60, 140):
        move_slider(browser, step)
        cursors.append(wait_for(browser, f"window.__viewer.panes[0].drawn.step === {step} && "
                                         "window.__viewer.panes[0].drawn.cursorX"))
    assert cursors == sorted(cursors) and len(set(cursors)) == 3
    # turning the agents layer off draws none; on again draws them
    move_slider(browser, 50)
    assert browser.execute_script("return window.__viewer.panes[0].drawn.agents") > 0
    browser.find_element("css selector", 'input[data-layer="agents"]').click()
    assert browser.execute_script("return window.__viewer.panes[0].drawn.agents") == 0
    browser.find_element("css selector", 'input[data-layer="agents"]').click()
    assert browser.execute_script("return window.__viewer.panes[0].drawn.agents") > 0
    # following the ego keeps its box at the middle of the view, step after step
    browser.find_element("id", "follow-ego").click()
    for step in (20, 120):
        move_slider(browser, step)
        pixels = wait_for(browser, f"window.__viewer.panes[0].drawn.step === {step} && "
                                   "window.__viewer.panes[0].drawn.egoPixels")
        width, height = browser.execute_script("const c = window.__viewer.panes[0].canvas; return [c.width, c.height]")
        assert np.allclose(np.mean(pixels, axis=0), [width / 2, height / 2], atol=0.5)


def test_collision_marker_sits_at_the_collision_step(browser: Any, viewer_url: str, two_planner_run: Path) -> None:
    open_viewer(browser, viewer_url)
    open_scenario(browser, "SimplePlanner", COLLISION_SCENARIO)
    pane = browser.execute_script("return window.__viewer.panes[0].data.markers")
    (collision_step,) = pane["no_ego_at_fault_collisions"]
    move_slider(browser, collision_step)
    drawn = wait_for(browser, f"window.__viewer.panes[0].drawn.step === {collision_step} && "
                              "window.__viewer.panes[0].drawn")
    assert drawn["markerX"]["no_ego_at_fault_collisions"] == [pytest.approx(drawn["cursorX"])]
    # and that step is where the logged ego box first overlaps an agent (computed from the log, not the viewer)
    folder = RunFolder(two_planner_run)
    runner = browser.execute_script("return window.__viewer.panes[0].runner_id")
    assert collision_step == first_overlap_step(SimulationLog.load_data(folder.log_path(folder.row(runner) or {})
                                                                        or ""))


def test_table_filter_and_sort_open_the_right_replay(browser: Any, viewer_url: str, two_planner_run: Path) -> None:
    open_viewer(browser, viewer_url)
    assert browser.execute_script("return window.__viewer.table.total") == 16
    filter_table(browser, "score", "<0.5")
    index = RunFolder(two_planner_run).index
    low = index[index["score"] < 0.5]
    assert browser.execute_script("return window.__viewer.table.total") == len(low)
    heading = browser.find_element("css selector", '#scenario-table th[data-column="score"]')
    table_changed(browser, heading.click)  # sorted by score already: descending now
    assert browser.execute_script("return window.__viewer.table.descending") is True
    first = browser.find_element("css selector", "#scenario-table tbody tr")
    runner = first.get_attribute("data-runner")
    expected = low.sort_values("score", ascending=False, kind="stable").iloc[0]
    assert index.set_index("runner_id").loc[runner, "score"] == expected["score"]
    first.click()
    wait_for(browser, f"window.__viewer.panes.length === 1 && window.__viewer.panes[0].runner_id === '{runner}'")
    title = browser.find_element("css selector", ".pane h3").text
    row = index.set_index("runner_id").loc[runner]
    assert row["planner"] in title and row["scenario"] in title
    # the overview and one histogram per metric (and the score) are there from the start
    metrics = [c for c in index.columns[list(index.columns).index("score"):]]
    assert len(browser.find_elements("css selector", "#histograms canvas")) == len(metrics)
    groups = index.groupby(["planner", "scenario_type"]).ngroups + index["planner"].nunique()  # + "all" per planner
    assert len(browser.find_elements("css selector", "#aggregates tbody tr")) == groups


def click_aggregate(browser: Any, planner: str, scenario_type: str) -> None:
    """Click the overview's row of ``planner`` and ``scenario_type``: the table shows their runners."""
    for row in browser.find_elements("css selector", "#aggregates tbody tr"):
        cells = row.find_elements("css selector", "td")
        if cells[0].text == planner and cells[1].text == scenario_type:
            table_changed(browser, row.click)
            return
    raise AssertionError(f"no overview row for {planner}, {scenario_type}")


def test_overview_row_filters_the_table(browser: Any, viewer_url: str, two_planner_run: Path) -> None:
    open_viewer(browser, viewer_url)
    click_aggregate(browser, "IDMPlanner", "following_lane_with_lead")
    index = RunFolder(two_planner_run).index
    expected = index[(index["planner"] == "IDMPlanner") & (index["scenario_type"] == "following_lane_with_lead")]
    shown = [row.get_attribute("data-runner") for row in
             browser.find_elements("css selector", "#scenario-table tbody tr")]
    assert sorted(shown) == sorted(expected["runner_id"]) and len(shown) == 2


def test_side_by_side_shows_two_planners_at_the_same_step(browser: Any, viewer_url: str) -> None:
    open_viewer(browser, viewer_url)
    open_scenario(browser, "SimplePlanner", COLLISION_SCENARIO)
    browser.find_element("id", "compare-planners").click()
    wait_for(browser, "window.__viewer.panes.length === 2 && window.__viewer.panes.every(p => p.drawn)")
    move_slider(browser, 90)
    panes = browser.execute_script("return window.__viewer.panes.map(p => [p.data.planner, p.drawn.step, "
                                   "p.drawn.egoWorld, p.data.ego.x[90], p.data.ego.y[90]])")
    assert {p[0] for p in panes} == {"SimplePlanner", "IDMPlanner"}
    assert [p[1] for p in panes] == [90, 90]
    for _, _, world, x, y in panes:
        assert world[:2] == [x, y]
    assert panes[0][2] != panes[1][2]  # two planners, two places


def test_run_diff_lists_the_regression_first_and_opens_both(browser: Any, idm_run: Path, simple_run: Path,
                                                           start_viewer: Callable[..., str]) -> None:
    from dask_runner.viewer.run_folder import run_diff

    open_viewer(browser, start_viewer(idm_run, simple_run))
    browser.find_element("id", "diff-tab-1").click()
    first = wait_for(browser, "document.querySelector('#run-diff tbody tr')")
    expected = run_diff(RunFolder(idm_run), RunFolder(simple_run))
    columns = expected["columns"]
    assert first.get_attribute("data-runner-b") == expected["rows"][0][columns.index("runner_b")]
    assert expected["rows"][0][columns.index("delta")] < 0
    first.click()
    wait_for(browser, "window.__viewer.panes.length === 2 && window.__viewer.panes.every(p => p.drawn)")
    planners = browser.execute_script("return window.__viewer.panes.map(p => p.data.planner)")
    assert planners == ["IDMPlanner", "SimplePlanner"]


@pytest.mark.slow
def test_saved_video_has_one_frame_per_step_and_the_still_is_a_png(browser: Any, viewer_url: str,
                                                                   tmp_path: Path) -> None:
    open_viewer(browser, viewer_url)
    open_scenario(browser, "SimplePlanner", COLLISION_SCENARIO)
    steps = browser.execute_script("return window.__viewer.panes[0].data.steps")
    browser.find_element("id", "export-webm").click()  # as a user does: the file is saved by the browser
    video = downloaded(tmp_path / "downloads", ".webm", timeout=120)
    assert video.name == f"{COLLISION_SCENARIO}-SimplePlanner.webm"
    timestamps = frame_timestamps(video.read_bytes())
    assert len(timestamps) == steps == browser.execute_script("return window.__viewer.lastExport.frames")
    assert timestamps == sorted(timestamps) and timestamps[-1] > 0
    move_slider(browser, 140)
    browser.find_element("id", "export-png").click()
    still = downloaded(tmp_path / "downloads", ".png")
    assert still.name.endswith("-step140.png") and still.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_corrupt_log_is_unavailable_and_the_rest_opens(browser: Any, two_planner_run: Path, tmp_path: Path,
                                                       start_viewer: Callable[..., str]) -> None:
    copy = tmp_path / "broken"
    shutil.copytree(two_planner_run, copy)
    folder = RunFolder(copy)
    runner = folder.index.loc[(folder.index["planner"] == "SimplePlanner")
                              & (folder.index["scenario"] == COLLISION_SCENARIO), "runner_id"].iloc[0]
    log = folder.log_path(folder.row(runner) or {})
    assert log is not None
    log.write_bytes(b"not a log")
    open_viewer(browser, start_viewer(copy))
    open_scenario(browser, "SimplePlanner", COLLISION_SCENARIO)
    text = browser.find_element("css selector", ".pane .unavailable").text
    assert text.startswith("unavailable:") and "truncated or corrupt" in text
    open_scenario(browser, "IDMPlanner", COLLISION_SCENARIO)
    assert browser.execute_script("return window.__viewer.panes[0].unavailable") is None


def test_report_html_opens_from_a_moved_folder_without_a_server(browser: Any, two_planner_run: Path,
                                                               tmp_path: Path) -> None:
    from dask_runner.report.html_report import write_html_report

    copy = tmp_path / "first-place"
    shutil.copytree(two_planner_run, copy)
    write_html_report(copy)
    moved = tmp_path / "moved" / "elsewhere"
    moved.parent.mkdir()
    copy.rename(moved)
    open_viewer(browser, (moved / "report.html").as_uri())
    assert browser.execute_script("return window.__viewer.table.total") == 16
    click_aggregate(browser, "IDMPlanner", "following_lane_with_lead")  # the file's own filtering
    assert browser.execute_script("return window.__viewer.table.total") == 2
    open_scenario(browser, "SimplePlanner", COLLISION_SCENARIO)
    move_slider(browser, 140)
    drawn = wait_for(browser, "window.__viewer.panes[0].drawn.step === 140 && window.__viewer.panes[0].drawn")
    folder = RunFolder(moved)
    runner = browser.execute_script("return window.__viewer.panes[0].runner_id")
    log = SimulationLog.load_data(folder.log_path(folder.row(runner) or {}) or "")
    assert np.allclose(drawn["egoWorld"][:2], logged_ego_centre(log, 140), atol=0.01)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_report_html_of_two_runs_opens_the_regression_from_the_file(browser: Any, idm_run: Path, simple_run: Path,
                                                                    tmp_path: Path) -> None:
    from dask_runner.report.html_report import write_html_report

    after = tmp_path / "after"
    shutil.copytree(simple_run, after)
    path = write_html_report(after, compare_with=[idm_run])
    open_viewer(browser, path.as_uri())
    assert browser.execute_script("return window.__viewer.runs.map(r => r.label)") == ["idm", "after"]
    browser.find_element("id", "diff-tab-1").click()
    first = wait_for(browser, "document.querySelector('#run-diff tbody tr')")
    delta = float(first.find_elements("css selector", "td")[-1].text)
    assert delta < 0
    first.click()
    wait_for(browser, "window.__viewer.panes.length === 2 && window.__viewer.panes.every(p => p.drawn)")
    assert browser.execute_script("return window.__viewer.panes.map(p => p.data.planner)") == ["IDMPlanner",
                                                                                                 "SimplePlanner"]


@pytest.mark.parametrize("filters, sort, descending", [
    ({"score": "<0.5"}, "score", False),
    ({"planner": "=SimplePlanner", "scenario": "lead"}, "scenario", True),
    ({"no_ego_at_fault_collisions": "=0"}, "score", False),
    ({"scenario_type": "following", "score": ">=0.8"}, "duration", True),
])
def test_the_file_filters_and_sorts_as_the_server_does(browser: Any, two_planner_run: Path, tmp_path: Path,
                                                      start_viewer: Callable[..., str], filters: dict[str, str],
                                                      sort: str, descending: bool) -> None:
    """The table's query is written twice (pandas on the server, JavaScript in report.html): same answers."""
    from dask_runner.report.html_report import write_html_report

    copy = tmp_path / "run"
    shutil.copytree(two_planner_run, copy)
    pages = []
    for url in (start_viewer(copy), write_html_report(copy).as_uri()):
        open_viewer(browser, url)
        table_changed(browser, lambda: browser.execute_script(
            "const t = window.__viewer.table; t.sort = arguments[1]; t.descending = arguments[2];"
            "window.__viewer.setFilters(arguments[0]);", filters, sort, descending))
        pages.append(browser.execute_script(
            "const t = window.__viewer.table, c = t.columns;"
            "return [t.total, t.rows.map(r => r[c.indexOf('runner_id')]), t.rows.map(r => r[c.indexOf(arguments[0])])]",
            sort))
    (server_total, server_ids, server_keys), (file_total, file_ids, file_keys) = pages
    assert server_total == file_total > 0
    assert sorted(server_ids) == sorted(file_ids) and server_keys == file_keys
