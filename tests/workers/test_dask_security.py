"""Another user of this machine cannot use a batch's local cluster: TLS with a certificate held in memory.

Run as a second Unix account (``other_user``), a plain client and a TLS client with a certificate of its
own are both refused by the scheduler of the default pool, the batch's key is in no process's command line
(which every user can read), and the owner's batch finishes with every report. ``security=False`` gives
back plain TCP, said in the log, and then the other user runs code on the workers as the owner: what the
default prevents (and what the tests below would see if TLS were off by default again).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from other_user import OtherUser
from runners_for_tests import scripted

from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.executor import execute_runners

pytestmark = [pytest.mark.processes, pytest.mark.slow]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
from dashboard_helpers import counts_of, http_base, json_counts, wait_for_batch  # noqa: E402


def test_another_user_cannot_connect_to_the_default_local_pool_and_the_batch_finishes(other_user: OtherUser) -> None:
    with DaskDistributed(n_workers=2, dashboard_address="127.0.0.1:0") as pool:
        address = pool.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        pids = [os.getpid(), *pool.client.run(os.getpid).values()]
        seen = other_user.attack(address, pids=pids)
        reports = execute_runners(scripted(["ok"] * 16), pool, experiment_name="owner")
        # The owner's own tools: the pool's client, and the Simulations page's numbers the driver sent over TLS.
        assert sorted(set(pool.client.run(os.getuid).values())) == [os.getuid()]
        batch = wait_for_batch(f"{http_base(pool.client)}/api/dask_runner/status.json", "owner", "finished")
        assert json_counts(batch) == counts_of(reports)
    assert seen["uid"] == other_user.uid != os.getuid()
    assert seen["plain"].startswith("refused:"), seen
    assert seen["tls with a certificate of its own"].startswith("refused:"), seen
    assert seen["command lines with a key"] == []  # the workers got the certificate in memory, not as arguments
    assert len(reports) == 16 and all(report.succeeded for report in reports)


def test_security_false_gives_plain_tcp_with_a_warning_and_then_anyone_on_the_machine_runs_code_as_you(
        other_user: OtherUser, caplog: pytest.LogCaptureFixture) -> None:
    with DaskDistributed(n_workers=1, dashboard_address=None, security=False) as pool:
        address = pool.client.scheduler.address
        seen = other_user.attack(address)
        reports = execute_runners(scripted(["ok"] * 4), pool)
    assert address.startswith("tcp://127.0.0.1:")
    assert caplog.text.count("runs without TLS (security=false)") == 1
    assert "run any code on its workers as you" in caplog.text
    assert seen["plain"] == f"connected: its workers ran os.getuid for me, as uid [{os.getuid()}]"
    assert len(reports) == 4 and all(report.succeeded for report in reports)
