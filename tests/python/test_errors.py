"""The exception hierarchy: every error is a GameDataError and the matching builtin."""

from __future__ import annotations

import pytest

import game_data
from game_data import errors
from game_data.testing import RedisServer

EXPECTED_BASES: dict[type[Exception], tuple[type[Exception], ...]] = {
    errors.GameDataError: (Exception,),
    errors.InvalidArgumentError: (errors.GameDataError, ValueError),
    errors.GameExistsError: (errors.InvalidArgumentError, errors.GameDataError, ValueError),
    errors.GameNotFoundError: (errors.GameDataError, KeyError),
    errors.BackendError: (errors.GameDataError,),
    errors.BackendConnectionError: (errors.BackendError, ConnectionError),
    errors.OutcomeUnknownError: (errors.BackendConnectionError, ConnectionError),
    errors.BackendTimeoutError: (errors.BackendConnectionError, ConnectionError, TimeoutError),
    errors.BusyLoadingError: (errors.BackendConnectionError, ConnectionError),
    errors.OutOfMemoryError: (errors.BackendConnectionError, ConnectionError),
    errors.ReplyError: (errors.BackendError, errors.GameDataError),
    errors.GroupMissingError: (errors.ReplyError, LookupError),
    errors.ScriptMissingError: (errors.ReplyError, LookupError),
    errors.UnsupportedError: (errors.GameDataError,),
    errors.PluginError: (errors.GameDataError, ImportError),
}


@pytest.mark.parametrize("cls", list(EXPECTED_BASES), ids=lambda c: c.__name__)
def test_error_bases(cls: type[Exception]) -> None:
    for base in EXPECTED_BASES[cls]:
        assert issubclass(cls, base)
    assert issubclass(cls, errors.GameDataError)


@pytest.mark.parametrize("name", errors.__all__)
def test_errors_are_reexported(name: str) -> None:
    assert getattr(game_data, name) is getattr(errors, name)


def test_unrelated_builtins_are_not_bases() -> None:
    assert not issubclass(errors.InvalidArgumentError, KeyError)
    assert not issubclass(errors.GameNotFoundError, ValueError)
    assert not issubclass(errors.BackendError, ConnectionError)
    assert not issubclass(errors.ReplyError, ConnectionError)
    assert not issubclass(errors.OutOfMemoryError, MemoryError)  # that is this process' memory
    assert not issubclass(errors.GroupMissingError, KeyError)


def test_a_full_redis_raises_out_of_memory_error_until_there_is_room() -> None:
    # A private server: the shared one must not run out of memory under other tests.
    with RedisServer() as server:
        mm = game_data.connect(server.url, namespace="oom")
        mm.create_game(creator_id="a", capacity=2, server_id="s", game_id="before")
        server.command("CONFIG", "SET", "maxmemory", "1")
        with pytest.raises(errors.OutOfMemoryError, match="out of memory") as info:
            mm.create_game(creator_id="a", capacity=2, server_id="s", game_id="during")
        assert isinstance(info.value, ConnectionError)  # retried like a lost connection
        assert mm.get_game("before") is not None  # reads still work
        server.command("CONFIG", "SET", "maxmemory", "0")
        assert mm.create_game(creator_id="a", capacity=2, server_id="s", game_id="during").id == "during"


def test_game_not_found_message_is_not_quoted() -> None:
    assert str(errors.GameNotFoundError("no game 'x'")) == "no game 'x'"


def test_core_raises_the_python_classes(mm: game_data.Matchmaker) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        mm.create_game(creator_id="", capacity=2, server_id="s")
    assert type(info.value) is errors.InvalidArgumentError
    assert "creator_id" in str(info.value)

    mm.create_game(creator_id="a", capacity=2, server_id="s", game_id="same")
    with pytest.raises(errors.GameExistsError) as exists:
        mm.create_game(creator_id="a", capacity=2, server_id="s", game_id="same")
    assert type(exists.value) is errors.GameExistsError


def test_unreachable_redis_is_a_connection_error_or_unsupported() -> None:
    # Port 1 on loopback refuses connections. Without the Redis backend in this build the
    # same URL is refused as unsupported; never a bare RuntimeError.
    expected = (errors.BackendConnectionError if game_data.backend_available("redis")
                else errors.UnsupportedError)
    with pytest.raises(expected) as info:
        game_data.connect("redis://127.0.0.1:1/0", connect_timeout_ms=200).counts()
    assert not type(info.value) is RuntimeError


def test_unknown_scheme_is_invalid_argument() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="scheme"):
        game_data.connect("ftp://example.com")


def test_log_level_names_are_checked() -> None:
    game_data.set_log_level("warn")
    with pytest.raises(errors.InvalidArgumentError):
        game_data.set_log_level("chatty")
