"""Keep a dask-jobqueue cluster's worker jobs at the count wanted, whatever ended them.

dask-jobqueue counts a job as there from its submission until the cluster itself closes it: a job that ends
by itself (``scancel``, its walltime, a lost node, a worker that exited) stays in the cluster's plan, so
neither ``scale(jobs=N)`` nor its adaptive scaling submits a replacement (dask-jobqueue #611, #691), and a
batch can be left with no worker. ``JobKeeper`` runs beside the cluster: every ``interval_s`` it lists the
jobs the batch system still holds (a listing function per scheduler: ``squeue`` for SLURM), forgets the
cluster's jobs that are no longer there (or that still run but whose workers have been gone for
``lost_after_s``: a node that stopped answering), and asks again for the count wanted: ``jobs`` for a fixed
count, or adaptive scaling's own target, which sees the corrected plan at its next step.

A replacement is therefore submitted within ``interval_s`` (plus one listing) of the batch system no longer
holding a job, and within ``lost_after_s + interval_s`` of the workers of a job that still runs vanishing.
Nothing here is specific to SLURM but the listing function.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# State of a job the batch system still holds, and why it waits when it is pending (empty when running).
JobListing = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class KeeperSettings:
    """``fixed_jobs``: keep exactly this many (None: adaptive scaling decides, between its bounds)."""

    fixed_jobs: int | None
    wanted_text: str
    interval_s: float = 5.0
    lost_after_s: float = 30.0


class JobKeeper:
    """Owns a ``JobQueueCluster`` for a pool: replaces its ended jobs, describes them, and closes the cluster."""

    def __init__(self, cluster: Any, list_jobs: Callable[[], JobListing], settings: KeeperSettings,
                 ended_states: frozenset[str] = frozenset()) -> None:
        self.cluster = cluster
        self.list_jobs = list_jobs
        self.settings = settings
        self.ended_states = ended_states
        self.replaced = 0
        self.last_listing: JobListing = {}
        self.listed_at: float | None = None
        self._last_seen: dict[str, float] = {}  # job name -> when one of its workers was last connected
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dask_runner-job-keeper", daemon=True)

    @property
    def scheduler_address(self) -> str:
        return str(self.cluster.scheduler_address)

    def start(self) -> JobKeeper:
        if self.settings.fixed_jobs is not None:
            self.cluster.scale(jobs=self.settings.fixed_jobs)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop replacing jobs, then close the cluster (which cancels its jobs)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.settings.interval_s + 30)
        self.cluster.close()

    # -- the loop ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            try:
                self.keep()
            except Exception:  # noqa: BLE001  (a listing that failed once; the next round tries again)
                logger.warning("could not check the worker jobs; trying again in %g s", self.settings.interval_s,
                               exc_info=True)

    def keep(self) -> list[str]:
        """One round: forget the jobs that ended and ask for the count wanted again. Returns the jobs forgotten."""
        listing = self.list_jobs()
        self.last_listing, self.listed_at = listing, time.monotonic()
        ended = self.ended_jobs(listing)
        if ended:
            logger.warning("%d worker job(s) ended (%s); submitting replacements (%s)", len(ended),
                           ", ".join(f"{name} {job_id}" for name, job_id in ended.items()), self.settings.wanted_text)
            self.replaced += len(ended)
            self.cluster.sync(self._forget, list(ended))
        return list(ended)

    async def _forget(self, names: list[str]) -> None:
        """On the cluster's event loop: drop the jobs from its spec, let it close their objects (a ``scancel`` of
        each: harmless for a job that is gone, and it stops one whose node stopped answering), then ask again
        for the count wanted. In that order: a name freed is reused by the next job the cluster adds."""
        for name in names:
            self.cluster.worker_spec.pop(name, None)
            self._last_seen.pop(name, None)
        await self.cluster  # its spec and its jobs agree again
        if self.settings.fixed_jobs is not None:
            self.cluster.scale(jobs=self.settings.fixed_jobs)
        # with adaptive scaling, its next step submits up to its target from the corrected plan

    def ended_jobs(self, listing: JobListing) -> dict[str, str]:
        """The cluster's jobs (name -> job id) that the batch system no longer holds, or whose workers are lost."""
        now = time.monotonic()
        connected = {str(info.get("name")) for info in self.cluster.scheduler_info.get("workers", {}).values()}
        ended: dict[str, str] = {}
        for name, job in list(self.cluster.workers.items()):
            job_id = getattr(job, "job_id", None)
            if not job_id:
                continue  # not submitted yet
            name = str(name)
            if any(worker == name or worker.startswith(f"{name}-") for worker in connected):
                self._last_seen[name] = now
            state = listing.get(str(job_id), ("", ""))[0]
            if not state or state in self.ended_states:
                ended[name] = str(job_id)
            elif name in self._last_seen and now - self._last_seen[name] > self.settings.lost_after_s:
                ended[name] = str(job_id)  # it runs, says the batch system, but its workers are gone
        return ended

    def describe_jobs(self) -> str:
        """The worker jobs now, for a batch that has no worker: wanted, pending (and why), running, replaced."""
        listing = self.last_listing
        ours = {str(getattr(job, "job_id", "")) for job in list(self.cluster.workers.values())}
        states = [listing[job_id] for job_id in ours if job_id in listing]
        pending = [reason for state, reason in states if state == "PENDING"]
        running = sum(state != "PENDING" for state, _ in states)
        reasons = ", ".join(sorted(set(filter(None, pending))))
        age = f"{time.monotonic() - self.listed_at:.0f} s ago" if self.listed_at is not None else "not yet listed"
        return (f"worker jobs wanted: {self.settings.wanted_text}; in the queue ({age}): {len(pending)} pending"
                f"{f' ({reasons})' if reasons else ''}, {running} running; {self.replaced} replaced so far")
