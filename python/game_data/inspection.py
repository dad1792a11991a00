"""`game-data games | game | dead-letters | stats`: look inside a live namespace (SPEC
section 11). Readable aligned tables by default; ``--json`` prints one JSON object whose keys
are listed in the README ("Inspecting a live namespace") and stay stable.

Exit status: 0 on success, 1 when the game (``game ID``) or a dead letter (``--ids``) is not
found or the backend fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from game_data import _core

if TYPE_CHECKING:
    from game_data import Matchmaker
    from game_data.models import Game

__all__ = ["add_inspection_parsers", "format_table"]

SETS = ("pending", "lobby", "active")
DEFAULT_LIMIT = 50
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart; columns in ``right`` (indexes)
    right-aligned. Trailing spaces are removed."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _iso(ms: int) -> str:
    """ms since the epoch as UTC ISO 8601 with milliseconds, e.g. 2025-01-02T03:04:05.678Z."""
    when = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _age(ms: int) -> str:
    """A duration for people: 850ms, 42s, 3m07s, 5h02m, 2d03h."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    s = ms // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _print_json(doc: object) -> None:
    print(json.dumps(doc, indent=2, sort_keys=True))


def _connect(args: argparse.Namespace) -> Matchmaker:
    import game_data

    return game_data.connect(args.url, namespace=args.namespace)


def _game_doc(game: Game, set_name: str | None, entered_at: int | None) -> dict[str, Any]:
    """A game for --json: its to_dict() plus keys that are always present."""
    return game.to_dict() | {
        "set": set_name,
        "entered_set_at": entered_at,
        "players": list(game.players),
        "reservations": dict(game.reservations),
        "free_seats": game.free_seats,
        "held": [list(h) for h in game.held],
    }


# ---- game-data games ---------------------------------------------------------------------------

def _cmd_games(args: argparse.Namespace) -> int:
    mm = _connect(args)
    now = mm.now()
    sets = [args.set] if args.set else list(SETS)
    listed = [(s, game, score) for s in sets for game, score in mm.set_members(s, args.limit)]
    if args.json:
        _print_json({"namespace": mm.namespace, "limit": args.limit, "sets": sets,
                     "games": [_game_doc(g, s, score) for s, g, score in listed]})
        return 0
    rows = [[s, g.id, g.state.value, f"{len(g.players)}/{g.capacity}", str(len(g.reservations)),
             str(g.free_seats), g.server_id, g.creator_id, _age(now - score),
             json.dumps(g.metadata, sort_keys=True, separators=(",", ":"))]
            for s, g, score in listed]
    print(format_table(["SET", "ID", "STATE", "PLAYERS", "RESERVED", "FREE", "SERVER", "CREATOR",
                        "IN SET", "METADATA"], rows, right=(3, 4, 5, 8)))
    per_set = " per set" if len(sets) > 1 else ""
    print(f"{len(listed)} games in {', '.join(sets)} of namespace {mm.namespace} "
          f"(oldest first, at most {args.limit}{per_set})")
    return 0


# ---- game-data game ID ---------------------------------------------------------------------

def _cmd_game(args: argparse.Namespace) -> int:
    from game_data import InvalidArgumentError

    mm = _connect(args)
    try:
        game = mm.get_game(args.game_id)
    except InvalidArgumentError as err:
        print(f"game-data game: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if game is None:
        print(f"game-data game: no live game '{args.game_id}' in namespace {mm.namespace}",
              file=sys.stderr)
        return EXIT_NOT_FOUND
    entry = mm.set_entry(game.id)
    set_name, entered_at = entry if entry is not None else (None, None)
    if args.json:
        _print_json(_game_doc(game, set_name, entered_at))
        return 0
    now = mm.now()
    reservations = ", ".join(f"{p} (expires in {_age(exp - now)})" for p, exp in sorted(game.reservations.items()))
    held = ", ".join(f"{p} (seq {seq})" for p, seq in game.held)
    rows = [
        ("id", game.id),
        ("state", game.state.value),
        ("set", f"{set_name} since {_iso(entered_at)} ({_age(now - entered_at)} ago)"
         if set_name is not None and entered_at is not None else "none"),
        ("server", game.server_id),
        ("creator", game.creator_id),
        ("players", f"{len(game.players)}/{game.capacity}" + (f": {', '.join(game.players)}" if game.players else "")),
        ("reservations", reservations or "none"),
        ("held joins", held or "none"),
        ("free seats", str(game.free_seats)),
        ("metadata", json.dumps(game.metadata, sort_keys=True)),
        ("created at", _iso(game.created_at)),
        ("updated at", _iso(game.updated_at)),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    return 0


# ---- game-data dead-letters ----------------------------------------------------------------

def _streams(args: argparse.Namespace, mm: Matchmaker) -> tuple[str, str]:
    stream = args.stream or mm.default_stream
    return stream, args.dead_letter_stream or f"{stream}:dead"


def _cmd_dead_letters(args: argparse.Namespace) -> int:
    if args.ids is not None and not args.replay:
        print("game-data dead-letters: error: --ids needs --replay", file=sys.stderr)
        return EXIT_USAGE
    mm = _connect(args)
    stream, dead = _streams(args, mm)
    if args.replay:
        return _replay(args, mm, stream, dead)
    total = mm.stream_length(dead)
    entries = mm.stream_entries(dead, args.limit)
    # The entry each was made from, names unescaped (README "Dead letters"), as replay gives it.
    originals = [_core.dead_letter_original_fields(fields) for _, fields in entries]
    if args.json:
        _print_json({"stream": stream, "dead_letter_stream": dead, "total": total,
                     "dead_letters": [{"id": entry_id, "error": fields.get("error", ""), "fields": fields,
                                       "original_fields": original}
                                      for (entry_id, fields), original in zip(entries, originals)]})
        return 0
    shown = ("type", "game_id", "server_id")
    rows = [[entry_id, fields.get("error", ""), original.get("type", ""), original.get("game_id", ""),
             original.get("server_id", ""),
             " ".join(f"{k}={v}" for k, v in original.items() if k not in shown)]
            for (entry_id, fields), original in zip(entries, originals)]
    print(format_table(["ID", "ERROR", "TYPE", "GAME", "SERVER", "OTHER FIELDS"], rows))
    print(f"{len(entries)} of {total} dead letters in {dead} (oldest first)")
    return 0


def _replay(args: argparse.Namespace, mm: Matchmaker, stream: str, dead: str) -> int:
    moved = mm.replay_dead_letters(stream=stream, dead_letter_stream=dead, ids=args.ids)
    missing = [i for i in args.ids or () if i not in {d for d, _ in moved}]
    if args.json:
        _print_json({"stream": stream, "dead_letter_stream": dead, "missing": missing,
                     "replayed": [{"dead_letter_id": d, "entry_id": e} for d, e in moved]})
    else:
        if moved:
            print(format_table(["DEAD LETTER", "REPLAYED AS"], [[d, e] for d, e in moved]))
        print(f"replayed {len(moved)} dead letters from {dead} to {stream}")
    if missing:
        print(f"game-data dead-letters: not in {dead}: {', '.join(missing)}", file=sys.stderr)
        return EXIT_NOT_FOUND
    return 0


# ---- game-data stats -------------------------------------------------------------------------

def _cmd_stats(args: argparse.Namespace) -> int:
    from game_data import GroupMissingError

    mm = _connect(args)
    stream, dead = _streams(args, mm)
    try:
        info: dict[str, int] | None = mm.group_info(stream, args.group)
    except GroupMissingError:
        info = None
    games = mm.counts()
    lengths = {name: mm.stream_length(name) for name in (stream, dead, mm.reaped_stream)}
    eviction_risk = bool(mm.stats().get("game_data_eviction_risk", 0))
    if args.json:
        _print_json({
            "namespace": mm.namespace,
            "games": games,
            "events": {"stream": stream, "length": lengths[stream]},
            "group": None if info is None else {"name": args.group, **info},
            "dead_letters": {"stream": dead, "length": lengths[dead]},
            "reaped": {"stream": mm.reaped_stream, "length": lengths[mm.reaped_stream]},
            "eviction_risk": eviction_risk,
        })
        return 0
    if info is None:
        group_text = f"{args.group}: no such consumer group"
    else:
        lag = "unknown" if info["lag"] < 0 else str(info["lag"])
        group_text = f"{args.group}: lag {lag}, pending {info['pending']}"
    rows = [
        ["games", "pending", str(games["pending"])],
        ["", "lobby", str(games["lobby"])],
        ["", "active", str(games["active"])],
        ["", "total", str(sum(games.values()))],
        ["events", stream, str(lengths[stream])],
        ["consumer group", group_text, ""],
        ["dead letters", dead, str(lengths[dead])],
        ["reaped", mm.reaped_stream, str(lengths[mm.reaped_stream])],
        ["eviction risk", "yes: the backend can evict game records" if eviction_risk else "no", ""],
    ]
    print(f"namespace {mm.namespace}")
    print(format_table(["", "", "COUNT"], rows, right=(2,)))
    return 0


# ---- the parsers -----------------------------------------------------------------------------

def _limit(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be 0..10000")
    return value


def _common(parser: argparse.ArgumentParser, handler: Handler) -> None:
    parser.add_argument("--url", default=os.environ.get("GAME_DATA_URL", "redis://127.0.0.1:6379/0"),
                        help="backend URL (default $GAME_DATA_URL or redis://127.0.0.1:6379/0)")
    parser.add_argument("--namespace", default="gd", help="key namespace (default gd)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (keys: see README)")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), default=None,
                        type=str.upper, help="default WARNING; also sets the C++ core's level")
    parser.set_defaults(handler=handler, default_log_level="WARNING")


def _stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stream", default=None, help="event stream (default <namespace>:events)")
    parser.add_argument("--dead-letter-stream", default=None, help="default <stream>:dead")


def add_inspection_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``games``, ``game``, ``dead-letters`` and ``stats`` to the ``game-data`` parser."""
    games = sub.add_parser("games", help="list the live games of a namespace, set by set",
                           description="List live games, oldest first in each set, with their "
                           "state, players, reservations, server and time in the set.")
    games.add_argument("--set", choices=SETS, default=None, help="only this set (default: all three)")
    games.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT,
                       help=f"at most this many games per set, 0..10000 (default {DEFAULT_LIMIT})")
    _common(games, _cmd_games)

    game = sub.add_parser("game", help="show one game; exit status 1 when it is not live",
                          description="Show one game's record, set and reservations.")
    game.add_argument("game_id", metavar="ID")
    _common(game, _cmd_game)

    dead = sub.add_parser(
        "dead-letters", help="list dead letters, or --replay them to the event stream",
        description="List the dead-letter stream, oldest first. With --replay, copy the dead "
        "letters (all, or --ids) back to the event stream with their original fields and remove "
        "each from the dead-letter stream once its copy is written; a consumer then applies them "
        "(a replayed event the rules still refuse is dead-lettered again).")
    dead.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT,
                      help=f"list at most this many, 0 for all (default {DEFAULT_LIMIT})")
    dead.add_argument("--replay", action="store_true", help="replay them instead of listing them")
    dead.add_argument("--ids", nargs="+", metavar="ID", default=None,
                      help="with --replay: only these dead letters (exit status 1 if one is missing)")
    _stream_options(dead)
    _common(dead, _cmd_dead_letters)

    stats = sub.add_parser(
        "stats", help="set sizes, stream lengths and consumer-group lag of a namespace",
        description="What a namespace holds now: games per set, the event stream and its "
        "consumer group's lag and pending entries, dead letters, reaped games. (The counters of "
        "a daemon are served by its --metrics-port.)")
    stats.add_argument("--group", default="matchmaker", help="consumer group (default matchmaker)")
    _stream_options(stats)
    _common(stats, _cmd_stats)

