"""rediss:// from Python against a private TLS redis-server (certificates made for this run):
the server's chain and name are verified, and a refusal is a typed ConnectionError saying why.
./dev builds the package with a TLS-capable hiredis on Debian 12 and 13 alike."""

from __future__ import annotations

import pytest

import game_data
from game_data import GameState

from conftest import TlsServer


def test_build_has_tls() -> None:
    assert game_data.backend_available("rediss")


def test_verified_connection_round_trip(tls_server: TlsServer, gd_namespace: str) -> None:
    url = tls_server.verified_url()
    mm = game_data.connect(url, namespace=gd_namespace)
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    pub = game_data.EventPublisher(url, server_id="gs-1", namespace=gd_namespace)
    pub.creator_joined(game.id, player_id="alice")
    results = mm.consumer(name="mm-1").poll(count=10, block_ms=1000)
    assert [r.status for r in results] == [game_data.ApplyStatus.APPLIED]
    assert mm.get_game(game.id).state is GameState.CREATOR_JOINED
    # The same server over plain text sees what went over TLS.
    assert tls_server.server.command("EXISTS", f"{gd_namespace}:{{0}}:game:{game.id}") == b":1\r\n"


def test_host_name_from_the_url_and_a_client_certificate(tls_server: TlsServer) -> None:
    certs = tls_server.certs
    url = tls_server.url("localhost", ca_cert=str(certs / "ca.pem"), cert=str(certs / "client.pem"),
                         key=str(certs / "client.key"))
    assert game_data.connect(url).counts() == {"pending": 0, "lobby": 0, "active": 0}


def test_unknown_ca_is_refused(tls_server: TlsServer) -> None:
    url = tls_server.url(ca_cert=str(tls_server.certs / "other-ca.pem"), sni="localhost")
    with pytest.raises(ConnectionError, match="server certificate was not accepted") as info:
        game_data.connect(url).counts()
    assert isinstance(info.value, game_data.BackendConnectionError)


@pytest.mark.parametrize("sni", [None, "redis.example"])
def test_wrong_host_name_is_refused(tls_server: TlsServer, sni: str | None) -> None:
    # The certificate is for DNS:localhost: neither 127.0.0.1 nor redis.example matches.
    query = {"ca_cert": str(tls_server.certs / "ca.pem")} | ({"sni": sni} if sni else {})
    with pytest.raises(game_data.BackendConnectionError, match="[Hh]ostname mismatch|IP address mismatch"):
        game_data.EventPublisher(tls_server.url(**query), server_id="gs-1").heartbeat("g1")


def test_missing_ca_file_is_a_connection_error(tls_server: TlsServer) -> None:
    url = tls_server.url("localhost", ca_cert=str(tls_server.certs / "missing.pem"))
    with pytest.raises(ConnectionError, match="cannot load the CA certificates"):
        game_data.connect(url).counts()
