"""The dashboard of a cluster we start is attached in the background when a page is first asked for: a batch
nobody watches never imports it, its pages answer from the moment the cluster is returned, and a cluster
closed before they are attached closes cleanly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from dask_runner.dask.clusters.local import start_local_cluster

# A fresh interpreter: in a test session the dashboard (bokeh) is imported already, so it would be
# attached at once and a page asked for right away would not have to wait for it.
DRIVER = textwrap.dedent("""
    import json, sys, urllib.request
    from distributed import Client
    from dask_runner.dask.clusters.local import start_local_cluster

    def fetch(port, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
            return response.status, response.read().decode()

    if __name__ == "__main__":
        with start_local_cluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"):
            pass  # closed before its dashboard could be attached
        with start_local_cluster(processes=False, n_workers=1, threads_per_worker=1,
                                 dashboard_address="127.0.0.1:0") as cluster:
            port = cluster.scheduler.http_server.port
            link = cluster.dashboard_link
            with Client(cluster) as client:
                done = client.gather(client.map(sum, [[i, 1] for i in range(20)], pure=False))
            _, health = fetch(port, "/health")
            unwatched = {name: name in sys.modules for name in ("bokeh", "distributed.dashboard.scheduler")}
            status, page = fetch(port, "/status")
            _, root = fetch(port, "/")
        print(json.dumps({"status": status, "bokeh": "Bokeh" in page and "Bokeh" in root, "health": health,
                          "link": link, "port": port, "done": len(done), "unwatched": unwatched}))
""")


def test_the_dashboard_is_imported_only_when_a_page_is_asked_for(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    checkout = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=240,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["done"] == 20
    assert seen["unwatched"] == {"bokeh": False, "distributed.dashboard.scheduler": False}, seen
    assert seen["status"] == 200 and seen["bokeh"], seen
    assert seen["health"] == "ok"
    assert f":{seen['port']}/status" in seen["link"]
    errors = _without_dask_shutdown_noise(result.stderr)
    assert "Traceback" not in errors and "could not be attached" not in errors, errors[-3000:]


# Dask logs this at INFO, with a traceback, when an in-process worker's stream to the scheduler is closed
# under a message as the cluster shuts down (distributed.batched); it says nothing about the dashboard.
DASK_SHUTDOWN_NOISE = "distributed.batched - INFO - Batched Comm Closed"


def _without_dask_shutdown_noise(stderr: str) -> str:
    records = re.split(r"(?m)^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - )", stderr)
    return "".join(record for record in records if DASK_SHUTDOWN_NOISE not in record)


def _has_dashboard(cluster: Any) -> bool:
    from bokeh.server.tornado import BokehTornado

    return any(isinstance(app, BokehTornado) for app in cluster.scheduler.http_application.applications)


def test_a_cluster_without_a_dashboard_serves_no_pages() -> None:
    with start_local_cluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
        port = cluster.scheduler.http_server.port
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=30)
        assert missing.value.code == 404
        assert not _has_dashboard(cluster)
