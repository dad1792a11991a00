"""GameState, EventType and ApplyStatus are standard enums whose values are wire names."""

from __future__ import annotations

import enum

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState


def test_enums_are_standard_python_enums() -> None:
    for cls in (GameState, EventType, ApplyStatus):
        assert issubclass(cls, enum.Enum)


def test_game_state_members_in_lifecycle_order() -> None:
    assert [(s.name, s.value) for s in GameState] == [
        ("CREATED", "created"),
        ("CREATOR_JOINED", "creator_joined"),
        ("ALL_PLAYERS_JOINED", "all_players_joined"),
        ("IN_PROGRESS", "in_progress"),
        ("ENDED", "ended"),
    ]


def test_event_type_values_are_wire_names() -> None:
    assert [t.value for t in EventType] == [
        "creator_joined",
        "player_joined",
        "player_left",
        "all_players_joined",
        "game_started",
        "game_ended",
        "heartbeat",
    ]
    assert EventType.GAME_STARTED.value == "game_started"


def test_apply_status_values() -> None:
    assert {s.value for s in ApplyStatus} == {"applied", "duplicate", "rejected"}


def test_lookup_by_wire_name() -> None:
    assert GameState("in_progress") is GameState.IN_PROGRESS
    assert EventType("heartbeat") is EventType.HEARTBEAT


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_every_event_type_crosses_the_boundary(event_type: EventType) -> None:
    event = Event(type=event_type, game_id="g", server_id="s")
    assert event.type is event_type


def test_event_type_accepts_the_wire_string() -> None:
    assert Event(type="game_ended", game_id="g", server_id="s").type is EventType.GAME_ENDED


def test_unknown_wire_string_is_a_value_error() -> None:
    with pytest.raises(game_data.InvalidArgumentError, match="bogus"):
        Event(type="bogus", game_id="g", server_id="s")


def test_a_different_enum_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Event(type=GameState.CREATED, game_id="g", server_id="s")  # type: ignore[arg-type]


def test_returned_states_are_enum_members(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert game.state is GameState.CREATED
    result = mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1",
                            player_id="alice"))
    assert result.status is ApplyStatus.APPLIED
    assert result.state is GameState.CREATOR_JOINED


def test_set_of_is_the_lifecycle_table() -> None:
    # README "Lifecycle": which set a game in each state is in (the core's rule, read by Python).
    assert {s: game_data.set_of(s) for s in GameState} == {
        GameState.CREATED: "pending",
        GameState.CREATOR_JOINED: "lobby",
        GameState.ALL_PLAYERS_JOINED: "lobby",
        GameState.IN_PROGRESS: "active",
        GameState.ENDED: None,
    }
