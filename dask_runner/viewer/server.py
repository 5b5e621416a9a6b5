"""``dask-runner view FOLDER [FOLDER ...]``: a small local web server for the viewer (tornado, which
distributed already brings).

It listens on 127.0.0.1 only (a free port unless one is given) and reads what the page asks for: the
scenario table one page at a time, a replay only when it is opened. On a cluster, reach it as the Dask
dashboard is reached, through the SSH tunnel it prints.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from dask_runner.errors import ConfigError
from dask_runner.viewer.folders import open_run_folder
from dask_runner.viewer.run_folder import RunFolder, run_diff

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def make_app(runs: Sequence[RunFolder]) -> Any:
    """The tornado application: the page at ``/`` and its JSON endpoints under ``/api/``."""
    import tornado.web

    from dask_runner.viewer.page import viewer_page

    page = viewer_page("dask_runner: " + " vs ".join(r.label for r in runs), {"mode": "server"})

    class Base(tornado.web.RequestHandler):
        def run(self, number: str) -> RunFolder:
            i = int(number)
            if not 0 <= i < len(runs):
                raise tornado.web.HTTPError(404, f"no run {i}")
            return runs[i]

        def reply(self, value: Any) -> None:
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            self.finish(_json(value))

    class Page(Base):
        def get(self) -> None:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(page)

    class Runs(Base):
        def get(self) -> None:
            self.reply([{"label": r.label, "overview": r.overview} for r in runs])

    class Scenarios(Base):
        def get(self, number: str) -> None:
            from dask_runner.viewer.scenario_index import query

            try:
                filters = json.loads(self.get_argument("filters", "{}") or "{}")
                offset, limit = int(self.get_argument("offset", "0")), int(self.get_argument("limit", "50"))
            except ValueError as exc:
                raise tornado.web.HTTPError(400, f"bad query: {exc}") from exc
            self.reply(query(self.run(number).index, {str(k): str(v) for k, v in dict(filters).items()},
                             self.get_argument("sort", "") or None, self.get_argument("descending", "0") == "1",
                             offset, limit))

    class Replay(Base):
        async def get(self, number: str) -> None:
            run = self.run(number)
            runner_id = self.get_argument("id")
            # Reading a log takes tens of milliseconds: off the event loop, so the table stays responsive.
            self.reply(await asyncio.get_running_loop().run_in_executor(None, run.replay, runner_id))

    class Same(Base):
        def get(self, number: str) -> None:
            self.reply(self.run(number).same_scenario(self.get_argument("id")))

    class Diff(Base):
        def get(self) -> None:
            before, after = self.run(self.get_argument("a", "0")), self.run(self.get_argument("b", "1"))
            self.reply(run_diff(before, after, int(self.get_argument("offset", "0"))))

    return tornado.web.Application([
        (r"/", Page), (r"/api/runs", Runs), (r"/api/runs/(\d+)/scenarios", Scenarios),
        (r"/api/runs/(\d+)/replay", Replay), (r"/api/runs/(\d+)/same", Same), (r"/api/diff", Diff),
    ])


def tunnel_command(port: int) -> str:
    """What to run on one's own machine to reach a viewer started on this one (a cluster's login node)."""
    return f"ssh -N -L {port}:{HOST}:{port} {getpass.getuser()}@{socket.getfqdn()}"


def serve(folders: Sequence[str | Path], port: int | None = None, out: TextIO = sys.stdout) -> None:
    """Open ``folders`` and serve the viewer until Ctrl-C (the first folder is the reference of the run diff)."""
    import time

    import tornado.httpserver
    import tornado.netutil

    if not folders:
        raise ConfigError("give at least one output folder: dask-runner view FOLDER [FOLDER ...]")
    if port is not None and not 0 <= port < 65536:
        raise ConfigError(f"--port must be a port number (0-65535), got {port}")
    started = time.perf_counter()
    runs = [open_run_folder(folder) for folder in folders]
    for run in runs:  # the tables now, so a broken folder is said at once and the first page is quick
        _ = run.overview
    try:
        sockets = tornado.netutil.bind_sockets(port or 0, address=HOST)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {HOST}:{port} ({exc.strerror or exc}); choose another --port, or "
                          "leave it out for a free one") from exc
    bound = sockets[0].getsockname()[1]
    scenarios = sum(r.overview["scenarios"] for r in runs)
    app = make_app(runs)

    async def main() -> None:
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        print(f"Viewer of {', '.join(r.label for r in runs)} ({scenarios} runners, opened in "
              f"{time.perf_counter() - started:.1f} s): http://{HOST}:{bound}/", file=out)
        print(f"From another machine: {tunnel_command(bound)}  then open http://{HOST}:{bound}/", file=out)
        print("Ctrl-C stops it.", file=out, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            server.stop()

    asyncio.run(main())
