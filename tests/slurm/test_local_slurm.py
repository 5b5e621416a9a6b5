"""The test SLURM itself: it picks free ports, so the SLURM tier runs on a machine that already runs a SLURM."""

from __future__ import annotations

import random
import socket
import subprocess
from pathlib import Path

import pytest
from local_slurm import NODES, LocalSlurm, free_port_block


class _Scripted(random.Random):
    """Draws the given numbers first: makes the taken-port case deterministic."""

    def __init__(self, draws: list[int]) -> None:
        super().__init__(0)
        self.draws = draws

    def randrange(self, *_: object, **__: object) -> int:  # type: ignore[override]
        return self.draws.pop(0) if self.draws else super().randrange(20000, 60000)


def test_a_port_block_skips_a_port_someone_listens_on() -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        first = free_port_block(4, _Scripted([busy - 2, busy - 2]))
    assert not first <= busy < first + 4


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_second_test_slurm_starts_beside_a_running_one_and_runs_a_job(slurm: LocalSlurm, tmp_path: Path) -> None:
    """What a developer's machine with its own SLURM meets: the first cluster holds its ports, the second takes others."""
    second = LocalSlurm(tmp_path / "second")
    try:
        second.start()
        assert second.controller_port != slurm.controller_port
        ran = subprocess.run(["srun", "-N", str(len(NODES)), "-n", str(len(NODES)), "bash", "-c", "echo $SLURMD_NODENAME"],
                             env=second.env, capture_output=True, text=True, timeout=120, check=False)
        assert ran.returncode == 0, ran.stderr
        assert sorted(ran.stdout.split()) == list(NODES)
        assert slurm.all_idle()  # the first cluster is untouched
    finally:
        second.stop()
