"""TLS inside one SLURM allocation (``worker=dask_slurm_runner worker.security=true``): one set of certificates.

Every rank runs the same command, so each would make its own temporary certificates and none would trust
another's. Rank 0 (the scheduler) makes them (Dask's ``Security.temporary()``: one self-signed certificate
and its key, used by every role) and writes them, readable by their owner only, to a folder next to the
scheduler file, which every node sees; the other ranks wait for them there and load them into memory.
Rank 0 deletes the folder when its scheduler stops. The folder names the job and the step, so a folder an
earlier ``srun`` left behind (killed before it could clean up) is never read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed.security import Security

CERTIFICATE = "cert.pem"  # the self-signed certificate: every role's certificate and the authority they trust
KEY = "key.pem"
INSTALL_HINT = "pip install 'dask_runner[slurm]'"


def certificate_folder(scheduler_file: Path, job_id: str, step_id: str) -> Path:
    """Where rank 0 writes the allocation's certificates: beside the scheduler file, one folder per job step."""
    return scheduler_file.parent / f"dask-runner-tls-{job_id}.{step_id}"


def security_from_pem(certificate: str, key: str) -> Security:
    """A ``Security`` requiring TLS for every role, from the certificate and key themselves (not paths)."""
    from distributed.security import Security

    roles = {f"tls_{role}_{part}": value for role in ("client", "scheduler", "worker")
             for part, value in (("cert", certificate), ("key", key))}
    return Security(require_encryption=True, tls_ca_file=certificate, **roles)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` with permissions 0600 from the first byte; readers see the whole file or none (rename)."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)
    os.replace(partial, path)


def make_certificates(folder: Path) -> Security:
    """Rank 0: new temporary certificates, written to ``folder`` (mode 0700, files 0600) for the other ranks."""
    try:
        from distributed.security import Security

        security = Security.temporary()
    except ImportError as exc:
        raise ConfigError(f"worker.security=true needs the cryptography package: {INSTALL_HINT} ({exc})") from exc
    try:
        folder.mkdir(mode=0o700, parents=False, exist_ok=True)
        os.chmod(folder, 0o700)
        # The key before the certificate: the other ranks wait for the certificate, so both are there then.
        _write_private(folder / KEY, str(security.tls_scheduler_key))
        _write_private(folder / CERTIFICATE, str(security.tls_scheduler_cert))
    except OSError as exc:
        raise ClusterError(f"could not write the allocation's TLS certificates to {folder} ({exc}); the scheduler "
                           "file's folder must be writable and on a filesystem every node sees, e.g. "
                           "worker.scheduler_file=$HOME/scheduler-{job_id}.json") from exc
    return security


def load_certificates(folder: Path, timeout_s: float) -> Security:
    """Ranks other than 0: wait (up to ``timeout_s``) for rank 0's certificates and load them into memory."""
    certificate, key = folder / CERTIFICATE, folder / KEY
    deadline = time.monotonic() + timeout_s
    while not certificate.exists():
        if time.monotonic() > deadline:
            raise ClusterError(f"rank 0 did not write the allocation's TLS certificates to {folder} within "
                               f"{timeout_s:g} s: the scheduler file's folder must be on a filesystem every node "
                               "sees (e.g. worker.scheduler_file=$HOME/scheduler-{job_id}.json); see rank 0's "
                               "output for its error")
        time.sleep(0.2)  # the certificates are written once, by another node: poll the shared folder
    try:
        return security_from_pem(certificate.read_text(), key.read_text())
    except OSError as exc:
        raise ClusterError(f"could not read the allocation's TLS certificates in {folder} ({exc}); every rank "
                           "must run as the same user, which owns them") from exc


def remove_certificates(folder: Path) -> None:
    """Rank 0, when its scheduler has stopped: no key is left behind on the shared filesystem."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)
