"""What the tests' real batch schedulers (``slurm/local_slurm.py``, ``sge/local_sge.py``) share: daemons started
in the foreground from one temporary folder, their output in ``<root>/log/<name>.out``, waited on with a
deadline that also notices a daemon that exited, and ended by process id (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LocalDaemons:
    root: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        raise NotImplementedError  # each scheduler's: what its commands need to find this instance

    def _start(self, name: str, args: list[str], user: str | None = None, extra_env: dict[str, str] | None = None,
               ) -> None:
        (self.root / "log").mkdir(parents=True, exist_ok=True)
        with open(self.root / "log" / f"{name}.out", "wb") as log:
            self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                    env={**self.env, **(extra_env or {})}, cwd=self.root / "log",
                                                    start_new_session=True, user=user)

    def _wait(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout:g} s; logs in {self.root / 'log'}")
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; logs in {self.root / 'log'}")
            time.sleep(0.2)

    def _end(self, name: str, timeout: float = 20) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
