"""Fixtures shared by every test folder. Being here, this file also puts ``tests/`` on ``sys.path``
(pytest's default import mode), so ``sync_helpers`` imports from anywhere, worker processes included."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from other_user import OtherUser, ensure_other_user, shared_folder

from dask_runner.scenarios.data_fetch import DATA_DIR_ENV, NGSIM_FILES, ngsim_scenario_paths, sha256_of

REPO = Path(__file__).resolve().parent.parent
REPO_DATA_DIR = REPO / "data" / "commonroad"


@pytest.fixture(scope="session")
def ngsim_paths() -> list[Path]:
    """The four real NGSIM scenario files, fetched beforehand by `make data`; the test is skipped without them.

    Tests never download them (that needs the network; see the `network` marker): `make test` runs
    `make data` first, `make test-fast` runs offline and skips these tests when the data is absent.
    """
    data_dir = Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else REPO_DATA_DIR
    paths = ngsim_scenario_paths(data_dir)
    present = [p.is_file() and sha256_of(p) == expected for p, expected in zip(paths, NGSIM_FILES.values())]
    if not all(present):
        missing = [p.name for p, ok in zip(paths, present) if not ok]
        reason = (f"the NGSIM CommonRoad data is not in {data_dir} ({len(missing)} of the pinned files missing or "
                  f"changed): run `make data` (downloads it once) or set ${DATA_DIR_ENV}")
        if os.environ.get("CI"):  # `make test` fetched it first: in CI a missing file is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    return paths


@pytest.fixture(scope="session")
def other_user() -> OtherUser:
    """A second Unix account of this machine (created once), to try what another user of a shared host can do."""
    user = ensure_other_user()
    if isinstance(user, str):
        pytest.skip(user)
    return user


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can enter and list (as on a shared filesystem), removed after the test."""
    with shared_folder() as folder:
        yield folder
