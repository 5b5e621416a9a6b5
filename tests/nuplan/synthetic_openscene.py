"""A tiny OpenScene dataset for NAVSIM's scripts, on the one-road map of ``synthetic_map.py``.

NAVSIM's SceneLoader reads ``navsim_logs/<split>/<log>.pkl`` (a pickled list of frame dicts: the keys its
``Scene`` and ``NavSimScenario`` take) and, for its two-stage scoring, synthetic scenes (pickled ``Scene``s
in ``navhard_two_stage/synthetic_scene_pickles``) with a mapping of each scene and the one before it to their
synthetic second stages. Here: ``LOGS`` logs at 2 Hz, ego driving along the road's left lane behind a slower
vehicle, no sensors; each of the first scenes of a log gets one synthetic second stage (the scene at its end,
ego shifted sideways). Run in nuPlan's environment (NAVSIM installed, ``NUPLAN_MAPS_ROOT`` holding the map):
``python synthetic_openscene.py OPENSCENE_DATA_ROOT SPLIT`` writes it and prints, as JSON, the overrides that
point NAVSIM's ``train_test_split=navtest`` at it (NAVSIM's two-stage scoring needs every scene it scores in a
pair of its mapping: only those are selected).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
from synthetic_map import LANE_WIDTH, LOCATIONS, ROADBLOCK_ID

LOGS = 2
FRAMES_PER_LOG = 30
HISTORY, FUTURE = 4, 10  # NAVSIM's scene filter: frames per scene, before and after its initial frame
SECOND_STAGES = 6  # scenes of each log with a synthetic second stage
INTERVAL_US = 500_000  # NAVSIM's logs are at 2 Hz
CAMERAS = ("CAM_F0", "CAM_L0", "CAM_L1", "CAM_L2", "CAM_R0", "CAM_R1", "CAM_R2", "CAM_B0")  # none is read


def _token(log: int, frame: int, synthetic: bool = False) -> str:
    return f"{'syn-' if synthetic else ''}log{log}-frame{frame:03d}"


def _frame(log: int, index: int) -> dict[str, Any]:
    speed = 4.0 + 2.0 * log
    x, y = speed * index * INTERVAL_US / 1e6, LANE_WIDTH / 2
    lead_x = 30.0 + 3.0 * index * INTERVAL_US / 1e6  # a vehicle at 3 m/s ahead (boxes: in ego's frame)
    return {
        "token": _token(log, index), "scene_token": f"log{log}-scene", "log_name": f"synthetic_log_{log}",
        "timestamp": 1_600_000_000_000_000 + index * INTERVAL_US, "map_location": LOCATIONS[1],
        "ego2global_translation": np.array([x, y, 0.0]), "ego2global_rotation": np.array([1.0, 0.0, 0.0, 0.0]),
        "ego_dynamic_state": [speed, 0.0, 0.0, 0.0], "driving_command": np.array([0, 1, 0, 0]),
        "roadblock_ids": [ROADBLOCK_ID], "traffic_lights": [],
        "anns": {"gt_boxes": np.array([[lead_x - x, 0.0, 0.8, 4.5, 1.9, 1.6, 0.0]]),
                 "gt_names": ["vehicle"], "gt_velocity_3d": np.array([[3.0 - speed, 0.0, 0.0]]),
                 "instance_tokens": [f"log{log}-lead"], "track_tokens": [f"log{log}-lead"]},
        "cams": {name: {} for name in CAMERAS}, "lidar_path": f"synthetic_log_{log}/lidar/{index:03d}.pcd",
    }


def _second_stage(log: int, frames: list[dict[str, Any]], first: int) -> Any:
    """The synthetic scene at the end of the scene whose first frame is ``first``: ego 0.5 m to the side."""
    from navsim.common.dataclasses import Scene, SensorConfig

    start = first + FUTURE  # its initial frame (start + HISTORY - 1) is the original scene's last
    shifted = copy.deepcopy(frames[start:start + HISTORY + FUTURE])
    for frame in shifted:
        frame["token"] = "syn-" + frame["token"]
        frame["ego2global_translation"] = frame["ego2global_translation"] + np.array([0.0, 0.5, 0.0])
    scene = Scene.from_scene_dict_list(shifted, None, num_history_frames=HISTORY, num_future_frames=FUTURE,
                                       sensor_config=SensorConfig.build_no_sensors())
    original_end = _token(log, first + HISTORY + FUTURE - 1)
    scene.scene_metadata = dataclasses.replace(
        scene.scene_metadata, scene_token=scene.scene_metadata.initial_token,
        corresponding_original_scene=original_end, corresponding_original_initial_token=original_end)
    return scene


def _as_list(value: list[Any]) -> str:
    """A list in Hydra's override syntax (no quotes: the tokens are plain words)."""
    return json.dumps(value).replace('"', "")


def write_dataset(data_root: Path, split: str) -> list[str]:
    """The logs and the synthetic scenes; returns the overrides of NAVSIM's navtest split that select them."""
    logs = data_root / "navsim_logs" / split
    synthetic = data_root / "navhard_two_stage" / "synthetic_scene_pickles"
    logs.mkdir(parents=True, exist_ok=True)
    synthetic.mkdir(parents=True, exist_ok=True)
    mapping: list[Any] = []
    synthetic_tokens, original_tokens = [], []
    for log in range(LOGS):
        frames = [_frame(log, index) for index in range(FRAMES_PER_LOG)]
        with open(logs / f"synthetic_log_{log}.pkl", "wb") as file:
            pickle.dump(frames, file)
        for first in range(SECOND_STAGES):
            scene = _second_stage(log, frames, first)
            scene.save_to_disk(synthetic)
            synthetic_tokens.append(scene.scene_metadata.initial_token)
            if first % 2:  # a scene, the scene before it, and their second stages (NAVSIM's pairs are disjoint)
                initial = first + HISTORY - 1
                mapping.append([_token(log, initial), _token(log, initial - 1),
                                [[_token(log, initial + FUTURE, True), _token(log, initial + FUTURE - 1, True)]]])
                original_tokens += [_token(log, initial), _token(log, initial - 1)]
    scene_filter = "train_test_split.scene_filter"
    return ["train_test_split=navtest", f"{scene_filter}.log_names=null", f"{scene_filter}.tokens={_as_list(original_tokens)}",
            f"+{scene_filter}.include_synthetic_scenes=true",
            f"+{scene_filter}.reactive_synthetic_initial_tokens={_as_list(synthetic_tokens)}",
            f"+{scene_filter}.non_reactive_synthetic_initial_tokens=[]",
            f"+train_test_split.reactive_all_mapping={_as_list(mapping)}"]


if __name__ == "__main__":
    print(json.dumps(write_dataset(Path(sys.argv[1]), sys.argv[2])))
