"""The versions report every Dask server of a local cluster makes at start, made once ahead of time.

A worker sends the scheduler its system and package versions when it registers, and the scheduler
makes its own report when the first worker arrives (``distributed.versions.get_versions``): `uname -p`
in a subprocess and package metadata, ~50 ms each time, on the path to the first simulation. Both
results are cached per process, so importing this module makes them once: the workers' fork server
imports it last among its preloads (every worker it forks inherits them), and the driver imports it
while the fork server is still importing distributed.
"""

from __future__ import annotations

from distributed.versions import get_versions

get_versions()
