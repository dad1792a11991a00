"""What the seat simulation, the matchmaking benchmark and their test runs (issue 9) found in
the core, each fixed and kept as a plain test.

The scan costs are counted in Redis commands on a private server (INFO commandstats), so they
do not depend on the machine's speed.
"""

from __future__ import annotations

import redis

import game_data
from game_data import Event


def command_calls(server, fn) -> dict[str, int]:
    """Redis commands (name -> calls) that fn() sent, on a server nobody else uses."""
    r = redis.Redis(host=server.host, port=server.port)
    r.config_resetstat()
    fn()
    stats = r.info("commandstats")
    r.close()
    return {name.removeprefix("cmdstat_"): s["calls"] for name, s in stats.items()
            if name not in ("cmdstat_info", "cmdstat_config|resetstat")}


def lobby(mm: game_data.Matchmaker, n: int, capacity: int = 2) -> list[str]:
    """n (at most 1000) lobby games of mode duel, created in one batch: they share one open
    score (created_at, the matchmaker's ms clock), as games do that one create_games makes."""
    ids = [f"g{i:04d}" for i in range(n)]
    mm.create_games([{"creator_id": f"c{i}", "capacity": capacity, "server_id": "gs-1",
                      "metadata": {"mode": "duel"}, "game_id": gid} for i, gid in enumerate(ids)])
    mm.apply_many([Event(type="creator_joined", game_id=gid, server_id="gs-1", player_id=f"c{i}")
                   for i, gid in enumerate(ids)])
    return ids


# Found: open_games_page asked the backend for limit - found + 1 entries per scan, so
# get_open_games(1) past 200 games whose seats were all reserved made 101 scan_index calls.
# Such games now leave the open indexes while their reservations are live.
def test_get_open_games_skips_reserved_games_in_few_round_trips(fresh_redis_server):
    mm = game_data.connect(fresh_redis_server.url, namespace="scan", filter_keys=("mode",))
    ids = lobby(mm, 201)
    for i, gid in enumerate(ids[:200]):
        mm.reserve_seat(gid, f"p{i}", ttl_ms=600_000)

    found: list[str] = []
    calls = command_calls(fresh_redis_server,
                          lambda: found.extend(g.id for g in mm.get_open_games(1, filters={"mode": "duel"})))

    assert found == [ids[200]]
    assert calls["evalsha"] <= 5


# Found: scan_index.lua resumed a cursor from its score and skipped the members of that score
# up to the cursor id, so among games of one score every page re-walked the earlier ones
# (paging 200 by 10: 201 ZRANGE, each O(offset)). It now resumes at the cursor's rank.
def test_paging_games_of_one_score_does_not_rewalk_earlier_pages(fresh_redis_server):
    mm = game_data.connect(fresh_redis_server.url, namespace="page")
    ids = lobby(mm, 200)
    assert len({mm.set_entry(gid)[1] for gid in ids}) < 10  # the batch shares its score(s)
    seen: list[str] = []

    def walk() -> None:
        cursor = None
        while True:
            page = mm.open_games_page(limit=10, cursor=cursor)
            seen.extend(g.id for g in page.games)
            if (cursor := page.next_cursor) is None:
                return

    calls = command_calls(fresh_redis_server, walk)

    assert seen == ids
    assert calls["zrange"] <= 2 * 20  # at most two range reads per page of the 20


def test_a_reaped_game_lists_only_live_reservations(backend_url, gd_namespace):
    mm = game_data.connect(backend_url, namespace=gd_namespace, max_age_ms={"lobby": 1})
    (gid,) = lobby(mm, 1, capacity=3)
    held = mm.reserve_seat(gid, "gone", ttl_ms=1)
    while mm.now() <= held.expires_at:  # the matchmaker's clock passes the expiry
        pass
    assert mm.get_game(gid).reservations == {}

    (reaped,) = mm.reap()

    assert reaped.id == gid
    assert (reaped.reservations, reaped.free_seats) == ({}, 2)


def test_a_late_creator_join_after_the_creator_rejoined_leaves_the_roster_as_published(backend_url,
                                                                                      gd_namespace):
    published = [("creator_joined", "c"), ("player_joined", "p"), ("game_started", None),
                 ("player_left", "c"), ("player_joined", "c"), ("player_left", "c"),
                 ("player_joined", "q")]
    events = [Event(type=t, game_id="g1", server_id="gs-1", player_id=who, seq=seq)
              for seq, (t, who) in enumerate(published, start=1)]

    def outcome(order: list[int]) -> tuple:
        mm = game_data.connect(backend_url, namespace=f"{gd_namespace}-{order[0]}")
        mm.create_game(creator_id="c", capacity=2, server_id="gs-1", game_id="g1")
        for i in order:
            mm.apply(events[i])
        g = mm.get_game("g1")
        return g.players, g.held, g.creator_seen

    # The creator's first join delivered after their leave and rejoin: any order must end as
    # the publish order does.
    assert outcome([0, 1, 2, 3, 4, 5, 6]) == (["p", "q"], [], True)
    assert outcome([1, 2, 3, 4, 0, 5, 6]) == (["p", "q"], [], True)
