"""The `game-data` command line.

    game-data simulate [--games N] [--seed S] ...   simulate servers and players, check invariants
    game-data consume --url redis://... ...         run a matchmaker consumer until SIGINT/SIGTERM
    game-data reap --url redis://... --interval-ms N  reap stale games every N ms until SIGINT/SIGTERM
    game-data plugins [--json]                      list the plug-ins a connect loads
    game-data games | game ID | dead-letters [--replay] | stats   inspect a live namespace
    (consume and reap serve Prometheus metrics with --metrics-port N)
    game-data --version

Exit status: 0 on success, 1 when a simulation invariant fails or the backend fails (consume
and reap wait up to --wait-timeout for a backend that is not up at start), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

if TYPE_CHECKING:
    from game_data import Matchmaker

__all__ = ["build_parser", "default_consumer_name", "main"]

log = logging.getLogger("game_data.cli")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _version() -> str:
    try:
        import game_data

        version = getattr(game_data, "__version__", None)
        if version:
            return str(version)
    except ImportError:
        pass
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("game-data")
    except PackageNotFoundError:
        return "unknown"


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="game-data",
        description="Track matchmaker games through their lifecycle, driven by game-server events.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sim = sub.add_parser(
        "simulate",
        help="simulate game servers and players against a matchmaker and check the invariants",
        description="Simulate a fleet of game servers and players against one matchmaker: "
        "create games, publish every lifecycle event, consume them, serve open games, reap "
        "abandoned games with a simulated clock, then check the invariants and print a summary.",
    )
    sim.add_argument("--games", type=_positive, default=1000, help="games to simulate (default 1000)")
    sim.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same counts")
    sim.add_argument("--servers", type=_positive, default=20, help="game servers in the fleet (default 20)")
    sim.add_argument("--batch", type=_positive, default=500,
                     help="games per wave: created together, played out, then reaped (default 500)")
    target = sim.add_mutually_exclusive_group()
    target.add_argument("--url", default="memory://", help="backend URL (default memory://)")
    target.add_argument("--redis-server", action="store_true",
                        help="start a private redis-server for the run and use it")
    sim.add_argument("--namespace", default=None,
                     help="key namespace, which must be unused: the invariants count every "
                     "entry and game in it (default: a fresh sim-<random>)")
    sim.add_argument("--abandon-rate", type=_rate, default=0.09,
                     help="share of games abandoned: creator never connects, or the server dies "
                     "in the lobby or mid-game (default 0.09)")
    sim.add_argument("--bad-rate", type=_rate, default=0.02,
                     help="per game, chance of a garbage entry, of a wrong-server event and of a "
                     "join without a reservation (default 0.02)")
    sim.add_argument("--duplicate-rate", type=_rate, default=0.05,
                     help="per event, chance it is delivered twice (default 0.05)")
    progress = sim.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="show a progress bar on stderr (default: when stderr is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    sim.add_argument("--keep", action="store_true",
                     help="leave the run's keys (<namespace>:*) in the backend; by default they "
                     "are deleted at the end")
    sim.add_argument("--json", action="store_true", help="print the summary as JSON")
    sim.add_argument("--plot", metavar="FILE.png", default=None,
                     help="draw the set sizes and events per second over the run into a PNG "
                          "(needs matplotlib; the sampled series are in the --json summary)")
    sim.add_argument("--log-level", choices=LOG_LEVELS, default=None, type=str.upper,
                     help="default WARNING; also sets the C++ core's level")
    sim.set_defaults(handler=_cmd_simulate, default_log_level="WARNING")

    con = sub.add_parser(
        "consume",
        help="run a matchmaker consumer on the event stream until SIGINT/SIGTERM",
        description="Read game-server events from the stream through a consumer group, apply "
        "them, dead-letter bad ones, and acknowledge. Stops cleanly on SIGINT/SIGTERM after "
        "finishing the current batch.",
    )
    con.add_argument("--url", default=os.environ.get("GAME_DATA_URL", "redis://127.0.0.1:6379/0"),
                     help="backend URL (default $GAME_DATA_URL or redis://127.0.0.1:6379/0)")
    con.add_argument("--namespace", default="gd", help="key namespace (default gd)")
    con.add_argument("--stream", default=None, help="event stream (default <namespace>:events)")
    con.add_argument("--group", default="matchmaker", help="consumer group (default matchmaker)")
    con.add_argument("--name", default=None,
                     help="consumer name (default <host>-consume: stable across restarts, so a "
                          "restarted daemon finishes its own unacknowledged entries first)")
    con.add_argument("--claim-idle-ms", type=_positive, default=30_000,
                     help="claim entries other consumers left unacknowledged this long (default 30000)")
    con.add_argument("--max-deliveries", type=_positive, default=5,
                     help="dead-letter an entry delivered more often than this (default 5)")
    con.add_argument("--dead-letter-stream", default=None,
                     help="default <stream>:dead; no key the library keeps in the namespace (under "
                          "<namespace>: only a name ending in :dead)")
    con.add_argument("--trim-interval-ms", type=int, default=0,
                     help="remove the entries every consumer group has acknowledged from the "
                          "stream at most this often (default 0: never)")
    con.add_argument("--remove-idle-consumers-ms", type=int, default=3_600_000,
                     help="remove other consumers of the group that have nothing pending and "
                          "were idle this long (default 3600000; 0: never)")
    con.add_argument("--count", type=_positive, default=100, help="entries per batch (default 100)")
    con.add_argument("--block-ms", type=_positive, default=100,
                     help="how long one read waits for new entries, at least 1 so an idle "
                          "daemon does not spin (default 100)")
    con.add_argument("--log-level", choices=LOG_LEVELS, default=None, type=str.upper,
                     help="default INFO; also sets the C++ core's level")
    _add_wait_option(con)
    _add_metrics_options(con)
    con.set_defaults(handler=_cmd_consume, default_log_level="INFO")
    _add_reap_parser(sub)
    _add_plugins_parser(sub)
    from game_data.inspection import add_inspection_parsers

    add_inspection_parsers(sub)
    return parser


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0..65535")
    return value


#: How long `consume` and `reap` wait at start for a backend that is not up yet (seconds).
DEFAULT_WAIT_TIMEOUT_S = 60.0
# Backoff between connect attempts at start: the run loop's (RunLoopOptions, run_loop.hpp).
_WAIT_MIN_BACKOFF_S = 0.05
_WAIT_MAX_BACKOFF_S = 2.0


def _seconds(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 7 * 24 * 3600:  # (also refuses nan)
        raise argparse.ArgumentTypeError("must be between 0 and 604800 seconds")
    return value


def _add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait-timeout", type=_seconds, default=DEFAULT_WAIT_TIMEOUT_S, metavar="SECONDS",
                        help="at start, retry a backend that is unavailable (not up yet, loading) "
                             "with backoff for up to this long, then exit 1 (default "
                             f"{DEFAULT_WAIT_TIMEOUT_S:g}; 0: do not wait)")


def _connect_waiting(args: argparse.Namespace, stop: threading.Event,
                     connect: Callable[[], Matchmaker]) -> Optional[Matchmaker]:
    """``connect()``, tried again with backoff (50 ms doubling up to 2 s, as the run loop
    does) while the backend is unavailable, for up to ``--wait-timeout`` seconds. Returns
    None if ``stop`` is set meanwhile (SIGINT/SIGTERM); raises BackendConnectionError naming
    the timeout and the last failure when it runs out. Other errors are not retried."""
    import time

    import game_data

    deadline = time.monotonic() + args.wait_timeout
    delay = _WAIT_MIN_BACKOFF_S
    attempts = 0
    while True:
        attempts += 1
        try:
            return connect()
        except game_data.BackendConnectionError as err:
            left = deadline - time.monotonic()
            if left <= 0:
                raise game_data.BackendConnectionError(
                    f"the backend is still unavailable after {args.wait_timeout:g} s "
                    f"(--wait-timeout) and {attempts} attempts: {err}") from err
            wait = min(delay, left)
            log.warning("backend unavailable at start (%s); waiting for it, next try in %d ms "
                        "(gives up after --wait-timeout %g s)", err, wait * 1000, args.wait_timeout)
            if stop.wait(wait):
                return None
            delay = min(delay * 2, _WAIT_MAX_BACKOFF_S)


def _add_metrics_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics-port", type=_port, default=None, metavar="PORT",
                        help="serve Prometheus metrics at http://HOST:PORT/metrics while running "
                             "(0: any free port, logged)")
    parser.add_argument("--metrics-host", default="127.0.0.1",
                        help="address the metrics are served on (default 127.0.0.1)")


@contextlib.contextmanager
def _serving_metrics(mm: Matchmaker, args: argparse.Namespace) -> Iterator[None]:
    """Serves ``mm``'s metrics while the daemon runs when --metrics-port is given, and stops
    serving on the way out. The one place the CLI starts the exporter plug-in."""
    if args.metrics_port is None:
        yield
        return
    import game_data

    start = game_data.exporter("prometheus")  # a plug-in: this package's own entry point
    exporter = start(mm, args.metrics_host, args.metrics_port)
    try:
        yield
    finally:
        exporter.close()


# Python logging level -> the C++ core's (spdlog) level name.
CORE_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "err"}


def _configure_logging(args: argparse.Namespace) -> None:
    level = args.log_level or args.default_log_level
    logging.basicConfig(
        level=getattr(logging, level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The core logs at the same level, so the consume daemon's summaries (logged by the C++
    # loop) show at its default INFO; $GAME_DATA_LOG_LEVEL still wins over a default.
    if args.log_level or "GAME_DATA_LOG_LEVEL" not in os.environ:
        import game_data

        game_data.set_log_level(CORE_LEVELS[level])


@contextlib.contextmanager
def _simulation_url(args: argparse.Namespace) -> Iterator[str]:
    if not args.redis_server:
        yield args.url
        return
    from game_data.testing import RedisServer

    with RedisServer() as server:
        yield server.url


def _cmd_simulate(args: argparse.Namespace) -> int:
    show_progress = args.progress if args.progress is not None else sys.stderr.isatty()

    def _terminate(signum: int, _frame: object) -> None:
        # Unwind normally so a private redis-server and its folder are removed.
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _simulate(args, show_progress)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _simulate(args: argparse.Namespace, show_progress: bool) -> int:
    from game_data.simulate import (TIMELINE_SAMPLE_MS, SimulationOptions, format_json, format_summary,
                                    run_simulation)
    from game_data.simulate_plot import matplotlib_missing, plot_timeline

    if args.plot is not None and (missing := matplotlib_missing()) is not None:
        print(f"game-data simulate: error: {missing}", file=sys.stderr)
        return 2
    with _simulation_url(args) as url:
        opts = SimulationOptions(
            games=args.games,
            seed=args.seed,
            servers=args.servers,
            batch=args.batch,
            url=url,
            namespace=args.namespace,
            abandon_rate=args.abandon_rate,
            bad_rate=args.bad_rate,
            duplicate_rate=args.duplicate_rate,
            sample_ms=TIMELINE_SAMPLE_MS if args.plot is not None else 0,
            keep_keys=args.keep,
        )
        result = run_simulation(opts, progress_stream=sys.stderr if show_progress else None)
    if args.plot is not None and result.timeline is not None:
        plot_timeline(result.timeline, args.plot,
                      f"game-data simulate: {args.games} games, seed {args.seed}, {opts.url}")
    print(format_json(result) if args.json else format_summary(result))
    if not result.ok:
        for failure in result.failures:
            print(f"game-data simulate: invariant failed: {failure}", file=sys.stderr)
        return 1
    return 0


def default_consumer_name() -> str:
    """``<host>-consume``: the same after a restart, so the daemon drains its own pending
    entries first and does not leave one consumer per process id behind in the group.
    Characters a consumer name may not hold become ``-``."""
    host = socket.gethostname().split(".")[0]
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", host)[:100] or "host"
    return f"{host}-consume"


def _cmd_consume(args: argparse.Namespace) -> int:
    import game_data

    name = args.name or default_consumer_name()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        mm = _connect_waiting(args, stop, lambda: game_data.connect(args.url, namespace=args.namespace))
        if mm is None:
            log.info("consumer %s stopped before the backend was available", name)
            return 0
        consumer = mm.consumer(
            stream=args.stream,
            group=args.group,
            name=name,
            claim_idle_ms=args.claim_idle_ms,
            max_deliveries=args.max_deliveries,
            dead_letter_stream=args.dead_letter_stream,
            trim_interval_ms=args.trim_interval_ms,
            remove_idle_consumers_ms=args.remove_idle_consumers_ms,
        )
        log.info("consumer %s reading %s as group %s", name, consumer.stream, consumer.group)
        # The core's one loop (Consumer::run): finishes and acknowledges the batch in hand
        # once stop is set (run() installs its own SIGINT/SIGTERM handlers that set the same
        # flag), rides out an unavailable backend (lost, loading, out of memory) with backoff,
        # and logs a summary every few seconds.
        with _serving_metrics(mm, args):
            consumer.run(stop=stop, count=args.count, block_ms=args.block_ms)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    s = consumer.stats
    log.info("consumer %s stopped: applied=%d duplicate=%d rejected=%d dead_lettered=%d lost=%d",
             name, s["applied"], s["duplicate"], s["rejected"], s["dead_lettered"], s["lost"])
    return 0


# ---- game-data reap --------------------------------------------------------------------------

SETS = ("pending", "lobby", "active")


def _max_ages(text: str) -> dict[str, int]:
    """``pending=60000,lobby=600000,active=3600000``, any of the three, each at least 1."""
    ages: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in SETS or name in ages:
            raise argparse.ArgumentTypeError(f"expected SET=MS,... with SET one of {', '.join(SETS)}, each once")
        try:
            ages[name] = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a whole number of ms") from None
        if ages[name] < 1:
            raise argparse.ArgumentTypeError(f"{name}: must be at least 1 ms")
    return ages


def _key_list(text: str) -> list[str]:
    return [key.strip() for key in text.split(",") if key.strip()]


def _add_reap_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rp = sub.add_parser(
        "reap",
        help="run the janitor: reap stale games every --interval-ms until SIGINT/SIGTERM",
        description="Call reap() every --interval-ms: remove every game that stayed in its set "
        "longer than the set's maximum age, appending each to the reaped stream (read it with "
        "mm.reaped_feed()). Any number of reapers may run at once: each game is reaped once. "
        "Stops cleanly on SIGINT/SIGTERM after finishing the current reap.",
    )
    rp.add_argument("--url", default=os.environ.get("GAME_DATA_URL", "redis://127.0.0.1:6379/0"),
                    help="backend URL (default $GAME_DATA_URL or redis://127.0.0.1:6379/0)")
    rp.add_argument("--namespace", default="gd", help="key namespace (default gd)")
    rp.add_argument("--interval-ms", type=_positive, default=1_000,
                    help="time from the start of one reap to the start of the next (default 1000)")
    rp.add_argument("--max-age-ms", type=_max_ages, default=None, metavar="SET=MS,...",
                    help="maximum ages, e.g. pending=60000,lobby=600000,active=3600000 "
                         "(default: the library's, see README 'Reaping')")
    rp.add_argument("--filter-keys", type=_key_list, default=None, metavar="KEY,...",
                    help="optional: the namespace's filter keys (it adopts them when omitted; "
                         "other keys than the namespace's are refused)")
    rp.add_argument("--summary-interval-ms", type=_positive, default=5_000,
                    help="how often the one-line summary is logged (default 5000)")
    rp.add_argument("--log-level", choices=LOG_LEVELS, default=None, type=str.upper,
                    help="default INFO; also sets the C++ core's level")
    _add_wait_option(rp)
    _add_metrics_options(rp)
    rp.set_defaults(handler=_cmd_reap, default_log_level="INFO")


class _ReapTally:
    """Games reaped per set, passes and failed passes since the daemon started."""

    def __init__(self) -> None:
        self.reaped = dict.fromkeys(SETS, 0)
        self.passes = 0
        self.failed = 0

    def add(self, games: list[Any]) -> None:
        import game_data

        self.passes += 1
        for game in games:
            self.reaped[str(game_data.set_of(game.state))] += 1

    def line(self) -> str:
        per_set = " ".join(f"{name}={n}" for name, n in self.reaped.items())
        return f"reaped {per_set} total={sum(self.reaped.values())} passes={self.passes} failed={self.failed}"


def _cmd_reap(args: argparse.Namespace) -> int:
    import time

    import game_data

    interval_s = args.interval_ms / 1000
    summary_s = args.summary_interval_ms / 1000
    tally = _ReapTally()
    stop = threading.Event()
    # A signal only sets the flag: a reap in progress (the library call, which holds no Python
    # lock) is finished before the loop looks at it.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    serving = contextlib.ExitStack()
    try:
        mm = _connect_waiting(args, stop, lambda: game_data.connect(
            args.url, namespace=args.namespace, max_age_ms=args.max_age_ms, filter_keys=args.filter_keys))
        if mm is None:
            log.info("reaper on namespace %s stopped before the backend was available", args.namespace)
            return 0
        serving.enter_context(_serving_metrics(mm, args))
        log.info("reaper on namespace %s started: every %d ms, max ages %s", mm.namespace,
                 args.interval_ms, mm.max_age_ms)
        next_summary = time.monotonic() + summary_s
        while not stop.is_set():
            started = time.monotonic()
            try:
                tally.add(mm.reap())
            except game_data.BackendConnectionError as err:  # keep going: the next pass retries
                tally.failed += 1
                log.warning("reaper on namespace %s: backend unavailable (%s); next try in %d ms",
                            mm.namespace, err, args.interval_ms)
            if time.monotonic() >= next_summary:
                next_summary = time.monotonic() + summary_s
                log.info("reaper on namespace %s: %s", mm.namespace, tally.line())
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    finally:
        serving.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("reaper on namespace %s stopped: %s", mm.namespace, tally.line())
    return 0


def _add_plugins_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pp = sub.add_parser(
        "plugins",
        help="list the plug-ins a connect loads, and where each came from",
        description="Load the plug-ins as the first connect does (Python entry points of group "
        "game_data.plugins, then the C plug-ins of GAME_DATA_PLUGINS) and list them: name, kind "
        "(c or python) and source (the library's path, or the entry point).",
    )
    pp.add_argument("--json", action="store_true", help="print a JSON list of objects")
    pp.add_argument("--log-level", choices=LOG_LEVELS, default=None, type=str.upper,
                    help="default WARNING; also sets the C++ core's level")
    pp.set_defaults(handler=_cmd_plugins, default_log_level="WARNING")


def _cmd_plugins(args: argparse.Namespace) -> int:
    import json

    import game_data
    from game_data import _plugins

    _plugins.load_all()
    loaded = game_data.plugins()
    if args.json:
        print(json.dumps([p._asdict() for p in loaded], indent=2))
        return 0
    if not loaded:
        print("no plug-ins loaded (GAME_DATA_PLUGINS is unset and no entry point is in group "
              f"{_plugins.ENTRY_POINT_GROUP})")
        return 0
    rows = [("NAME", "KIND", "SOURCE")] + [tuple(p) for p in loaded]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for name, kind, source in rows:
        print(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {source}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    from game_data import GameDataError
    from game_data.testing.redis_server import RedisServerError

    try:
        return int(args.handler(args))
    except (GameDataError, RedisServerError, ValueError, KeyError, ConnectionError, TimeoutError,
            OSError) as exc:
        print(f"game-data {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
