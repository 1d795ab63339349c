"""``cassandra-llm-cache bench`` against a cluster that does not answer: one clear line, exit 1.

A new user who runs the benchmark with nothing listening must see the address that was tried and
how to fix it, not the driver's ``NoHostAvailable`` traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def _closed_port() -> int:
    # A port that was just free on 127.0.0.1: bound, then released, so nothing listens there.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_bench_against_an_unreachable_cluster_prints_one_line_and_fails():
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASSANDRA_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cassandra_llm_cache.cli",
            "bench",
            "--quick",
            "--contact-points",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-report",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]], done.stderr  # one line, no traceback
    assert f"127.0.0.1:{port}" in lines[0]
    assert "cassandra-llm-cache server start" in lines[0]
    assert "--contact-points" in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
