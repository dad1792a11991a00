"""The hand-written comparison of matchmaking_bench.py: filtered open games and seat
reservations without game_data's indexes, over keys of its own prefix.

A lobby sorted set (score = age order) and one hash per game (`id`, `state`, `capacity`, `players`
comma-joined, `mode` as a plain field, `reserved` a count of held seats). Both scripts walk the
lobby oldest first and read each record until they have what they need, which is what a
tracker without a per-filter open index has to do. They are a lower bound on that design's
work: a reservation is a counter, with no player, expiry or refresh to check.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis
from redis.client import Pipeline

from benchlib.handwritten import write_pipelined

__all__ = ["FILTERED_OPEN_SCAN_LUA", "RESERVE_SCAN_LUA", "SeatKeys", "write_lobby"]

# The first ARGV[1] open games (creator_joined, players + reserved < capacity) whose mode is
# ARGV[3], oldest first, as HGETALL arrays.
FILTERED_OPEN_SCAN_LUA = r"""
-- KEYS[1] lobby; ARGV[1] limit, ARGV[2] game key prefix, ARGV[3] mode.
local limit, prefix, mode = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out, start, chunk = {}, 0, 256
while #out < limit do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + chunk - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', prefix .. id, 'state', 'capacity', 'players', 'mode', 'reserved')
    if r[1] == 'creator_joined' and r[4] == mode then
      local n = 0
      if r[3] ~= '' then n = select(2, string.gsub(r[3], ',', ',')) + 1 end
      if n + (tonumber(r[5]) or 0) < tonumber(r[2]) then
        out[#out + 1] = redis.call('HGETALL', prefix .. id)
        if #out == limit then break end
      end
    end
  end
  start = start + chunk
end
return out
"""

# Quick join: one seat in the oldest open game whose mode is ARGV[2] (HINCRBY reserved);
# returns its id, or false when there is none.
RESERVE_SCAN_LUA = r"""
-- KEYS[1] lobby; ARGV[1] game key prefix, ARGV[2] mode.
local prefix, mode = ARGV[1], ARGV[2]
local start, chunk = 0, 256
while true do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + chunk - 1)
  if #ids == 0 then return false end
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', prefix .. id, 'state', 'capacity', 'players', 'mode', 'reserved')
    if r[1] == 'creator_joined' and r[4] == mode then
      local n = 0
      if r[3] ~= '' then n = select(2, string.gsub(r[3], ',', ',')) + 1 end
      if n + (tonumber(r[5]) or 0) < tonumber(r[2]) then
        redis.call('HINCRBY', prefix .. id, 'reserved', 1)
        return id
      end
    end
  end
  start = start + chunk
end
"""


class SeatKeys:
    """The comparison's keys: `<prefix>lobby` and `<prefix>game:<id>` (one hash tag)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @property
    def lobby(self) -> str:
        return f"{self.prefix}lobby"

    @property
    def game_prefix(self) -> str:
        return f"{self.prefix}game:"

    def game(self, gid: str) -> str:
        return f"{self.game_prefix}{gid}"


def write_lobby(r: redis.Redis, keys: SeatKeys,
                games: Iterable[tuple[str, int, list[str], str]], chunk: int = 1000) -> None:
    """Lobby games (id, capacity, players, mode), in age order, pipelined."""

    def write(pipe: Pipeline, aged: tuple[int, tuple[str, int, list[str], str]]) -> None:
        age, (gid, capacity, players, mode) = aged
        pipe.hset(keys.game(gid), mapping={"id": gid, "state": "creator_joined", "capacity": capacity,
                                           "players": ",".join(players), "mode": mode,
                                           "reserved": 0})
        pipe.zadd(keys.lobby, {gid: age})

    write_pipelined(r, enumerate(games), write, chunk)
