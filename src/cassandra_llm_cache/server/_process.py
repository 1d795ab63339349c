"""Starting, watching and stopping local Cassandra JVMs."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cassandra_llm_cache._errors import LocalServerError
from cassandra_llm_cache.server._config import LOGBACK_XML, NodeSpec
from cassandra_llm_cache.server._jars import CASSANDRA_VERSION, JarSet, resolve_jars

logger = logging.getLogger(__name__)

_READY_LINE = "Starting listening for CQL clients"
_FAILED_LINE = re.compile(r"Exception \(.*\) encountered during startup")
_SUPPORTED_JAVA = (11, 17)
_STATE_FILE = "cluster.json"
_EXEC_GRACE = 2.0


def default_base_dir() -> Path:
    """Where node data and logs live unless the user chooses (``CASSANDRA_LLM_CACHE_DATA``)."""
    explicit = os.environ.get("CASSANDRA_LLM_CACHE_DATA")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return (base / "cassandra-llm-cache" / "local").resolve()


def find_java() -> tuple[str, int]:
    """The java executable and its major version; a clear error if missing or unsupported."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise LocalServerError(
            "No 'java' found (looked at $JAVA_HOME/bin/java and PATH). Cassandra 5.0 needs JDK 17 "
            "(or 11): install it, e.g. 'apt-get install openjdk-17-jdk-headless', or set JAVA_HOME."
        )
    result = subprocess.run(  # noqa: S603
        [java, "-version"], capture_output=True, text=True, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        raise LocalServerError(f"Could not read the version of {java}; Cassandra 5.0 needs JDK 17.")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    if major not in _SUPPORTED_JAVA:
        raise LocalServerError(
            f"{java} is Java {major}; Cassandra 5.0 runs on Java 17 (or 11). Install JDK 17 and "
            "set JAVA_HOME to it."
        )
    return java, major


def _is_cassandra_process(pid: int) -> bool:
    # Right after posix_spawn the new process can still be inside execve: its command line reads
    # empty for a moment (seen on a loaded machine), so an empty one is read again briefly.
    deadline = time.monotonic() + _EXEC_GRACE
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        state = stat.rsplit(")", 1)[-1].split()[0]
        if cmdline or state == "Z" or time.monotonic() > deadline:
            return state != "Z" and b"CassandraDaemon" in cmdline
        time.sleep(0.01)


def _port_in_use(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(frozen=True)
class NodeStatus:
    index: int
    running: bool
    pid: int | None
    address: str
    native_port: int
    version: str
    data_dir: str


@dataclass(frozen=True)
class ClusterSettings:
    node_count: int = 1
    native_port: int = 9042
    storage_port: int = 7000
    heap: str = "1G"
    password_auth: bool = False
    tls: bool = False
    version: str = CASSANDRA_VERSION


class LocalCluster:
    """One or more Cassandra 5.0 nodes on 127.0.0.1..N, run from Maven Central jars.

    The settings are remembered in ``base_dir/cluster.json`` so that ``status`` and ``stop`` from
    another process find the nodes a ``start`` launched.
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        nodes: int | None = None,
        native_port: int | None = None,
        storage_port: int | None = None,
        heap: str | None = None,
        password_auth: bool | None = None,
        tls: bool | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve() if base_dir else default_base_dir()
        saved = self._load_settings()
        overrides: dict[str, Any] = {
            key: value
            for key, value in {
                "node_count": nodes,
                "native_port": native_port,
                "storage_port": storage_port,
                "heap": heap,
                "password_auth": password_auth,
                "tls": tls,
            }.items()
            if value is not None
        }
        base = saved or ClusterSettings()
        if overrides and "heap" not in overrides and overrides.get("node_count", 1) > 1:
            overrides["heap"] = "512M"
        self.settings = ClusterSettings(**{**asdict(base), **overrides})
        if not 1 <= self.settings.node_count <= 9:  # noqa: PLR2004
            raise LocalServerError("--nodes must be between 1 and 9.")

    def __repr__(self) -> str:
        return f"LocalCluster(base_dir={str(self.base_dir)!r}, nodes={self.settings.node_count})"

    # -- settings ----------------------------------------------------------------------------
    def _load_settings(self) -> ClusterSettings | None:
        path = self.base_dir / _STATE_FILE
        if not path.is_file():
            return None
        try:
            return ClusterSettings(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None

    def _save_settings(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / _STATE_FILE).write_text(json.dumps(asdict(self.settings), indent=2))

    def node(self, index: int) -> NodeSpec:
        if not 1 <= index <= self.settings.node_count:
            raise LocalServerError(f"No node {index}: this cluster has {self.settings.node_count}.")
        return NodeSpec(
            index=index,
            node_count=self.settings.node_count,
            base_dir=self.base_dir,
            native_port=self.settings.native_port,
            storage_port=self.settings.storage_port,
            heap=self.settings.heap,
            password_auth=self.settings.password_auth,
            tls=self.settings.tls,
        )

    @property
    def contact_points(self) -> list[str]:
        return [f"127.0.0.{i}" for i in range(1, self.settings.node_count + 1)]

    # -- inspection --------------------------------------------------------------------------
    def pid(self, index: int) -> int | None:
        spec = self.node(index)
        try:
            pid = int(spec.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_cassandra_process(pid) else None

    def is_running(self, index: int) -> bool:
        return self.pid(index) is not None

    def status(self) -> list[NodeStatus]:
        return [
            NodeStatus(
                index=i,
                running=(pid := self.pid(i)) is not None,
                pid=pid,
                address=self.node(i).address,
                native_port=self.settings.native_port,
                version=self.settings.version,
                data_dir=str(self.node(i).node_dir / "data"),
            )
            for i in range(1, self.settings.node_count + 1)
        ]

    def logs(self, index: int = 1, lines: int = 50) -> str:
        return _tail(self.node(index).system_log, lines)

    # -- start -------------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> float:
        """Start every node that is not running; return the seconds until all were CQL-ready."""
        began = time.monotonic()
        jars = resolve_jars(self.settings.version)
        java, _ = find_java()
        self._save_settings()
        started = [i for i in range(1, self.settings.node_count + 1) if self._launch(i, jars, java)]
        for i in started:
            self._wait_ready(i, began + timeout)
        if self.settings.node_count > 1:
            self.wait_all_up(deadline=began + timeout)
        return time.monotonic() - began

    def start_node(self, index: int, timeout: float = 180.0) -> float:
        """Start one node (after ``stop_node`` or ``kill_node``) and wait until it serves CQL."""
        began = time.monotonic()
        if self._launch(index, resolve_jars(self.settings.version), find_java()[0]):
            self._wait_ready(index, began + timeout)
        return time.monotonic() - began

    def _launch(self, index: int, jars: JarSet, java: str) -> bool:
        spec = self.node(index)
        if self.is_running(index):
            logger.info("node %d already running (pid %s)", index, self.pid(index))
            return False
        for port in (spec.native_port, spec.storage_port):
            if _port_in_use(spec.address, port):
                raise LocalServerError(
                    f"Port {port} on {spec.address} is in use by another process. Stop it, or "
                    "choose other ports (--native-port/--storage-port)."
                )
        for directory in (spec.log_dir, spec.tmp_dir, spec.yaml_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        if spec.tls:
            self._ensure_keystore(spec)
        spec.yaml_path.write_text(spec.yaml_text())
        spec.logback_path.write_text(LOGBACK_XML)
        # A fresh log per start makes the readiness check read only this start's lines.
        for old_log in (spec.system_log, spec.stdout_log):
            if old_log.exists():
                old_log.replace(old_log.with_suffix(".log.previous"))
        classpath = os.pathsep.join(str(jar) for jar in jars.jars)
        command = spec.java_command(java, classpath, jars.jamm_agent)
        environment = {**os.environ, "MALLOC_ARENA_MAX": "4"}
        # posix_spawn rather than Popen: the JVM outlives this process when started from the CLI,
        # and a Popen object of a still-running child warns when it is collected.
        pid = os.posix_spawn(
            command[0],
            command,
            environment,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(spec.stdout_log), os.O_WRONLY | os.O_CREAT, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
        spec.pid_path.write_text(f"{pid}\n")
        return True

    def _wait_ready(self, index: int, deadline: float) -> None:
        spec = self.node(index)
        while True:
            pid = self.pid(index)
            log = _tail(spec.system_log, 400)
            if pid is None or _FAILED_LINE.search(log):
                self._reap(index)
                raise LocalServerError(
                    f"Cassandra node {index} failed to start. Last lines of {spec.system_log}:\n"
                    + (_tail(spec.system_log, 20) or _tail(spec.stdout_log, 20))
                )
            if _READY_LINE in log and self._cql_answers(spec):
                return
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"Cassandra node {index} was not CQL-ready in time. Last log lines:\n"
                    + _tail(spec.system_log, 20)
                )
            time.sleep(0.25)

    def _cql_answers(self, spec: NodeSpec) -> bool:
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import WhiteListRoundRobinPolicy

        cluster = Cluster(
            [spec.address],
            port=spec.native_port,
            execution_profiles={
                EXEC_PROFILE_DEFAULT: ExecutionProfile(
                    load_balancing_policy=WhiteListRoundRobinPolicy([spec.address])
                )
            },
            connect_timeout=5,
            control_connection_timeout=5,
            protocol_version=5,
            **self.driver_options(),
        )
        try:
            session = cluster.connect()
            row = session.execute("SELECT release_version FROM system.local").one()
        except Exception:  # noqa: BLE001  (not ready yet, whatever the reason)
            return False
        else:
            return row is not None
        finally:
            cluster.shutdown()

    def driver_options(self) -> dict[str, Any]:
        """``Cluster`` keyword arguments for this cluster's auth (default superuser) and TLS."""
        options: dict[str, Any] = {}
        if self.settings.password_auth:
            from cassandra.auth import PlainTextAuthProvider

            options["auth_provider"] = PlainTextAuthProvider("cassandra", "cassandra")
        if self.settings.tls:
            options["ssl_context"] = self.ssl_context()
        return options

    @property
    def certificate_path(self) -> Path:
        """The PEM certificate of a TLS cluster's nodes (self-signed, valid for 127.0.0.1..N)."""
        return self.node(1).certificate_path

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this cluster's self-signed certificate and checks the IP."""
        context = ssl.create_default_context(cafile=str(self.certificate_path))
        context.check_hostname = True
        return context

    def _ensure_keystore(self, spec: NodeSpec) -> None:
        if spec.keystore_path.is_file() and spec.certificate_path.is_file():
            return
        keytool = shutil.which("keytool", path=str(Path(find_java()[0]).parent)) or shutil.which(
            "keytool"
        )
        if keytool is None:
            raise LocalServerError("TLS needs 'keytool' (it comes with the JDK); none was found.")
        spec.tls_dir.mkdir(parents=True, exist_ok=True)
        spec.keystore_path.unlink(missing_ok=True)
        for command in spec.keytool_commands(keytool):
            result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            if result.returncode != 0:
                raise LocalServerError(f"keytool failed: {result.stderr.strip()[-500:]}")

    def wait_all_up(self, deadline: float) -> None:
        """Wait until a driver connected to node 1 sees every node up."""
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import RoundRobinPolicy

        while True:
            cluster = Cluster(
                self.contact_points,
                port=self.settings.native_port,
                # An explicit policy: without one the driver logs a warning on every attempt.
                execution_profiles={
                    EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=RoundRobinPolicy())
                },
                protocol_version=5,
                **self.driver_options(),
            )
            try:
                cluster.connect()
                up = [host for host in cluster.metadata.all_hosts() if host.is_up]
                if len(up) == self.settings.node_count:
                    return
            except Exception:  # noqa: BLE001, S110  (retried until the deadline)
                pass
            finally:
                cluster.shutdown()
            if time.monotonic() > deadline:
                raise LocalServerError("Not every node of the local cluster came up in time.")
            time.sleep(1.0)

    # -- stop --------------------------------------------------------------------------------
    def stop(self, grace: float = 30.0) -> list[int]:
        """Stop every node (TERM, wait, then KILL); return the indexes that were running."""
        stopped = [i for i in range(1, self.settings.node_count + 1) if self.is_running(i)]
        for i in stopped:
            self.signal_node(i, signal.SIGCONT)  # a paused JVM cannot act on TERM
            self.signal_node(i, signal.SIGTERM)
        for i in stopped:
            self._wait_gone(i, grace)
        return stopped

    def stop_node(self, index: int, grace: float = 30.0) -> bool:
        if not self.is_running(index):
            return False
        self.signal_node(index, signal.SIGCONT)
        self.signal_node(index, signal.SIGTERM)
        self._wait_gone(index, grace)
        return True

    def kill_node(self, index: int) -> None:
        """SIGKILL one node, as a crash would."""
        self.signal_node(index, signal.SIGKILL)
        self._wait_gone(index, 10.0)

    def pause_node(self, index: int) -> None:
        self.signal_node(index, signal.SIGSTOP)

    def resume_node(self, index: int) -> None:
        self.signal_node(index, signal.SIGCONT)

    def signal_node(self, index: int, signum: int) -> None:
        pid = self.pid(index)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _wait_gone(self, index: int, grace: float) -> None:
        deadline = time.monotonic() + grace
        while self.is_running(index) and time.monotonic() < deadline:
            self._reap(index)
            time.sleep(0.1)
        if self.is_running(index):
            self.signal_node(index, signal.SIGKILL)
            while self.is_running(index):
                self._reap(index)
                time.sleep(0.05)
        self._reap(index)
        with contextlib.suppress(OSError):
            self.node(index).pid_path.unlink()

    def _reap(self, index: int) -> None:
        """Collect the exit status of a node this process spawned, so it leaves no zombie."""
        try:
            pid = int(self.node(index).pid_path.read_text().strip())
            os.waitpid(pid, os.WNOHANG)
        except (OSError, ValueError):
            pass
