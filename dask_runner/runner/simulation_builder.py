"""Builds one SimulationRunner per (scenario, planner), each with its own planner and callbacks."""

from __future__ import annotations

import copy
import functools
import inspect
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Sequence, Union

from dask_runner.errors import ConfigError
from dask_runner.planners.abstract_planner import AbstractPlanner
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.simulation.callback.abstract_callback import AbstractCallback, MultiCallback
from dask_runner.simulation.controller.abstract_controller import AbstractEgoController
from dask_runner.simulation.controller.log_playback import LogPlaybackController
from dask_runner.simulation.controller.perfect_tracking import PerfectTrackingController
from dask_runner.simulation.controller.two_stage import TwoStageController
from dask_runner.simulation.observation.abstract_observation import AbstractObservation
from dask_runner.simulation.observation.idm_agents import IDMAgents
from dask_runner.simulation.observation.tracks_observation import TracksObservation
from dask_runner.simulation.simulation import Simulation
from dask_runner.simulation.simulation_setup import SimulationSetup, validate_planner_setup
from dask_runner.simulation.time_controller import StepSimulationTimeController

if TYPE_CHECKING:  # the runner package imports the simulation; import it lazily at run time
    from dask_runner.runner.simulation_runner import SimulationRunner

PlannerFactory = Union[Callable[..., AbstractPlanner], AbstractPlanner]
CallbackFactory = Union[Callable[[], AbstractCallback], AbstractCallback]
EgoControllerChoice = Union[
    Literal["two_stage", "perfect_tracking", "log_play_back"], Callable[[AbstractScenario], AbstractEgoController]
]
ObservationChoice = Union[Literal["tracks", "idm_agents"], Callable[[AbstractScenario], AbstractObservation]]

EGO_CONTROLLERS: dict[str, Callable[[AbstractScenario], AbstractEgoController]] = {
    "two_stage": TwoStageController,
    "perfect_tracking": PerfectTrackingController,
    "log_play_back": LogPlaybackController,
}
OBSERVATIONS: dict[str, Callable[[AbstractScenario], AbstractObservation]] = {
    "tracks": TracksObservation,
    "idm_agents": IDMAgents,
}


def build_simulation_runners(
    scenarios: Iterable[AbstractScenario],
    planner_factories: Sequence[PlannerFactory],
    callback_factories: Sequence[CallbackFactory] = (),
    ego_controller: EgoControllerChoice = "two_stage",
    observation: ObservationChoice = "tracks",
    runner_ids: Sequence[str] | None = None,
    simulation_history_buffer_duration: float = 2.0,
) -> list[SimulationRunner]:
    """Runners in scenario-major order: for each scenario, one per planner factory.

    ``planner_factories``: planner classes, ``functools.partial`` of them, or callables
    ``(scenario) -> planner``; classes with ``requires_scenario`` (LogFuturePlanner) get
    ``scenario=``. A planner instance is deep-copied per runner. ``callback_factories``: zero-argument
    callables (classes, partials) called once per runner, because callbacks keep per-run state; an
    instance is deep-copied per runner. The runner id is ``"<planner name>-<scenario token>"``, with
    ``-2``, ``-3``... for repeats, so a resumed batch recognises its runners; ``runner_ids``
    overrides them (one per runner, unique). ``ego_controller`` and ``observation``: a name, or a
    callable ``(scenario) -> part`` (the command line passes ``functools.partial`` of the classes its
    ``ego_controller=`` and ``observation=`` groups name, with their arguments).
    """
    from dask_runner.runner.simulation_runner import SimulationRunner

    try:
        make_controller = ego_controller if callable(ego_controller) else EGO_CONTROLLERS[ego_controller]
        make_observation = observation if callable(observation) else OBSERVATIONS[observation]
    except KeyError as exc:
        raise ConfigError(
            f"unknown {exc}: use ego_controller one of {sorted(EGO_CONTROLLERS)} and observation one of "
            f"{sorted(OBSERVATIONS)}, e.g. build_simulation_runners(..., ego_controller='two_stage', "
            "observation='idm_agents')"
        ) from exc
    if not planner_factories:
        raise ConfigError("build_simulation_runners needs at least one planner factory, e.g. [IDMPlanner]")

    runners: list[SimulationRunner] = []
    seen: Counter[str] = Counter()
    for scenario in scenarios:
        for factory in planner_factories:
            planner = _make_planner(factory, scenario)
            setup = SimulationSetup(
                time_controller=StepSimulationTimeController(scenario),
                observations=make_observation(scenario),
                ego_controller=make_controller(scenario),
                scenario=scenario,
            )
            validate_planner_setup(setup, planner)
            callback = MultiCallback([_make_callback(f) for f in callback_factories])
            simulation = Simulation(setup, callback, simulation_history_buffer_duration)
            base_id = f"{planner.name()}-{scenario.token}"
            seen[base_id] += 1
            runner_id = base_id if seen[base_id] == 1 else f"{base_id}-{seen[base_id]}"
            runners.append(SimulationRunner(simulation, planner, runner_id=runner_id))

    if runner_ids is not None:
        ids = list(runner_ids)
        if len(ids) != len(runners) or len(set(ids)) != len(ids):
            raise ConfigError(
                f"runner_ids must hold {len(runners)} unique ids (one per scenario x planner), got {len(ids)} "
                f"with {len(ids) - len(set(ids))} duplicates; or leave runner_ids=None for derived ids"
            )
        for runner, runner_id in zip(runners, ids):
            runner.runner_id = runner_id
    for runner in runners:
        # Callbacks that name their outputs by runner (metric and timing files) learn the final id, so
        # results of a resumed batch match their runners exactly.
        for member in runner.simulation.callback.callbacks:
            if hasattr(member, "runner_id"):
                member.runner_id = runner.runner_id
    return runners


def _planner_class(factory: Any) -> type | None:
    target = factory.func if isinstance(factory, functools.partial) else factory
    return target if inspect.isclass(target) else None


def _make_planner(factory: PlannerFactory, scenario: AbstractScenario) -> AbstractPlanner:
    if isinstance(factory, AbstractPlanner):
        if factory.requires_scenario:
            raise ConfigError(
                f"{factory.name()} needs its own scenario; pass the class (or a partial of it), not an instance"
            )
        return copy.deepcopy(factory)
    cls = _planner_class(factory)
    try:
        if cls is not None:
            planner = factory(scenario=scenario) if getattr(cls, "requires_scenario", False) else factory()
        else:
            planner = factory(scenario)
    except TypeError as exc:
        raise ConfigError(
            f"could not build a planner from {factory!r} ({exc}); pass a planner class, "
            "functools.partial(PlannerClass, ...), or a function (scenario) -> planner"
        ) from exc
    if not isinstance(planner, AbstractPlanner):
        raise ConfigError(f"{factory!r} returned {type(planner).__name__}, not an AbstractPlanner")
    return planner


def _make_callback(factory: CallbackFactory) -> AbstractCallback:
    if isinstance(factory, AbstractCallback):
        return copy.deepcopy(factory)
    callback = factory()
    if not isinstance(callback, AbstractCallback):
        raise ConfigError(
            f"callback factory {factory!r} returned {type(callback).__name__}; pass a callback class or "
            "functools.partial(CallbackClass, ...) that returns an AbstractCallback"
        )
    return callback
