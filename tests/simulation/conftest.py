"""Make the hand-built road scenarios importable by the simulation and planner tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
