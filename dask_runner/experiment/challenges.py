"""nuPlan's three challenges, and the parts each one needs: a mixed override is refused before anything runs.

``+simulation=<challenge>`` sets the observation, the ego controller, the planner, the metric set and the
aggregator together. Each of them can still be overridden on its own (``planner=...`` is expected);
nuPlan runs whatever mix results, even one whose score means nothing, such as the open-loop score of an
ego that does not replay the log. Here a mix whose score would mislead is refused, with a message that
names the conflicting parts. The challenge is recognised by its aggregator (``challenge_name``), so
``dask-runner metrics`` on saved logs is not affected: the logs are what they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

_CONTROLLERS = {
    "dask_runner.simulation.controller.log_playback.LogPlaybackController": "log_play_back_controller",
    "dask_runner.simulation.controller.two_stage.TwoStageController": "two_stage_controller",
    "dask_runner.simulation.controller.perfect_tracking.PerfectTrackingController": "perfect_tracking_controller",
}
_OBSERVATIONS = {
    "dask_runner.simulation.observation.tracks_observation.TracksObservation": "box_observation",
    "dask_runner.simulation.observation.idm_agents.IDMAgents": "idm_agents_observation",
}


@dataclass(frozen=True)
class Challenge:
    """The ego controllers and observations a challenge's score is meaningful with (group option names)."""

    name: str
    ego_controllers: tuple[str, ...]
    observations: tuple[str, ...]
    why: str


CHALLENGES: dict[str, Challenge] = {
    c.name: c
    for c in (
        Challenge("open_loop_boxes", ("log_play_back_controller",), ("box_observation",),
                  "its score compares the planner with the expert along the expert's own drive, so the ego must "
                  "replay the log and the agents with it"),
        Challenge("closed_loop_nonreactive_agents", ("two_stage_controller", "perfect_tracking_controller"),
                  ("box_observation",),
                  "the ego must drive the planner's trajectories (a controller that replays the log scores the "
                  "expert, not the planner), among agents that replay their log"),
        Challenge("closed_loop_reactive_agents", ("two_stage_controller", "perfect_tracking_controller"),
                  ("idm_agents_observation",),
                  "the ego must drive the planner's trajectories (a controller that replays the log scores the "
                  "expert, not the planner), among agents that react to it"),
    )
}


def _choice(cfg: DictConfig, group: str, names: dict[str, str]) -> str | None:
    node = cfg.get(group)
    if node is None:
        return None
    target = str(node.get("_target_", ""))
    return names.get(target, target)


def check_challenge_parts(cfg: DictConfig) -> None:
    """ConfigError naming the conflict when the simulate config mixes a challenge's score with parts it excludes."""
    aggregators = cfg.get("metric_aggregator") or {}
    for node in aggregators.values():
        challenge = CHALLENGES.get(str(node.get("challenge_name"))) if node is not None else None
        if challenge is None:
            continue
        for group, allowed, names in (("ego_controller", challenge.ego_controllers, _CONTROLLERS),
                                      ("observation", challenge.observations, _OBSERVATIONS)):
            chosen = _choice(cfg, group, names)
            if chosen is not None and chosen not in allowed:
                raise ConfigError(
                    f"{group}={chosen} conflicts with the {challenge.name} challenge "
                    f"(metric_aggregator={challenge.name}_weighted_average, set by +simulation={challenge.name}): "
                    f"{challenge.why}. Use {group}={' or '.join(allowed)} (drop the {group} override), or choose "
                    "another challenge, e.g. +simulation=closed_loop_reactive_agents for reactive agents"
                )
