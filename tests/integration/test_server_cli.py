"""`cassandra-llm-cache server ...` run as a real subprocess: lifecycle and the clear errors."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "cassandra_llm_cache.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240):
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else os.environ.copy(),
        check=False,
    )


def java_pids(marker: str) -> set[int]:
    """Cassandra JVMs whose command line mentions ``marker`` (a test's own directory)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"CassandraDaemon" in cmdline and marker.encode() in cmdline:
                found.add(int(entry.name))
    return found


@pytest.mark.slow
def test_start_status_logs_stop_leaves_no_java_process(tmp_path: Path):
    node_dir = str(tmp_path / "node")
    ports = ["--native-port", "9442", "--storage-port", "7400"]
    started = run_cli("server", "start", "--dir", node_dir, *ports)
    try:
        assert started.returncode == 0, started.stderr
        assert "ready on 127.0.0.1 port 9442" in started.stdout

        again = run_cli("server", "start", "--dir", node_dir)
        assert again.returncode == 0
        assert "already running" in again.stdout

        status = run_cli("server", "status", "--dir", node_dir, "--json")
        assert status.returncode == 0
        (node,) = json.loads(status.stdout)
        assert node["running"] is True
        assert node["native_port"] == 9442
        assert node["version"].startswith("5.0")
        assert java_pids(node_dir) == {node["pid"]}

        logs = run_cli("server", "logs", "--dir", node_dir, "-n", "200")
        assert "Starting listening for CQL clients" in logs.stdout
    finally:
        stopped = run_cli("server", "stop", "--dir", node_dir)
    assert stopped.returncode == 0
    assert "stopped node(s) [1]" in stopped.stdout
    assert java_pids(node_dir) == set()
    after = run_cli("server", "status", "--dir", node_dir)
    assert after.returncode == 1
    assert "stopped" in after.stdout


def test_port_in_use_is_a_clear_error_naming_the_fix(tmp_path: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli(
            "server", "start", "--dir", str(tmp_path), "--native-port", str(port),
            "--storage-port", "7401",
        )  # fmt: skip
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--native-port" in result.stderr


def test_missing_java_is_a_clear_error(tmp_path: Path):
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-jdk")}
    result = run_cli("server", "start", "--dir", str(tmp_path), env=env)
    assert result.returncode == 1
    assert "No 'java' found" in result.stderr
    assert "JDK 17" in result.stderr


def test_missing_maven_on_a_cold_jar_cache_is_a_clear_error(tmp_path: Path):
    env = {
        **os.environ,
        "CASSANDRA_LLM_CACHE_HOME": str(tmp_path / "empty-cache"),
        "PATH": str(Path(sys.executable).parent),
    }
    result = run_cli("server", "fetch", env=env)
    assert result.returncode == 1
    assert "Maven ('mvn') is not on PATH" in result.stderr


def test_a_failed_start_shows_the_last_log_lines(tmp_path: Path):
    result = run_cli(
        "server", "start", "--dir", str(tmp_path), "--native-port", "9443",
        "--storage-port", "7402", "--heap", "1X",
    )  # fmt: skip
    assert result.returncode == 1
    assert "failed to start" in result.stderr
    assert "Invalid" in result.stderr  # the JVM's own words about the bad heap size
    assert java_pids(str(tmp_path)) == set()


def test_usage_errors_exit_2():
    assert run_cli("server", "kill").returncode == 2
    assert run_cli("no-such-command").returncode == 2
