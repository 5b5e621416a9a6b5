"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """The current directory of the command (where a default output/ folder would appear)."""
    return tmp_path
