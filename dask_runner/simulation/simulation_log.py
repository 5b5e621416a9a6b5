"""SimulationLog: one simulation's scenario, planner name and history on disk (nuPlan's simulation log).

Layout (as nuPlan): ``<dir>/<planner_name>/<scenario_type>/<log_name>/<scenario_name>.msgpack.xz``
(or ``.pkl.xz``). The format follows the suffix:

- ``.msgpack.xz`` (default): xz-compressed msgpack of a map with keys ``format``, ``version``,
  ``planner_name``, ``scenario_class`` (dotted path), ``scenario`` (``Scenario.to_dict()``) and
  ``history``. The history is stored column-wise as stacked arrays, not one map per sample:
  ``iteration_index [T]``, ``iteration_time [T]``, ``ego [T, EGO_DIM]``, ``trajectory_lengths [T]``,
  ``trajectories [sum, EGO_DIM]``, ``observation_counts [T]`` with the observations' ``track_ids``,
  ``agent_types``, ``poses``, ``velocities``, ``sizes`` concatenated, and ``traffic_light_counts [T]``,
  ``traffic_light_ids`` (strings), ``traffic_light_status`` concatenated. numpy arrays are a msgpack
  extension (code 1) holding ``[dtype string, shape, raw bytes]``: compact, exact and language-neutral.
- ``.pkl.xz``: the same three objects pickled, for scenarios without ``to_dict``.

Files are written to a temporary name and renamed, so a crash never leaves a half-written log; a
truncated or corrupt file raises :class:`SimulationLogError` naming it.
"""

from __future__ import annotations

import importlib
import lzma
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dask_runner.errors import ConfigError, SimulationLogError
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import EGO_DIM, EgoState, TrackedObjects, TrafficLightStatus, Trajectory
from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample, SimulationIteration

SerializationType = Literal["msgpack", "pickle"]
SUFFIXES: dict[str, str] = {"msgpack": ".msgpack.xz", "pickle": ".pkl.xz"}
FORMAT_NAME = "dask_runner.simulation_log"
FORMAT_VERSION = 1
_NDARRAY_EXT = 1
# xz preset 1: logs compress about as well as with the default 6, several times faster to write.
_XZ_PRESET = 1


def safe_file_name(name: str) -> str:
    """``name`` usable as a file or folder name (path separators and odd characters replaced)."""
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", name) or "_"


def serialization_type_of(file_path: Path) -> SerializationType:
    name = file_path.name
    for kind, suffix in SUFFIXES.items():
        if name.endswith(suffix):
            return kind  # type: ignore[return-value]
    raise SimulationLogError(
        f"simulation log {file_path} has an unknown suffix; expected one of {sorted(SUFFIXES.values())}"
    )


def simulation_log_path(
    directory: Path | str, planner_name: str, scenario: AbstractScenario, serialization_type: str = "msgpack"
) -> Path:
    """``<directory>/<planner>/<scenario_type>/<log_name>/<scenario_name><suffix>``."""
    if serialization_type not in SUFFIXES:
        raise ConfigError(
            f"serialization_type must be one of {sorted(SUFFIXES)}, got {serialization_type!r}"
        )
    return (
        Path(directory)
        / safe_file_name(planner_name)
        / safe_file_name(scenario.scenario_type)
        / safe_file_name(scenario.log_name)
        / (safe_file_name(scenario.scenario_name) + SUFFIXES[serialization_type])
    )


@dataclass
class SimulationLog:
    """One simulation as saved; ``load_data`` reads it back into equal objects."""

    file_path: Path
    scenario: AbstractScenario
    planner_name: str
    simulation_history: SimulationHistory

    def __post_init__(self) -> None:
        self.file_path = Path(self.file_path)

    @property
    def serialization_type(self) -> SerializationType:
        return serialization_type_of(self.file_path)

    def save_to_file(self) -> Path:
        """Write the log atomically (temporary file, then rename); returns the path."""
        kind = self.serialization_type
        if kind == "msgpack":
            payload = _to_msgpack(self)
        else:
            payload = pickle.dumps(
                # A lazy scenario pickles as its recipe only; store the built one so the log stands alone.
                {"planner_name": self.planner_name, "scenario": getattr(self.scenario, "built", self.scenario),
                 "history": self.simulation_history},
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        data = lzma.compress(payload, preset=_XZ_PRESET)
        self.file_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file_path.with_name(f".{self.file_path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.file_path)
        finally:
            tmp.unlink(missing_ok=True)
        return self.file_path

    @classmethod
    def load_data(cls, file_path: Path | str) -> SimulationLog:
        """Read a log; SimulationLogError naming the file if it is missing, truncated or corrupt."""
        path = Path(file_path)
        kind = serialization_type_of(path)
        try:
            payload = lzma.decompress(path.read_bytes())
        except FileNotFoundError as exc:
            raise SimulationLogError(f"simulation log {path} does not exist; check the path") from exc
        except (lzma.LZMAError, EOFError, OSError) as exc:
            raise SimulationLogError(
                f"simulation log {path} is truncated or corrupt ({exc}); re-run its simulation to rewrite it"
            ) from exc
        try:
            if kind == "msgpack":
                return _from_msgpack(path, payload)
            data = pickle.loads(payload)
            return cls(path, data["scenario"], str(data["planner_name"]), data["history"])
        except SimulationLogError:
            raise
        except Exception as exc:
            raise SimulationLogError(
                f"simulation log {path} is corrupt or not a dask_runner log ({exc!r}); re-run its simulation"
            ) from exc


# -- msgpack encoding ---------------------------------------------------------------------------------


def _encode_default(obj: Any) -> Any:
    import msgpack

    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        if arr.dtype.hasobject:
            raise TypeError("object arrays cannot be written to a msgpack log")
        return msgpack.ExtType(
            _NDARRAY_EXT, msgpack.packb([arr.dtype.str, list(arr.shape), arr.tobytes()], use_bin_type=True)
        )
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to a msgpack log")


def _decode_ext(code: int, data: bytes) -> Any:
    import msgpack

    if code != _NDARRAY_EXT:
        return msgpack.ExtType(code, data)
    dtype, shape, raw = msgpack.unpackb(data, raw=False)
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def _history_columns(history: SimulationHistory) -> dict[str, Any]:
    samples = history.samples
    observations = [s.observation for s in samples]
    lights = [s.traffic_light_status for s in samples]
    trajectories = [s.trajectory.states for s in samples]
    return {
        "iteration_index": np.array([s.iteration.index for s in samples], dtype=np.int64),
        "iteration_time": np.array([s.iteration.time_s for s in samples], dtype=np.float64),
        "ego": history.ego_array(),
        "trajectory_lengths": np.array([t.shape[0] for t in trajectories], dtype=np.int64),
        "trajectories": np.concatenate(trajectories) if trajectories else np.zeros((0, EGO_DIM)),
        "observation_counts": np.array([len(o) for o in observations], dtype=np.int64),
        **{
            name: _concat([getattr(o, name) for o in observations], getattr(TrackedObjects.empty(), name))
            for name in ("track_ids", "agent_types", "poses", "velocities", "sizes")
        },
        "traffic_light_counts": np.array([len(d) for d in lights], dtype=np.int64),
        "traffic_light_ids": [str(k) for d in lights for k in d],
        "traffic_light_status": np.array([int(v) for d in lights for v in d.values()], dtype=np.int8),
    }


def _concat(arrays: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(arrays) if arrays else empty


def _history_from_columns(c: dict[str, Any]) -> SimulationHistory:
    def split(values: Any, counts: np.ndarray) -> list[Any]:
        return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []

    obs_counts = np.asarray(c["observation_counts"])
    fields = {
        name: split(c[name], obs_counts) for name in ("track_ids", "agent_types", "poses", "velocities", "sizes")
    }
    trajectories = split(c["trajectories"], np.asarray(c["trajectory_lengths"]))
    light_counts = np.asarray(c["traffic_light_counts"])
    light_ids = split(np.array(c["traffic_light_ids"], dtype=object), light_counts)
    light_status = split(np.asarray(c["traffic_light_status"]), light_counts)
    history = SimulationHistory()
    for i, (index, time_s) in enumerate(zip(c["iteration_index"].tolist(), c["iteration_time"].tolist())):
        history.add_sample(
            SimulationHistorySample(
                iteration=SimulationIteration(int(index), float(time_s)),
                ego_state=EgoState.from_array(c["ego"][i]),
                trajectory=Trajectory(trajectories[i]),
                observation=TrackedObjects(*(fields[name][i] for name in fields)),
                traffic_light_status={
                    str(k): TrafficLightStatus(int(v)) for k, v in zip(light_ids[i], light_status[i])
                },
            )
        )
    return history


def _to_msgpack(log: SimulationLog) -> bytes:
    import msgpack

    to_dict = getattr(log.scenario, "to_dict", None)
    if to_dict is None:
        raise ConfigError(
            f"scenario class {type(log.scenario).__name__} has no to_dict(), so it cannot be written as msgpack; "
            "use serialization_type='pickle' (a .pkl.xz log) or give the class to_dict()/from_dict()"
        )
    cls = type(log.scenario)
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "planner_name": log.planner_name,
        "scenario_class": f"{cls.__module__}.{cls.__qualname__}",
        "scenario": to_dict(),
        "history": _history_columns(log.simulation_history),
    }
    return bytes(msgpack.packb(document, default=_encode_default, use_bin_type=True))


def _from_msgpack(path: Path, payload: bytes) -> SimulationLog:
    import msgpack

    document = msgpack.unpackb(payload, ext_hook=_decode_ext, raw=False, strict_map_key=False)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise SimulationLogError(f"{path} is not a dask_runner simulation log")
    if document.get("version") != FORMAT_VERSION:
        raise SimulationLogError(
            f"simulation log {path} has format version {document.get('version')}; this dask_runner reads "
            f"version {FORMAT_VERSION}"
        )
    module_name, _, class_name = str(document["scenario_class"]).rpartition(".")
    scenario_cls = getattr(importlib.import_module(module_name), class_name)
    scenario = scenario_cls.from_dict(document["scenario"])
    return SimulationLog(path, scenario, str(document["planner_name"]), _history_from_columns(document["history"]))
