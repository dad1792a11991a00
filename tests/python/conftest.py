"""Shared fixtures of the Python suite. The redis_server / redis_url / gd_namespace fixtures
come from the game_data pytest plugin (game_data.testing.pytest_plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest

import game_data


# Every backend, always: a backend that cannot run here fails its tests, it is never left out.
BACKENDS = ["memory", "redis"]
STREAM_BACKENDS = BACKENDS


def _url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> str:
    """A backend URL: memory:// (private, in-process) or the session's redis-server."""
    return _url(request)


@pytest.fixture(params=STREAM_BACKENDS)
def stream_backend_url(request: pytest.FixtureRequest) -> str:
    """Like backend_url, for tests that also use the event stream."""
    return _url(request)


@pytest.fixture
def mm(backend_url: str, gd_namespace: str) -> game_data.Matchmaker:
    """A matchmaker on each backend, in a namespace no other test uses."""
    return game_data.connect(backend_url, namespace=gd_namespace)


@pytest.fixture
def stream_mm(stream_backend_url: str, gd_namespace: str) -> game_data.Matchmaker:
    """A matchmaker on each backend whose event stream works."""
    return game_data.connect(stream_backend_url, namespace=gd_namespace)


@pytest.fixture(scope="session")
def cpp_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This tree's C++ package installed into a scratch prefix (see cpp_package.py)."""
    from cpp_package import install_cpp_package

    return install_cpp_package(tmp_path_factory.mktemp("cpp-prefix"))
