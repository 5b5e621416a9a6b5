"""The Simulations page's counting, without a cluster: events in, snapshot out; keys; the HTML."""

from __future__ import annotations

import sys
from pathlib import Path

from dask_runner.dashboard import events
from dask_runner.dashboard.batch_status import MAX_BATCHES, MAX_FAILURES, SimulationsStatus
from dask_runner.dashboard.page import render_page
from dask_runner.dashboard.running import RunningSimulation
from dask_runner.dask.batch import simulation_key
from dask_runner.dask.keys import parse_simulation_key

if str(Path(__file__).parent) not in sys.path:  # gated_runners, importable by workers too
    sys.path.insert(0, str(Path(__file__).parent))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(status: SimulationsStatus, batch: str = "b1", experiment: str = "exp", client: str = "c1",
            planners: dict[str, int] | None = None, now: float = 1000.0) -> None:
    status.handle_event(events.TOPIC, events.start_message(batch, experiment, client, planners or {"idm": 6, "simple": 4},
                                                           0.25, 30.0, now))


def test_counts_follow_the_driver_events_and_end_with_its_totals() -> None:
    clock = Clock()
    status = SimulationsStatus(clock)
    started(status)
    status.handle_event(events.TOPIC, events.progress_message("b1", {}, {"idm": 4, "simple": 2}, [], [], 1001.0))
    failure = events.failure_row("r3", "idm", "scen3", "callback", "Traceback...\n  File x\nValueError: boom",
                                 "tcp://w1", 1002.0)
    status.handle_event(events.TOPIC, events.progress_message("b1", {"idm": [2, 1]}, {"idm": 2, "simple": 2},
                                                              [failure], [[1, "r9 alone, after a worker death"]], 1002.0))
    clock.now = 1060.0
    snap = status.snapshot([])
    batch = snap["batches"][0]
    assert batch["experiment"] == "exp" and batch["state"] == "running"
    assert batch["planners"]["idm"] == {**batch["planners"]["idm"], "total": 6, "queued": 1, "running": 2,
                                        "succeeded": 2, "failed": 1}
    assert batch["planners"]["simple"]["queued"] == 2 and batch["planners"]["simple"]["running"] == 2
    assert batch["total"]["succeeded"] == 2 and batch["total"]["failed"] == 1 and batch["total"]["total"] == 10
    assert batch["failures"] == [{"time": 1002.0, "runner_id": "r3", "planner": "idm", "scenario": "scen3",
                                  "stage": "callback", "error": "ValueError: boom", "worker": "tcp://w1"}]
    assert batch["reruns"] == 1 and snap["cluster_events"][0]["kind"] == "re-run"
    # 3 done in 60 s: 3 per minute, 7 left: about 140 s to go
    assert batch["total"]["per_minute"] == 3.0 and batch["total"]["eta_s"] == 140.0

    status.handle_event(events.TOPIC, events.end_message("b1", {"idm": [5, 1], "simple": [3, 1]}, "finished", 1070.0))
    batch = status.snapshot([])["batches"][0]
    assert batch["state"] == "finished" and batch["total"]["eta_s"] is None
    assert {name: (c["succeeded"], c["failed"], c["running"], c["queued"]) for name, c in batch["planners"].items()} \
        == {"idm": (5, 1, 0, 0), "simple": (3, 1, 0, 0)}


def test_batches_are_told_apart_and_running_tasks_belong_to_their_client() -> None:
    status = SimulationsStatus(Clock())
    started(status, "b1", "baseline", "client-a")
    started(status, "b2", "new planner", "client-b")
    running = [RunningSimulation("simulate-idm-s1-r1-abc", "idm", "s1", "r1", 1, "w1", 3.0, "client-a"),
               RunningSimulation("simulate-idm-s2-r2-and_3_more-def", "idm", "s2", "r2", 4, "w2", 9.0, "client-b"),
               RunningSimulation("simulate-idm-s3-r3-ghi", "idm", "s3", "r3", 1, "w1", None, "client-a")]
    snap = status.snapshot(running, workers=2, threads=4)
    assert [b["experiment"] for b in snap["batches"]] == ["new planner", "baseline"]  # newest first
    assert [(r["experiment"], r["elapsed_s"], r["group_size"], r["executing"]) for r in snap["running"]] == \
        [("new planner", 9.0, 4, True), ("baseline", 3.0, 1, True), ("baseline", None, 1, False)]  # longest first
    assert snap["running"][0]["gpu_share"] == 0.25 and snap["running"][0]["time_limit_s"] == 30.0


def test_memory_stays_bounded() -> None:
    status = SimulationsStatus(Clock())
    for number in range(MAX_BATCHES + 5):
        started(status, f"b{number}", f"e{number}", f"c{number}")
        status.handle_event(events.TOPIC, events.end_message(f"b{number}", {}, "finished", 1000.0))
    assert len(status.batches) == MAX_BATCHES and "b0" not in status.batches
    started(status, "big", "big", "cbig", {"idm": 10_000})
    for number in range(200):
        rows = [events.failure_row(f"r{number}-{i}", "idm", "s", "simulation", "x", None, 1.0) for i in range(30)]
        status.handle_event(events.TOPIC, events.progress_message("big", {"idm": [0, 30]}, {}, rows, [], 1.0))
    batch = status.batches["big"]
    assert len(batch.failures) == MAX_FAILURES and batch.total.failed == 6000
    assert batch.failures[0]["runner_id"] == "r199-29"  # the latest first


def test_worker_removals_deaths_retirements_and_a_driver_that_vanished() -> None:
    status = SimulationsStatus(Clock())
    started(status, client="c1")
    status.handle_event("all", {"action": "remove-worker", "worker": "tcp://w1", "expected": False,
                                "processing-tasks": ["a", "b"]})
    status.handle_event("all", {"action": "remove-worker", "worker": "tcp://w2", "expected": True,
                                "processing-tasks": []})
    status.handle_event("all", {"action": "add-worker", "worker": "tcp://w3"})  # not ours: ignored
    status.handle_event("some-topic", "anything")
    assert (status.worker_deaths, status.worker_retirements) == (1, 1)
    assert [e["kind"] for e in status.cluster_events] == ["retirement", "death"]
    status.client_removed("c1")
    assert status.snapshot([])["batches"][0]["state"] == "driver gone"


def test_simulation_keys_parse_back() -> None:
    from gated_runners import GatedRunner

    single = simulation_key(GatedRunner("lane change/3", "idm-planner", Path("gate")), "run-0", 1)
    group = simulation_key(GatedRunner("merge", "simple", Path("gate")), "r7", 12)
    parsed = parse_simulation_key(single)
    assert parsed is not None and (parsed.planner, parsed.scenario, parsed.runner_id, parsed.group_size) == \
        ("idm_planner", "scenario_lane_change_3", "run_0", 1)
    parsed = parse_simulation_key(group)
    assert parsed is not None and (parsed.planner, parsed.runner_id, parsed.group_size) == ("simple", "r7", 12)
    assert parse_simulation_key("summary-idm-s-r-abc") is None
    assert parse_simulation_key("callback-r1-0-abc") is None


def test_page_html_escapes_names_and_marks_rows_for_readers() -> None:
    status = SimulationsStatus(Clock())
    started(status, experiment="<script>x</script>", planners={"idm": 2})
    text = render_page(status.snapshot([]))
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text
    assert "data-row='planner'" in text and "data-field='succeeded'" in text
    assert "not installed" in render_page(None)
