"""The record the ranks of one srun step share: the batch's end, who has left, removed by the last to leave."""

from __future__ import annotations

from pathlib import Path

from dask_runner.dask.clusters.allocation_step import AllocationStep


def test_a_step_ends_once_and_its_folder_goes_with_the_last_rank_to_leave(tmp_path: Path) -> None:
    step = AllocationStep.beside(tmp_path / "scheduler-7.json", "7", "0", ranks=3)
    assert not step.ended()
    step.leave(2)  # a worker rank whose part ended (the record is made on first use)
    step.end()
    assert step.ended()
    assert AllocationStep.beside(tmp_path / "scheduler-7.json", "7", "0", ranks=3).ended()  # another rank sees it
    assert not AllocationStep.beside(tmp_path / "scheduler-7.json", "7", "1", ranks=3).ended()  # not the next step
    step.leave(1)
    step.leave(1)  # the driver closing twice counts once
    assert step.ended()  # rank 0 has not left: a late rank may still look for the end
    step.leave(0)
    assert not step.folder.exists()


def test_certificates_are_not_waited_for_once_the_batch_has_ended(tmp_path: Path) -> None:
    from dask_runner.dask.clusters.tls import load_certificates

    # rank 0 removed them with its scheduler; without give_up this waited start_timeout_s and failed the job
    assert load_certificates(tmp_path / "dask-runner-tls-7.0", timeout_s=3600, give_up=lambda: True) is None
