"""Plug-ins (SPEC section 8): the example C++ plug-in examples/plugins/memalias (built here by
CMake as tests/cpp builds it) loaded by game_data.load_plugin and by GAME_DATA_PLUGINS; an
ABI mismatch refused; Python plug-ins found through entry points of group game_data.plugins,
among them the example package examples/plugins/audit_log installed into this environment.

Plug-ins stay loaded for the life of a process, and entry points are read once per process, so
whatever needs a fresh process (the environment variable, installed entry points) runs in one.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import game_data

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Runs cmd; a failure shows its output."""
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("GAME_DATA_PLUGINS", None)
    env.update(kwargs.pop("env", {}))
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=600, **kwargs)
    return done


def _check(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{done.args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example memalias plug-in and the ABI-mismatch test plug-in, built from this source
    tree by its CMake project (the targets tests/cpp builds)."""
    build = tmp_path_factory.mktemp("plugins-build")
    _check(_run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                 "-DGAME_DATA_BUILD_TESTS=ON", "-DGAME_DATA_BUILD_BENCH=OFF", "-DGAME_DATA_INSTALL=OFF"]))
    _check(_run(["cmake", "--build", build, "--target", "memalias_plugin", "gd_test_plugin_wrong_abi"]))
    return build / "tests" / "cpp" / "test-plugins"


@pytest.fixture(scope="session")
def memalias(plugin_dir: Path) -> Path:
    return plugin_dir / "libmemalias_plugin.so"


@pytest.fixture(scope="session")
def audit_log_installed() -> None:
    """The example Python plug-in, installed into this environment (no network: no index, no
    dependencies, this environment's build backend)."""
    _check(_run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 "--no-deps", "--no-build-isolation", "--no-index",
                 ROOT / "examples" / "plugins" / "audit_log"]))


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh Python process of this environment (GAME_DATA_PLUGINS unset unless
    given)."""
    return _run([sys.executable, "-c", textwrap.dedent(code)], env=env)


def change_count(library: Path, kind: str | None = None) -> int:
    """memalias_change_count(kind) of the memalias plug-in loaded in this process."""
    fn = ctypes.CDLL(str(library)).memalias_change_count
    fn.restype, fn.argtypes = ctypes.c_int64, [ctypes.c_char_p]
    return fn(kind.encode() if kind else None)


# ---- C plug-ins ----------------------------------------------------------------------------


def test_load_plugin_registers_a_scheme_that_connect_opens(memalias):
    info = game_data.load_plugin(memalias)
    assert info == game_data.PluginInfo("memalias_plugin", "c", str(memalias.resolve()))
    assert info in game_data.plugins()
    name = f"alias-{uuid.uuid4().hex}"
    game = game_data.connect(f"memalias://{name}").create_game(creator_id="alice", capacity=2, server_id="gs-1")
    # memalias://NAME is this process's memory://NAME: the same games.
    assert game_data.connect(f"memory://{name}").get_game(game.id).creator_id == "alice"
    assert game_data.backend_available("memalias")


def test_a_c_plugin_sees_the_changes_of_matchmakers_connected_after_it_loaded(memalias):
    game_data.load_plugin(memalias)
    mm = game_data.connect("memory://")
    created, total = change_count(memalias, "created"), change_count(memalias)
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.apply(game_data.Event(type="creator_joined", game_id=game.id, server_id="gs-1", player_id="alice"))
    assert change_count(memalias, "created") - created == 1
    assert change_count(memalias) - total == 2


def test_loading_a_plugin_again_is_a_no_op(memalias):
    first = game_data.load_plugin(str(memalias))
    again = game_data.load_plugin(os.path.relpath(memalias))  # the same file by another path
    assert again == first
    assert [p for p in game_data.plugins() if p.kind == "c"].count(first) == 1


def test_a_plugin_of_another_abi_version_is_refused(plugin_dir):
    path = str(plugin_dir / "libgd_test_plugin_wrong_abi.so")
    with pytest.raises(game_data.PluginError) as err:
        game_data.load_plugin(path)
    assert isinstance(err.value, ImportError) and isinstance(err.value, game_data.GameDataError)
    assert err.value.path == path
    assert path in str(err.value)
    assert f"plug-in ABI version {game_data._core.PLUGIN_ABI_VERSION + 1}" in str(err.value)
    assert all(p.source != path for p in game_data.plugins())


def test_a_missing_plugin_file_is_a_plugin_error_naming_it(tmp_path):
    path = str(tmp_path / "libnothing.so")
    with pytest.raises(game_data.PluginError, match="no such file") as err:
        game_data.load_plugin(path)
    assert err.value.path == path
    with pytest.raises(ImportError):
        game_data.load_plugin(path)


def test_game_data_plugins_loads_the_environment_variable_at_the_first_connect(memalias):
    done = _check(python(
        """
        import json, game_data
        before = game_data.plugins()
        mm = game_data.connect("memalias://env-test")
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        print(json.dumps({"before": before, "after": game_data.plugins(),
                          "same": game_data.connect("memory://env-test").get_game(game.id) is not None}))
        """,
        GAME_DATA_PLUGINS=f":{memalias}:",  # empty items are skipped
    ))
    out = json.loads(done.stdout)
    assert [p for p in out["before"] if p[1] == "c"] == []
    assert ["memalias_plugin", "c", str(memalias.resolve())] in out["after"]
    assert out["same"] is True


def test_a_bad_plugin_in_the_environment_variable_fails_connect_with_a_plugin_error(plugin_dir):
    bad = plugin_dir / "libgd_test_plugin_wrong_abi.so"
    done = python(
        """
        import game_data
        try:
            game_data.connect("memory://")
        except game_data.PluginError as err:
            print(err.path)
        """,
        GAME_DATA_PLUGINS=str(bad),
    )
    assert _check(done).stdout.strip() == str(bad)


def test_game_data_plugins_command_lists_c_and_python_plugins(memalias, audit_log_installed):
    env = {"GAME_DATA_PLUGINS": str(memalias)}
    listed = json.loads(_check(_run([VENV_BIN / "game-data", "plugins", "--json"], env=env)).stdout)
    assert {"name": "memalias_plugin", "kind": "c", "source": str(memalias.resolve())} in listed
    assert {"name": "audit_log", "kind": "python", "source": "game_data_audit_log:register"} in listed
    table = _check(_run([VENV_BIN / "game-data", "plugins"], env=env)).stdout.splitlines()
    assert table[0].split() == ["NAME", "KIND", "SOURCE"]
    assert ["memalias_plugin", "c", str(memalias.resolve())] in [line.split() for line in table]


# ---- Python plug-ins -----------------------------------------------------------------------


def test_the_example_python_plugin_audits_every_change_through_its_entry_point(audit_log_installed, tmp_path):
    audit = tmp_path / "audit.jsonl"
    done = _check(python(
        """
        import json, game_data
        mm = game_data.connect("memory://")
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="audited")
        mm.apply(game_data.Event(type="creator_joined", game_id="audited", server_id="gs-1",
                                 player_id="alice"))
        print(json.dumps(game_data.plugins()))
        """,
        GAME_DATA_AUDIT_LOG=str(audit),
    ))
    assert ["audit_log", "python", "game_data_audit_log:register"] in json.loads(done.stdout)
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(line["kind"], line["game_id"], line["state"]) for line in lines] == [
        ("created", "audited", "created"),
        ("applied", "audited", "creator_joined"),
    ]
    assert lines[1]["event"]["player_id"] == "alice"


def fake_distribution(root: Path, module: str, source: str, entry_points: dict[str, str]) -> Path:
    """A distribution installed (unpacked) under root: module.py and its dist-info, with entry
    points in group game_data.plugins; put root on PYTHONPATH to install it for a process."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[game_data.plugins]\n{lines}")
    return root


def connect_errors(pythonpath: Path, attempts: int = 1) -> list[str]:
    """The PluginError of each of `attempts` connects in a fresh process with `pythonpath`."""
    done = python(
        f"""
        import game_data
        for attempt in range({attempts}):
            try:
                game_data.connect("memory://")
            except game_data.PluginError as err:
                print(err)
        """,
        PYTHONPATH=str(pythonpath),
    )
    return _check(done).stdout.splitlines()


def test_an_entry_point_that_raises_is_a_plugin_error_naming_it(tmp_path):
    fake_distribution(tmp_path, "broken_plugin", """
        def register(registry):
            raise RuntimeError("no config file")
        """, {"broken": "broken_plugin:register"})
    lines = connect_errors(tmp_path, attempts=2)  # tried again at the next connect: the same error
    assert len(lines) == 2 and lines[0] == lines[1]
    assert "entry point 'broken' (broken_plugin:register) in group game_data.plugins failed" in lines[0]
    assert "RuntimeError: no config file" in lines[0]


def test_an_entry_point_that_cannot_be_imported_is_a_plugin_error_naming_it(tmp_path):
    fake_distribution(tmp_path, "gone_plugin", "", {"gone": "gone_plugin.missing:register"})
    (error,) = connect_errors(tmp_path)
    assert "entry point 'gone' (gone_plugin.missing:register) in group game_data.plugins cannot be imported" in error


@pytest.mark.parametrize("raised", ["SystemExit(3)", "KeyboardInterrupt()"], ids=["SystemExit", "KeyboardInterrupt"])
def test_an_entry_point_that_exits_at_import_is_a_plugin_error_naming_it(tmp_path, raised):
    exception = raised.partition("(")[0]
    fake_distribution(tmp_path, "exiting_plugin", f"""
        raise {raised}

        def register(registry):
            pass
        """, {"exiting": "exiting_plugin:register"})
    done = python(
        """
        import game_data
        try:
            game_data.connect("memory://")
        except game_data.PluginError as err:
            print(type(err.__cause__).__name__)
            print(err)
        """,
        PYTHONPATH=str(tmp_path),
    )
    cause, error = _check(done).stdout.splitlines()
    assert cause == exception  # chained, not swallowed
    assert "entry point 'exiting' (exiting_plugin:register) in group game_data.plugins cannot be imported" in error
    assert exception in error


def test_an_entry_point_that_exits_when_called_is_a_plugin_error_naming_it(tmp_path):
    fake_distribution(tmp_path, "quitting_plugin", """
        import sys

        def register(registry):
            sys.exit("no licence")
        """, {"quitting": "quitting_plugin:register"})
    (error,) = connect_errors(tmp_path)
    assert "entry point 'quitting' (quitting_plugin:register) in group game_data.plugins failed" in error
    assert "SystemExit: no licence" in error


def test_the_cli_reports_an_entry_point_that_exits_at_import(tmp_path):
    fake_distribution(tmp_path, "exiting_plugin", "raise SystemExit(3)\n", {"exiting": "exiting_plugin:register"})
    done = _run([VENV_BIN / "game-data", "plugins"], env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "entry point 'exiting' (exiting_plugin:register) in group game_data.plugins cannot be imported: " \
           "SystemExit: 3" in done.stderr


def test_python_plugins_add_callbacks_and_exporters_once_before_the_first_connect(tmp_path):
    fake_distribution(tmp_path, "counting_plugin", """
        calls = []

        class Server:
            def __init__(self, mm, host, port):
                self.where = (mm.namespace, host, port)
            def close(self):
                self.where = None

        def register(registry):
            calls.append(registry.plugin)
            registry.add_change_callback(lambda change: calls.append(change.kind))
            registry.add_exporter("counting", Server)
        """, {"counting": "counting_plugin:register"})
    done = python(
        """
        import json, game_data, counting_plugin
        assert counting_plugin.calls == []           # nothing before the first connect
        first = game_data.connect("memory://", namespace="one")
        second = game_data.connect("memory://", namespace="two")
        first.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        second.create_game(creator_id="bob", capacity=2, server_id="gs-1")
        server = game_data.exporter("counting")(first, "127.0.0.1", 9999)
        try:
            game_data.exporter("nope")
        except game_data.PluginError as err:
            missing = str(err)
        print(json.dumps({"calls": counting_plugin.calls, "where": server.where, "missing": missing,
                          "listed": ["counting", "python", "counting_plugin:register"] in
                                    [list(p) for p in game_data.plugins()]}))
        """,
        PYTHONPATH=str(tmp_path),
    )
    out = json.loads(_check(done).stdout)
    assert out["calls"] == ["counting", "created", "created"]  # registered once, on both
    assert out["where"] == ["one", "127.0.0.1", 9999]
    assert "no exporter named 'nope'" in out["missing"] and "counting" in out["missing"]
    assert out["listed"] is True


def test_two_plugins_registering_one_exporter_name_is_a_plugin_error(tmp_path):
    source = """
        def register(registry):
            registry.add_exporter("metrics", lambda mm, host, port: None)
        """
    fake_distribution(tmp_path, "first_exporter", source, {"first": "first_exporter:register"})
    fake_distribution(tmp_path, "second_exporter", source, {"second": "second_exporter:register"})
    (error,) = connect_errors(tmp_path)
    assert "an exporter named 'metrics' is already registered (by plug-in first)" in error


def test_a_plugin_taking_the_prometheus_exporter_name_fails_itself_and_connect_goes_on(tmp_path):
    # "aaa" sorts before this package's own entry point "prometheus", which still goes first.
    fake_distribution(tmp_path, "squatting_exporter", """
        def register(registry):
            registry.add_change_callback(lambda change: None)
            registry.add_exporter("prometheus", lambda mm, host, port: None)
        """, {"aaa": "squatting_exporter:register"})
    done = python(
        """
        import json, game_data
        mm = game_data.connect("memory://")
        mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        start = game_data.exporter("prometheus")
        print(json.dumps({"plugins": [list(p) for p in game_data.plugins()],
                          "refused": [[list(p), why] for p, why in game_data.refused_plugins()],
                          "start": start.__module__}))
        """,
        PYTHONPATH=str(tmp_path),
    )
    out = json.loads(_check(done).stdout)
    [[refused, why]] = out["refused"]
    assert refused == ["aaa", "python", "squatting_exporter:register"]
    assert "entry point 'aaa' (squatting_exporter:register) in group game_data.plugins refused" in why
    assert "an exporter named 'prometheus' is already registered (by plug-in prometheus)" in why
    assert "refused" in done.stderr and "'aaa'" in done.stderr, "the refusal is logged"
    assert out["start"].startswith("game_data"), "the package's own exporter serves 'prometheus'"
    # The package's own exporter is the one registered; nothing of the failed plug-in is kept.
    assert ["prometheus", "python", "game_data._plugins:register_builtin"] in out["plugins"]
    assert "aaa" not in [name for name, _, _ in out["plugins"]]


def test_the_registry_refuses_what_is_not_callable():
    registry = game_data.PluginRegistry("example")
    with pytest.raises(game_data.InvalidArgumentError):
        registry.add_change_callback(42)
    with pytest.raises(game_data.InvalidArgumentError):
        registry.add_exporter("", lambda mm, host, port: None)
    with pytest.raises(game_data.InvalidArgumentError):
        registry.add_exporter("x", "not callable")

