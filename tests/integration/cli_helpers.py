"""Running the CLI against the test node: as a real subprocess, or in-process through main()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CLI = Path(sys.executable).with_name("cassandra-llm-cache")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def cli_env(contact, keyspace: str) -> dict[str, str]:
    env = dict(os.environ)
    env["CASSANDRA_CONTACT_POINTS"] = ",".join(contact.contact_points)
    env["CASSANDRA_PORT"] = str(contact.port)
    env["CASSANDRA_KEYSPACE"] = keyspace
    if contact.username:
        env["CASSANDRA_USERNAME"] = contact.username
        env["CASSANDRA_PASSWORD"] = contact.password or ""
    return env


def run_cli(env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None) -> Result:
    """The installed console script, in a child process."""
    done = subprocess.run(
        [str(CLI), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=cwd,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def run_main(capsys, monkeypatch, env: dict[str, str], *args: str, stdin: str = "") -> Result:
    """``cli.main`` in this process (same code path, without the start-up cost)."""
    import io

    from cassandra_llm_cache import cli

    for name in ("CASSANDRA_CONTACT_POINTS", "CASSANDRA_PORT", "CASSANDRA_KEYSPACE"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
