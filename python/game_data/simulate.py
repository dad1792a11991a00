"""`game-data simulate`: a fleet of game servers and players against one matchmaker.

The run is a sequence of waves of `batch` games. In a wave the matchmaker creates the games on
the fleet's servers, each with a `mode` and a `region` in its metadata (the matchmaker indexes
both: `connect(filter_keys=("mode", "region"))`); each game's server (a SimulatedGameServer)
publishes its lifecycle events; one consumer applies them. Players arrive each tick wanting a
mode, a region or both, take a seat with `quick_join(filters=...)` (or, some of them, pick one
from `get_open_games(filters=...)` and `reserve_seat`), then connect to the game's server,
which admits them and publishes their player_joined, consuming the reservation. Some players
never show up, some cancel, some land on a server that died and cannot connect. Some creators
never connect and some servers die silently in the lobby or mid-game: once the wave has
settled, a simulated clock is advanced past each set's maximum age and reap(now=...) removes
exactly those games; a deleter reads them from `reaped_feed`, deletes them on their servers
and acknowledges them, crashing once per wave before acknowledging part of a batch.
Misbehaviour is injected on purpose: duplicate deliveries, out-of-order events, events from
the wrong server, garbage entries, and joins of players who hold no reservation.

Two clocks. Reaping runs on a simulated clock (`reap(now=...)`), so a wave never waits ten
minutes for a lobby to go stale. Reservations cannot: they expire on the matchmaker's own
clock, which the Python Matchmaker does not let a caller set. So reservations use real TTLs:
players who connect hold theirs for `reservation_ttl_ms` (a minute by default, far longer
than a join takes to be applied, so a join never finds its reservation gone), and players who
never show up hold theirs for `no_show_ttl_ms` (25 ms). The run does not sleep for them: the
ticks go on, and a no-show's reservation is checked at the first tick that starts after it
expired (the game no longer lists it, and counts its seat free again). A game whose last seat
a no-show held can only fill after that, so every wave exercises the expiry.

Expected outcomes follow the seq rule: a redelivered entry is a duplicate (same seq for the
same player, or a state already reached) except a heartbeat, which is applied again (it only
refreshes the score); a lifecycle event overtaken by a later state is a duplicate whatever its
seq; a join overtaken by another player's newer join still applies (seq is per player), and so
does a join that overtakes an earlier leave. Every player the servers admit holds a
reservation, so no join is ever held for want of a seat, and a join of a player without one,
sent while the game's only free seats are reserved, is rejected `game is full`. Whatever the
delivery order, a game's roster is its server's, in the order the server seated the players.

Every game's fate and misbehaviour come from its own seeded generator, so a seed gives the
same game, event and reaped-feed counts whatever the timing. Which game a player's quick_join
lands in depends on the games' ages on the matchmaker's clock, so the seat counts are printed
apart as timing dependent. At the end the run checks its own invariants and reports failures:
every game accounted for; consumer counts equal to what was published; dead letters only for
the deliberate bad entries; every roster its server's, no join held, nothing left pending; at
every check no game holding more players plus live reservations than its capacity, and each
game's live reservations exactly those the players hold (a join consumed its player's, a
cancel or an expiry freed the seat, a refresh took no second seat); quick_join and
reserve_seat refusing only when there was no seat; and every reaped game delivered by the
reaped feed once, redelivered only when its acknowledgement was lost, and deleted on its
server.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import shutil
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, TextIO

import game_data
from game_data import ApplyStatus, EventType, GameNotFoundError, GameState, SeatUnavailableError
from game_data._core import (REASON_GAME_FULL, REASON_HELD, REASON_WRONG_SERVER, SEAT_ALREADY_JOINED,
                             SEAT_FULL, SEAT_NOT_OPEN)
from game_data.testing.simulator import GARBAGE_KINDS, SimulatedGameServer

__all__ = ["SEATS_HEADING", "ReapedLedger", "SeatLedger", "SimulationOptions", "SimulationResult",
           "format_summary", "run_simulation"]

log = logging.getLogger(__name__)

FATES = ("normal", "no_creator", "die_lobby", "die_active")
# The set an abandoned game is left in, and so reaped from.
FATE_SET = {"no_creator": "pending", "die_lobby": "lobby", "die_active": "active"}
MAX_TICKS_PER_WAVE = 1_000
FILTER_KEYS = ("mode", "region")  # the metadata keys the matchmaker indexes
MODES = ("duel", "team", "ffa", "ranked")
REGIONS = ("eu", "na", "asia")
BROWSE_LIMIT = 20  # games a browsing player's get_open_games lists
FEED_BATCH = 100  # reaped-feed items per poll
DRAIN_EVERY = 20  # seat requests between two consumer drains within a matchmaking round
DELETER = "sim-deleter"
TIMELINE_SAMPLE_MS = 50  # the timeline's sampling interval for --plot
TIMELINE_SERIES = ("t_s", "pending", "lobby", "active", "events", "events_per_s")
ACK_LOST_RATE = 0.3  # per reaped game: the deleter crashes before acknowledging it  # the reaped-feed reader's name (in group "deleter")


@dataclass
class SimulationOptions:
    games: int = 1000
    seed: int = 0
    servers: int = 20
    batch: int = 500  # games per wave
    url: str = "memory://"
    namespace: Optional[str] = None  # default: a fresh "sim-<random>" namespace
    poll_count: int = 1000  # consumer batch size
    abandon_rate: float = 0.09  # split evenly: no creator, dies in lobby, dies in game
    # Per game: one garbage entry; as often one wrong-server event, and one join of a player
    # without a reservation while the game's free seats are reserved.
    bad_rate: float = 0.02
    duplicate_rate: float = 0.05  # per event: delivered twice
    # Per started game: game_started overtakes all_players_joined. And as often, per game: a
    # player's join is delayed and overtaken by the next player's join; and a leave (see
    # leave_rate) is delayed past the next player's join (or sent a tick late).
    out_of_order_rate: float = 0.05
    leave_rate: float = 0.1  # per game: the first joiner leaves at once and is replaced
    min_capacity: int = 2
    max_capacity: int = 8
    max_heartbeats: int = 3
    # Players (per arrival): who browse get_open_games and reserve_seat instead of quick_join;
    # who reserve and never show up (their short hold must expire and free the seat); who
    # cancel at once. Reservations use the matchmaker's real clock (see the module notes).
    browse_rate: float = 0.25
    no_show_rate: float = 0.05
    cancel_rate: float = 0.03
    reservation_ttl_ms: int = 60_000  # players who connect
    no_show_ttl_ms: int = 25  # players who never show up
    # > 0: record a timeline (set sizes and events consumed) at most this often, plus at each
    # wave's start, before and after each reap, and at the end (`--plot`). 0: none.
    sample_ms: int = 0
    # Leave the namespace's keys in the backend after the run (False: delete every <ns>:* key
    # at the end, as game-data simulate does unless --keep; memory:// keeps nothing anyway).
    keep_keys: bool = True

    def validate(self) -> None:
        if self.games < 1:
            raise ValueError("--games must be at least 1")
        if self.servers < 1:
            raise ValueError("--servers must be at least 1")
        if not 1 <= self.batch <= 10_000:
            raise ValueError("--batch must be 1..10000")
        if not 1 <= self.poll_count <= 10_000:
            raise ValueError("poll count must be 1..10000")
        for name in ("abandon_rate", "bad_rate", "duplicate_rate", "out_of_order_rate", "leave_rate",
                     "browse_rate", "no_show_rate", "cancel_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 1")
        if self.no_show_rate + self.cancel_rate > 1.0:
            raise ValueError("no-show-rate + cancel-rate must be at most 1")
        if not 2 <= self.min_capacity <= self.max_capacity <= 1024:
            raise ValueError("capacities must satisfy 2 <= min <= max <= 1024")
        if not 1 <= self.no_show_ttl_ms <= self.reservation_ttl_ms <= 600_000:
            raise ValueError("reservation TTLs must satisfy 1 <= no-show <= reservation <= 600000 ms")
        if self.sample_ms < 0:
            raise ValueError("sample_ms must not be negative")


@dataclass
class SimulationResult:
    options: dict[str, Any]
    games: dict[str, int]
    events: dict[str, int]
    wall_time_s: float
    events_per_s: float
    invariants_checked: int
    failures: list[str] = field(default_factory=list)
    # What the reaped feed delivered and the deleter did (a seed fixes these).
    reaped_feed: dict[str, int] = field(default_factory=dict)
    # What players did with seats; which game a quick_join picks depends on the games' ages
    # on the matchmaker's clock, so these counts depend on timing.
    seats: dict[str, int] = field(default_factory=dict)
    # Joins applied as "held until a seat frees": every admitted player holds a reservation,
    # so this must stay 0 (an invariant).
    held_joins: int = 0
    # Leaves sent after the join of the player who took the seat (timing dependent).
    overtaken_leaves: int = 0
    # With sample_ms > 0, the run over time (TIMELINE_SERIES, equal lengths): seconds since the
    # start, each set's size, events consumed so far, and events per second since the sample
    # before (0 at the first). None otherwise.
    timeline: Optional[dict[str, list[float]]] = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def deterministic(self) -> dict[str, Any]:
        """The part of the summary a seed fixes (no timings, no seat counts)."""
        return {"games": self.games, "events": self.events, "reaped_feed": self.reaped_feed}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


class _Expected:
    """What the consumer must report, counted as the simulation publishes."""

    def __init__(self) -> None:
        self.applied = 0
        self.duplicate = 0
        self.published = 0
        self.bad: dict[str, str] = {}  # entry id -> reason the dead letter must give
        self.joins_sent: list[tuple[str, str]] = []  # (game, player) joins on the wire, not yet drained
        self.overtaken_leaves = 0


class SeatLedger:
    """The reservations the players hold, as the simulation made them, per game, to compare
    with what the matchmaker stores.

    A reservation enters at reserve_seat / quick_join (a refresh overwrites it: one seat per
    player) and leaves when its player's join has been applied (`consumed`), when it is
    cancelled, or once it was seen expired. `audit` compares one game as read between the
    matchmaker times t0 and t1 with the ledger and returns the problems found, each as
    (kind, text): "capacity" for more players plus live reservations than seats, or a
    free_seats that does not follow from them; "reservations" for a stored reservation the
    players do not hold (never made, consumed, cancelled, expired) or a held one that is
    missing while it is still live.
    """

    def __init__(self) -> None:
        self.held: dict[str, dict[str, tuple[int, str]]] = {}  # game -> player -> (expires_at, kind)

    def reserve(self, game_id: str, player: str, expires_at: int, kind: str) -> None:
        self.held.setdefault(game_id, {})[player] = (expires_at, kind)

    def get(self, game_id: str, player: str) -> Optional[tuple[int, str]]:
        return self.held.get(game_id, {}).get(player)

    def drop(self, game_id: str, player: str) -> Optional[tuple[int, str]]:
        mine = self.held.get(game_id)
        entry = mine.pop(player, None) if mine else None
        if mine is not None and not mine:
            del self.held[game_id]
        return entry

    def held_by(self, player: str, now: int) -> Optional[tuple[str, int, str]]:
        """The live reservation `player` holds (game, expires_at, kind), if any: one at most,
        as the matchmaker keeps one seat per player and namespace."""
        for gid, mine in self.held.items():
            entry = mine.get(player)
            if entry is not None and entry[0] > now:
                return gid, entry[0], entry[1]
        return None

    def forget(self, game_id: str) -> None:
        self.held.pop(game_id, None)

    def live(self, game_id: str, now: int, kind: Optional[str] = None) -> int:
        return sum(1 for exp, k in self.held.get(game_id, {}).values()
                   if exp > now and (kind is None or k == kind))

    def expired_between(self, game_id: str, t0: int, t1: int) -> bool:
        """Whether a reservation of the game expired in (t0, t1]: a seat that may have freed."""
        return any(t0 < exp <= t1 for exp, _ in self.held.get(game_id, {}).values())

    def due(self, kind: str, now: int) -> dict[str, list[str]]:
        """Reservations of `kind` expired at `now` (a reservation is live until its expires_at,
        exclusive), by game."""
        out: dict[str, list[str]] = {}
        for gid, mine in self.held.items():
            for player, (exp, k) in mine.items():
                if k == kind and exp <= now:
                    out.setdefault(gid, []).append(player)
        return out

    def pending(self, kind: str, now: int) -> bool:
        """Whether a reservation of `kind` is still live at `now`."""
        return any(k == kind and exp > now for mine in self.held.values() for exp, k in mine.values())

    def audit(self, game: Any, t0: int, t1: int) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        stored = dict(game.reservations)
        players = list(game.players)
        if len(players) + len(stored) > game.capacity:
            problems.append(("capacity", f"{game.id}: {len(players)} players + {len(stored)} live "
                                         f"reservations, capacity {game.capacity}"))
        kept = 0 if game.creator_seen or game.creator_id in players else 1  # the creator's seat
        free = max(0, game.capacity - len(players) - kept - len(stored))
        if game.free_seats != free:
            problems.append(("capacity", f"{game.id}: free_seats {game.free_seats}, expected {free} "
                                         f"from {len(players)} players and {len(stored)} reservations"))
        mine = self.held.get(game.id, {})
        for player, expires_at in stored.items():
            entry = mine.get(player)
            if entry is None:
                problems.append(("reservations", f"{game.id}: holds a reservation of {player} that no "
                                                 "player holds (never made, consumed or cancelled)"))
            elif entry[0] != expires_at:
                problems.append(("reservations", f"{game.id}: reservation of {player} expires at "
                                                 f"{expires_at}, the player's at {entry[0]}"))
            elif expires_at <= t0:
                problems.append(("reservations", f"{game.id}: lists the reservation of {player} "
                                                 f"expired at {expires_at} as live at {t0}"))
        for player, (expires_at, kind) in mine.items():
            if player in players:
                problems.append(("reservations", f"{game.id}: {player} is seated and still holds a "
                                                 f"{kind} reservation"))
            elif player not in stored and expires_at > t1:
                problems.append(("reservations", f"{game.id}: lost the live {kind} reservation of "
                                                 f"{player} (expires at {expires_at}, read by {t1})"))
        return problems


class ReapedLedger:
    """What one wave's reaps removed, against what the reaped feed delivered.

    `reaped` records each game reap returned (with its set and the reap's time); `delivered`
    checks one feed item and tells whether it is the first delivery of its entry; `lost` holds
    the entries whose acknowledgement a deleter crash lost (only those may come again).
    `problems` lists every way the feed differs from "each reaped game delivered once,
    identical to what reap returned, redelivered only after a lost acknowledgement".
    """

    def __init__(self) -> None:
        self.expected: dict[str, tuple[Any, str, int]] = {}  # game id -> (game, set, reaped_at)
        self.first: dict[str, str] = {}  # entry id -> game id, first deliveries
        self.redelivered: list[str] = []  # entry ids delivered again
        self.lost: set[str] = set()  # entry ids whose acknowledgement was lost
        self.errors: list[str] = []

    def reaped(self, games: list[Any], set_name: str, reaped_at: int) -> None:
        for g in games:
            if g.id in self.expected:
                self.errors.append(f"{g.id}: returned by two reaps")
            self.expected[g.id] = (g, set_name, reaped_at)

    def delivered(self, item: Any) -> bool:
        gid = item.game.id
        if item.entry_id in self.first:
            self.redelivered.append(item.entry_id)
            if item.entry_id not in self.lost:
                self.errors.append(f"{gid}: entry {item.entry_id} delivered again after it was acknowledged")
            return False
        if gid in self.first.values():
            self.errors.append(f"{gid}: delivered twice, under two entries")
        self.first[item.entry_id] = gid
        want = self.expected.get(gid)
        if want is None:
            self.errors.append(f"{gid}: delivered by the reaped feed but no reap of this run returned it")
            return True
        game, set_name, reaped_at = want
        if item.game != game:
            self.errors.append(f"{gid}: the feed's record differs from the one reap returned")
        if (item.set, item.reaped_at) != (set_name, reaped_at):
            self.errors.append(f"{gid}: delivered as reaped from {item.set} at {item.reaped_at}, reap "
                               f"took it from {set_name} at {reaped_at}")
        return True

    def problems(self) -> list[str]:
        out = list(self.errors)
        missing = set(self.expected) - set(self.first.values())
        if missing:
            out.append(f"{len(missing)} reaped games never delivered by the feed, e.g. {sorted(missing)[:3]}")
        if set(self.redelivered) != self.lost or len(self.redelivered) != len(set(self.redelivered)):
            out.append(f"redelivered {sorted(self.redelivered)[:5]}, but the lost acknowledgements were "
                       f"{sorted(self.lost)[:5]}")
        return out


class _GameActor:
    """One game on one server: its plan, and the server instance that plays it."""

    def __init__(self, index: int, game: Any, server: SimulatedGameServer, others: list[str],
                 opts: SimulationOptions, expected: _Expected) -> None:
        self.game = game
        self.server = server
        self.expected = expected
        rng = random.Random(f"{opts.seed}:{index}")  # per game: independent of interleaving
        self.rng = rng
        self.opts = opts
        roll = rng.random()
        share = opts.abandon_rate / 3
        if roll < share:
            self.fate = "no_creator"
        elif roll < 2 * share:
            self.fate = "die_lobby"
        elif roll < 3 * share:
            self.fate = "die_active"
        else:
            self.fate = "normal"
        cap = game.capacity
        self.join_target = rng.randint(0, cap - 2) if self.fate == "die_lobby" else cap - 1
        self.leave_pending = rng.random() < opts.leave_rate
        self.heartbeats = rng.randint(0, opts.max_heartbeats)
        self.out_of_order = rng.random() < opts.out_of_order_rate
        # Fixed draws whatever the options' sizes, so the fleet size never shifts the stream.
        garbage_roll, garbage_pick, wrong_roll, wrong_pick = (rng.random() for _ in range(4))
        kinds = sorted(GARBAGE_KINDS)
        self.garbage = kinds[int(garbage_pick * len(kinds))] if garbage_roll < opts.bad_rate else None
        self.wrong_server = bool(others) and wrong_roll < opts.bad_rate
        self.wrong_server_id = others[int(wrong_pick * len(others))] if others else None
        # Drawn last so the draws above stay what they were before these misbehaviours existed.
        self.reorder_join = rng.random() < opts.out_of_order_rate
        self.late_leave = rng.random() < opts.out_of_order_rate
        # A join of a player who holds no reservation, sent just before the join that fills
        # the game: the only free seat is reserved, so it must be rejected "game is full".
        self.gatecrash = rng.random() < opts.bad_rate
        # If reaped: the deleter crashes after deleting it, before its acknowledgement.
        self.ack_lost = rng.random() < ACK_LOST_RATE
        self.delayed_join: Optional[dict[str, str]] = None  # stamped, not yet sent
        self.delayed_leave: Optional[dict[str, str]] = None  # stamped, not yet sent
        self.phase = "created"  # created -> lobby -> full -> active -> done
        self.players: list[str] = [game.creator_id]  # in the order the server seated them
        self.finished = False
        self.touched = False  # a roster event or a reservation since the simulation last looked
        self.mode = game.metadata["mode"]
        self.region = game.metadata["region"]

    # Publishing, with the expected outcome counted as it goes.
    def _good(self, entry_id: Optional[str], effective: bool = True, replay_applies: bool = False) -> None:
        """Counts one published event, and its redelivery when the dice say so.

        replay_applies: the redelivered copy is applied too (a heartbeat: seq never makes it a
        duplicate, and refreshing the score twice is harmless); otherwise it is a duplicate.
        """
        if entry_id is None:
            return
        self.expected.published += 1
        if effective:
            self.expected.applied += 1
        else:
            self.expected.duplicate += 1
        if self.rng.random() < self.opts.duplicate_rate:
            if self.server.duplicate(entry_id) is not None:
                self.expected.published += 1
                if replay_applies:
                    self.expected.applied += 1
                else:
                    self.expected.duplicate += 1

    def _flush_delayed(self) -> None:
        """Sends the delayed join, now older than the join(s) sent since: it still applies; then
        the delayed leave, older than the join that took its seat: that join was held until now."""
        for name in ("delayed_join", "delayed_leave"):
            fields = getattr(self, name)
            if fields is not None:
                setattr(self, name, None)
                self._good(self.server.send(fields))
                if name == "delayed_join":
                    self.expected.joins_sent.append((self.game.id, fields["player_id"]))

    def _bad(self, entry_id: Optional[str], reason: str) -> None:
        if entry_id is not None:
            self.expected.published += 1
            self.expected.bad[entry_id] = reason

    @property
    def accepting(self) -> bool:
        return self.phase == "lobby" and self.server.alive and len(self.players) - 1 < self.join_target

    def step(self) -> None:
        """What the server does on its own this tick."""
        if self.finished:
            return
        game, server = self.game, self.server
        if self.phase == "lobby" and self.delayed_leave is not None:
            self.touched = True
            self._flush_delayed()  # no join came to overtake it: it goes out a tick late
        elif self.phase == "created":
            if self.wrong_server and self.wrong_server_id is not None:
                self._bad(server.send_as(self.wrong_server_id, game), REASON_WRONG_SERVER)
            if self.garbage:
                ghost = f"{game.id}-ghost" if self.garbage == "unknown_game" else game.id
                self._bad(server.send_garbage(self.garbage, ghost), GARBAGE_KINDS[self.garbage])
            if self.fate == "no_creator":
                self.finished = True  # nothing more will ever come from this game
                return
            self._good(server.creator_joins(game))
            self.phase = "lobby"
            self._check_lobby_death()
        elif self.phase == "full":
            if self.out_of_order:
                full = server.prepare(game, EventType.ALL_PLAYERS_JOINED)
                started = server.prepare(game, EventType.GAME_STARTED)
                self._good(server.send(started))
                self._good(server.send(full), effective=False)  # lower seq: a duplicate
            else:
                self._good(server.start(game))
            self.phase = "active"
        elif self.phase == "active":
            if self.heartbeats > 0:
                self.heartbeats -= 1
                self._good(server.heartbeat(game), replay_applies=True)
            elif self.fate == "die_active":
                server.die()
                self.finished = True
            else:
                self._good(server.end(game))
                self.phase = "done"
                self.finished = True

    def _check_lobby_death(self) -> None:
        if self.fate == "die_lobby" and len(self.players) - 1 >= self.join_target:
            self._flush_delayed()  # the server sent every event it stamped before dying
            self.server.die()
            self.finished = True

    def admit(self, player: str) -> Optional[str]:
        """A player holding a reservation connects: "seated", "left" (joined and left at once,
        so the seat is free again), or None if this server did not take them."""
        if not self.accepting:
            return None
        game, server = self.game, self.server
        self.touched = True
        fills = not self.leave_pending and len(self.players) + 1 == game.capacity
        if self.gatecrash and fills:
            # Every other seat is taken and this player's reservation holds the last one.
            self.gatecrash = False
            crasher = server.prepare(game, EventType.PLAYER_JOINED, f"{game.id}-crasher")
            self._bad(server.send(crasher, kind="gatecrash"), REASON_GAME_FULL)
        if self.reorder_join and not self.leave_pending and len(self.players) + 1 < game.capacity:
            # This join is stamped now but sent after the next player's (newer) join.
            self.reorder_join = False
            self.delayed_join = server.prepare(game, EventType.PLAYER_JOINED, player)
        else:
            self._good(server.player_joins(game, player))
            self.expected.joins_sent.append((game.id, player))
            if self.delayed_leave is not None:
                self.expected.overtaken_leaves += 1
            self._flush_delayed()
        if self.leave_pending:
            self.leave_pending = False
            if self.late_leave:
                # Stamped now, sent after the join of whoever takes the seat next (or a tick late).
                self.delayed_leave = server.prepare(game, EventType.PLAYER_LEFT, player)
            else:
                self._good(server.player_leaves(game, player))
            return "left"
        self.players.append(player)
        if len(self.players) == game.capacity:
            self._flush_delayed()
            if not self.out_of_order:
                self._good(server.all_players_joined(game))
            self.phase = "full"
        self._check_lobby_death()
        return "seated"


class _Progress:
    """A one-line progress bar on a terminal stream, as wide as the terminal (one column left
    free, so it never wraps); silent when disabled."""

    MIN_BAR = 10  # narrower than this, the bar gives up the counts before itself

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream, self.enabled = total, stream, enabled
        self.start = time.perf_counter()
        self.last = 0.0

    def line(self, done: int, events: int, now: float) -> str:
        """The bar for `done` games, exactly one column narrower than the terminal
        (``shutil.get_terminal_size``: $COLUMNS, else the terminal's width, else 80)."""
        width = max(shutil.get_terminal_size().columns - 1, 1)
        percent = f" {100 * done // max(self.total, 1):3d}%"
        rate = events / max(now - self.start, 1e-9)
        tail = f"{percent}  {done}/{self.total} games  {rate:,.0f} events/s"
        head = "simulate "
        if width - len(head) - len(tail) - 2 < self.MIN_BAR:
            tail = percent
        room = max(width - len(head) - len(tail) - 2, 0)
        filled = room * done // self.total if self.total else room
        return f"{head}[{'#' * filled}{'.' * (room - filled)}]{tail}"[:width].ljust(width)

    def update(self, done: int, events: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        self.stream.write("\r" + self.line(done, events, now))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


class _Simulation:
    def __init__(self, opts: SimulationOptions, progress: _Progress) -> None:
        self.opts = opts
        self.progress = progress
        self.namespace = opts.namespace or f"sim-{secrets.token_hex(4)}"
        # The default max ages; mode and region indexed for filtered queries.
        self.mm = game_data.connect(opts.url, namespace=self.namespace, filter_keys=FILTER_KEYS)
        self.stream = f"{self.namespace}:events"
        self.dead_stream = f"{self.stream}:dead"
        self.consumer = self.mm.consumer(stream=self.stream, group="matchmaker", name="sim-mm-1",
                                         claim_idle_ms=600_000)
        self.feed = self.mm.reaped_feed(group="deleter", name=DELETER)
        self.server_ids = [f"gs-{i}" for i in range(opts.servers)]
        self.publishers = {sid: self.mm.publisher(sid, stream=self.stream) for sid in self.server_ids}
        self.expected = _Expected()
        self.match_rng = random.Random(f"{opts.seed}:players")
        self.idle_players: deque[str] = deque()
        self.next_player = 0
        self.sim_now = 0  # the simulated clock (ms) of the last reap
        self.run_id = secrets.token_hex(3)
        self.failures: list[str] = []
        self.checks = 0
        self.games = {"created": 0, "ended normally": 0, "reaped from pending": 0,
                      "reaped from lobby": 0, "reaped from active": 0}
        self.fates = dict.fromkeys(FATES, 0)
        self.results = {"applied": 0, "duplicate": 0, "rejected": 0}
        self.ended = 0
        self.wrong_reasons: list[str] = []
        self.unexpected_rejects: list[str] = []
        self.roster_mismatches: list[str] = []
        self.rosters_checked = 0
        self.bad_seen: set[str] = set()
        # Seats: the players' reservations, and what every check of a game found wrong.
        self.ledger = SeatLedger()
        self.seat_checks = 0
        self.over_capacity: list[str] = []  # players (+ live reservations) above capacity
        self.reservation_mismatches: list[str] = []  # stored reservations other than the players'
        self.held: list[str] = []  # games seen holding a join
        self.held_joins = 0  # joins applied as "held until a seat frees"
        self.unreserved_joins: list[str] = []  # joins a server sent for a player with no reservation
        self.broken_promises: list[str] = []  # reserved players a live server had no seat for
        self.refusals: list[str] = []  # quick_join / reserve_seat / cancel answers that were wrong
        self.listing_errors: list[str] = []  # get_open_games results that break its contract
        self.no_show_errors: list[str] = []  # expired reservations that could not be checked
        self.seats = dict.fromkeys((
            "reserved by quick_join", "reserved from get_open_games", "consumed by player_joined",
            "cancelled by the player", "no-shows", "no-shows expired, seat freed",
            "no-shows reaped with the game", "bounced off dead servers",
            "stale listing: full", "stale listing: not open",
            "quick_join found no game", "refusals probed", "held seat handed back"), 0)
        # The reaped feed, checked per wave.
        self.feed_errors: list[str] = []
        self.reaped_feed = dict.fromkeys(("delivered", "redelivered after a crash",
                                          "deleted on their servers"), 0)
        self.started = time.perf_counter()
        self.timeline: Optional[dict[str, list[float]]] = (
            {name: [] for name in TIMELINE_SERIES} if opts.sample_ms > 0 else None)
        self.last_sample = -float("inf")

    def sample(self, force: bool = False) -> None:
        """Adds a point to the timeline (when recording one): at most every sample_ms, or now
        when forced."""
        if self.timeline is None:
            return
        now = time.perf_counter()
        if not force and (now - self.last_sample) * 1000 < self.opts.sample_ms:
            return
        self.last_sample = now
        counts = self.mm.counts()
        line = self.timeline
        t, events = now - self.started, float(sum(self.results.values()))
        rate = 0.0
        if line["t_s"] and t > line["t_s"][-1]:
            rate = (events - line["events"][-1]) / (t - line["t_s"][-1])
        for name, value in (("t_s", t), ("pending", counts["pending"]), ("lobby", counts["lobby"]),
                            ("active", counts["active"]), ("events", events), ("events_per_s", rate)):
            line[name].append(float(value))

    def check(self, ok: bool, what: str) -> None:
        self.checks += 1
        if not ok:
            self.failures.append(what)
            log.error("invariant failed: %s", what)

    def new_player(self) -> str:
        if self.idle_players:
            return self.idle_players.popleft()
        self.next_player += 1
        return f"p{self.next_player}"

    def drain(self) -> None:
        """Polls until the consumer finds nothing new, tallying every result; then every join
        sent so far has been applied, so the reservations of their players are consumed."""
        while True:
            results = self.consumer.poll(count=self.opts.poll_count, block_ms=0)
            if not results:
                break
            for r in results:
                status = r.status
                if status == ApplyStatus.APPLIED:
                    self.results["applied"] += 1
                    if r.state == GameState.ENDED:
                        self.ended += 1
                    elif r.reason == REASON_HELD:
                        self.held_joins += 1
                elif status == ApplyStatus.DUPLICATE:
                    self.results["duplicate"] += 1
                else:
                    self.results["rejected"] += 1
                    entry_id: str = r.entry_id
                    want = self.expected.bad.get(entry_id)
                    if want is None:
                        self.unexpected_rejects.append(f"{entry_id}: {r.reason}")
                    else:
                        self.bad_seen.add(entry_id)
                        if want not in (r.reason or ""):
                            self.wrong_reasons.append(f"{entry_id}: {r.reason!r}, expected {want!r}")
            self.sample()  # a tick can be long: the timeline also moves with the consumer
        for gid, player in self.expected.joins_sent:
            entry = self.ledger.drop(gid, player)
            if entry is None or entry[1] != "join":
                self.unreserved_joins.append(f"{gid}: {player} ({entry[1] if entry else 'none'})")
            else:
                self.seats["consumed by player_joined"] += 1
        self.expected.joins_sent.clear()

    # -- checks of one game ----------------------------------------------------------------

    def inspect(self, game: Any, t0: int, t1: int) -> None:
        """One game as read between matchmaker times t0 and t1: within capacity counting live
        reservations, no join held, and its reservations exactly the players'."""
        self.seat_checks += 1
        if len(game.players) > game.capacity:
            self.over_capacity.append(f"{game.id}: {len(game.players)} players, capacity {game.capacity}")
        if game.held:
            self.held.append(f"{game.id}: {game.held}")
        for kind, text in self.ledger.audit(game, t0, t1):
            (self.over_capacity if kind == "capacity" else self.reservation_mismatches).append(text)

    def read(self, game_id: str) -> tuple[Any, int, int]:
        t0 = self.mm.now()
        game = self.mm.get_game(game_id)
        return game, t0, self.mm.now()

    def check_roster(self, actor: _GameActor) -> None:
        """A full game, every event so far applied: the stored roster is the server's, in the
        order the server seated them, with no join held."""
        self.rosters_checked += 1
        stored, t0, t1 = self.read(actor.game.id)
        got = (stored.players, stored.held) if stored is not None else None
        if got != (actor.players, []):
            self.roster_mismatches.append(f"{actor.game.id}: stored {got}, server has {actor.players}")
        if stored is not None:
            self.inspect(stored, t0, t1)

    def check_touched(self, actors: dict[str, _GameActor]) -> None:
        """After a tick's drain: every game whose roster or reservations changed this tick."""
        for actor in actors.values():
            if actor.touched:
                actor.touched = False
                stored, t0, t1 = self.read(actor.game.id)
                if stored is not None:
                    self.inspect(stored, t0, t1)

    def verify_expired(self) -> None:
        """Every no-show's reservation that has expired: the game no longer lists it and
        counts its seat free (inspect), and cancelling it finds nothing to cancel."""
        t0 = self.mm.now()
        for gid, players in self.ledger.due("no_show", t0).items():
            game, _, t1 = self.read(gid)
            if game is None:
                self.no_show_errors.append(f"{gid}: gone before the expired reservations of {players} "
                                           "were checked")
            else:
                self.inspect(game, t0, t1)
            for player in players:
                if self.mm.cancel_reservation(gid, player):
                    self.refusals.append(f"{gid}: cancelling {player}'s expired reservation returned True")
                self.ledger.drop(gid, player)
                self.seats["no-shows expired, seat freed"] += 1

    # -- players -----------------------------------------------------------------------------

    @staticmethod
    def wish(rng: random.Random, mode: str, region: str) -> dict[str, str]:
        roll = rng.random()
        if roll < 0.6:
            return {"mode": mode}
        if roll < 0.9:
            return {"mode": mode, "region": region}
        return {"region": region}

    def match_players(self, actors: dict[str, _GameActor]) -> None:
        """One matchmaking round: a player arrives for each seat the accepting servers still
        have (not held by a no-show), wanting that game's mode, region or both, and a few more
        with wishes of their own; each takes a seat and, unless a no-show, connects."""
        now = self.mm.now()
        wanted: list[_GameActor] = []
        for actor in actors.values():
            if actor.accepting:
                need = (actor.join_target - (len(actor.players) - 1)
                        - self.ledger.live(actor.game.id, now, "no_show"))
                wanted.extend([actor] * max(0, need))
        rng = self.match_rng
        wishes = [self.wish(rng, a.mode, a.region) for a in wanted]
        wishes += [self.wish(rng, rng.choice(MODES), rng.choice(REGIONS))
                   for _ in range(1 + len(wanted) // 50)]
        listings: dict[Any, list[Any]] = {}  # get_open_games per wish, shared until it is stale
        for i, filters in enumerate(wishes):
            if i and i % DRAIN_EVERY == 0:
                # The consumer keeps up while players arrive: applied joins turn reservations
                # into seats, and full games leave the open indexes. Browsers list again.
                self.drain()
                listings.clear()
            self.seat_player(self.new_player(), filters, actors, listings)

    def seat_player(self, player: str, filters: dict[str, str], actors: dict[str, _GameActor],
                    listings: dict[Any, list[Any]]) -> None:
        rng, opts = self.match_rng, self.opts
        self.let_go_of_held_seat(player)
        roll = rng.random()
        kind = ("no_show" if roll < opts.no_show_rate
                else "cancel" if roll < opts.no_show_rate + opts.cancel_rate else "join")
        ttl = opts.no_show_ttl_ms if kind == "no_show" else opts.reservation_ttl_ms
        reservation = None
        if rng.random() < opts.browse_rate:
            min_free = 2 if rng.random() < 0.3 else 1  # some want room for a friend
            reservation = self.reserve_from_listing(player, filters, ttl, min_free, listings, actors)
        if reservation is None:
            reservation = self.quick_join(player, filters, ttl, actors)
        if reservation is None:
            self.idle_players.append(player)  # nothing for them now: they come back
            return
        gid = reservation.game_id
        actor = actors[gid]
        self.ledger.reserve(gid, player, reservation.expires_at, kind)
        actor.touched = True
        if kind == "cancel":
            first = self.mm.cancel_reservation(gid, player)
            again = self.mm.cancel_reservation(gid, player)
            self.ledger.drop(gid, player)
            self.seats["cancelled by the player"] += 1
            if (first, again) != (True, False):
                self.refusals.append(f"{gid}: cancelling {player}'s live reservation twice returned "
                                     f"{first}, {again}; expected True, False")
            return
        if kind == "no_show":
            self.seats["no-shows"] += 1
            return
        if actor.admit(player) is None:
            if actor.server.alive:
                self.broken_promises.append(f"{gid}: the server had no seat for {player}, who holds "
                                            "a reservation")
            self.ledger.reserve(gid, player, reservation.expires_at, "bounced")
            self.seats["bounced off dead servers"] += 1
            self.idle_players.append(player)  # they try again; their hold stays until it expires

    def let_go_of_held_seat(self, player: str) -> None:
        """A player back from a dead server still holds that seat: one seat per player, so a
        quick_join (as a retry would, here with no filters) must hand back exactly that one;
        then they cancel it to look for another game."""
        held = self.ledger.held_by(player, self.mm.now())
        if held is None:
            return
        gid, expires_at, kind = held
        r = self.mm.quick_join(player, ttl_ms=self.opts.reservation_ttl_ms)  # any game matches
        # The held seat comes back; when quick_join's search lands on that same game, the seat
        # is refreshed (a later expiry), as reserve_seat refreshes a seat the player holds.
        if r is None or r.game_id != gid or r.expires_at < expires_at:
            # It may have lapsed between the look and the call: then any answer is right.
            if self.mm.now() < expires_at:
                self.refusals.append(f"quick_join({player}) while holding a seat in {gid} until "
                                     f"{expires_at} gave {r}; expected that seat")
        if r is not None:
            self.ledger.reserve(r.game_id, player, r.expires_at, kind)
            gid = r.game_id
        self.seats["held seat handed back"] += 1
        self.mm.cancel_reservation(gid, player)
        self.ledger.drop(gid, player)

    def check_granted(self, r: Any, player: str, filters: dict[str, str], ttl: int, t0: int, t1: int,
                      actors: dict[str, _GameActor], how: str) -> bool:
        actor = actors.get(r.game_id)
        if actor is None:
            self.refusals.append(f"{how} gave {player} a seat in {r.game_id}, not a game of this wave")
            return False
        problems = []
        if r.player_id != player:
            problems.append(f"for player {r.player_id}")
        if any(actor.game.metadata.get(k) != v for k, v in filters.items()):
            problems.append(f"in a game with metadata {actor.game.metadata}")
        if not t0 + ttl <= r.expires_at <= t1 + ttl:
            problems.append(f"expiring at {r.expires_at}, not {ttl} ms after the call ({t0}..{t1})")
        if problems:
            self.refusals.append(f"{how}({player}, {filters}) reserved {r.game_id} " + ", ".join(problems))
        return True

    def reserve_from_listing(self, player: str, filters: dict[str, str], ttl: int, min_free: int,
                             listings: dict[Any, list[Any]], actors: dict[str, _GameActor]) -> Any:
        """get_open_games (this round's listing for these wishes) then reserve_seat on one of
        its games. The listing is stale by then: the seat may be gone ("full"), or the game
        full and announced so ("not open")."""
        mm = self.mm
        key = (tuple(sorted(filters.items())), min_free)
        listing = listings.get(key)
        if listing is None:
            t0 = mm.now()
            listing = mm.get_open_games(BROWSE_LIMIT, filters=filters, min_free_seats=min_free)
            t1 = mm.now()
            for g in listing:
                if (g.state is not GameState.CREATOR_JOINED or g.free_seats < min_free
                        or any(g.metadata.get(k) != v for k, v in filters.items())):
                    self.listing_errors.append(
                        f"get_open_games({filters}, min_free_seats={min_free}) listed {g.id}: "
                        f"{g.state.value}, {g.free_seats} free, metadata {g.metadata}")
                self.inspect(g, t0, t1)
            listings[key] = listing
        if not listing:
            return None
        game = self.match_rng.choice(listing)
        t0 = mm.now()
        try:
            r = mm.reserve_seat(game.id, player, ttl_ms=ttl)
        except SeatUnavailableError as err:
            again, _, t1 = self.read(game.id)
            self.seats[f"stale listing: {err.reason}"] = self.seats.get(f"stale listing: {err.reason}", 0) + 1
            if again is None:
                right = False
            elif err.reason == SEAT_FULL:
                right = again.free_seats == 0 or self.ledger.expired_between(game.id, t0, t1)
            else:
                right = err.reason == SEAT_NOT_OPEN and again.state is not GameState.CREATOR_JOINED
            if not right:
                self.refusals.append(f"reserve_seat({game.id}, {player}) refused {err.reason!r}; then "
                                     f"the game was {again.state.value if again else None} with "
                                     f"{again.free_seats if again else 0} free seats")
            return None
        t1 = mm.now()
        if not self.check_granted(r, player, filters, ttl, t0, t1, actors, "reserve_seat"):
            return None
        if r.game_id != game.id:
            self.refusals.append(f"reserve_seat({game.id}) reserved in {r.game_id}")
        self.seats["reserved from get_open_games"] += 1
        return r

    def quick_join(self, player: str, filters: dict[str, str], ttl: int,
                   actors: dict[str, _GameActor]) -> Any:
        """quick_join must take the oldest open matching game with a free seat: the one
        get_open_games(1) names just before (or one whose seat an expiry freed meanwhile)."""
        mm = self.mm
        t0 = mm.now()
        oldest = mm.get_open_games(1, filters=filters)
        try:
            r = mm.quick_join(player, filters=filters, ttl_ms=ttl)
        except SeatUnavailableError as err:  # this player holds no seat (let go of it before)
            self.refusals.append(f"quick_join({player}, {filters}) refused {err.reason!r}: {err}")
            return None
        t1 = mm.now()
        want = oldest[0].id if oldest else None
        got = r.game_id if r is not None else None
        if got != want and not (got is not None and self.ledger.expired_between(got, t0, t1)):
            self.refusals.append(f"quick_join({player}, {filters}) took {got}; the oldest open game "
                                 f"matching was {want}")
        if r is None:
            self.seats["quick_join found no game"] += 1
            return None
        if not self.check_granted(r, player, filters, ttl, t0, t1, actors, "quick_join"):
            return None
        self.seats["reserved by quick_join"] += 1
        return r

    # -- waves -------------------------------------------------------------------------------

    def run_wave(self, first: int, size: int) -> None:
        opts, mm = self.opts, self.mm
        actors: dict[str, _GameActor] = {}
        for index in range(first, first + size):
            server_id = self.server_ids[index % opts.servers]
            rng = random.Random(f"{opts.seed}:{index}:game")
            game = mm.create_game(
                creator_id=f"c{index}",
                capacity=rng.randint(opts.min_capacity, opts.max_capacity),
                server_id=server_id,
                metadata={"mode": rng.choice(MODES), "region": rng.choice(REGIONS),
                          "wave": first // opts.batch},
                game_id=f"{self.run_id}-{index}",
            )
            others = [s for s in self.server_ids if s != server_id]
            server = SimulatedGameServer(self.publishers[server_id])
            actors[game.id] = _GameActor(index, game, server, others, opts, self.expected)
        self.games["created"] += size
        for actor in actors.values():
            self.fates[actor.fate] += 1
        self.sample(force=True)

        # A tick spent while a no-show still holds a seat may be only waiting for its expiry
        # (on the matchmaker's real clock): those do not count towards the limit.
        ticks = busy = 0
        while any(not a.finished for a in actors.values()):
            ticks += 1
            if not self.ledger.pending("no_show", mm.now()):
                busy += 1
            if busy > MAX_TICKS_PER_WAVE or ticks > 100 * MAX_TICKS_PER_WAVE:
                self.check(False, f"wave at game {first} did not settle in {ticks} ticks")
                break
            for actor in actors.values():
                if actor.phase == "full":
                    self.check_roster(actor)
                actor.step()
            self.drain()
            self.verify_expired()
            self.match_players(actors)
            self.drain()
            self.check_touched(actors)
            self.sample()
            self.progress.update(first, self.expected.published)
        for actor in actors.values():
            if actor.phase == "done":
                self.idle_players.extend(actor.players)
        self.settle_wave(actors)

    def probe(self, game_id: str, player: str, want: str) -> None:
        """reserve_seat where the documented answer is a refusal (`want`: a SeatUnavailableError
        reason, or "gone" for GameNotFoundError)."""
        self.seats["refusals probed"] += 1
        try:
            r = self.mm.reserve_seat(game_id, player, ttl_ms=1_000)
        except SeatUnavailableError as err:
            got = err.reason
        except GameNotFoundError:
            got = "gone"
        else:
            got = f"a reservation until {r.expires_at}"
            self.ledger.reserve(game_id, player, r.expires_at, "probe")
        if got != want:
            self.refusals.append(f"reserve_seat({game_id}, {player}): {got}, expected {want}")

    def settle_wave(self, actors: dict[str, _GameActor]) -> None:
        """Checks the sets hold exactly the abandoned games, reaps them set by set, and has the
        deleter take them from the reaped feed."""
        mm = self.mm
        self.verify_expired()
        for gid, mine in self.ledger.held.items():
            for player, (_, kind) in mine.items():
                if kind == "no_show" and gid in actors:
                    self.seats["no-shows reaped with the game"] += 1
                    if actors[gid].fate != "die_lobby":  # a game that filled outlived every no-show
                        self.no_show_errors.append(f"{gid} ({actors[gid].fate}) still holds "
                                                   f"{player}'s no-show reservation")
        abandoned = {s: {gid for gid, a in actors.items() if FATE_SET.get(a.fate) == s}
                     for s in ("pending", "lobby", "active")}
        counts = mm.counts()
        for set_name, ids in abandoned.items():
            self.check(counts[set_name] == len(ids),
                       f"{set_name} holds {counts[set_name]} games before reaping, expected {len(ids)}")
        # Documented refusals, on games left in each set: a game not yet open, one started, a
        # player already seated.
        for fate, want in (("no_creator", SEAT_NOT_OPEN), ("die_active", SEAT_NOT_OPEN),
                           ("die_lobby", SEAT_ALREADY_JOINED)):
            actor = next((a for a in actors.values() if a.fate == fate), None)
            if actor is not None:  # the creator is seated in the lobby game; "prober" nowhere
                self.probe(actor.game.id, actor.game.creator_id if fate == "die_lobby" else "prober", want)
        # The simulated clock: jump from now past one set's max age at a time (ages grow
        # pending < lobby < active), so each reap may only take the games abandoned there.
        reaps = ReapedLedger()
        base = mm.now()  # the clock that scored the games (Redis's own on Redis)
        self.sample(force=True)
        for set_name in ("pending", "lobby", "active"):
            self.sim_now = base + mm.max_age_ms[set_name] + 1
            reaped = mm.reap(now=self.sim_now)
            self.sample(force=True)
            reaps.reaped(reaped, set_name, self.sim_now)
            got = {g.id for g in reaped}
            self.games[f"reaped from {set_name}"] += len(reaped)
            self.check(got == abandoned[set_name],
                       f"reap past the {set_name} age took {len(got)} games, expected exactly the "
                       f"{len(abandoned[set_name])} abandoned there")
            wrong_set = [g.id for g in reaped if game_data.set_of(g.state) != set_name]
            self.check(not wrong_set, f"reaped from {set_name} in another state: {wrong_set[:3]}")
            now = mm.now()
            for g in reaped:  # the record as it was: its reservations live until their expiry
                self.seat_checks += 1
                live = [p for p, exp in g.reservations.items() if exp > now and p not in g.players]
                if len(g.players) + len(live) > g.capacity or g.held:
                    self.over_capacity.append(f"{g.id} reaped with {len(g.players)} players, "
                                              f"{len(live)} live reservations, held {g.held}")
        if reaps.expected:
            self.probe(next(iter(reaps.expected)), "prober", "gone")
        counts = mm.counts()
        self.check(all(v == 0 for v in counts.values()), f"sets not empty after the wave: {counts}")
        stragglers = [gid for gid in actors if mm.get_game(gid) is not None]
        self.check(not stragglers, f"{len(stragglers)} games still stored after the wave")
        self.delete_reaped(reaps, actors)
        for gid in actors:
            self.ledger.forget(gid)

    def delete_reaped(self, reaps: ReapedLedger, actors: dict[str, _GameActor]) -> None:
        """The deleter: reads the reaped feed, deletes each game on its server and acknowledges.
        When a batch holds games whose acknowledgement is to be lost, it acknowledges the others
        and crashes; restarted under the same name it is given those items again first (their
        servers have deleted them already). In the end the feed has nothing left to deliver."""
        for _ in range(10 + 4 * len(reaps.expected)):  # bounded, should the feed never run dry
            items = self.feed.poll(count=FEED_BATCH, block_ms=0)
            if not items:
                break
            lost = []
            for item in items:
                first = self.delete_on_server(item, reaps, actors)
                actor = actors.get(item.game.id)
                if first and actor is not None and actor.ack_lost:
                    lost.append(item.entry_id)
            done = [item for item in items if item.entry_id not in lost]
            acked = self.feed.ack(done)
            if acked != len(done):
                self.feed_errors.append(f"ack of {len(done)} reaped items acknowledged {acked}")
            if lost:
                reaps.lost.update(lost)
                self.feed = self.mm.reaped_feed(group="deleter", name=DELETER)  # the restart
        else:
            self.feed_errors.append("the reaped feed kept delivering after every item was acknowledged")
        self.feed_errors.extend(reaps.problems())
        self.reaped_feed["delivered"] += len(reaps.first)
        self.reaped_feed["redelivered after a crash"] += len(reaps.redelivered)

    def delete_on_server(self, item: Any, reaps: ReapedLedger, actors: dict[str, _GameActor]) -> bool:
        """Deletes the item's game on its server; returns whether this is its first delivery."""
        first_time = reaps.delivered(item)
        actor = actors.get(item.game.id)
        if actor is None:
            return first_time  # not a game of this wave: reaps.problems() reports it
        if item.game.server_id != actor.server.server_id:
            self.feed_errors.append(f"{item.game.id}: the feed names server {item.game.server_id}, "
                                    f"it ran on {actor.server.server_id}")
        deleted = actor.server.delete(item.game)
        if deleted != first_time:
            self.feed_errors.append(f"{item.game.id}: delivery {'1' if first_time else 'again'}, and "
                                    f"its server {'had' if not deleted else 'had not'} deleted it")
        if deleted:
            self.reaped_feed["deleted on their servers"] += 1
        return first_time

    def run(self) -> SimulationResult:
        opts = self.opts
        started = self.started = time.perf_counter()
        first = 0
        while first < opts.games:
            size = min(opts.batch, opts.games - first)
            self.run_wave(first, size)
            first += size
            self.progress.update(first, self.expected.published, force=True)
        wall = time.perf_counter() - started
        self.progress.close()
        return self.finish(wall)

    def remove_keys(self) -> None:
        """Deletes every key of the run's namespace, also after a failed run; a backend that
        fails now is logged, not raised over the run's own outcome."""
        try:
            removed = self.mm._remove_namespace()
        except game_data.BackendError as err:
            log.warning("could not remove the keys of namespace %s: %s", self.namespace, err)
            return
        log.info("removed the %d keys of namespace %s", removed, self.namespace)

    def finish(self, wall: float) -> SimulationResult:
        self.sample(force=True)
        mm, exp, stats = self.mm, self.expected, self.consumer.stats
        counts = mm.counts()
        self.games["ended normally"] = self.ended
        for set_name in ("pending", "lobby", "active"):
            self.games[f"still live in {set_name}"] = counts[set_name]
        accounted = (self.games["ended normally"] + self.games["reaped from pending"]
                     + self.games["reaped from lobby"] + self.games["reaped from active"]
                     + sum(counts.values()))
        self.check(accounted == self.games["created"] == self.opts.games,
                   f"{accounted} games accounted for, {self.games['created']} created")
        self.check(self.ended == self.fates["normal"],
                   f"{self.ended} games ended, {self.fates['normal']} were meant to")
        self.check(stats["applied"] == self.results["applied"] == exp.applied,
                   f"applied: consumer {stats['applied']}, results {self.results['applied']}, "
                   f"expected {exp.applied}")
        self.check(stats["duplicate"] == self.results["duplicate"] == exp.duplicate,
                   f"duplicate: consumer {stats['duplicate']}, expected {exp.duplicate}")
        self.check(stats["rejected"] == self.results["rejected"] == len(exp.bad),
                   f"rejected: consumer {stats['rejected']}, expected {len(exp.bad)}")
        self.check(stats["dead_lettered"] == len(exp.bad),
                   f"dead-lettered {stats['dead_lettered']}, deliberate bad entries {len(exp.bad)}")
        self.check(not self.unexpected_rejects,
                   f"{len(self.unexpected_rejects)} good events rejected, e.g. {self.unexpected_rejects[:3]}")
        self.check(self.rosters_checked == self.fates["normal"] + self.fates["die_active"],
                   f"{self.rosters_checked} full rosters checked, "
                   f"{self.fates['normal'] + self.fates['die_active']} games filled")
        self.check(not self.roster_mismatches,
                   f"{len(self.roster_mismatches)} full games with a roster other than their "
                   f"server's, e.g. {self.roster_mismatches[:3]}")
        self.check(self.seat_checks > 0 and not self.over_capacity,
                   f"{len(self.over_capacity)} times a game held more players plus live reservations "
                   f"than its capacity, e.g. {self.over_capacity[:3]}")
        self.check(not self.reservation_mismatches,
                   f"{len(self.reservation_mismatches)} times a game's live reservations were not the "
                   f"players', e.g. {self.reservation_mismatches[:3]}")
        self.check(self.held_joins == 0 and not self.held,
                   f"{self.held_joins} joins held although every admitted player held a reservation, "
                   f"e.g. {self.held[:3]}")
        self.check(not self.unreserved_joins,
                   f"{len(self.unreserved_joins)} joins applied for players without a reservation, "
                   f"e.g. {self.unreserved_joins[:3]}")
        self.check(not self.broken_promises,
                   f"{len(self.broken_promises)} reserved players found no seat on a live server, "
                   f"e.g. {self.broken_promises[:3]}")
        self.check(not self.refusals, f"{len(self.refusals)} wrong answers from quick_join, reserve_seat "
                                      f"or cancel_reservation, e.g. {self.refusals[:3]}")
        self.check(not self.listing_errors,
                   f"get_open_games listed games outside its filters: {self.listing_errors[:3]}")
        self.check(not self.no_show_errors and self.seats["no-shows"] == (
                       self.seats["no-shows expired, seat freed"]
                       + self.seats["no-shows reaped with the game"]),
                   f"no-shows' expiry not verified: {self.seats['no-shows']} no-shows, "
                   f"{self.seats['no-shows expired, seat freed']} seen expired, "
                   f"{self.seats['no-shows reaped with the game']} on reaped games; "
                   f"{self.no_show_errors[:3]}")
        self.check(not self.feed_errors, f"reaped feed: {self.feed_errors[:3]}")
        reaped = sum(self.games[f"reaped from {s}"] for s in ("pending", "lobby", "active"))
        self.check(self.reaped_feed["delivered"] == self.reaped_feed["deleted on their servers"] == reaped,
                   f"{reaped} games reaped, {self.reaped_feed['delivered']} delivered by the reaped feed, "
                   f"{self.reaped_feed['deleted on their servers']} deleted on their servers")
        self.check(not self.wrong_reasons, f"dead letters with the wrong reason: {self.wrong_reasons[:3]}")
        self.check(self.bad_seen == set(exp.bad),
                   f"{len(set(exp.bad) - self.bad_seen)} bad entries never rejected")
        dead = mm.stream_entries(self.dead_stream)
        self.check(len(dead) == len(exp.bad),
                   f"dead-letter stream holds {len(dead)} entries, expected {len(exp.bad)}")
        self.check(all("error" in fields and fields["error"] for _, fields in dead),
                   "a dead letter has no error field")
        length = mm.stream_length(self.stream)
        self.check(length == exp.published, f"stream holds {length} entries, {exp.published} published")
        info = self.consumer.group_info()
        self.check(_field(info, "pending") == 0 and _field(info, "lag") == 0,
                   f"group not drained: pending={_field(info, 'pending')} lag={_field(info, 'lag')}")

        events = {
            "published": exp.published,
            "applied": stats["applied"],
            "duplicate": stats["duplicate"],
            "rejected": stats["rejected"],
            "dead-lettered": stats["dead_lettered"],
            "deliberate bad entries": len(exp.bad),
        }
        consumed = stats["applied"] + stats["duplicate"] + stats["rejected"]
        options = asdict(self.opts) | {"namespace": self.namespace}
        return SimulationResult(
            options=options,
            games=dict(self.games),
            events=events,
            wall_time_s=wall,
            events_per_s=consumed / wall if wall > 0 else 0.0,
            invariants_checked=self.checks,
            failures=list(self.failures),
            reaped_feed=dict(self.reaped_feed),
            seats=dict(self.seats),
            held_joins=self.held_joins,
            overtaken_leaves=exp.overtaken_leaves,
            timeline=self.timeline,
        )


def run_simulation(opts: SimulationOptions, progress_stream: Optional[TextIO] = None) -> SimulationResult:
    """Runs the whole simulation; raises only for bad options or a backend failure."""
    opts.validate()
    progress = _Progress(opts.games, progress_stream or sys.stderr, progress_stream is not None)
    simulation = _Simulation(opts, progress)
    try:
        return simulation.run()
    finally:
        if not opts.keep_keys:
            simulation.remove_keys()


SEATS_HEADING = "seats (these counts depend on timing)"


def format_summary(result: SimulationResult) -> str:
    """The human summary table printed by `game-data simulate`. Every count but the seats
    block is fixed by the seed."""
    o = result.options
    lines = [
        f"game-data simulate: {o['games']} games, seed {o['seed']}, {o['servers']} servers, "
        f"batch {o['batch']}, {o['url']}",
        "",
        f"{'games':<32}{'count':>10}",
    ]
    total = 0
    for name, value in result.games.items():
        if name == "created":
            continue
        lines.append(f"  {name:<30}{value:>10}")
        total += value
    lines.append(f"  {'total':<30}{total:>10}")
    lines += ["", f"{'events':<32}{'count':>10}"]
    for name, value in result.events.items():
        lines.append(f"  {name:<30}{value:>10}")
    lines += ["", f"{'reaped feed':<32}{'count':>10}"]
    for name, value in result.reaped_feed.items():
        lines.append(f"  {name:<30}{value:>10}")
    lines += ["", SEATS_HEADING]
    for name, value in result.seats.items():
        lines.append(f"  {name:<30}{value:>10}")
    lines += [
        "",
        "throughput",
        f"  {'events per second':<30}{result.events_per_s:>10,.0f}",
        f"  {'wall time (s)':<30}{result.wall_time_s:>10.2f}",
        "",
    ]
    if result.ok:
        lines.append(f"invariants: {result.invariants_checked} checked, all hold")
    else:
        lines.append(f"invariants: {len(result.failures)} of {result.invariants_checked} FAILED")
        lines += [f"  - {f}" for f in result.failures]
    return "\n".join(lines)


def format_json(result: SimulationResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True)
