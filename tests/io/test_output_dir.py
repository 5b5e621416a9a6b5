"""The output folder refuses what would lose or overwrite results, before anything runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dask_runner.errors import OutputDirError
from dask_runner.io.output_dir import atomic_write_bytes, default_output_dir, prepare_output_dir


def test_new_folder_is_created_with_its_layout(tmp_path: Path) -> None:
    layout = prepare_output_dir(tmp_path / "run")
    assert layout.reports_dir.is_dir() and layout.logs_dir.is_dir()
    assert layout.runner_report == tmp_path / "run" / "runner_report.parquet"
    assert layout.html_report.name == "report.html"


def test_non_empty_folder_without_resume_is_refused_and_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("earlier results")
    with pytest.raises(OutputDirError, match="resume=true"):
        prepare_output_dir(tmp_path)
    assert (tmp_path / "old.txt").read_text() == "earlier results"
    assert prepare_output_dir(tmp_path, resume=True).root == tmp_path


def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # Permission bits do not stop root (CI runs as root); sysfs refuses new folders to everyone.
        with pytest.raises(OutputDirError, match="not writable"):
            prepare_output_dir(Path("/sys/dask_runner_output"))
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputDirError, match="not writable"):
            prepare_output_dir(locked / "run")
    finally:
        locked.chmod(0o700)


def test_folder_below_a_file_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="not writable"):
        prepare_output_dir(tmp_path / "file" / "run")


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="not a folder"):
        prepare_output_dir(tmp_path / "file")


def test_too_little_free_disk_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputDirError, match="min_free_disk_gb"):
        prepare_output_dir(tmp_path / "run", min_free_disk_gb=1e9)


def test_default_output_dir_follows_nuplan_layout() -> None:
    path = default_output_dir("my_exp")
    assert path.parts[:2] == ("output", "my_exp") and len(path.parts[2]) == len("2024.01.01.00.00.00")


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_bytes(target, b"{}")
    atomic_write_bytes(target, b"[1]")
    assert target.read_bytes() == b"[1]"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_folder_without_a_single_result_is_not_holding_results(tmp_path: Path) -> None:
    """A job stopped before its first report (say, by a config error) must not block the corrected command."""
    run = tmp_path / "run"
    layout = prepare_output_dir(run)
    layout.config_file.write_text("planner: idm\n")
    (layout.logs_dir / "simulation.log").write_text("started\n")
    assert not layout.holds_results()
    assert prepare_output_dir(run).root == run
    (layout.reports_dir / "r1.json").write_text("{}")
    assert layout.holds_results()
    with pytest.raises(OutputDirError, match="already holds results; pass resume=true"):
        prepare_output_dir(run)
