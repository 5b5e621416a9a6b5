"""The packages dask_runner runs without, and the one clear error (or log line) when one is needed.

bokeh 3 (``report.html``, the Dask dashboard) and commonroad-io (the real NGSIM scenarios) are extras,
so that dask_runner installs beside nuplan-devkit, which needs bokeh 2.4 and whose other packages clash
with commonroad-io's protobuf pin. ``pip install 'dask_runner[report,commonroad]'`` brings them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from dask_runner.errors import ConfigError


class MissingDependencyError(ConfigError):
    """An optional package (an extra of dask_runner) is missing or too old for what was asked."""


def installed_version(distribution: str) -> Version | None:
    try:
        return Version(importlib.metadata.version(distribution))
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        return None


@dataclass(frozen=True)
class OptionalPackage:
    """A package of one of dask_runner's extras, and the oldest version that works."""

    distribution: str
    minimum: str
    extra: str
    module: str | None = None  # its import name, when it differs from the distribution's

    def missing(self) -> str | None:
        """Why it cannot be used here (not installed / too old), or None when it can."""
        if importlib.util.find_spec(self.module or self.distribution) is None:
            return f"{self.distribution} is not installed"
        version = installed_version(self.distribution)
        if version is None or version < Version(self.minimum):
            return f"{self.distribution} {version or '(unknown version)'} is installed, {self.minimum} or newer is needed"
        return None

    def require(self, needed_for: str) -> None:
        """Raise MissingDependencyError naming the extra when the package is not usable."""
        reason = self.missing()
        if reason is not None:
            raise MissingDependencyError(f"{needed_for} needs {self.distribution}>={self.minimum}, but {reason}: "
                                         f"pip install 'dask_runner[{self.extra}]'")


REPORT = OptionalPackage("bokeh", "3.4", "report")  # report.html
DASHBOARD = OptionalPackage("bokeh", "3.1", "report")  # distributed's dashboard needs bokeh 3.1 or newer
COMMONROAD = OptionalPackage("commonroad-io", "2024.1", "commonroad", module="commonroad")
