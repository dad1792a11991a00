"""Reservations that lapse with no later write (no-shows, issue 16): a read must do bounded
work however many have lapsed, and no script may hold Redis for long.

Cost is measured on Redis itself, on a private server: SLOWLOG records every command (a script
call is one) that ran longer than a threshold, so this bounds the work of each scan call, not
the client's wall time.
"""

from __future__ import annotations

import redis

import game_data
from game_data import Event
from game_data.testing import RedisServer

NO_SHOWS = 20_000
SLOW_US = 20_000  # what one call may hold Redis for: 20 ms (a bounded call took <= 1.6 ms; 200 before)


def lobby_with_no_shows(mm: game_data.Matchmaker, n: int) -> list[str]:
    """n lobby games of mode duel, each with its only free seat reserved for 1 ms by a player
    who never comes (so each sits in the reserved twins until a reader passes)."""
    ids = [f"g{i:05d}" for i in range(n)]
    for i, gid in enumerate(ids):
        mm.create_game(creator_id=f"c{i}", capacity=2, server_id="gs-1",
                       metadata={"mode": "duel"}, game_id=gid)
    mm.apply_many([Event(type="creator_joined", game_id=gid, server_id="gs-1", player_id=f"c{i}")
                   for i, gid in enumerate(ids)])
    held = [mm.reserve_seat(gid, f"p{i}", ttl_ms=1) for i, gid in enumerate(ids)]
    while mm.now() <= max(h.expires_at for h in held):
        pass
    return ids


def test_reads_past_many_lapsed_reservations_never_hold_redis_long():
    with RedisServer() as server:
        mm = game_data.connect(server.url, namespace="noshow", filter_keys=("mode",))
        ids = lobby_with_no_shows(mm, NO_SHOWS)
        r = redis.Redis(host=server.host, port=server.port)
        assert r.zcard("noshow:{0}:reserved") == NO_SHOWS
        r.config_set("slowlog-log-slower-than", SLOW_US)
        r.slowlog_reset()

        for _ in range(5):
            assert [g.id for g in mm.get_open_games(10)] == ids[:10]
            assert [g.id for g in mm.get_open_games(10, filters={"mode": "duel"})] == ids[:10]
        assert mm.quick_join("late", filters={"mode": "duel"}).game_id == ids[0]

        slow = [e for e in r.slowlog_get(128) if b"EVALSHA" in e["command"].upper()]
        assert slow == [], "a scan script held Redis for more than 20 ms"
        # Each lapse was moved back by the reads, once; only late's reservation is live.
        assert r.zcard("noshow:{0}:reserved") == 1
        assert r.zcard('noshow:{0}:reserved:mode="duel"') == 1
        assert r.zcard("noshow:{0}:open") == NO_SHOWS - 1
        r.close()
