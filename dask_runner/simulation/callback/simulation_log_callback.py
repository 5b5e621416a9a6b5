"""SimulationLogCallback: at the end of a simulation, defer writing its log (nuPlan's layout and formats).

The log lands in ``<output_directory>/<simulation_log_dir_name>/<planner>/<scenario_type>/<log_name>/
<scenario_name>.msgpack.zst`` (``.pkl.xz`` with ``serialization_type="pickle"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.errors import ConfigError
from dask_runner.simulation.callback.abstract_callback import AbstractCallback, CallbackWork, defer
from dask_runner.simulation.simulation_log import SUFFIXES, SimulationLog, simulation_log_path

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import AbstractPlanner
    from dask_runner.scenarios.abstract_scenario import AbstractScenario
    from dask_runner.simulation.history import SimulationHistory
    from dask_runner.simulation.simulation_setup import SimulationSetup


def save_simulation_log(
    file_path: Path, scenario: AbstractScenario, planner_name: str, history: SimulationHistory
) -> Path:
    """Write one simulation log; returns its path."""
    return SimulationLog(file_path, scenario, planner_name, history).save_to_file()


class SimulationLogCallback(AbstractCallback):
    def __init__(
        self,
        output_directory: Path | str,
        simulation_log_dir_name: str = "simulation_logs",
        serialization_type: str = "msgpack",
    ) -> None:
        if serialization_type not in SUFFIXES:
            raise ConfigError(
                f"serialization_type must be one of {sorted(SUFFIXES)}, got {serialization_type!r}; "
                "e.g. SimulationLogCallback(output_dir, serialization_type='msgpack')"
            )
        self.output_directory = Path(output_directory) / simulation_log_dir_name
        self.serialization_type = serialization_type

    def log_path(self, scenario: AbstractScenario, planner_name: str) -> Path:
        return simulation_log_path(self.output_directory, planner_name, scenario, self.serialization_type)

    def on_simulation_end(self, setup: SimulationSetup, planner: AbstractPlanner, history: SimulationHistory) -> None:
        planner_name = planner.name()
        path = self.log_path(setup.scenario, planner_name)
        defer(CallbackWork("simulation_log", save_simulation_log, (path, setup.scenario, planner_name, history)))
