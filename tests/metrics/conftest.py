"""Fixtures of the metric tests (the hand-built road itself is in hand_built_road.py)."""

from __future__ import annotations

import pytest
from hand_built_road import RoadScenario


@pytest.fixture
def road_scenario() -> RoadScenario:
    return RoadScenario()
