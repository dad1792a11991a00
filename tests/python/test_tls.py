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


@pytest.mark.parametrize("given", ["cert", "key"])
def test_a_client_certificate_and_its_key_go_together(tls_server: TlsServer, given: str) -> None:
    certs = tls_server.certs
    files = {"cert": str(certs / "client.pem"), "key": str(certs / "client.key")}
    url = tls_server.url("localhost", ca_cert=str(certs / "ca.pem"), **{given: files[given]})
    with pytest.raises(game_data.InvalidArgumentError, match=f"{given} is given without") as info:
        game_data.connect(url).counts()
    assert "cert=FILE" in str(info.value) and "key=FILE" in str(info.value)


def test_a_query_option_given_twice_is_refused(tls_server: TlsServer) -> None:
    url = tls_server.verified_url() + "&sni=redis.example"
    with pytest.raises(game_data.InvalidArgumentError, match="'sni' is given twice"):
        game_data.connect(url).counts()


def test_a_certificate_naming_the_host_only_in_its_cn_is_refused(cn_only_tls_server: TlsServer) -> None:
    # CN=localhost and no subjectAltName: names are checked in the SAN only, as browsers do.
    with pytest.raises(game_data.BackendConnectionError, match="subject CN is not accepted"):
        game_data.connect(cn_only_tls_server.verified_url()).counts()


def test_rediss_to_a_plain_port_says_the_server_did_not_speak_tls(tls_server: TlsServer) -> None:
    url = tls_server.server.url.replace("redis://", "rediss://") + "?connect_timeout_ms=500"
    with pytest.raises(game_data.BackendConnectionError, match="did not speak TLS") as info:
        game_data.connect(url).counts()
    assert "plain Redis port" in str(info.value) and "(null)" not in str(info.value)


def test_redis_to_a_tls_port_is_a_connection_error_suggesting_rediss(tls_server: TlsServer) -> None:
    url = f"redis://127.0.0.1:{tls_server.tls_port}/0"
    with pytest.raises(game_data.BackendConnectionError, match="use rediss://") as info:
        game_data.connect(url).counts()
    assert not isinstance(info.value, game_data.OutcomeUnknownError)
