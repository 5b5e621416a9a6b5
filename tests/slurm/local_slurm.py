"""A real SLURM of three emulated nodes on 127.0.0.1, started for the tests (and stopped by process id).

One ``slurmctld`` and one ``slurmd -N n<i>`` per node, each with its own port, spool, pid and log files
(``%n`` in slurm.conf), ``config_overrides`` so that the nodes may declare more CPUs than the machine has.
Debian's ``slurm-wlm`` and ``munge`` are installed with apt-get when missing. Everything it writes lives in
one temporary folder; the commands find the configuration through ``SLURM_CONF``. Its ports are picked free at
each start (one block: the controller's, then one per node), so it coexists with a SLURM the machine already runs.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NODES = ("n1", "n2", "n3")
PORT_RANGE = (20000, 60000)  # below Linux's ephemeral range (32768-60999 overlaps; a bound port is skipped)
START_ATTEMPTS = 3
CPUS_PER_NODE = 4
PACKAGES = ("slurm-wlm", "munge")
COMMANDS = ("slurmctld", "slurmd", "sbatch", "srun", "sinfo", "squeue", "scancel", "munged")

SLURM_CONF = """\
ClusterName=dask-runner-tests
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={controller_port}
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
InactiveLimit=0
KillWait=5
MinJobAge=30
SlurmctldTimeout=30
SlurmdTimeout=30
StateSaveLocation={root}/state
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdSpoolDir={root}/spool/%n
SlurmdPidFile={root}/run/slurmd-%n.pid
SlurmdLogFile={root}/log/slurmd-%n.log
NodeName=n[1-{count}] NodeHostname={host} NodeAddr=127.0.0.1 Port=[{first_port}-{last_port}] CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=n[1-{count}] Default=YES MaxTime=INFINITE State=UP LLN=YES
"""

CGROUP_CONF = "CgroupPlugin=autodetect\nIgnoreSystemd=yes\n"


def ensure_installed() -> None:
    """Install Debian's slurm-wlm and munge when a command is missing (the tests run as root, as `make test` does)."""
    if all(shutil.which(command) or Path("/usr/sbin", command).exists() for command in COMMANDS):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env, timeout=900)


def _sbin(command: str) -> str:
    return shutil.which(command) or str(Path("/usr/sbin", command))


def _bindable(port: int) -> bool:
    # slurmd and slurmctld listen on every interface: check the port there, not only on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_port_block(count: int, rng: random.Random | None = None) -> int:
    """The first of ``count`` consecutive ports that are free now (slurm.conf takes node ports as one range)."""
    rng = rng or random.Random()
    for _ in range(200):
        first = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - count)
        if all(_bindable(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports found in {PORT_RANGE}")


def munge_is_running() -> bool:
    probe = subprocess.run(["munge", "-n"], capture_output=True, timeout=10, check=False)
    return probe.returncode == 0


@dataclass
class LocalSlurm:
    """The three-node SLURM; ``start()`` then ``stop()`` (which ends exactly the processes ``start()`` began)."""

    root: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    controller_port: int = 0  # picked by ``write_config``; the nodes' ports follow it

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment under which SLURM's commands (sbatch, srun, sinfo) use this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        host = socket.gethostname().split(".")[0]
        self.controller_port = free_port_block(1 + len(NODES))
        self.conf.write_text(SLURM_CONF.format(
            host=host, root=self.root, controller_port=self.controller_port, count=len(NODES), cpus=CPUS_PER_NODE,
            first_port=self.controller_port + 1, last_port=self.controller_port + len(NODES)))
        (self.root / "cgroup.conf").write_text(CGROUP_CONF)

    def _start(self, name: str, args: list[str], user: str | None = None) -> None:
        with open(self.root / "log" / f"{name}.stdout", "wb") as log:
            self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                                    start_new_session=True, user=user)

    def start(self, timeout: float = 60) -> None:
        ensure_installed()
        for folder in ("state", "run", "log", *(f"spool/{node}" for node in NODES)):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self._start_munge(timeout)
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_slurm(timeout)
                return
            except RuntimeError:
                # A port picked free may be taken before the daemon binds it: start again on other ports.
                self._stop_slurm()
                if attempt == START_ATTEMPTS:
                    raise

    def _start_munge(self, timeout: float) -> None:
        if not munge_is_running():
            # munged runs as its own user, as Debian's service does (root would need --force).
            for folder in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
                Path(folder).mkdir(parents=True, exist_ok=True)
                shutil.chown(folder, "munge", "munge")
            self._start("munged", [_sbin("munged"), "--foreground"], user="munge")
            self._wait(munge_is_running, timeout, "munged did not answer `munge -n`")

    def _start_slurm(self, timeout: float) -> None:
        self.write_config()
        self._start("slurmctld", [_sbin("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        for node in NODES:
            self._start(f"slurmd-{node}", [_sbin("slurmd"), "-D", "-N", node, "-f", str(self.conf)])
        self._wait(self.all_idle, timeout, "the nodes did not become idle")

    def node_states(self) -> dict[str, str]:
        listing = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True,
                                 env=self.env, timeout=20, check=False)
        states = {}
        for line in listing.stdout.splitlines():
            name, _, state = line.partition(" ")
            states[name] = state.strip()
        return states

    def all_idle(self) -> bool:
        states = self.node_states()
        return all(states.get(node) == "idle" for node in NODES)

    def _wait(self, condition: object, timeout: float, what: str) -> None:
        assert callable(condition)
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout:g} s; logs in {self.root / 'log'}")
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; logs in {self.root / 'log'}")
            time.sleep(0.2)

    def squeue(self) -> list[dict[str, str]]:
        """The jobs in the queue: id, name, state and node list."""
        listing = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T|%N"], capture_output=True, text=True,
                                 env=self.env, timeout=20, check=True)
        return [dict(zip(("id", "name", "state", "nodes"), line.split("|"))) for line in listing.stdout.splitlines()]

    def cancel_all(self) -> None:
        subprocess.run(["scancel", "--full", "-u", "root"], env=self.env, timeout=20, check=False)

    def scancel(self, job: str) -> None:
        subprocess.run(["scancel", job], env=self.env, timeout=20, check=True)

    def kill_node(self, node: str, jobs: set[str]) -> None:
        """Emulate a lost node: SIGKILL its slurmd and every process of the given jobs on it, at once."""
        victims = [self.processes[f"slurmd-{node}"].pid]
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if (f"SLURMD_NODENAME={node}".encode() in environ
                    and any(f"SLURM_JOB_ID={job}".encode() in environ for job in jobs)):
                victims.append(int(proc.name))
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.processes.pop(f"slurmd-{node}").wait(timeout=10)

    def restart_node(self, node: str) -> None:
        """Start the slurmd of ``node`` again (after ``kill_node``) and wait until it takes jobs."""
        self._start(f"slurmd-{node}", [_sbin("slurmd"), "-D", "-N", node, "-f", str(self.conf)])
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], env=self.env, timeout=20,
                       check=False)
        self._wait(lambda: self.node_states().get(node) in ("idle", "mix", "alloc"), 60, f"{node} did not return")

    def stop(self) -> None:
        """End what ``start()`` started, by process id (the slurmds first, munged last)."""
        if "slurmctld" in self.processes:
            self.cancel_all()
        self._stop_slurm()
        self._end("munged")

    def _stop_slurm(self) -> None:
        for name in [name for name in self.processes if name.startswith("slurmd")] + ["slurmctld"]:
            self._end(name)

    def _end(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
