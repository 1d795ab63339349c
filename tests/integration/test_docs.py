"""Every ```python block of README.md and docs/*.md runs against the real node.

Conventions for writing docs (also stated in docs/README.md):

- Blocks of one file run in order in one shared namespace, like cells of a notebook.
- Each file starts with ``session`` (an open driver ``Session``) and ``keyspace`` (a fresh, empty
  keyspace) defined, and with ``CASSANDRA_CONTACT_POINTS``, ``CASSANDRA_PORT`` and
  ``CASSANDRA_KEYSPACE`` set, so ``init(auto=True)`` connects to the same node.
- Top-level ``await`` is allowed (the block then runs in its own event loop).
- A block that must not run is fenced as ```python no-run, followed by the reason.
- ```sh blocks run if every line is a ``cassandra-llm-cache`` command other than ``server``;
  ``$KEYSPACE`` in them is the file's keyspace. Other shell blocks are for reading only.
- Everything runs in a scratch directory, so files the docs write (exports) go there.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
import shlex
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    language: str
    options: str
    line: int
    code: str


def blocks_of(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index].strip())
        if match is None or not match["info"].strip():
            index += 1
            continue
        language, _, options = match["info"].strip().partition(" ")
        start = index + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{path.name}:{start}: unclosed code block"
        found.append(Block(language, options.strip(), start, "\n".join(lines[start:end])))
        index = end + 1
    return found


def runnable_shell(block: Block) -> list[str] | None:
    commands = [line for line in block.code.splitlines() if line.strip()]
    if not commands or block.options.startswith("no-run"):
        return None
    for command in commands:
        words = shlex.split(command, comments=True)
        if len(words) < 2 or words[0] != "cassandra-llm-cache" or words[1] == "server":
            return None
    return commands


def test_the_docs_follow_the_conventions():
    for path in DOC_FILES:
        for block in blocks_of(path):
            if block.options.startswith("no-run"):
                reason = block.options.removeprefix("no-run").strip(" :-")
                assert reason, f"{path.name}:{block.line}: a no-run block needs a reason"
            if block.language == "python":
                ast.parse(block.code, f"{path.name}:{block.line}")


def sections(path: Path) -> dict[str, str]:
    parts = re.split(r"^## ", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {part.splitlines()[0].strip(): part for part in parts[1:]}


def test_every_option_is_in_the_configuration_reference():
    from cassandra_llm_cache import CassandraCache, CassandraSemanticCache, LocalEmbeddings, init

    reference = sections(ROOT / "docs" / "configuration.md")
    for title, function in (
        ("The connection: `init(...)`", init),
        ("`CassandraCache`", CassandraCache.__init__),
        ("`CassandraSemanticCache`", CassandraSemanticCache.__init__),
        ("`LocalEmbeddings`", LocalEmbeddings.__init__),
    ):
        names = [name for name in inspect.signature(function).parameters if name != "self"]
        missing = [name for name in names if f"`{name}`" not in reference[title]]
        assert not missing, f"docs/configuration.md, section {title}: {missing} undocumented"


@pytest.fixture
def doc_keyspace(cassandra_session, cassandra_contact, monkeypatch):
    keyspace = f"docs_{uuid.uuid4().hex[:12]}"
    cassandra_session.execute(
        f"CREATE KEYSPACE {keyspace} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", ",".join(cassandra_contact.contact_points))
    monkeypatch.setenv("CASSANDRA_PORT", str(cassandra_contact.port))
    monkeypatch.setenv("CASSANDRA_KEYSPACE", keyspace)
    if cassandra_contact.username:
        monkeypatch.setenv("CASSANDRA_USERNAME", cassandra_contact.username)
        monkeypatch.setenv("CASSANDRA_PASSWORD", cassandra_contact.password or "")
    yield keyspace
    from langchain_core.globals import set_llm_cache

    from cassandra_llm_cache._storage import connection as _connection

    set_llm_cache(None)
    _connection.reset()
    cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)


def run_python(block: Block, namespace: dict, where: str) -> None:
    code = compile(
        block.code, f"{where}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    try:
        if code.co_flags & inspect.CO_COROUTINE:
            asyncio.run(eval(code, namespace))
        else:
            exec(code, namespace)
    except Exception:
        pytest.fail(f"{where}, block at line {block.line} failed:\n{traceback.format_exc()}")


def run_shell(commands: list[str], keyspace: str, where: str, line: int) -> None:
    """Each command through ``cli.main``, in this process (the CLI tests run real subprocesses)."""
    from cassandra_llm_cache import cli

    for command in commands:
        words = shlex.split(command.replace("$KEYSPACE", keyspace), comments=True)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(words[1:])
            except SystemExit as exit_:
                code = int(exit_.code or 0)
        assert code == 0, (
            f"{where}, block at line {line}: `{command}` exited {code}\n"
            f"{out.getvalue()}\n{err.getvalue()}"
        )


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_doc_code_runs(path, doc_keyspace, cassandra_session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the docs write (exports) land in a scratch directory
    namespace = {"__name__": "__docs__", "session": cassandra_session, "keyspace": doc_keyspace}
    ran = 0
    for block in blocks_of(path):
        if block.options.startswith("no-run"):
            continue
        if block.language == "python":
            run_python(block, namespace, path.name)
            ran += 1
        elif block.language in {"sh", "shell", "bash", "console"}:
            commands = runnable_shell(block)
            if commands is not None:
                run_shell(commands, doc_keyspace, path.name, block.line)
                ran += 1
    if path.name != "README.md" and path.stem not in {"benchmarks", "semantic-quality"}:
        assert ran, f"{path.name} has no runnable code block"
