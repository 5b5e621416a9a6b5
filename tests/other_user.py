"""Another user of this machine: a second Unix account, and what it can do to a batch's cluster.

The issue this guards against: a Dask scheduler runs whatever a connected client sends, on every worker, as
the user who started them, so any user who can reach its port could run code as the batch's owner.
``OtherUser.attack`` runs, as that account, a plain ``tcp://`` client and a TLS client holding a certificate
of its own (not the batch's) against a scheduler, reads files and ``/proc/<pid>/cmdline`` (readable by every
user) looking for the batch's key, and reports what it managed.

The account runs an interpreter it can execute: this one when its folders are readable by others, else a
system Python of the same version with this environment's packages on ``PYTHONPATH`` (a virtual
environment made from an interpreter under a private home folder cannot be run by another user).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NAME = "dask-runner-other"

ATTACK = r"""
import json, os, sys
from distributed import Client
from distributed.security import Security

job = json.loads(sys.argv[1])

def connect(address, security):
    try:
        with Client(address, timeout="5s", security=security) as client:
            return "connected: its workers ran os.getuid for me, as uid %s" % sorted(set(client.run(os.getuid).values()))
    except Exception as exc:  # what the scheduler's refusal looks like to the client
        return "refused: %s: %s" % (type(exc).__name__, exc)

def read(path):
    try:
        if os.path.isdir(path):
            return "listed: %s" % sorted(os.listdir(path))
        with open(path, "rb") as stream:
            return "read: %d bytes, key inside: %s" % (len(data := stream.read()), b"PRIVATE KEY" in data)
    except OSError as exc:
        return "denied: %s" % type(exc).__name__

host_port = job["address"].split("://", 1)[1]
result = {
    "uid": os.getuid(),
    "plain": connect("tcp://" + host_port, None),
    "tls with a certificate of its own": connect("tls://" + host_port, Security.temporary()),
    "files": {path: read(path) for path in job["files"]},
    "command lines with a key": [pid for pid in job["pids"] if b"PRIVATE KEY" in open("/proc/%d/cmdline" % pid, "rb").read()],
}
print("ATTACK " + json.dumps(result))
"""


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    runuser: str
    python: str
    environment: dict[str, str]

    def attack(self, address: str, files: list[str | Path] = (), pids: list[int] = ()) -> dict:  # type: ignore[assignment]
        """What this user manages against the scheduler at ``address`` and the batch's ``files`` and processes."""
        job = json.dumps({"address": address, "files": [str(f) for f in files], "pids": list(pids)})
        done = subprocess.run([self.runuser, "-u", self.name, "--", self.python, "-c", ATTACK, job],
                              env=self.environment, cwd="/", capture_output=True, text=True, timeout=120, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("ATTACK ")]
        assert done.returncode == 0 and lines, f"the other user's client did not run:\n{done.stdout}\n{done.stderr}"
        return dict(json.loads(lines[-1][len("ATTACK "):]))


def ensure_other_user() -> OtherUser | str:
    """The second account (created once, kept: creating it again is a no-op), or why there can be none."""
    if os.geteuid() != 0:
        return "creating a second Unix user needs root (`make test` runs as root)"
    useradd, runuser = shutil.which("useradd"), shutil.which("runuser")
    if useradd is None or runuser is None:
        return "useradd or runuser is not installed: no second user can be created and run"
    try:
        account = pwd.getpwnam(NAME)
    except KeyError:
        created = subprocess.run([useradd, "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", NAME],
                                 capture_output=True, text=True, check=False)
        if created.returncode not in (0, 9):  # 9: it exists (another session made it meanwhile)
            return f"useradd {NAME} failed: {created.stderr.strip()}"
        account = pwd.getpwnam(NAME)
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/", "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8",
                   "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = dict.fromkeys([sys.executable, os.path.realpath(sys.executable), shutil.which(f"python{version}"),
                                f"/usr/bin/python{version}"])
    for python in filter(None, candidates):
        probe = subprocess.run([runuser, "-u", NAME, "--", python, "-c",
                                "import sys, distributed, cryptography; print(sys.version_info[:2])"],
                               env=environment, cwd="/", capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == str(sys.version_info[:2]):
            return OtherUser(NAME, account.pw_uid, runuser, python, environment)
    return (f"no Python {version} that {NAME} may run imports this environment's distributed (the interpreter "
            f"{os.path.realpath(sys.executable)} lies in a folder other users cannot enter, and no system "
            f"python{version} was found)")


@contextlib.contextmanager
def shared_folder() -> Iterator[Path]:
    """A folder every user may enter and list, as a shared filesystem's is: what keeps the other user out of
    the batch's certificates inside it must then be their own modes, not pytest's private temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="dask-runner-shared-"))
    try:
        os.chmod(folder, 0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
