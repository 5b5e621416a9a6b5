"""Observations: what the ego sees of the other agents at each step (log replay or reactive agents)."""

from dask_runner.simulation.observation.abstract_observation import AbstractObservation
from dask_runner.simulation.observation.idm_agents import IDMAgents
from dask_runner.simulation.observation.tracks_observation import TracksObservation

__all__ = ["AbstractObservation", "IDMAgents", "TracksObservation"]
