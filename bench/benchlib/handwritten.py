"""The hand-written comparison of redis_bench.py: what someone writes without game_data.

One Lua script per event (APPLY_LUA) over keys of its own prefix, a redis-py consumer of a
stream that calls it once per event, a Python model of exactly the commands that script runs
(for the raw ceiling, which sends those commands without a script), and an unindexed
open-games scan (OPEN_SCAN_LUA). None of it touches the library's keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import redis
from redis.client import Pipeline

__all__ = [
    "APPLY_LUA",
    "OPEN_SCAN_LUA",
    "Keys",
    "Workload",
    "apply_commands",
    "batch_file",
    "create_games",
    "make_workload",
    "resp",
    "write_pipelined",
]

T = TypeVar("T")

# Applies one event to one game: read the record, check it, write state/roster/time, move the
# game between the sets and keep an "open" set of joinable lobby games.
APPLY_LUA = r"""
-- KEYS[1] game hash, KEYS[2] pending, KEYS[3] lobby, KEYS[4] active, KEYS[5] open,
-- KEYS[6] tombstone. ARGV[1] game id, ARGV[2] type, ARGV[3] server id, ARGV[4] player id,
-- ARGV[5] seq, ARGV[6] now (ms). Returns 0 applied, 1 duplicate, 2 rejected.
local rec = redis.call('HMGET', KEYS[1], 'state', 'server_id', 'creator_id', 'players',
                       'capacity', 'last_seq')
local state = rec[1]
if not state then
  if redis.call('EXISTS', KEYS[6]) == 1 then return 1 end
  return 2
end
if rec[2] ~= ARGV[3] then return 2 end
local seq = tonumber(ARGV[5]) or 0
local last = tonumber(rec[6]) or 0
if seq > 0 and seq <= last then return 1 end
if seq < last then seq = last end
local id, etype, player, now = ARGV[1], ARGV[2], ARGV[4], ARGV[6]
local SETS = {created = KEYS[2], creator_joined = KEYS[3], in_progress = KEYS[4]}
local from = SETS[state]
local players = rec[4]
local n = 0
if players ~= '' then n = select(2, string.gsub(players, ',', ',')) + 1 end
local capacity = tonumber(rec[5])
local new_state = state

if etype == 'game_ended' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', from, id)
  redis.call('ZREM', KEYS[5], id)
  redis.call('SET', KEYS[6], 'ended', 'PX', 3600000)
  return 0
elseif etype == 'creator_joined' then
  if state ~= 'created' then return 1 end
  if player ~= rec[3] then return 2 end
  players, n, new_state = player, 1, 'creator_joined'
elseif etype == 'player_joined' then
  if state == 'created' then return 2 end
  if string.find(',' .. players .. ',', ',' .. player .. ',', 1, true) then return 1 end
  if n >= capacity then return 2 end
  players, n = players .. ',' .. player, n + 1
elseif etype == 'game_started' then
  if state == 'in_progress' then return 1 end
  new_state = 'in_progress'
elseif etype ~= 'heartbeat' then
  return 2
end

redis.call('HSET', KEYS[1], 'state', new_state, 'players', players, 'updated_at', now,
           'last_seq', seq)
local to = SETS[new_state]
if to ~= from then
  redis.call('ZREM', from, id)
  redis.call('ZADD', to, now, id)
elseif etype == 'heartbeat' then
  redis.call('ZADD', to, now, id)
end
if new_state == 'creator_joined' and n < capacity then
  if etype ~= 'player_joined' then redis.call('ZADD', KEYS[5], now, id) end
elseif state == 'creator_joined' then
  redis.call('ZREM', KEYS[5], id)
end
return 0
"""

# Unindexed open games: walk the lobby oldest first, read each record, keep the joinable ones.
OPEN_SCAN_LUA = r"""
-- KEYS[1] lobby; ARGV[1] limit, ARGV[2] game key prefix. Returns HGETALL arrays.
local limit, prefix = tonumber(ARGV[1]), ARGV[2]
local out, start, chunk = {}, 0, 256
while #out < limit do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + chunk - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', prefix .. id, 'state', 'capacity', 'players')
    if r[1] == 'creator_joined' then
      local n = 0
      if r[3] ~= '' then n = select(2, string.gsub(r[3], ',', ',')) + 1 end
      if n < tonumber(r[2]) then
        out[#out + 1] = redis.call('HGETALL', prefix .. id)
        if #out == limit then break end
      end
    end
  end
  start = start + chunk
end
return out
"""


# -- the workload: games and their lifecycle events ---------------------------------------------

@dataclass
class Workload:
    """Games (id, creator, server, capacity) and their events (type, game, server, player,
    seq), interleaved across a wave of games as a fleet of servers would send them."""

    games: list[tuple[str, str, str, int]]
    events: list[tuple[str, str, str, str, int]]
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.events)


def make_workload(n_games: int, players: int, *, servers: int = 20, wave: int = 100) -> Workload:
    """Per game: creator_joined, player_joined x players, game_started, heartbeat, game_ended.
    Capacity is players + 1, so the last join fills the game. Events of a wave of games are
    interleaved step by step; seq grows by one per event (as a publisher's counter does)."""
    games = []
    for i in range(n_games):
        gid = f"g{i:07d}"
        games.append((gid, f"c{i}", f"gs-{i % servers:02d}", players + 1))
    steps: list[tuple[str, int]] = [("creator_joined", -1)]
    steps += [("player_joined", j) for j in range(players)]
    steps += [("game_started", -1), ("heartbeat", -1), ("game_ended", -1)]
    events: list[tuple[str, str, str, str, int]] = []
    seq = 0
    for w in range(0, n_games, wave):
        chunk = games[w:w + wave]
        for etype, j in steps:
            for gid, creator, server, _cap in chunk:
                seq += 1
                if etype == "creator_joined":
                    player = creator
                elif etype == "player_joined":
                    player = f"p{j}-{gid}"
                else:
                    player = ""
                events.append((etype, gid, server, player, seq))
    return Workload(games, events)


# -- keys of the hand-written tracker ------------------------------------------------------------

@dataclass(frozen=True)
class Keys:
    prefix: str  # e.g. "hw:{b}:" (one hash tag, like the library's)

    def game(self, gid: str) -> str:
        return f"{self.prefix}game:{gid}"

    def tomb(self, gid: str) -> str:
        return f"{self.prefix}tomb:{gid}"

    @property
    def sets(self) -> tuple[str, str, str, str]:
        p = self.prefix
        return (f"{p}pending", f"{p}lobby", f"{p}active", f"{p}open")

    @property
    def stream(self) -> str:
        return f"{self.prefix}events"

    def apply_keys(self, gid: str) -> list[str]:
        return [self.game(gid), *self.sets, self.tomb(gid)]


def write_pipelined(r: redis.Redis, items: Iterable[T], write: Callable[[Pipeline, T], None],
                    chunk: int = 1000) -> None:
    """`write(pipe, item)` queues each item's commands on one pipeline (no MULTI), sent every
    `chunk` items and at the end: how both hand-written trackers fill Redis before timing."""
    pipe = r.pipeline(transaction=False)
    for i, item in enumerate(items, 1):
        write(pipe, item)
        if i % chunk == 0:
            pipe.execute()
    pipe.execute()


def create_games(r: redis.Redis, keys: Keys, games: Iterable[tuple[str, str, str, int]],
                 now_ms: int, chunk: int = 1000) -> None:
    """The hand-written create: HSET the record and ZADD it to pending, pipelined."""
    pending = keys.sets[0]

    def create(pipe: Pipeline, game: tuple[str, str, str, int]) -> None:
        gid, creator, server, cap = game
        pipe.hset(keys.game(gid), mapping={
            "id": gid, "state": "created", "creator_id": creator, "capacity": cap,
            "server_id": server, "players": "", "metadata": "{}", "created_at": now_ms,
            "updated_at": now_ms, "last_seq": 0})
        pipe.zadd(pending, {gid: now_ms})

    write_pipelined(r, games, create, chunk)


# -- the commands APPLY_LUA runs, for the raw ceiling --------------------------------------------

def apply_commands(keys: Keys, workload: Workload) -> list[list[list[str]]]:
    """For each event, the exact list of commands APPLY_LUA calls for it (a model of the
    script over the workload's games), with the workload's now_ms as the clock."""
    now = str(workload.now_ms)
    pending, lobby, active, open_set = keys.sets
    set_of = {"created": pending, "creator_joined": lobby, "in_progress": active}
    recs: dict[str, dict[str, object]] = {
        gid: {"state": "created", "server": server, "creator": creator, "players": [],
              "capacity": cap, "last_seq": 0}
        for gid, creator, server, cap in workload.games}
    hmget_fields = ["state", "server_id", "creator_id", "players", "capacity", "last_seq"]
    out: list[list[list[str]]] = []
    for etype, gid, server, player, seq in workload.events:
        gk = keys.game(gid)
        cmds: list[list[str]] = [["HMGET", gk, *hmget_fields]]
        rec = recs.get(gid)
        if rec is None or rec["server"] != server or seq <= rec["last_seq"]:
            msg = f"the workload holds an event the model does not apply: {etype} {gid}"
            raise ValueError(msg)
        state = str(rec["state"])
        players: list[str] = rec["players"]  # type: ignore[assignment]
        cap = int(rec["capacity"])  # type: ignore[arg-type]
        frm = set_of[state]
        if etype == "game_ended":
            cmds += [["DEL", gk], ["ZREM", frm, gid], ["ZREM", open_set, gid],
                     ["SET", keys.tomb(gid), "ended", "PX", "3600000"]]
            del recs[gid]
            out.append(cmds)
            continue
        new_state = state
        if etype == "creator_joined" and state == "created" and player == rec["creator"]:
            players, new_state = [player], "creator_joined"
        elif etype == "player_joined" and state != "created" and player not in players \
                and len(players) < cap:
            players = [*players, player]
        elif etype == "game_started" and state != "in_progress":
            new_state = "in_progress"
        elif etype != "heartbeat":
            msg = f"the workload holds an event the model does not apply: {etype} {gid}"
            raise ValueError(msg)
        cmds.append(["HSET", gk, "state", new_state, "players", ",".join(players),
                     "updated_at", now, "last_seq", str(seq)])
        to = set_of[new_state]
        if to != frm:
            cmds += [["ZREM", frm, gid], ["ZADD", to, now, gid]]
        elif etype == "heartbeat":
            cmds.append(["ZADD", to, now, gid])
        if new_state == "creator_joined" and len(players) < cap:
            if etype != "player_joined":
                cmds.append(["ZADD", open_set, now, gid])
        elif state == "creator_joined":
            cmds.append(["ZREM", open_set, gid])
        rec.update(state=new_state, players=players, last_seq=seq)
        out.append(cmds)
    return out


def evalsha_commands(keys: Keys, sha: str, workload: Workload) -> list[list[list[str]]]:
    """For each event, the one EVALSHA the hand-written consumer sends for it."""
    now = str(workload.now_ms)
    return [[["EVALSHA", sha, "6", *keys.apply_keys(gid), gid, etype, server, player,
              str(seq), now]]
            for etype, gid, server, player, seq in workload.events]


# -- RESP files ------------------------------------------------------------------------------------

def resp(args: Sequence[str]) -> bytes:
    """One command in the Redis protocol."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def encode_events(per_event: list[list[list[str]]]) -> list[tuple[int, bytes]]:
    """(number of commands, RESP bytes) per event."""
    return [(len(cmds), b"".join(resp(c) for c in cmds)) for cmds in per_event]


def pipe_file(encoded: list[tuple[int, bytes]]) -> bytes:
    """The whole sequence, for redis-cli --pipe."""
    return b"".join(data for _n, data in encoded)


def batch_file(encoded: list[tuple[int, bytes]], batch: int) -> bytes:
    """Batches of `batch` events with resp_pipe's headers ("@<commands> <bytes>\\n")."""
    out = []
    for i in range(0, len(encoded), batch):
        chunk = encoded[i:i + batch]
        data = b"".join(d for _n, d in chunk)
        out.append(b"@%d %d\n" % (sum(n for n, _d in chunk), len(data)))
        out.append(data)
    return b"".join(out)
