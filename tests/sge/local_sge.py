"""A real Grid Engine on 127.0.0.1, started for the tests (and stopped by process id).

Debian's gridengine (``gridengine-master``, ``gridengine-exec``, ``gridengine-client``, installed with apt-get
when missing) with a cell of its own: ``SGE_ROOT`` is a temporary folder whose ``bin``/``util``/``utilbin`` link
to the installed ones, the spool is classic files in the same folder, and the qmaster and execd ports are
picked free at each start (``SGE_QMASTER_PORT``/``SGE_EXECD_PORT``), so a Grid Engine the machine already runs
is left alone. One execution host (this machine) with one queue ``all.q``; the scheduler runs every second.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

PACKAGES = ("gridengine-master", "gridengine-exec", "gridengine-client")
DAEMONS = Path("/usr/lib/gridengine")
SHARE = Path("/usr/share/gridengine")
CELL = "default"
SLOTS = 4

BOOTSTRAP = """\
admin_user              none
default_domain          none
ignore_fqdn             true
spooling_method         classic
spooling_lib            libspoolc
spooling_params         {common};{spool}
binary_path             {daemons}
qmaster_spool_dir       {spool}
security_mode           none
listener_threads        2
worker_threads          2
scheduler_threads       1
"""

EXEC_HOST = """\
hostname {host}
load_scaling NONE
complex_values NONE
user_lists NONE
xuser_lists NONE
projects NONE
xprojects NONE
usage_scaling NONE
report_variables NONE
"""

QUEUE_LIMITS = "".join(f"{kind}_{limit} INFINITY\n" for limit in ("rt", "cpu", "fsize", "data", "stack", "core",
                                                                   "rss", "vmem") for kind in "sh")
QUEUE = """\
qname all.q
hostlist {host}
seq_no 0
load_thresholds NONE
suspend_thresholds NONE
nsuspend 1
suspend_interval 00:05:00
priority 0
min_cpu_interval 00:05:00
processors UNDEFINED
qtype BATCH INTERACTIVE
ckpt_list NONE
pe_list NONE
rerun FALSE
slots {slots}
tmpdir /tmp
shell /bin/bash
prolog NONE
epilog NONE
shell_start_mode unix_behavior
starter_method NONE
suspend_method NONE
resume_method NONE
terminate_method NONE
notify 00:00:60
owner_list NONE
user_lists NONE
xuser_lists NONE
subordinate_list NONE
complex_values NONE
projects NONE
xprojects NONE
calendar NONE
initial_state default
""" + QUEUE_LIMITS


def ensure_installed() -> None:
    """Install Debian's Grid Engine when missing (the tests run as root, as `make test` does)."""
    if (DAEMONS / "sge_qmaster").exists() and shutil.which("qsub"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env, timeout=900)


def free_ports(count: int) -> list[int]:
    """``count`` ports free now (asked of the kernel; the daemons bind them a moment later)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class LocalGridEngine:
    """One Grid Engine cell; ``start()`` then ``stop()`` (which ends exactly the daemons ``start()`` began)."""

    root: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: tuple[int, int] = (0, 0)  # qmaster, execd: picked by ``start``
    host: str = field(default_factory=lambda: socket.gethostname().split(".")[0])

    @property
    def sge_root(self) -> Path:
        return self.root / "sge_root"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def env(self) -> dict[str, str]:
        """The environment under which Grid Engine's commands (qsub, qstat, qdel) use this cell."""
        return {**os.environ, **self.variables}

    @property
    def variables(self) -> dict[str, str]:
        return {"SGE_ROOT": str(self.sge_root), "SGE_CELL": CELL, "SGE_QMASTER_PORT": str(self.ports[0]),
                "SGE_EXECD_PORT": str(self.ports[1])}

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=check)

    def _write_cell(self) -> None:
        common = self.sge_root / CELL / "common"
        common.mkdir(parents=True)
        for folder in ("qmaster", "execd"):
            (self.spool / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "log").mkdir(exist_ok=True)
        for name, target in (("bin", "/var/lib/gridengine/bin"), ("util", SHARE / "util"), ("utilbin", DAEMONS)):
            (self.sge_root / name).symlink_to(target)
        (common / "bootstrap").write_text(BOOTSTRAP.format(common=common, spool=self.spool / "qmaster",
                                                           daemons=DAEMONS))
        (common / "act_qmaster").write_text(f"{self.host}\n")
        # commlib refuses a client whose address resolves to another name than the host's (localhost here).
        (common / "host_aliases").write_text(f"{self.host} localhost\n")
        (common / "cluster_name").write_text("dask-runner-tests\n")
        configuration = (SHARE / "default-configuration").read_text()
        replacements = {"execd_spool_dir": str(self.spool / "execd"), "min_uid": "0", "min_gid": "0",
                        "shell_start_mode": "unix_behavior", "load_report_time": "00:00:05"}
        lines = []
        for line in configuration.splitlines():
            key = line.split(maxsplit=1)[0] if line.strip() else ""
            lines.append(f"{key} {replacements[key]}" if key in replacements else line)
        (self.root / "global").write_text("\n".join(lines) + "\n")
        spooling = f"{common};{self.spool / 'qmaster'}"
        self._util("spoolinit", "classic", "libspoolc", spooling, "init")
        self._util("spooldefaults", "configuration", str(self.root / "global"))
        self._util("spooldefaults", "complexes", str(SHARE / "util" / "resources" / "centry"))
        self._util("spooldefaults", "usersets", str(SHARE / "util" / "resources" / "usersets"))
        self._util("spooldefaults", "managers", "root")
        self._util("spooldefaults", "adminhosts", self.host)

    def _util(self, *args: str) -> None:
        subprocess.run([str(DAEMONS / args[0]), *args[1:]], env=self.env, capture_output=True, check=True,
                       timeout=60)

    def _start(self, name: str) -> None:
        with open(self.root / "log" / f"{name}.out", "wb") as log:
            self.processes[name] = subprocess.Popen([str(DAEMONS / name)], stdout=log, stderr=subprocess.STDOUT,
                                                    env={**self.env, "SGE_ND": "1"}, cwd=self.root / "log",
                                                    start_new_session=True)

    def start(self, timeout: float = 60) -> None:
        ensure_installed()
        self.ports = tuple(free_ports(2))  # type: ignore[assignment]
        self._write_cell()
        self._start("sge_qmaster")
        self._wait(lambda: self.run("qconf", "-sh", check=False).returncode == 0, timeout, "qmaster did not answer")
        self.run("qconf", "-as", self.host)
        for name, text in (("exec_host", EXEC_HOST.format(host=self.host)),
                           ("queue", QUEUE.format(host=self.host, slots=SLOTS))):
            (self.root / name).write_text(text)
        self.run("qconf", "-Ae", str(self.root / "exec_host"))
        self.run("qconf", "-Aq", str(self.root / "queue"))
        scheduler = self.run("qconf", "-ssconf").stdout
        faster = {"schedule_interval": "0:0:1", "flush_submit_sec": "1", "flush_finish_sec": "1"}
        (self.root / "sched").write_text("\n".join(
            f"{line.split()[0]} {faster[line.split()[0]]}" if line.split() and line.split()[0] in faster else line
            for line in scheduler.splitlines()) + "\n")
        self.run("qconf", "-Msconf", str(self.root / "sched"))
        self._start("sge_execd")
        self._wait(self.queue_is_up, timeout, "the execution host did not report to the qmaster")

    def queue_is_up(self) -> bool:
        listing = self.run("qstat", "-f", check=False).stdout
        return any(line.startswith(f"all.q@{self.host}") and "-NA-" not in line and len(line.split()) == 5
                   for line in listing.splitlines())

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

    def jobs(self) -> list[dict[str, str]]:
        """The jobs in the queue: id, name, state (``qw`` waiting, ``r`` running, ...); XML, as the table cuts names."""
        listing = ElementTree.fromstring(self.run("qstat", "-u", "*", "-xml").stdout)
        return [{"id": job.findtext("JB_job_number", ""), "name": job.findtext("JB_name", ""),
                 "state": job.findtext("state", "")} for job in listing.iter("job_list")]

    def qdel(self, job: str) -> None:
        self.run("qdel", job)

    def delete_all(self) -> None:
        if "sge_qmaster" in self.processes:
            self.run("qdel", "-u", "*", check=False)

    def stop(self) -> None:
        """End what ``start()`` started, by process id (the execd first)."""
        self.delete_all()
        for name in ("sge_execd", "sge_qmaster"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.spool / "execd")
