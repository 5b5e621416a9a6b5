"""Extras are checked where they are needed, with one error that names the extra to install."""

from __future__ import annotations

import pytest

from dask_runner.errors import ConfigError
from dask_runner.optional_dependencies import COMMONROAD, DASHBOARD, REPORT, OptionalPackage


def test_the_extras_installed_for_the_tests_are_usable() -> None:
    assert REPORT.missing() is None and DASHBOARD.missing() is None and COMMONROAD.missing() is None


def test_a_too_old_package_is_named_with_its_version() -> None:
    reason = OptionalPackage("bokeh", "999", "report").missing()
    assert reason is not None and "999 or newer is needed" in reason


def test_a_missing_package_raises_a_config_error_naming_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"report.html needs no-such-package>=1.0, but no-such-package is not "
                                          r"installed: pip install 'dask_runner\[report\]'"):
        OptionalPackage("no-such-package", "1.0", "report").require("report.html")
