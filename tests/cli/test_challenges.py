"""nuPlan's three challenges on the command line: +simulation=open_loop_boxes | closed_loop_nonreactive_agents |
closed_loop_reactive_agents, the groups behind them, their scores, and mixes that are refused."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import QUICK, run_cli

from dask_runner.errors import ConfigError
from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config

TRACKS = "dask_runner.simulation.observation.tracks_observation.TracksObservation"
IDM_AGENTS = "dask_runner.simulation.observation.idm_agents.IDMAgents"
TWO_STAGE = "dask_runner.simulation.controller.two_stage.TwoStageController"
LOG_PLAY_BACK = "dask_runner.simulation.controller.log_playback.LogPlaybackController"
CLOSED_LOOP_METRICS = ["no_ego_at_fault_collisions", "drivable_area_compliance", "driving_direction_compliance",
                       "ego_is_making_progress", "time_to_collision_within_bound", "ego_progress_along_expert_route",
                       "speed_limit_compliance", "ego_is_comfortable"]
OPEN_LOOP_METRICS = ["planner_expert_average_l2_error_within_bound", "planner_expert_final_l2_error_within_bound",
                     "planner_miss_rate_within_bound", "planner_expert_final_heading_error_within_bound",
                     "planner_expert_average_heading_error_within_bound"]


@pytest.mark.parametrize(("challenge", "observation", "controller", "planner", "metrics"), [
    ("open_loop_boxes", TRACKS, LOG_PLAY_BACK, "log_future_planner", OPEN_LOOP_METRICS),
    ("closed_loop_nonreactive_agents", TRACKS, TWO_STAGE, "simple_planner", CLOSED_LOOP_METRICS),
    ("closed_loop_reactive_agents", IDM_AGENTS, TWO_STAGE, "simple_planner", CLOSED_LOOP_METRICS),
])
def test_one_override_sets_the_challenges_parts(challenge: str, observation: str, controller: str, planner: str,
                                                metrics: list[str]) -> None:
    """As nuPlan's experiment files: observation, ego controller, default planner, metric set and aggregator."""
    cfg = compose_config(SIMULATION_CONFIG, [f"+simulation={challenge}"])
    assert cfg.observation._target_ == observation
    assert cfg.ego_controller._target_ == controller
    assert list(cfg.planner) == [planner]
    assert list(cfg.simulation_metric) == metrics
    (aggregator,) = cfg.metric_aggregator.values()
    assert aggregator.challenge_name == challenge and aggregator.name == f"{challenge}_weighted_average"
    assert cfg.experiment_name == challenge
    # planner= on the command line replaces the challenge's default planner, as in nuPlan
    assert list(compose_config(SIMULATION_CONFIG, [f"+simulation={challenge}", "planner=idm_planner"]).planner) == [
        "idm_planner"]


def test_the_default_job_keeps_its_parts_and_the_closed_loop_score() -> None:
    cfg = compose_config(SIMULATION_CONFIG, [])
    assert cfg.observation._target_ == TRACKS and cfg.ego_controller._target_ == TWO_STAGE
    assert list(cfg.simulation_metric) == CLOSED_LOOP_METRICS
    (aggregator,) = cfg.metric_aggregator.values()
    assert aggregator.metric_weights is None and aggregator.multiple_metrics is None  # the metrics' own weights
    assert aggregator.challenge_name is None


def test_open_loop_log_replay_has_zero_displacement_and_scores_one(workdir: Path) -> None:
    """+simulation=open_loop_boxes (log_future_planner by default): the ego replays the log, the plans are the
    log, so every error is zero; the score is named after the challenge in the files, summary and report; then
    `dask-runner metrics +simulation=open_loop_boxes` recomputes the same from the saved logs."""
    run = workdir / "run"
    result = run_cli(["simulate", "+simulation=open_loop_boxes", *QUICK, "scenario_filter.limit_total_scenarios=3",
                      f"output_dir={run}"], workdir)
    assert result.returncode == 0, result.stderr
    assert "mean_score: open_loop_boxes_score" in result.stdout
    rows = pd.concat(pd.read_parquet(p) for p in (run / "metrics").rglob("*.parquet"))
    assert set(rows["planner_name"]) == {"LogFuturePlanner"}
    errors = rows[rows["metric_name"].isin(OPEN_LOOP_METRICS) & (rows["metric_name"] != "planner_miss_rate_within_bound")]
    assert len(errors) == 3 * 4 and errors["value"].abs().max() < 1e-9
    assert (rows.loc[rows["metric_name"] == "open_loop_boxes_score", "score"] == 1.0).sum() == 3
    aggregate = pd.read_parquet(run / "aggregator_metric" / "open_loop_boxes_scores.parquet")
    assert aggregate.loc[aggregate["scenario_type"] == "all", "open_loop_boxes_score"].tolist() == [1.0]
    assert not (run / "aggregator_metric" / "closed_loop_scores.parquet").exists()
    assert "open_loop_boxes_score" in (run / "report.html").read_text()

    again = workdir / "again"
    result = run_cli(["metrics", "+simulation=open_loop_boxes", f"simulation_log_dir={run / 'simulation_logs'}",
                      f"output_dir={again}", "show_progress=false", "html_report=false"], workdir)
    assert result.returncode == 0, result.stderr
    recomputed = pd.concat(pd.read_parquet(p) for p in (again / "metrics").rglob("*.parquet"))
    key = ["scenario_name", "metric_name"]
    pd.testing.assert_frame_equal(recomputed.sort_values(key)[[*key, "score", "value"]].reset_index(drop=True),
                                  rows.sort_values(key)[[*key, "score", "value"]].reset_index(drop=True))


@pytest.mark.parametrize(("overrides", "named"), [
    (["+simulation=open_loop_boxes", "ego_controller=two_stage_controller"],
     "ego_controller=two_stage_controller conflicts with the open_loop_boxes challenge"),
    (["+simulation=closed_loop_nonreactive_agents", "ego_controller=log_play_back_controller"],
     "ego_controller=log_play_back_controller conflicts with the closed_loop_nonreactive_agents challenge"),
    (["+simulation=closed_loop_nonreactive_agents", "observation=idm_agents_observation"],
     "observation=idm_agents_observation conflicts with the closed_loop_nonreactive_agents challenge"),
    (["metric_aggregator=open_loop_boxes_weighted_average"],
     "metric_aggregator open_loop_boxes_weighted_average scores with ['planner_expert_average_l2_error_within_bound'"),
])
def test_a_mix_of_incompatible_parts_is_refused_naming_the_conflict(workdir: Path, overrides: list[str],
                                                                     named: str) -> None:
    """nuPlan runs such a mix and reports a score that means nothing; here it is refused before anything runs
    (exit status 2, no output folder), with a message that names both parts and the fix."""
    result = run_cli(["simulate", *overrides, *QUICK, f"output_dir={workdir / 'run'}"], workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "run").exists()


def test_allowed_variants_of_a_challenge_still_run() -> None:
    """Perfect tracking in a closed-loop challenge, and any planner, are honoured as in nuPlan."""
    from dask_runner.experiment.simulation_job import build_runners

    cfg = compose_config(SIMULATION_CONFIG, ["+simulation=closed_loop_reactive_agents", "planner=idm_planner",
                                             "ego_controller=perfect_tracking_controller", "run_metric=false", "callback=none",
                                             "scenario_filter.limit_total_scenarios=1"])
    (runner,) = build_runners(cfg, "unused")
    setup = runner.simulation.setup
    assert type(setup.ego_controller).__name__ == "PerfectTrackingController"
    assert type(setup.observations).__name__ == "IDMAgents"
    with pytest.raises(ConfigError, match="conflicts with the open_loop_boxes challenge"):
        build_runners(compose_config(SIMULATION_CONFIG, ["+simulation=open_loop_boxes", "observation=idm_agents_observation",
                                                         "callback=none",
                                                         "run_metric=false"]), "unused")


def challenge_scores(challenge: str, planner: str, out: Path, scenarios: int = 14) -> pd.DataFrame:
    """Per-scenario metric rows of one challenge and planner on the first ``scenarios`` generated scenarios."""
    from dask_runner.experiment.simulation_job import simulate
    from dask_runner.metrics import aggregate_metrics

    simulate([f"+simulation={challenge}", f"planner={planner}", "worker=sequential", "callback=none",
              f"scenario_filter.limit_total_scenarios={scenarios}", "html_report=false", "show_progress=false",
              f"output_dir={out / challenge / planner}"], out=io.StringIO())
    return aggregate_metrics(out / challenge / planner / "metrics")


@pytest.mark.parametrize("challenge", ["open_loop_boxes", "closed_loop_nonreactive_agents",
                                       "closed_loop_reactive_agents"])
def test_log_replay_of_the_expert_scores_at_least_095_in_every_challenge(tmp_path: Path, challenge: str) -> None:
    rows = challenge_scores(challenge, "log_future_planner", tmp_path)
    scores = rows.loc[rows["metric_name"] == f"{challenge}_score", "score"]
    assert len(scores) == 14 and scores.min() >= 0.95, scores.tolist()


@pytest.mark.slow
def test_reactive_agents_change_the_scores_in_the_direction_the_readme_explains(tmp_path: Path) -> None:
    """On the same 64 generated scenarios: with agents that react to the ego (IDM) instead of replaying their log,
    the slow simple planner is hit far less (no_ego_at_fault_collisions rises: some of the log's drivers ran into it
    in ways that count against the ego) and the IDM planner's progress changes where its leads now react to it;
    each planner's challenge scores differ measurably."""
    differences = {}
    for planner in ("simple_planner", "idm_planner"):
        tables = {}
        for challenge in ("closed_loop_nonreactive_agents", "closed_loop_reactive_agents"):
            rows = challenge_scores(challenge, planner, tmp_path, scenarios=64)
            rows = rows.assign(metric_name=rows["metric_name"].replace(f"{challenge}_score", "score"))
            tables[challenge] = rows.pivot_table(index="scenario_name", columns="metric_name", values="score")
        differences[planner] = tables["closed_loop_reactive_agents"] - tables["closed_loop_nonreactive_agents"]
    simple, idm = differences["simple_planner"], differences["idm_planner"]
    assert (simple["no_ego_at_fault_collisions"] >= 0).all() and simple["no_ego_at_fault_collisions"].sum() >= 2
    assert (simple["score"].abs() > 1e-6).sum() >= 2
    assert (idm["ego_progress_along_expert_route"].abs() > 1e-3).sum() >= 3
    assert (idm["score"].abs() > 1e-6).sum() >= 3
