"""The pytest plugin's fixtures are documented where users look for them: `pytest --fixtures`
shows a docstring under every fixture the plugin (game_data.testing.pytest_plugin) defines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from game_data.testing import pytest_plugin


def plugin_fixture_names() -> list[str]:
    """Every fixture of the plugin module, found by pytest's own marker, not a list kept here."""
    names = []
    for name in dir(pytest_plugin):
        obj = getattr(pytest_plugin, name)
        if getattr(obj, "_pytestfixturefunction", None) is not None or type(obj).__name__ == "FixtureFunctionDefinition":
            names.append(name)
    return sorted(names)


def test_the_plugin_defines_the_documented_fixtures() -> None:
    assert set(plugin_fixture_names()) >= {"redis_server", "redis_url", "gd_namespace", "fresh_redis_server"}
    assert sorted(pytest_plugin.__all__) == plugin_fixture_names()


def test_pytest_fixtures_shows_a_docstring_for_every_plugin_fixture(tmp_path: Path) -> None:
    # An empty project: only the installed plugin (entry point pytest11) contributes fixtures.
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    for name in plugin_fixture_names():
        header = [i for i, line in enumerate(lines) if re.match(rf"{name}( \[\w+ scope\])? -- ", line)]
        assert header, f"pytest --fixtures does not list {name}:\n{out.stdout}"
        following = lines[header[0] + 1] if header[0] + 1 < len(lines) else ""
        assert following.startswith("    ") and "no docstring available" not in following, (
            f"{name} has no docstring in pytest --fixtures: {following!r}")


@pytest.mark.parametrize("name", plugin_fixture_names())
def test_every_plugin_fixture_has_a_docstring_in_source(name: str) -> None:
    fixture = getattr(pytest_plugin, name)
    function = getattr(fixture, "__wrapped__", None) or getattr(fixture, "_get_wrapped_function", lambda: fixture)()
    assert (function.__doc__ or "").strip(), name
