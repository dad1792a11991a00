"""One version number: the project(... VERSION ...) line of CMakeLists.txt feeds CMake, the
wheel's metadata and game_data.__version__ (through the compiled core)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import game_data
from game_data import _core

CMAKELISTS = Path(__file__).resolve().parents[2] / "CMakeLists.txt"


def test_the_wheel_metadata_and_the_package_agree() -> None:
    assert importlib.metadata.version("game-data") == game_data.__version__ == _core.__version__


def test_the_version_is_the_one_in_cmakelists() -> None:
    # Fails when the installed package was built from another version of the tree.
    match = re.search(r"^project\(game_data VERSION ([0-9.]+)", CMAKELISTS.read_text(), re.MULTILINE)
    assert match is not None
    assert game_data.__version__ == match.group(1)
    assert re.fullmatch(r"\d+\.\d+\.\d+", game_data.__version__)


def test_the_changelog_names_the_version() -> None:
    # CHANGELOG.md's newest section is the version being built (Keep a Changelog headings).
    changelog = CMAKELISTS.with_name("CHANGELOG.md").read_text()
    heading = re.search(r"^## \[(Unreleased|[0-9.]+)\](.*)$", changelog, re.MULTILINE)
    assert heading is not None
    assert game_data.__version__ in heading.group(0)
