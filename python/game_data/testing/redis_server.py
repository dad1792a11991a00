"""A private redis-server for tests: a free loopback port, its own temporary directory, no
persistence unless asked for, and guaranteed cleanup.

    with RedisServer() as server:
        mm = game_data.connect(server.url)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "RedisServerError", "find_redis_server", "free_port"]


def _reply_end(buf: bytes, pos: int) -> int | None:
    """Index just past the RESP2 reply starting at pos, or None while it is incomplete."""
    line_end = buf.find(b"\r\n", pos)
    if line_end < 0:
        return None
    kind, header = buf[pos:pos + 1], buf[pos + 1:line_end]
    after = line_end + 2
    if kind in (b"+", b"-", b":"):
        return after
    if kind == b"$":
        size = int(header)
        if size < 0:
            return after
        return after + size + 2 if len(buf) >= after + size + 2 else None
    if kind == b"*":
        count = int(header)
        for _ in range(max(count, 0)):
            end = _reply_end(buf, after)
            if end is None:
                return None
            after = end
        return after
    raise ValueError(f"not a RESP reply: {buf[pos:pos + 20]!r}")


class RedisServerError(RuntimeError):
    """redis-server could not be found, started or stopped."""


def find_redis_server() -> str:
    """The redis-server executable: $GAME_DATA_REDIS_SERVER, else the one on PATH."""
    explicit = os.environ.get("GAME_DATA_REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        msg = "redis-server not found: install it or set GAME_DATA_REDIS_SERVER"
        raise RedisServerError(msg)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (e.g. for --tls-port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1.

    ``appendonly=True`` turns on the append-only file with ``appendfsync always`` so that a
    :meth:`restart` (graceful or after :meth:`kill`) keeps every acknowledged write.
    The port and directory stay the same across restarts; :meth:`close` removes the directory.
    """

    def __init__(
        self,
        *,
        appendonly: bool = False,
        executable: str | None = None,
        startup_timeout: float = 10.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.appendonly = appendonly
        self.executable = executable or find_redis_server()
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.host = "127.0.0.1"
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        if not self.port:
            msg = "the server was never started"
            raise RedisServerError(msg)
        return f"redis://{self.host}:{self.port}/0"

    @property
    def directory(self) -> Path:
        if self._dir is None:
            msg = "the server was never started"
            raise RedisServerError(msg)
        return Path(self._dir.name)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def start(self) -> RedisServer:
        """Start on a free port (the same port again after a stop); returns self once it
        answers PING. Retries on a fresh port if another process grabbed the first one."""
        if self.running:
            return self
        first_start = self._dir is None
        if first_start:
            self._dir = tempfile.TemporaryDirectory(prefix="game-data-redis-")
        fixed_port = bool(self.port)
        attempts = 1 if fixed_port else 3
        last_error: Exception | None = None
        for _ in range(attempts):
            if not fixed_port:
                self.port = free_port()
            try:
                self._spawn()
                return self
            except RedisServerError as err:
                last_error = err
        if first_start:
            self.close()  # leave no directory behind; a restart keeps its data for inspection
        raise last_error or RedisServerError("redis-server did not start")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM); SIGKILL if it does not exit within ``timeout``."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None

    def kill(self) -> None:
        """Crash it: SIGKILL, no shutdown work."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        self._process = None

    def restart(self, *, kill: bool = False) -> RedisServer:
        """Stop (or kill) and start again on the same port with the same data directory."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer(port={self.port}, appendonly={self.appendonly}, {state})"

    # -- talking to it -------------------------------------------------------------------
    def command(self, *args: str, timeout: float = 5.0) -> bytes:
        """Send one command over a fresh connection and return the raw RESP reply."""
        payload = f"*{len(args)}\r\n".encode()
        for arg in args:
            data = arg.encode()
            payload += b"$%d\r\n%s\r\n" % (len(data), data)
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(payload)
            reply = b""
            while _reply_end(reply, 0) is None:  # until one whole RESP reply has arrived
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply

    def ping(self) -> bool:
        try:
            return self.command("PING", timeout=1.0).startswith(b"+PONG")
        except OSError:
            return False

    # -- internals -----------------------------------------------------------------------
    def _spawn(self) -> None:
        args = [
            self.executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--protected-mode", "no",
            "--logfile", "redis.log",
            "--save", "",
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        args += list(self.extra_args)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed executable, no shell
                args,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as err:
            msg = f"cannot run {self.executable}: {err}"
            raise RedisServerError(msg) from err
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                msg = f"redis-server exited at startup on port {self.port}: {self._log_tail()}"
                raise RedisServerError(msg)
            if self.ping():
                return
            time.sleep(0.01)  # polling for readiness, bounded by the deadline
        self.kill()
        msg = f"redis-server did not answer PING within {self.startup_timeout}s: {self._log_tail()}"
        raise RedisServerError(msg)

    def _log_tail(self) -> str:
        log = self.directory / "redis.log"
        try:
            return " | ".join(log.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"
