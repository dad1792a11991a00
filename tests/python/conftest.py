"""Shared fixtures of the Python suite. The redis_server / redis_url / gd_namespace fixtures
come from the game_data pytest plugin (game_data.testing.pytest_plugin)."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import game_data
from game_data.testing.redis_server import RedisServer, free_port

TESTS_DIR = Path(__file__).resolve().parent.parent  # tests/ of the source tree


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
@dataclasses.dataclass(frozen=True)
class TlsServer:
    """A redis-server listening in plain text (``server.url``) and with TLS (``tls_port``),
    with the certificates of tests/tls/make_certs.sh in ``certs``."""

    server: RedisServer
    tls_port: int
    certs: Path

    def url(self, host: str = "127.0.0.1", **query: str) -> str:
        """A rediss:// URL for it; ``query`` are the TLS options (ca_cert=..., sni=...)."""
        options = "&".join(f"{k}={v}" for k, v in query.items())
        return f"rediss://{host}:{self.tls_port}/0?{options}"

    def verified_url(self) -> str:
        """The URL that verifies: our CA, and the name the certificate is for."""
        return self.url(ca_cert=str(self.certs / "ca.pem"), sni="localhost")


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificates of tests/tls/make_certs.sh, made for this run."""
    certs = tmp_path_factory.mktemp("certs")
    subprocess.run(["sh", str(TESTS_DIR / "tls" / "make_certs.sh"), str(certs)], check=True)
    return certs


def _tls_server(certs: Path, name: str) -> tuple[RedisServer, int]:
    """A redis-server (not started yet) presenting certs/NAME.pem on the TLS port returned."""
    tls_port = free_port()
    args = ("--tls-port", str(tls_port), "--tls-cert-file", str(certs / f"{name}.pem"),
            "--tls-key-file", str(certs / f"{name}.key"), "--tls-ca-cert-file",
            str(certs / "ca.pem"), "--tls-auth-clients", "optional")
    return RedisServer(extra_args=args), tls_port


@pytest.fixture(scope="session")
def tls_server(tls_certs: Path) -> Iterator[TlsServer]:
    """A redis-server with TLS on, certificates made for this run (see TlsServer)."""
    server, tls_port = _tls_server(tls_certs, "server")
    with server:
        yield TlsServer(server, tls_port, tls_certs)


@pytest.fixture(scope="session")
def cn_only_tls_server(tls_certs: Path) -> Iterator[TlsServer]:
    """Like tls_server, but its certificate names localhost in the subject CN only (no SAN)."""
    server, tls_port = _tls_server(tls_certs, "cn-only")
    with server:
        yield TlsServer(server, tls_port, tls_certs)
