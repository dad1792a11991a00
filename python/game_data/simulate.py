"""`game-data simulate`: a fleet of game servers and players against one matchmaker.

The run is a sequence of waves of `batch` games. In a wave the matchmaker creates the games on
the fleet's servers; each game's server (a SimulatedGameServer) publishes its lifecycle
events; one consumer applies them; players arriving each tick pick games from
get_open_games and the chosen server admits them. Some creators never connect and some
servers die silently in the lobby or mid-game: once the wave has settled, a simulated clock is
advanced past each set's maximum age and reap(now=...) removes exactly those games.
Misbehaviour is injected on purpose: duplicate deliveries, out-of-order events, events from
the wrong server and garbage entries.

Expected outcomes follow the seq rule: a redelivered entry is a duplicate (same seq for the
same player, or a state already reached) except a heartbeat, which is applied again (it only
refreshes the score); a lifecycle event overtaken by a later state is a duplicate whatever its
seq; a join overtaken by another player's newer join still applies (seq is per player), and a
join that overtakes the leave freeing its seat is applied too: held until that leave arrives.
Whatever the delivery order, a game's roster is its server's, in the order the server seated
the players.

Every game's fate and misbehaviour come from its own seeded generator, so a seed gives the
same summary counts whatever the timing. At the end the run checks its own invariants (every
game accounted for, consumer counts equal to what was published, dead letters only for the
deliberate bad entries, no game ever holding more players than its capacity, every roster its
server's, nothing left pending) and reports failures.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, TextIO

import game_data
from game_data import ApplyStatus, EventType, GameState
from game_data.testing.simulator import GARBAGE_KINDS, SimulatedGameServer

__all__ = ["SimulationOptions", "SimulationResult", "run_simulation", "format_summary"]

log = logging.getLogger(__name__)

FATES = ("normal", "no_creator", "die_lobby", "die_active")
# The set an abandoned game is left in, and so reaped from.
FATE_SET = {"no_creator": "pending", "die_lobby": "lobby", "die_active": "active"}
MAX_TICKS_PER_WAVE = 1_000
HELD = "held until a seat frees"  # the reason of a join applied while its game is full


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
    bad_rate: float = 0.02  # per game: one garbage entry; and as often one wrong-server event
    duplicate_rate: float = 0.05  # per event: delivered twice
    # Per started game: game_started overtakes all_players_joined. And as often, per game: a
    # player's join is delayed and overtaken by the next player's join; and a leave (see
    # leave_rate) is delayed past the join of the player who takes the freed seat.
    out_of_order_rate: float = 0.05
    leave_rate: float = 0.1  # per game: the first joiner leaves at once and is replaced
    min_capacity: int = 2
    max_capacity: int = 8
    max_heartbeats: int = 3

    def validate(self) -> None:
        if self.games < 1:
            raise ValueError("--games must be at least 1")
        if self.servers < 1:
            raise ValueError("--servers must be at least 1")
        if not 1 <= self.batch <= 10_000:
            raise ValueError("--batch must be 1..10000")
        if not 1 <= self.poll_count <= 10_000:
            raise ValueError("poll count must be 1..10000")
        for name in ("abandon_rate", "bad_rate", "duplicate_rate", "out_of_order_rate", "leave_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 1")
        if not 2 <= self.min_capacity <= self.max_capacity <= 1024:
            raise ValueError("capacities must satisfy 2 <= min <= max <= 1024")


@dataclass
class SimulationResult:
    options: dict[str, Any]
    games: dict[str, int]
    events: dict[str, int]
    wall_time_s: float
    events_per_s: float
    invariants_checked: int
    failures: list[str] = field(default_factory=list)
    # Joins applied while their game was full and seated when the leave they overtook arrived.
    # How many depends on how players meet games in each wave, so it is not in the summary.
    held_joins: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def deterministic(self) -> dict[str, Any]:
        """The part of the summary a seed fixes (no timings)."""
        return {"games": self.games, "events": self.events}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


class _Expected:
    """What the consumer must report, counted as the simulation publishes."""

    def __init__(self) -> None:
        self.applied = 0
        self.duplicate = 0
        self.published = 0
        self.bad: dict[str, str] = {}  # entry id -> reason the dead letter must give


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
        self.delayed_join: Optional[dict[str, str]] = None  # stamped, not yet sent
        self.delayed_leave: Optional[dict[str, str]] = None  # stamped, not yet sent
        self.phase = "created"  # created -> lobby -> full -> active -> done
        self.players: list[str] = [game.creator_id]  # in the order the server seated them
        self.finished = False
        self.touched = False  # published a roster event since the simulation last looked

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
            if self.wrong_server:
                self._bad(server.send_as(self.wrong_server_id, game), "wrong server")
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
        """A player the matchmaker sent: "seated", "left" (joined and left at once, so the
        seat is free again), or None if this server did not take them."""
        if not self.accepting:
            return None
        game, server = self.game, self.server
        self.touched = True
        if self.reorder_join and not self.leave_pending and len(self.players) + 1 < game.capacity:
            # This join is stamped now but sent after the next player's (newer) join.
            self.reorder_join = False
            self.delayed_join = server.prepare(game, EventType.PLAYER_JOINED, player)
        else:
            self._good(server.player_joins(game, player))
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
    """A one-line progress bar on a terminal stream; silent when disabled."""

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream, self.enabled = total, stream, enabled
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done: int, events: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        rate = events / max(now - self.start, 1e-9)
        self.stream.write(
            f"\rsimulate [{'#' * filled}{'.' * (width - filled)}] {100 * done // max(self.total, 1):3d}%"
            f"  {done}/{self.total} games  {rate:,.0f} events/s "
        )
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
        self.mm = game_data.connect(opts.url, namespace=self.namespace)  # the default max ages
        self.stream = f"{self.namespace}:events"
        self.dead_stream = f"{self.stream}:dead"
        self.consumer = self.mm.consumer(stream=self.stream, group="matchmaker", name="sim-mm-1",
                                         claim_idle_ms=600_000)
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
        self.overfilled: list[str] = []  # games seen holding more players than their capacity
        self.still_held: list[str] = []  # joins left held once every event sent was applied
        self.seat_checks = 0
        self.held_joins = 0  # joins applied as "held until a seat frees" (timing dependent)
        self.bad_seen: set[str] = set()

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
        """Polls until the consumer finds nothing new, tallying every result."""
        while True:
            results = self.consumer.poll(count=self.opts.poll_count, block_ms=0)
            if not results:
                return
            for r in results:
                status = r.status
                if status == ApplyStatus.APPLIED:
                    self.results["applied"] += 1
                    if r.state == GameState.ENDED:
                        self.ended += 1
                    elif r.reason == HELD:
                        self.held_joins += 1
                elif status == ApplyStatus.DUPLICATE:
                    self.results["duplicate"] += 1
                else:
                    self.results["rejected"] += 1
                    entry_id = getattr(r, "entry_id", None)
                    want = self.expected.bad.get(entry_id)
                    if want is None:
                        self.unexpected_rejects.append(f"{entry_id}: {r.reason}")
                    else:
                        self.bad_seen.add(entry_id)
                        if want not in (r.reason or ""):
                            self.wrong_reasons.append(f"{entry_id}: {r.reason!r}, expected {want!r}")

    def check_roster(self, actor: _GameActor) -> None:
        """A full game, every event so far applied: the stored roster is the server's, in the
        order the server seated them, with no join held."""
        self.rosters_checked += 1
        stored = self.mm.get_game(actor.game.id)
        got = (stored.players, stored.held) if stored is not None else None
        if got != (actor.players, []):
            self.roster_mismatches.append(f"{actor.game.id}: stored {got}, server has {actor.players}")
        if stored is not None:
            self.check_seats(stored)

    def check_seats(self, game: Any, settled: bool = False) -> None:
        """No game ever holds more players than its capacity; once every event its server sent
        is applied (`settled`), no join is left held: the servers never admit past capacity."""
        self.seat_checks += 1
        if len(game.players) > game.capacity:
            self.overfilled.append(f"{game.id}: {len(game.players)} players, capacity {game.capacity}")
        if settled and game.held:
            self.still_held.append(f"{game.id}: {game.held}")

    def check_touched(self, actors: dict[str, _GameActor]) -> None:
        """After a tick's drain: the seats of every game whose roster changed this tick."""
        for actor in actors.values():
            if actor.touched:
                actor.touched = False
                stored = self.mm.get_game(actor.game.id)
                if stored is not None:
                    self.check_seats(stored, settled=actor.delayed_join is None and actor.delayed_leave is None)

    def match_players(self, actors: dict[str, _GameActor]) -> None:
        """One matchmaking round: arriving players pick open games; their servers admit them."""
        open_games = self.mm.get_open_games(limit=min(10_000, 2 * self.opts.batch + 50))
        for g in open_games:
            self.check_seats(g)
        seats = {g.id: g.free_seats for g in open_games if g.id in actors}
        candidates = [gid for gid, n in seats.items() if n > 0]
        arrivals = sum(seats.values())
        for _ in range(arrivals):
            if not candidates:
                break
            player = self.new_player()
            while candidates:
                i = self.match_rng.randrange(len(candidates))
                gid = candidates[i]
                admitted = actors[gid].admit(player)
                if admitted:
                    if admitted == "seated":
                        seats[gid] -= 1
                    if seats[gid] == 0:
                        candidates[i] = candidates[-1]
                        candidates.pop()
                    break
                # The server did not take the player (it is dead): skip it this round.
                candidates[i] = candidates[-1]
                candidates.pop()
            else:
                self.idle_players.append(player)

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
                metadata={"mode": rng.choice(["duel", "team", "ffa"]), "wave": first // opts.batch},
                game_id=f"{self.run_id}-{index}",
            )
            others = [s for s in self.server_ids if s != server_id]
            server = SimulatedGameServer(self.publishers[server_id])
            actors[game.id] = _GameActor(index, game, server, others, opts, self.expected)
        self.games["created"] += size
        for actor in actors.values():
            self.fates[actor.fate] += 1

        ticks = 0
        while any(not a.finished for a in actors.values()):
            ticks += 1
            if ticks > MAX_TICKS_PER_WAVE:
                self.check(False, f"wave at game {first} did not settle in {MAX_TICKS_PER_WAVE} ticks")
                break
            for actor in actors.values():
                if actor.phase == "full":
                    self.check_roster(actor)
                actor.step()
            self.drain()
            self.match_players(actors)
            self.drain()
            self.check_touched(actors)
            self.progress.update(first, self.expected.published)
        for actor in actors.values():
            if actor.phase == "done":
                self.idle_players.extend(actor.players)
        self.settle_wave(actors)

    def settle_wave(self, actors: dict[str, _GameActor]) -> None:
        """Checks the sets hold exactly the abandoned games, then reaps them set by set."""
        mm = self.mm
        abandoned = {s: {gid for gid, a in actors.items() if FATE_SET.get(a.fate) == s}
                     for s in ("pending", "lobby", "active")}
        counts = mm.counts()
        for set_name, ids in abandoned.items():
            self.check(counts[set_name] == len(ids),
                       f"{set_name} holds {counts[set_name]} games before reaping, expected {len(ids)}")
        # The simulated clock: jump from now past one set's max age at a time (ages grow
        # pending < lobby < active), so each reap may only take the games abandoned there.
        base = mm_now_ms()
        for set_name in ("pending", "lobby", "active"):
            self.sim_now = base + mm.max_age_ms[set_name] + 1
            reaped = mm.reap(now=self.sim_now)
            got = {g.id for g in reaped}
            self.games[f"reaped from {set_name}"] += len(reaped)
            self.check(got == abandoned[set_name],
                       f"reap past the {set_name} age took {len(got)} games, expected exactly the "
                       f"{len(abandoned[set_name])} abandoned there")
            wrong_set = [g.id for g in reaped if game_data.set_of(g.state) != set_name]
            self.check(not wrong_set, f"reaped from {set_name} in another state: {wrong_set[:3]}")
            for g in reaped:
                self.check_seats(g, settled=True)
        counts = mm.counts()
        self.check(all(v == 0 for v in counts.values()), f"sets not empty after the wave: {counts}")
        stragglers = [gid for gid in actors if mm.get_game(gid) is not None]
        self.check(not stragglers, f"{len(stragglers)} games still stored after the wave")

    def run(self) -> SimulationResult:
        opts = self.opts
        started = time.perf_counter()
        first = 0
        while first < opts.games:
            size = min(opts.batch, opts.games - first)
            self.run_wave(first, size)
            first += size
            self.progress.update(first, self.expected.published, force=True)
        wall = time.perf_counter() - started
        self.progress.close()
        return self.finish(wall)

    def finish(self, wall: float) -> SimulationResult:
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
        self.check(self.seat_checks > 0 and not self.overfilled,
                   f"{len(self.overfilled)} times a game held more players than its capacity, "
                   f"e.g. {self.overfilled[:3]}")
        self.check(not self.still_held,
                   f"{len(self.still_held)} games kept joins held after every event was applied, "
                   f"e.g. {self.still_held[:3]}")
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
            held_joins=self.held_joins,
        )


def mm_now_ms() -> int:
    return time.time_ns() // 1_000_000


def run_simulation(opts: SimulationOptions, progress_stream: Optional[TextIO] = None) -> SimulationResult:
    """Runs the whole simulation; raises only for bad options or a backend failure."""
    opts.validate()
    progress = _Progress(opts.games, progress_stream or sys.stderr, progress_stream is not None)
    return _Simulation(opts, progress).run()


def format_summary(result: SimulationResult) -> str:
    """The human summary table printed by `game-data simulate`."""
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
