"""What the viewer's tests share: the batches' size, the scenario where SimplePlanner collides, and where it does."""

from __future__ import annotations

import numpy as np
import shapely

from dask_runner.metrics.geometry import box_corners
from dask_runner.simulation.simulation_log import SimulationLog

SCENARIOS = 8  # the generated mix: includes stopping_with_lead, where SimplePlanner runs into its lead
COLLISION_SCENARIO = "stopping_with_lead-000000"


def first_overlap_step(log: SimulationLog) -> int:
    """The first step where the ego's box overlaps an agent's, computed here from the log alone."""
    params = log.scenario.ego_vehicle_parameters
    for step, sample in enumerate(log.simulation_history.samples):
        ego = sample.ego_state
        centre = np.array([[ego.x + params.rear_axle_to_center * np.cos(ego.heading),
                            ego.y + params.rear_axle_to_center * np.sin(ego.heading), ego.heading]])
        ego_box = shapely.polygons(box_corners(centre, np.array([params.length]), np.array([params.width])))[0]
        observation = sample.observation
        if len(observation) == 0:
            continue
        boxes = shapely.polygons(box_corners(observation.poses, observation.sizes[:, 0], observation.sizes[:, 1]))
        if shapely.intersects(ego_box, boxes).any():
            return step
    raise AssertionError("no collision in this log")
