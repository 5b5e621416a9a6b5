"""The credentials that keep a batch's cluster to its user: TLS with temporary certificates.

A Dask scheduler runs whatever code a connected client sends, on every worker, as the user who started
them; anyone who can reach its port can connect. So every cluster dask_runner starts requires TLS with a
certificate made for it alone (as Dask's ``Security.temporary()``: one self-signed certificate and its key,
used by every role and trusted as the only authority): a client that does not hold it is refused.

- Processes the driver starts (a local or CUDA cluster, whose workers fork or spawn from it) get the
  certificate in memory, as arguments of their process; nothing is written.
- Processes started elsewhere (SLURM worker jobs, the ranks of one allocation) read it from files of mode
  0600 in a folder of mode 0700 on the shared filesystem (``write_certificates``), removed when the batch
  ends (``remove_certificates``). Inside one allocation every rank runs the same command, so each would
  make its own certificate and none would trust another's: rank 0 (the scheduler) makes it, the others wait
  for it there (``load_certificates``). The folder names the job and the step, so a folder an earlier
  ``srun`` left behind (killed before it could clean up) is never read.

``security=false`` turns it off for one pool; ``warn_security_off`` says in the log what that allows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed.security import Security

logger = logging.getLogger(__name__)

CERTIFICATE = "cert.pem"  # the self-signed certificate: every role's certificate and the authority they trust
KEY = "key.pem"
INSTALL_HINT = "pip install cryptography"


# How long a batch's certificate is valid (a batch that runs longer would see reconnections refused), and
# how far back, so that a node whose clock lags the one that made it still accepts it.
VALID_FOR = 365 * 24 * 3600
VALID_SINCE = 24 * 3600


def temporary_security() -> Security:
    """A new self-signed certificate and its key, in memory, required by every role (scheduler, workers, clients).

    What Dask's ``Security.temporary()`` does, with an ECDSA P-256 key instead of RSA 2048: generating an RSA
    key searches for primes, which took 0.2 to 1.4 s of the driver's start on a busy 2-core machine (0.03 to
    0.35 s for the EC key, same runs), and TLS handshakes sign faster with it too.
    """
    try:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise ConfigError(f"TLS with temporary certificates (every cluster dask_runner starts, unless "
                          f"worker.security=false) needs the cryptography package: {INSTALL_HINT} ({exc})") from exc
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dask-runner batch")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(seconds=VALID_SINCE))
                   .not_valid_after(now + datetime.timedelta(seconds=VALID_FOR))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return security_from_pem(certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode())


def warn_security_off(pool: str) -> None:
    """The one warning a pool that runs without TLS gives (``security=false``), saying what that allows."""
    logger.warning("%s runs without TLS (security=false): anyone who can reach its scheduler's port (on a shared "
                   "machine, every user of it; on a cluster, every user of its network) can connect and run any "
                   "code on its workers as you, and read the batch's data. Leave security=true (the default) "
                   "unless every user who can reach it is trusted", pool)


def certificate_folder(scheduler_file: Path, job_id: str, step_id: str) -> Path:
    """Where rank 0 of an allocation writes its certificates: beside the scheduler file, one folder per job step."""
    return scheduler_file.parent / f"dask-runner-tls-{job_id}.{step_id}"


def security_from_pem(certificate: str, key: str) -> Security:
    """A ``Security`` requiring TLS for every role, from the certificate and key: their text, or paths of
    files holding it (Dask reads a path when it opens a connection)."""
    from distributed.security import Security

    roles = {f"tls_{role}_{part}": value for role in ("client", "scheduler", "worker")
             for part, value in (("cert", certificate), ("key", key))}
    return Security(require_encryption=True, tls_ca_file=certificate, **roles)


def security_from_files(folder: Path) -> Security:
    """The ``Security`` of the certificate ``write_certificates`` wrote to ``folder``, by path: what a process
    started elsewhere is told on its command line (``--tls-cert``, ...)."""
    return security_from_pem(str(folder / CERTIFICATE), str(folder / KEY))


def make_private_folder(folder: Path) -> None:
    """``folder`` (its parent must exist), readable and writable by its owner only, even if it was there."""
    folder.mkdir(mode=0o700, parents=False, exist_ok=True)
    os.chmod(folder, 0o700)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` with permissions 0600 from the first byte; readers see the whole file or none (rename)."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)
    os.replace(partial, path)


def write_certificates(folder: Path, security: Security) -> None:
    """``security``'s certificate and key into ``folder`` (made mode 0700, files 0600), for processes started
    elsewhere (``load_certificates``, or paths on a worker's command line)."""
    try:
        make_private_folder(folder)
        # The key before the certificate: readers wait for the certificate, so both are there then.
        pem = security.get_tls_config_for_role("scheduler")
        _write_private(folder / KEY, str(pem["key"]))
        _write_private(folder / CERTIFICATE, str(pem["cert"]))
    except OSError as exc:
        raise ClusterError(f"could not write the cluster's TLS certificates to {folder} ({exc}); the folder must "
                           "be writable and on a filesystem every node sees, e.g. under $HOME") from exc


def make_certificates(folder: Path) -> Security:
    """Rank 0 of an allocation: new temporary certificates, written to ``folder`` for the other ranks."""
    security = temporary_security()
    write_certificates(folder, security)
    return security


def load_certificates(folder: Path, timeout_s: float, give_up: Callable[[], bool] = lambda: False) -> Security | None:
    """Ranks other than 0: wait (up to ``timeout_s``) for rank 0's certificates and load them into memory;
    None if ``give_up()`` turns true first (the batch ended before this rank got there)."""
    certificate, key = folder / CERTIFICATE, folder / KEY
    deadline = time.monotonic() + timeout_s
    while not certificate.exists():
        if give_up():
            return None
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
    """When the scheduler has stopped: no key is left behind on the shared filesystem."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)
