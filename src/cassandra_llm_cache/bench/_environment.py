"""What the figures were measured on: versions, machine, load."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = (
    "cassandra-llm-cache",
    "cassandra-driver",
    "langchain-core",
    "langchain-community",
    "cassio",
    "langchain-redis",
    "redis",
    "SQLAlchemy",
    "orjson",
    "zstandard",
    "numpy",
)


def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def load_average() -> list[float]:
    with contextlib.suppress(OSError):
        return [round(value, 2) for value in os.getloadavg()]
    return []


def driver_details(session: Any) -> dict[str, Any]:
    """Whether the driver's compiled parts and which reactor are in use."""
    details: dict[str, Any] = {}
    with contextlib.suppress(ImportError):
        from cassandra import cluster, cython_deps

        details["cython"] = bool(cython_deps.HAVE_CYTHON)
        details["compiled_cluster_module"] = str(cluster.__file__).endswith(".so")
    details["reactor"] = session.cluster.connection_class.__name__
    return details


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
    }


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def revision() -> str | None:
    """The source's commit (short), with ``+changes`` if tracked files differ from it.

    Read-only git calls (``--no-optional-locks``: not even the index's stat cache is rewritten);
    ``None`` outside a git checkout or without git.
    """
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return None
    here = str(Path(__file__).resolve().parent)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "-C", here, "--no-optional-locks", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changes = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "-C", here, "--no-optional-locks", "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return f"{commit}+changes" if changes else commit
    return None
