"""The value types: Game, Event and ApplyResult."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

import game_data
from game_data import ApplyResult, ApplyStatus, Event, EventType, GameState


def test_game_is_importable_from_models() -> None:
    from game_data.models import Game

    assert Game is game_data.Game
    assert Game.__module__ == "game_data.models"


def test_created_game_fields(mm: game_data.Matchmaker) -> None:
    before = mm.now()
    game = mm.create_game(creator_id="alice", capacity=4, server_id="gs-1",
                          metadata={"mode": "duel", "map": {"name": "dust", "size": 2}})
    after = mm.now()
    assert len(game.id) > 0
    assert game.state is GameState.CREATED
    assert game.creator_id == "alice"
    assert game.capacity == 4
    assert game.server_id == "gs-1"
    assert game.players == []
    assert game.metadata == {"mode": "duel", "map": {"name": "dust", "size": 2}}
    assert before <= game.created_at <= after
    assert game.updated_at == game.created_at
    assert game.last_seq == 0
    assert game.free_seats == 3  # the creator's seat is kept until the creator joins
    assert game.is_open is False
    assert (game.held, game.seq_floor, game.creator_seen) == ([], 0, False)


def test_get_game_returns_what_was_created(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1",
                          metadata={"n": 1, "f": 0.5, "b": True, "none": None, "l": [1, "x"]},
                          game_id="game-1")
    assert game.id == "game-1"
    assert mm.get_game("game-1") == game


def test_get_unknown_game_is_none(mm: game_data.Matchmaker) -> None:
    assert mm.get_game("no-such-game") is None


def test_to_dict_is_json_with_wire_state(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", metadata={"k": [1, 2]})
    data = game.to_dict()
    assert data["state"] == "created"
    assert data["players"] == []
    assert data["metadata"] == {"k": [1, 2]}
    assert json.loads(json.dumps(data)) == data
    assert set(data) >= {"id", "state", "creator_id", "capacity", "server_id", "players",
                         "metadata", "created_at", "updated_at"}


def test_from_dict_round_trip(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", metadata={"k": "v"})
    mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1",
                   player_id="alice"))
    stored = mm.get_game(game.id)
    assert stored is not None
    assert game_data.Game.from_dict(stored.to_dict()) == stored
    assert game_data.Game(**game.to_dict()) == game  # the constructor: test_the_constructor_...


def test_player_seqs_are_read_only_copies_in_to_dict_only_when_recorded(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    assert game.player_seqs == {}
    assert "player_seqs" not in game.to_dict()
    mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1",
                   player_id="alice"))
    assert mm.get_game(game.id).player_seqs == {}  # no seq, nothing recorded
    mm.apply(Event(type=EventType.PLAYER_JOINED, game_id=game.id, server_id="gs-1",
                   player_id="bob", seq=7))
    mm.apply(Event(type=EventType.PLAYER_LEFT, game_id=game.id, server_id="gs-1",
                   player_id="bob", seq=9))
    stored = mm.get_game(game.id)

    assert stored.players == ["alice"]
    assert stored.player_seqs == {"bob": 9}  # kept after bob left
    data = stored.to_dict()
    assert data["player_seqs"] == {"bob": 9}
    assert json.loads(json.dumps(data)) == data
    assert game_data.Game.from_dict(data) == stored
    assert pickle.loads(pickle.dumps(stored)) == stored
    assert game_data.Game.from_dict({k: v for k, v in data.items() if k != "player_seqs"}) != stored
    stored.player_seqs["bob"] = 1
    assert stored.player_seqs == {"bob": 9}
    with pytest.raises(AttributeError):
        stored.player_seqs = {}  # type: ignore[misc]


def test_held_seq_floor_and_creator_seen_in_to_dict_only_when_set(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert not {"held", "seq_floor", "creator_seen"} & set(game.to_dict())

    def apply(type_: EventType, player: str, seq: int | None = None) -> None:
        mm.apply(Event(type=type_, game_id=game.id, server_id="gs-1", player_id=player, seq=seq))

    apply(EventType.CREATOR_JOINED, "alice")
    apply(EventType.PLAYER_JOINED, "bob", seq=5)
    apply(EventType.PLAYER_JOINED, "carol", seq=7)  # full: held
    for i in range(65):  # one more absent player than seqs are kept for
        apply(EventType.PLAYER_LEFT, f"ghost{i}", seq=100 + i)
    stored = mm.get_game(game.id)

    assert (stored.held, stored.seq_floor, stored.creator_seen) == ([("carol", 7)], 100, True)
    data = stored.to_dict()
    assert (data["held"], data["seq_floor"], data["creator_seen"]) == ([["carol", 7]], 100, True)
    assert json.loads(json.dumps(data)) == data
    assert game_data.Game.from_dict(data) == stored
    assert pickle.loads(pickle.dumps(stored)) == stored
    for field in ("held", "seq_floor", "creator_seen"):
        assert game_data.Game.from_dict({k: v for k, v in data.items() if k != field}) != stored, field
    stored.held.append(("mallory", 1))
    assert stored.held == [("carol", 7)]
    for field, value in (("held", []), ("seq_floor", 0), ("creator_seen", False)):
        with pytest.raises(AttributeError):
            setattr(stored, field, value)


def test_the_constructor_takes_every_field_of_to_dict(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1", player_id="alice"))
    mm.apply(Event(type=EventType.PLAYER_JOINED, game_id=game.id, server_id="gs-1", player_id="bob", seq=9))
    stored = mm.get_game(game.id)

    assert game_data.Game(**stored.to_dict()) == stored


def test_from_dict_refuses_bad_held_joins() -> None:
    base = {"id": "x", "state": "created", "creator_id": "a", "capacity": 2, "server_id": "s"}
    for bad in ([["bad id", 1]], [["bob", -1]], [["bob"]], {"bob": 1}):
        with pytest.raises(game_data.InvalidArgumentError):
            game_data.Game.from_dict(base | {"held": bad})
    assert game_data.Game.from_dict(base | {"held": [["bob", 3]]}).held == [("bob", 3)]


def test_from_dict_refuses_bad_player_seqs() -> None:
    base = {"id": "x", "state": "created", "creator_id": "a", "capacity": 2, "server_id": "s"}
    for bad in ({"bad id": 1}, {"bob": -1}, {"bob": "7"}, ["bob"]):
        with pytest.raises(game_data.InvalidArgumentError):
            game_data.Game.from_dict(base | {"player_seqs": bad})
    assert game_data.Game.from_dict(base | {"player_seqs": {"bob": 3}}).player_seqs == {"bob": 3}


def test_pickle_and_copy_round_trip(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", metadata={"k": 1})
    assert pickle.loads(pickle.dumps(game)) == game
    assert copy.deepcopy(game) == game


def test_returned_collections_are_copies(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", metadata={"k": 1})
    game.metadata["k"] = 2
    game.players.append("mallory")
    assert game.metadata == {"k": 1}
    assert game.players == []


def test_game_fields_are_read_only(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    with pytest.raises(AttributeError):
        game.capacity = 3  # type: ignore[misc]


def test_game_equality_and_repr(mm: game_data.Matchmaker) -> None:
    a = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="ga")
    b = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="gb")
    assert a != b
    assert a == mm.get_game("ga")
    assert "ga" in repr(a)
    assert "created" in repr(a)


def test_from_dict_rejects_a_bad_document() -> None:
    with pytest.raises(game_data.InvalidArgumentError):
        game_data.Game.from_dict({"id": "x", "state": "nonsense", "creator_id": "a",
                                  "capacity": 2, "server_id": "s"})
    with pytest.raises(game_data.InvalidArgumentError):
        game_data.Game.from_dict({"id": "x", "state": "created", "creator_id": "a",
                                  "capacity": 0, "server_id": "s"})


def test_event_keyword_construction_and_defaults() -> None:
    event = Event(type=EventType.PLAYER_JOINED, game_id="g1", server_id="gs-1", player_id="bob")
    assert event.type is EventType.PLAYER_JOINED
    assert (event.game_id, event.server_id, event.player_id) == ("g1", "gs-1", "bob")
    assert event.ts is None
    assert event.seq is None
    assert Event(EventType.HEARTBEAT, "g1", "gs-1", ts=5, seq=7).seq == 7


def test_event_wire_fields_round_trip() -> None:
    event = Event(type=EventType.PLAYER_LEFT, game_id="g1", server_id="gs-1", player_id="bob",
                  ts=1000, seq=3)
    fields = event.to_fields()
    assert fields == {"type": "player_left", "game_id": "g1", "server_id": "gs-1",
                      "player_id": "bob", "ts": "1000", "seq": "3"}
    assert Event.from_fields(fields) == event
    assert Event.from_fields(list(fields.items())) == event


def test_event_to_fields_validates() -> None:
    with pytest.raises(game_data.InvalidArgumentError, match="game_id"):
        Event(type=EventType.HEARTBEAT, game_id="", server_id="gs-1").to_fields()
    with pytest.raises(game_data.InvalidArgumentError, match="player_id"):
        Event(type=EventType.PLAYER_JOINED, game_id="g1", server_id="gs-1").to_fields()


def test_event_from_bad_fields_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="type"):
        Event.from_fields({"game_id": "g1", "server_id": "gs-1"})
    with pytest.raises(ValueError):
        Event.from_fields({"type": "player_joined", "game_id": "g1", "server_id": "gs-1"})


def test_event_equality_repr_pickle() -> None:
    a = Event(type=EventType.GAME_STARTED, game_id="g1", server_id="gs-1", seq=1)
    b = Event(type=EventType.GAME_STARTED, game_id="g1", server_id="gs-1", seq=2)
    assert a != b
    assert pickle.loads(pickle.dumps(a)) == a
    assert "game_started" in repr(a)
    assert a.to_dict() == {"type": "game_started", "game_id": "g1", "server_id": "gs-1", "seq": 1}


def test_apply_result_fields(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    result = mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1",
                            player_id="alice"))
    assert isinstance(result, ApplyResult)
    assert result.status is ApplyStatus.APPLIED
    assert result.game_id == game.id
    assert result.state is GameState.CREATOR_JOINED
    assert result.entry_id == ""
    assert result.to_dict() == {"status": "applied", "reason": "", "game_id": game.id,
                                "state": "creator_joined", "entry_id": ""}
    assert pickle.loads(pickle.dumps(result)) == result


def test_apply_result_for_unknown_game_has_no_state(mm: game_data.Matchmaker) -> None:
    result = mm.apply(Event(type=EventType.GAME_STARTED, game_id="ghost", server_id="gs-1"))
    assert result.status is ApplyStatus.REJECTED
    assert result.state is None
    assert result.reason
    assert result.to_dict()["state"] is None


def test_apply_results_compare_by_value_copy_and_are_not_hashable() -> None:
    result = ApplyResult(status=ApplyStatus.APPLIED, game_id="g1", state=GameState.IN_PROGRESS,
                         entry_id="1-0")
    assert ApplyResult.__module__ == "game_data.models"
    assert result == ApplyResult(status="applied", game_id="g1", state="in_progress", entry_id="1-0")
    assert result != ApplyResult(status="applied", game_id="g2", state="in_progress", entry_id="1-0")
    assert result != result.to_dict()
    assert copy.copy(result) == result
    assert copy.deepcopy(result) == result
    assert "in_progress" in repr(result)
    with pytest.raises(TypeError):
        hash(result)
    with pytest.raises(TypeError):
        result < result  # noqa: B015 - the comparison itself is what is tested


def test_apply_results_of_a_batch_are_separate_values(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    events = [Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1", player_id="alice"),
              Event(type=EventType.HEARTBEAT, game_id=game.id, server_id="gs-1"),
              Event(type=EventType.HEARTBEAT, game_id="ghost", server_id="gs-1")]
    first, second, third = mm.apply_many(events)
    assert [r.status for r in (first, second, third)] == [ApplyStatus.APPLIED, ApplyStatus.APPLIED,
                                                          ApplyStatus.REJECTED]
    assert first is not second and first == second
    assert third.game_id == "ghost" and third.state is None
