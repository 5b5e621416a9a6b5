"""Print pip constraints pinning every core requirement of setup.cfg to its lowest declared version.

    python scripts/lowest_constraints.py setup.cfg > constraints.txt
    pip install -c constraints.txt -e ".[dev]"
    python scripts/lowest_constraints.py --check setup.cfg   # with the environment's python: exit 1 unless pinned

Each ``name>=X`` of ``install_requires`` becomes ``name==X`` (extras dropped: pip's constraints take none);
requirements without a lower bound are left to the resolver. Standard library only: it runs before the
environment it describes exists.
"""

from __future__ import annotations

import configparser
import re
import sys

# name, optional [extras], then the specifiers up to an environment marker
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")
LOWER_BOUND = re.compile(r">=\s*([^,\s]+)")


def lowest_pins(setup_cfg: str) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    pins: dict[str, str] = {}
    for line in parser.get("options", "install_requires").splitlines():
        line = line.split("#", 1)[0].strip()
        match = REQUIREMENT.match(line) if line else None
        if match is None:
            continue
        bound = LOWER_BOUND.search(match.group(2))
        if bound is not None:
            pins[match.group(1).lower()] = bound.group(1)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _release(version: str) -> tuple[int, ...]:
    """``1.26`` and ``1.26.0`` alike (trailing zeros dropped); a pre-release suffix is ignored."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+", 1)[0])[:4]]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def mismatches(pins: list[str]) -> list[str]:
    """The pins this interpreter's environment does not hold, each with what it holds instead."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = []
    for pin in pins:
        name, wanted = pin.split("==")
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if _release(installed) != _release(wanted):
            wrong.append(f"{pin} (installed: {installed})")
    return wrong


def main() -> None:
    arguments = sys.argv[1:]
    check = arguments[:1] == ["--check"]
    if check:
        arguments = arguments[1:]
    if len(arguments) != 1:
        sys.exit(f"usage: {sys.argv[0]} [--check] SETUP_CFG")
    pins = lowest_pins(arguments[0])
    if not check:
        print("\n".join(pins))
        return
    wrong = mismatches(pins)
    if wrong:
        sys.exit("not at the lowest declared versions: " + ", ".join(wrong))
    print("lowest declared versions installed: " + ", ".join(pins))


if __name__ == "__main__":
    main()
