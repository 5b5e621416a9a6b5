"""SimulationLog: one simulation's scenario, planner name and history on disk (nuPlan's simulation log).

Layout (as nuPlan): ``<dir>/<planner_name>/<scenario_type>/<log_name>/<scenario_name>.msgpack.zst``
(or ``.pkl.xz``). The format follows the suffix:

- ``.msgpack.zst`` (default, format version 2): zstandard-compressed msgpack of a map with keys
  ``format``, ``version``, ``planner_name``, ``scenario_class`` (dotted path), ``scenario``
  (``Scenario.to_dict()``) and ``history``. The history is stored column-wise as stacked arrays, not
  one map per sample: ``iteration_index [T]``, ``iteration_time [T]``, ``ego [T, EGO_DIM]``,
  ``trajectory_lengths [T]``, ``trajectories [sum, EGO_DIM]``, ``traffic_light_counts [T]``,
  ``traffic_light_ids`` (strings), ``traffic_light_status`` concatenated, and the observations:
  ``observations_are_scenario_replay: true`` when every sample's observation is exactly the
  scenario's own recorded agents at that iteration (log replay, the default), else
  ``observation_counts [T]`` with the observations' ``track_ids``, ``agent_types``, ``poses``,
  ``velocities``, ``sizes`` concatenated. numpy arrays are msgpack extensions holding
  ``[dtype string, shape, raw bytes]``: code 1 the array's bytes as they are; code 2 (float arrays
  of two rows or more) the bit patterns as integers, differenced along the first axis, one column
  after another, bytes grouped by significance. Both are exact and language-neutral; code 2 makes
  smooth trajectories compress about a quarter smaller.
- ``.msgpack.xz`` (written by dask_runner before format version 2, still read): the same map
  compressed with xz, version 1, observations always stored, arrays as code 1.
- ``.pkl.xz``: the same three objects pickled, for scenarios without ``to_dict``.

Files are written to a temporary name and renamed, so a crash never leaves a half-written log; a
truncated or corrupt file raises :class:`SimulationLogError` naming it.
"""

from __future__ import annotations

import importlib
import io
import lzma
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import zstandard

from dask_runner.errors import ConfigError, ScenarioError, SimulationLogError
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import EGO_DIM, EgoState, TrackedObjects, TrafficLightStatus, Trajectory
from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample, SimulationIteration

SerializationType = Literal["msgpack", "pickle"]
Compression = Literal["zstd", "xz"]
# The suffix each serialization type is written with.
SUFFIXES: dict[str, str] = {"msgpack": ".msgpack.zst", "pickle": ".pkl.xz"}
# Every suffix read, with its format and compression: earlier versions' .msgpack.xz logs included.
READABLE_SUFFIXES: dict[str, tuple[SerializationType, Compression]] = {
    ".msgpack.zst": ("msgpack", "zstd"),
    ".msgpack.xz": ("msgpack", "xz"),
    ".pkl.xz": ("pickle", "xz"),
}
FORMAT_NAME = "dask_runner.simulation_log"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_NDARRAY_EXT = 1
_DELTA_FLOAT_EXT = 2
# zstd level 3 (zstd's default): measured on the default job's logs (README, Performance), levels up
# to 9 save under 2% more and cost up to twice the time; level 1 gives 2% larger logs.
_ZSTD_LEVEL = 3
# xz preset 1 for pickle logs: about as compact as the default 6, several times faster to write.
_XZ_PRESET = 1
_OBSERVATION_FIELDS = ("track_ids", "agent_types", "poses", "velocities", "sizes")
_REPLAY_KEY = "observations_are_scenario_replay"


def safe_file_name(name: str) -> str:
    """``name`` usable as a file or folder name (path separators and odd characters replaced)."""
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", name) or "_"


def log_suffix_of(file_path: Path) -> str | None:
    """The simulation-log suffix ``file_path`` ends with (one of READABLE_SUFFIXES), or None."""
    name = file_path.name
    return next((suffix for suffix in READABLE_SUFFIXES if name.endswith(suffix)), None)


def is_simulation_log(file_path: Path) -> bool:
    """A finished log of any readable format (not a hidden temporary file of one being written)."""
    return log_suffix_of(file_path) is not None and not file_path.name.startswith(".")


def _format_of(file_path: Path) -> tuple[SerializationType, Compression]:
    suffix = log_suffix_of(file_path)
    if suffix is None:
        raise SimulationLogError(
            f"simulation log {file_path} has an unknown suffix; expected one of {sorted(READABLE_SUFFIXES)}"
        )
    return READABLE_SUFFIXES[suffix]


def serialization_type_of(file_path: Path) -> SerializationType:
    return _format_of(file_path)[0]


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
        kind, compression = _format_of(self.file_path)
        if kind == "msgpack":
            # An .msgpack.xz path gets the earlier format as it was (version 1): what that suffix promises.
            payload = _to_msgpack(self, FORMAT_VERSION if compression == "zstd" else 1)
        else:
            payload = pickle.dumps(
                # A lazy scenario pickles as its recipe only; store the built one so the log stands alone.
                {"planner_name": self.planner_name, "scenario": getattr(self.scenario, "built", self.scenario),
                 "history": self.simulation_history},
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        if compression == "zstd":
            data = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(payload)
        else:
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
        kind, compression = _format_of(path)
        try:
            data = path.read_bytes()
            payload = zstandard.ZstdDecompressor().decompress(data) if compression == "zstd" else lzma.decompress(data)
        except FileNotFoundError as exc:
            raise SimulationLogError(f"simulation log {path} does not exist; check the path") from exc
        except (lzma.LZMAError, zstandard.ZstdError, EOFError, OSError) as exc:
            raise SimulationLogError(
                f"simulation log {path} is truncated or corrupt ({exc}); re-run its simulation to rewrite it"
            ) from exc
        try:
            if kind == "msgpack":
                return _from_msgpack(path, payload)
            data = _NumpyPortableUnpickler(io.BytesIO(payload)).load()
            return cls(path, data["scenario"], str(data["planner_name"]), data["history"])
        except SimulationLogError:
            raise
        except Exception as exc:
            raise SimulationLogError(
                f"simulation log {path} is corrupt or not a dask_runner log ({exc!r}); re-run its simulation"
            ) from exc


class _NumpyPortableUnpickler(pickle.Unpickler):
    """Reads pickles written under numpy 2 with numpy 1.x too (a log written on a laptop, read in nuPlan's
    environment): numpy 2 pickles its arrays as ``numpy._core.*``, which numpy 1.x names ``numpy.core.*``."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except ModuleNotFoundError:
            if not module.startswith("numpy._core"):
                raise
            return super().find_class("numpy.core" + module[len("numpy._core"):], name)


# -- msgpack encoding ---------------------------------------------------------------------------------


def _encode_default(obj: Any) -> Any:
    """Version 1's encoding: every array as its raw bytes (code 1)."""
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


def _encode_delta(obj: Any) -> Any:
    """Version 2's encoding: float arrays of two rows or more as code 2, everything else as version 1."""
    import msgpack

    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f" and obj.ndim >= 1 and obj.shape[0] >= 2 and obj.size:
        return msgpack.ExtType(
            _DELTA_FLOAT_EXT, msgpack.packb([obj.dtype.str, list(obj.shape), _delta_bytes(obj)], use_bin_type=True)
        )
    return _encode_default(obj)


def _integer_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The signed integer type of the float type's size and byte order: its bit patterns as numbers."""
    return np.dtype(f"{dtype.byteorder if dtype.byteorder in '<>' else '='}i{dtype.itemsize}")


def _delta_bytes(arr: np.ndarray) -> bytes:
    """Bit patterns of [rows, ...] as integers, column by column, each differenced along the rows (wrapping,
    so exact for any value, NaN included), then bytes grouped by significance: smooth values turn into
    small differences whose high bytes are mostly zero, which zstd compresses well."""
    values = np.ascontiguousarray(arr).reshape(arr.shape[0], -1).view(_integer_dtype(arr.dtype)).T
    deltas = np.empty(values.shape, values.dtype)  # [columns, rows], C order (empty_like would keep the view's)
    deltas[:, 0] = values[:, 0]
    np.subtract(values[:, 1:], values[:, :-1], out=deltas[:, 1:])
    return deltas.view(np.uint8).reshape(-1, arr.dtype.itemsize).T.tobytes()


def _from_delta_bytes(dtype: np.dtype[Any], shape: list[int], raw: bytes) -> np.ndarray:
    rows = shape[0]
    columns = int(np.prod(shape[1:], dtype=np.int64))
    grouped = np.frombuffer(raw, dtype=np.uint8).reshape(dtype.itemsize, -1)
    deltas = np.ascontiguousarray(grouped.T).view(_integer_dtype(dtype)).reshape(columns, rows)
    values = np.cumsum(deltas, axis=1, dtype=deltas.dtype)  # wraps exactly as the subtraction did
    return np.ascontiguousarray(values.T).view(dtype).reshape(shape)


def _decode_ext(code: int, data: bytes) -> Any:
    import msgpack

    if code == _NDARRAY_EXT:
        dtype, shape, raw = msgpack.unpackb(data, raw=False)
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    if code == _DELTA_FLOAT_EXT:
        dtype, shape, raw = msgpack.unpackb(data, raw=False)
        return _from_delta_bytes(np.dtype(dtype), shape, raw)
    return msgpack.ExtType(code, data)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (np.array_equal would call -0.0 and 0.0 equal, and NaN unequal)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def observations_are_scenario_replay(history: SimulationHistory, scenario: AbstractScenario) -> bool:
    """Whether every sample's observation is exactly the scenario's recorded agents at its iteration.

    Under log replay (TracksObservation) the observations are the scenario's own cached objects, so the
    identity check settles it without touching an array; any other observation is compared bit for bit
    and a reactive agent's first difference ends the check."""
    try:
        for sample in history.samples:
            observation = sample.observation
            recorded = scenario.get_tracked_objects_at_iteration(sample.iteration.index)
            if observation is recorded:
                continue
            if not all(_same_array(getattr(observation, name), getattr(recorded, name))
                       for name in _OBSERVATION_FIELDS):
                return False
    except (ScenarioError, IndexError, KeyError):  # an iteration the scenario does not have
        return False
    return True


def _history_columns(history: SimulationHistory, scenario: AbstractScenario | None = None) -> dict[str, Any]:
    """The history as columns; with ``scenario``, observations that replay it are stored as one marker."""
    samples = history.samples
    lights = [s.traffic_light_status for s in samples]
    trajectories = [s.trajectory.states for s in samples]
    columns: dict[str, Any] = {
        "iteration_index": np.array([s.iteration.index for s in samples], dtype=np.int64),
        "iteration_time": np.array([s.iteration.time_s for s in samples], dtype=np.float64),
        "ego": history.ego_array(),
        "trajectory_lengths": np.array([t.shape[0] for t in trajectories], dtype=np.int64),
        "trajectories": np.concatenate(trajectories) if trajectories else np.zeros((0, EGO_DIM)),
        "traffic_light_counts": np.array([len(d) for d in lights], dtype=np.int64),
        "traffic_light_ids": [str(k) for d in lights for k in d],
        "traffic_light_status": np.array([int(v) for d in lights for v in d.values()], dtype=np.int8),
    }
    if scenario is not None and samples and observations_are_scenario_replay(history, scenario):
        columns[_REPLAY_KEY] = True
        return columns
    observations = [s.observation for s in samples]
    columns["observation_counts"] = np.array([len(o) for o in observations], dtype=np.int64)
    empty = TrackedObjects.empty()
    for name in _OBSERVATION_FIELDS:
        columns[name] = _concat([getattr(o, name) for o in observations], getattr(empty, name))
    return columns


def _concat(arrays: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(arrays) if arrays else empty


def _history_from_columns(c: dict[str, Any], scenario: AbstractScenario) -> SimulationHistory:
    def split(values: Any, counts: np.ndarray) -> list[Any]:
        return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []

    indices = [int(i) for i in c["iteration_index"].tolist()]
    observations: list[TrackedObjects]
    if c.get(_REPLAY_KEY):  # the same objects the simulation observed: the scenario's own
        observations = [scenario.get_tracked_objects_at_iteration(i) for i in indices]
    else:
        obs_counts = np.asarray(c["observation_counts"])
        fields = [split(c[name], obs_counts) for name in _OBSERVATION_FIELDS]
        observations = [TrackedObjects(*(field[i] for field in fields)) for i in range(len(indices))]
    trajectories = split(c["trajectories"], np.asarray(c["trajectory_lengths"]))
    light_counts = np.asarray(c["traffic_light_counts"])
    light_ids = split(np.array(c["traffic_light_ids"], dtype=object), light_counts)
    light_status = split(np.asarray(c["traffic_light_status"]), light_counts)
    history = SimulationHistory()
    for i, (index, time_s) in enumerate(zip(indices, c["iteration_time"].tolist())):
        history.add_sample(
            SimulationHistorySample(
                iteration=SimulationIteration(index, float(time_s)),
                ego_state=EgoState.from_array(c["ego"][i]),
                trajectory=Trajectory(trajectories[i]),
                observation=observations[i],
                traffic_light_status={
                    str(k): TrafficLightStatus(int(v)) for k, v in zip(light_ids[i], light_status[i])
                },
            )
        )
    return history


def _to_msgpack(log: SimulationLog, version: int = FORMAT_VERSION) -> bytes:
    import msgpack

    to_dict = getattr(log.scenario, "to_dict", None)
    if to_dict is None:
        raise ConfigError(
            f"scenario class {type(log.scenario).__name__} has no to_dict(), so it cannot be written as msgpack; "
            "use serialization_type='pickle' (a .pkl.xz log) or give the class to_dict()/from_dict()"
        )
    cls = type(log.scenario)
    delta = version >= 2
    document = {
        "format": FORMAT_NAME,
        "version": version,
        "planner_name": log.planner_name,
        "scenario_class": f"{cls.__module__}.{cls.__qualname__}",
        "scenario": to_dict(),
        "history": _history_columns(log.simulation_history, log.scenario if delta else None),
    }
    return bytes(msgpack.packb(document, default=_encode_delta if delta else _encode_default, use_bin_type=True))


def _from_msgpack(path: Path, payload: bytes) -> SimulationLog:
    import msgpack

    document = msgpack.unpackb(payload, ext_hook=_decode_ext, raw=False, strict_map_key=False)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise SimulationLogError(f"{path} is not a dask_runner simulation log")
    if document.get("version") not in READABLE_VERSIONS:
        raise SimulationLogError(
            f"simulation log {path} has format version {document.get('version')}; this dask_runner reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}: a newer dask_runner wrote it, upgrade to read it"
        )
    module_name, _, class_name = str(document["scenario_class"]).rpartition(".")
    scenario_cls = getattr(importlib.import_module(module_name), class_name)
    scenario = scenario_cls.from_dict(document["scenario"])
    history = _history_from_columns(document["history"], scenario)
    return SimulationLog(path, scenario, str(document["planner_name"]), history)
