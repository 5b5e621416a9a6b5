"""The fork server imports with Python's garbage collector off; what it forks collects as usual."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

DRIVER = textwrap.dedent("""
    import gc, json, multiprocessing, sys

    def view():
        return {"collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}

    if __name__ == "__main__":
        import dask_runner.clusters.forkserver_gc  # imported here, not by a fork server: no effect
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(sys.argv[1:])
        with context.Pool(1) as pool:
            children = [pool.apply(view), pool.apply(view)]
        print(json.dumps({"driver": view(), "children": children}))
""")


def _run(folder: Path, *preload: str) -> dict[str, object]:
    script = folder / "driver.py"  # a file: the pool's children find view() by importing it
    script.write_text(DRIVER)
    done = subprocess.run([sys.executable, str(script), *preload], capture_output=True, text=True, timeout=120,
                          cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_forked_children_collect_with_the_servers_imports_frozen(tmp_path: Path) -> None:
    paused = _run(tmp_path, "dask_runner.clusters.forkserver_gc", "email.mime.multipart", "json")
    plain = _run(tmp_path, "email.mime.multipart", "json")
    # A process that imports the module outside a fork server keeps collecting.
    assert paused["driver"] == {"collecting": True, "frozen": 0}
    # The children collect; the server's imports are out of their collections (gc.freeze before the fork).
    assert all(child["collecting"] for child in paused["children"])
    assert all(child["frozen"] > 1000 for child in paused["children"])
    assert all(child == {"collecting": True, "frozen": 0} for child in plain["children"])
