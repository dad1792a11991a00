"""A matchmaker in Python: creates games on a game server, serves the open ones, consumes the
servers' events and reaps the games whose servers went silent.

    python3 matchmaker.py --url redis://127.0.0.1:6379/0 create --games 4 --server-id gs-1
        prints the new games' ids on one line (what a matchmaker would send to the game
        server's API; here they go on the game server's command line)
    python3 matchmaker.py --url redis://127.0.0.1:6379/0 serve --pending-max-age-ms 10000
        consumes events, logs the open games when they change, reaps, reads the reaped feed
        and "deletes" each reaped game on its server; with --until-settled it stops once no
        game is pending and the stream is drained, and prints a JSON summary

Run it beside examples/cpp_game_server on one redis-server (see README "Examples").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import game_data

log = logging.getLogger("python_matchmaker")


def create(mm: game_data.Matchmaker, games: int, server_id: str) -> list[str]:
    ids = []
    for i in range(games):
        game = mm.create_game(creator_id=f"player-{i}", capacity=2, server_id=server_id,
                              metadata={"mode": "duel"})
        ids.append(game.id)
    return ids


def serve(mm: game_data.Matchmaker, *, until_settled: bool, timeout_s: float) -> dict[str, object]:
    consumer = mm.consumer(name="example-mm")
    feed = mm.reaped_feed(group="deleter", name="example-mm")
    ended: list[str] = []
    reaped: list[str] = []
    open_ids: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        results = consumer.poll(count=100, block_ms=200)              # apply the servers' events
        ended += [r.game_id for r in results if r.state is game_data.GameState.ENDED
                  and r.status is game_data.ApplyStatus.APPLIED]
        now_open = [g.id for g in mm.get_open_games(limit=50)]      # what players are offered
        if now_open != open_ids:
            open_ids = now_open
            log.info("open games: %s", open_ids)
        mm.reap()                                                   # games too long in their set
        items = feed.poll(count=100, block_ms=0)                    # every reaped game, at least once
        for item in items:
            log.info("delete %s on %s (reaped from %s)", item.game.id, item.game.server_id, item.set)
            reaped.append(item.game.id)
        feed.ack(items)
        if until_settled and not results and not items and mm.counts()["pending"] == 0:
            break
    else:
        raise TimeoutError(f"not settled within {timeout_s}s")
    return {"counts": mm.counts(), "open": open_ids, "ended": ended, "reaped": reaped,
            "dead_lettered": consumer.stats["dead_lettered"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--namespace", default="gd")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="create games on a game server; prints their ids")
    c.add_argument("--games", type=int, default=4)
    c.add_argument("--server-id", default="gs-1")
    s = sub.add_parser("serve", help="consume, serve open games, reap")
    s.add_argument("--pending-max-age-ms", type=int, default=60_000,
                   help="how long a creator may take to connect before the game is reaped")
    s.add_argument("--until-settled", action="store_true",
                   help="stop once nothing is pending and the stream is drained; print a summary")
    s.add_argument("--timeout-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")

    if args.command == "create":
        mm = game_data.connect(args.url, namespace=args.namespace)
        print(" ".join(create(mm, args.games, args.server_id)), flush=True)
        return 0
    mm = game_data.connect(args.url, namespace=args.namespace,
                           max_age_ms={"pending": args.pending_max_age_ms})
    summary = serve(mm, until_settled=args.until_settled, timeout_s=args.timeout_s)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
