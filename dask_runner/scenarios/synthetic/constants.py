"""The frame every synthetic scenario shares: its time grid, the ego vehicle and the cap on agents.

Kept in a module of their own so that the recipes, the car-following solver and the assembly all
read the same values; ``NUM_ITERATIONS`` and ``DT`` are also part of the public identity of a scenario.
"""

from __future__ import annotations

import numpy as np

from dask_runner.scenarios.state import FloatArray, VehicleParameters

NUM_ITERATIONS = 151  # 15 s at 10 Hz, both ends included
DT = 0.1
MAX_AGENTS = 40
_EGO = VehicleParameters()
_TIMES: FloatArray = np.arange(NUM_ITERATIONS, dtype=np.float64) * DT
