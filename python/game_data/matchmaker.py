"""The matchmaker's handle and :func:`connect`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from . import _core, _plugins
from .streams import Consumer, EventPublisher

__all__ = ["DEFAULT_MAX_AGE_MS", "Matchmaker", "connect"]

#: The core's default maximum age (ms) of each set, as used when ``connect`` is not given one.
DEFAULT_MAX_AGE_MS: Mapping[str, int] = MappingProxyType(dict(_core.DEFAULT_MAX_AGE_MS))


class Matchmaker(_core.Matchmaker):
    """Tracks games through their lifecycle; thread safe. Made by :func:`connect`."""

    def publisher(
        self,
        server_id: str,
        stream: str | None = None,
        maxlen: int = 0,
        stamp_seq: bool = True,
    ) -> EventPublisher:
        """An EventPublisher on this matchmaker's backend (default stream: ``<ns>:events``)."""
        return EventPublisher(self, server_id, stream, maxlen, stamp_seq)

    def consumer(
        self,
        stream: str | None = None,
        group: str = "matchmaker",
        name: str | None = None,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        dead_letter_stream: str | None = None,
        trim_interval_ms: int = 0,
        remove_idle_consumers_ms: int = 3_600_000,
    ) -> Consumer:
        """A Consumer of ``stream`` (default ``<ns>:events``) in consumer group ``group``.

        The group is created at the start of the stream on first poll. Entries another
        consumer left unacknowledged for ``claim_idle_ms`` are taken over; entries delivered
        more than ``max_deliveries`` times, malformed ones, and rejected ones go to
        ``dead_letter_stream`` (default ``<stream>:dead``). With ``trim_interval_ms`` > 0 the
        entries every group has acknowledged are removed from the stream at most that often
        (default 0: never). Other consumers of the group with nothing pending that stayed idle
        ``remove_idle_consumers_ms`` (default one hour; 0: never) are removed from the group.
        ``name`` defaults to one unique to this consumer, ``<host>-<pid>-<6 random hex digits>``
        (its :attr:`~Consumer.name`), so replicas never share a pending list; give a name that
        stays the same across restarts to have a restarted process finish its own entries first.
        """
        return Consumer(
            self,
            stream=stream,
            group=group,
            name=name,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            dead_letter_stream=dead_letter_stream,
            trim_interval_ms=trim_interval_ms,
            remove_idle_consumers_ms=remove_idle_consumers_ms,
        )

    def reaped_feed(
        self, group: str = "deleter", name: str | None = None, claim_idle_ms: int = 30_000,
        trim_interval_ms: int = 1_000, remove_idle_consumers_ms: int = 3_600_000,
    ) -> _core.ReapedFeed:
        """A consumer group over the reaped stream: every game :meth:`reap` removed, delivered
        at least once (``feed.poll(count, block_ms)`` returns this reader's unacknowledged items
        first; ``feed.ack(items)`` acknowledges them). Items another reader left unacknowledged
        for ``claim_idle_ms`` are taken over. ``ack`` trims the entries every group has
        acknowledged at most every ``trim_interval_ms`` (0: never; ``feed.trim_acknowledged()``
        does it by hand). ``name`` defaults to one unique to this feed, as for :meth:`consumer`;
        other readers of the group with nothing pending that stayed idle
        ``remove_idle_consumers_ms`` (default one hour; 0: never) are removed from it."""
        return _core.ReapedFeed(self, group=group, name=name, claim_idle_ms=claim_idle_ms,
                                trim_interval_ms=trim_interval_ms,
                                remove_idle_consumers_ms=remove_idle_consumers_ms)

    def __repr__(self) -> str:
        return f"Matchmaker(namespace={self.namespace!r}, default_stream={self.default_stream!r})"


def connect(
    url: str = "memory://",
    namespace: str = "gd",
    max_age_ms: Mapping[str, int] | None = None,
    connect_timeout_ms: int | None = None,
    timeout_ms: int | None = None,
    pool_size: int | None = None,
    tombstone_ttl_ms: int | None = None,
    filter_keys: Sequence[str] | None = None,
    reaped_retention: int | None = None,
) -> Matchmaker:
    """Open the backend named by ``url`` and return a Matchmaker.

    ``memory://`` (a private in-process backend; ``memory://name`` shares one by name),
    ``redis://[user:password@]host[:port][/db]``, ``rediss://...``, ``unix:///path``.
    ``max_age_ms`` may set any of ``pending``, ``lobby`` and ``active``, the longest a game may
    stay in that set before :meth:`reap` removes it (defaults: :data:`DEFAULT_MAX_AGE_MS`,
    one minute, ten minutes and one hour). ``reaped_retention`` (default 100000; 0 keeps every
    entry) is how many entries the reaped stream keeps while no reaped feed reads it.

    Before the first connect the plug-ins are loaded: the Python entry points of group
    ``game_data.plugins``, then the C plug-ins of ``GAME_DATA_PLUGINS``; the change callbacks
    they added are added to the new Matchmaker.
    """
    _plugins.load_entry_points()
    mm = Matchmaker(
        url,
        namespace=namespace,
        max_age_ms=dict(max_age_ms) if isinstance(max_age_ms, Mapping) else max_age_ms,
        connect_timeout_ms=connect_timeout_ms,
        timeout_ms=timeout_ms,
        pool_size=pool_size,
        tombstone_ttl_ms=tombstone_ttl_ms,
        filter_keys=_as_key_list(filter_keys),
        reaped_retention=reaped_retention,
    )
    for callback in _plugins.change_callbacks():
        mm.on_change(callback)
    return mm


def _as_key_list(keys: Any) -> Any:
    """A list of the keys of any iterable; anything else (a lone str, bytes, None, a number)
    as given, so the core refuses it rather than reading "mode" as ["m", "o", "d", "e"]."""
    if keys is None or isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        return keys
    return list(keys)
