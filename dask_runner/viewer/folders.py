"""Which reader a folder needs: dask_runner's own output folders, or those of nuplan-devkit's run_simulation.py."""

from __future__ import annotations

from pathlib import Path

from dask_runner.viewer.nuplan_folder import NuplanRunFolder, is_nuplan_folder
from dask_runner.viewer.run_folder import RunFolder


def open_run_folder(root: str | Path) -> RunFolder:
    """The folder as the viewer reads it: a dask_runner output folder, or one of nuplan-devkit's run_simulation.py."""
    path = Path(root).expanduser()
    return NuplanRunFolder(path) if is_nuplan_folder(path) else RunFolder(path)
