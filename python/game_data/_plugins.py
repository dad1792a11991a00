"""Plug-ins (SPEC section 8): C ABI shared libraries (see the C++ header game_data/plugin.h)
and Python entry points in group ``game_data.plugins``.

Each entry point names a callable taking a :class:`PluginRegistry`; it is called once per
process, before the first :func:`game_data.connect`, this package's own first. What it
registers is kept only if it is imported and returns without raising (SystemExit and
KeyboardInterrupt count as raising: they become the PluginError naming it).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Callable, NamedTuple, Protocol

from . import _core
from .errors import InvalidArgumentError, PluginError
from .models import Change

if TYPE_CHECKING:
    from .matchmaker import Matchmaker

__all__ = [
    "ENTRY_POINT_GROUP",
    "Exporter",
    "ExporterStart",
    "PluginInfo",
    "PluginRegistry",
    "exporter",
    "load_plugin",
    "plugins",
    "refused_plugins",
]

#: The entry-point group of Python plug-ins.
ENTRY_POINT_GROUP = "game_data.plugins"

log = logging.getLogger("game_data.plugins")


class PluginInfo(NamedTuple):
    """One loaded plug-in."""

    name: str
    #: ``"c"`` (a shared library) or ``"python"`` (an entry point).
    kind: str
    #: The shared library's absolute path, or the entry point's ``module:attr``.
    source: str


class Exporter(Protocol):
    """What an exporter's ``start`` returns: something running until closed."""

    def close(self) -> None: ...


#: ``start(mm, host, port)``: serve ``mm``'s metrics (or anything) on ``host:port``.
ExporterStart = Callable[["Matchmaker", str, int], Exporter]
ChangeCallback = Callable[[Change], object]


class PluginRegistry:
    """What a Python plug-in's entry point is called with, once, before the first connect."""

    def __init__(self, plugin: str) -> None:
        self._plugin = plugin
        self._callbacks: list[ChangeCallback] = []
        self._exporters: dict[str, ExporterStart] = {}

    @property
    def plugin(self) -> str:
        """The entry point's name."""
        return self._plugin

    def add_change_callback(self, fn: ChangeCallback) -> None:
        """Add ``fn`` (as :meth:`Matchmaker.on_change` would) to every Matchmaker connected
        from now on."""
        if not callable(fn):
            raise InvalidArgumentError(f"plug-in {self._plugin}: add_change_callback needs a callable")
        self._callbacks.append(fn)

    def add_exporter(self, name: str, start: ExporterStart) -> None:
        """Register ``start(mm, host, port) -> object with close()`` as exporter ``name``
        (see :func:`game_data.exporter`). Names are unique."""
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"plug-in {self._plugin}: an exporter needs a non-empty name")
        if not callable(start):
            raise InvalidArgumentError(f"plug-in {self._plugin}: exporter {name!r} needs a callable start")
        with _lock:
            owner = _state.exporter_owner.get(name)
            owned_by_package = owner is not None and owner in _state.own
        if owner is not None or name in self._exporters:
            raise _NameTaken(
                f"plug-in {self._plugin}: an exporter named {name!r} is already registered "
                f"(by plug-in {owner or self._plugin})",
                owned_by_package=owned_by_package,
            )
        self._exporters[name] = start


class _NameTaken(InvalidArgumentError):
    """A name a plug-in asked for is registered already; ``owned_by_package`` when this
    package's own plug-in holds it (the plug-in is then refused, and connect goes on)."""

    def __init__(self, message: str, *, owned_by_package: bool) -> None:
        super().__init__(message)
        self.owned_by_package = owned_by_package


class _State:
    def __init__(self) -> None:
        self.called: set[str] = set()  # entry points called successfully ("name = value")
        self.loaded: list[PluginInfo] = []
        self.callbacks: list[ChangeCallback] = []
        self.exporters: dict[str, ExporterStart] = {}
        self.exporter_owner: dict[str, str] = {}
        self.own: set[str] = set()  # names of this package's own entry points, once called
        self.refused: list[tuple[PluginInfo, str]] = []  # plug-ins refused without failing connect
        self.all_loaded = False
        self.loading = False


_lock = threading.RLock()  # an entry point may connect: the same thread comes back in
_state = _State()


_OWN_PACKAGE = __name__.partition(".")[0]


def _is_own(ep: metadata.EntryPoint) -> bool:
    """Whether ``ep`` is this package's own (its target is in module ``game_data``)."""
    module = ep.value.partition(":")[0].strip()
    return module == _OWN_PACKAGE or module.startswith(f"{_OWN_PACKAGE}.")


def _entry_points() -> list[metadata.EntryPoint]:
    """This package's own entry points first, so the names they register (``prometheus``)
    are theirs and a third-party plug-in taking one is the plug-in that fails; then by name."""
    if sys.version_info >= (3, 10):
        found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    else:  # 3.9: a dict of groups
        found = list(metadata.entry_points().get(ENTRY_POINT_GROUP, []))
    return sorted(found, key=lambda ep: (not _is_own(ep), ep.name, ep.value))


# What an entry point may raise that still makes it the plug-in that failed: SystemExit (a
# module that calls sys.exit() at import) and KeyboardInterrupt too, so neither ends the
# process through connect() without a word; the PluginError names the plug-in and chains it.
_PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _call(ep: metadata.EntryPoint) -> None:
    where = f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP}"
    try:
        register = ep.load()
    except _PLUGIN_FAILURES as err:
        raise PluginError(f"plug-in {where} cannot be imported: {_describe(err)}") from err
    registry = PluginRegistry(ep.name)
    try:
        register(registry)
    except _NameTaken as err:
        if not err.owned_by_package:
            raise PluginError(f"plug-in {where} failed: {_describe(err)}") from err
        # A name this package's own plug-in holds: that plug-in stays, this one is refused
        # (logged, listed by refused_plugins()), and connect goes on.
        message = f"plug-in {where} refused: {err}; nothing of it is loaded"
        log.error("%s", message)
        with _lock:
            _state.refused.append((PluginInfo(ep.name, "python", ep.value), message))
        return
    except _PLUGIN_FAILURES as err:
        raise PluginError(f"plug-in {where} failed: {_describe(err)}") from err
    with _lock:
        clash = sorted(set(registry._exporters) & set(_state.exporters))
        if clash:
            raise PluginError(f"plug-in {where}: exporter {clash[0]!r} is already registered "
                              f"by plug-in {_state.exporter_owner[clash[0]]}")
        if _is_own(ep):
            _state.own.add(ep.name)
        _state.callbacks.extend(registry._callbacks)
        for name, start in registry._exporters.items():
            _state.exporters[name] = start
            _state.exporter_owner[name] = ep.name
        _state.loaded.append(PluginInfo(ep.name, "python", ep.value))
    log.debug("loaded plug-in %s (%d change callbacks, %d exporters)", where,
              len(registry._callbacks), len(registry._exporters))


def load_entry_points() -> None:
    """Call every entry point of group ``game_data.plugins`` not called yet (connect does this
    first). Raises :class:`PluginError` naming the first that fails; the next call tries it
    again, and never calls again those that succeeded."""
    if _state.all_loaded:
        return
    with _lock:
        if _state.all_loaded or _state.loading:
            return
        _state.loading = True
        try:
            for ep in _entry_points():
                key = f"{ep.name} = {ep.value}"
                if key not in _state.called:
                    _call(ep)
                    _state.called.add(key)
            _state.all_loaded = True
        finally:
            _state.loading = False


def load_all() -> None:
    """Load what the first connect loads: the Python entry points, then GAME_DATA_PLUGINS."""
    load_entry_points()
    _core.load_env_plugins()


def change_callbacks() -> list[ChangeCallback]:
    """The change callbacks Python plug-ins added, for each new Matchmaker."""
    with _lock:
        return list(_state.callbacks)


def load_plugin(path: str | os.PathLike[str]) -> PluginInfo:
    """Load the C ABI plug-in at ``path`` (a no-op when that file is loaded already)."""
    return PluginInfo(*_core.load_plugin(os.fspath(path)))


def refused_plugins() -> list[tuple[PluginInfo, str]]:
    """Plug-ins refused without failing connect (one that registered a name this package's
    own plug-in holds, such as the exporter ``prometheus``), each with why; they are logged
    as errors when refused."""
    with _lock:
        return list(_state.refused)


def plugins() -> list[PluginInfo]:
    """What is loaded: C plug-ins, then Python ones, each in load order."""
    c_plugins = [PluginInfo(*info) for info in _core.loaded_plugins()]
    with _lock:
        return c_plugins + list(_state.loaded)


def exporter(name: str) -> ExporterStart:
    """The ``start`` callable a plug-in registered as exporter ``name``; loads the Python
    plug-ins first. Raises :class:`PluginError` when no plug-in registered it."""
    load_entry_points()
    with _lock:
        start = _state.exporters.get(name)
        known = sorted(_state.exporters)
    if start is None:
        raise PluginError(
            f"no exporter named {name!r} (registered: {', '.join(known) or 'none'}); exporters "
            f"come from plug-ins in entry-point group {ENTRY_POINT_GROUP}"
        )
    return start


def register_builtin(registry: PluginRegistry) -> None:
    """This package's own plug-in (entry point ``prometheus`` in group ``game_data.plugins``):
    the Prometheus exporter of :mod:`game_data.prometheus`. That module, and the
    ``prometheus_client`` it needs, are imported when an exporter starts, not when plug-ins
    load, so a connect never depends on them."""

    def start_prometheus(mm: Matchmaker, host: str, port: int) -> Exporter:
        from game_data import prometheus

        return prometheus.start(mm, host, port)

    registry.add_exporter("prometheus", start_prometheus)
