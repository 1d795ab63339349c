"""Resolving the Cassandra server jars from Maven Central into a per-user cache directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cassandra_llm_cache._errors import LocalServerError

# The newest 5.0.x release of cassandra-all that resolves from Maven Central (checked 2026-11).
CASSANDRA_VERSION = "5.0.9"
_COMPLETE_MARKER = ".complete"


def cache_home() -> Path:
    """The per-user directory for jars (``CASSANDRA_LLM_CACHE_HOME`` or ``~/.cache/...``)."""
    explicit = os.environ.get("CASSANDRA_LLM_CACHE_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return (base / "cassandra-llm-cache").resolve()


@dataclass(frozen=True)
class JarSet:
    """A complete, resolved set of server jars."""

    version: str
    lib_dir: Path

    @property
    def jars(self) -> list[Path]:
        return sorted(self.lib_dir.glob("*.jar"))

    @property
    def jamm_agent(self) -> Path | None:
        found = sorted(self.lib_dir.glob("jamm-*.jar"))
        return found[0] if found else None

    @property
    def total_bytes(self) -> int:
        return sum(jar.stat().st_size for jar in self.jars)


def lib_dir_for(version: str = CASSANDRA_VERSION) -> Path:
    return cache_home() / f"cassandra-{version}" / "lib"


def cached_jars(version: str = CASSANDRA_VERSION) -> JarSet | None:
    """The jar set if a previous resolution completed, else None (no network involved)."""
    lib = lib_dir_for(version)
    if (lib / _COMPLETE_MARKER).is_file():
        return JarSet(version, lib)
    return None


def resolve_jars(version: str = CASSANDRA_VERSION, *, quiet: bool = True) -> JarSet:
    """Return the jar set, downloading it with ``mvn`` the first time only."""
    existing = cached_jars(version)
    if existing is not None:
        return existing
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalServerError(
            "Maven ('mvn') is not on PATH; it is needed once to download the Cassandra jars from "
            "Maven Central. Install it (e.g. 'apt-get install maven') or point "
            "CASSANDRA_CONTACT_POINTS at an existing cluster instead."
        )
    lib = lib_dir_for(version)
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    pom = resources.files("cassandra_llm_cache.server").joinpath("pom.xml")
    with resources.as_file(pom) as pom_path:
        command = [
            mvn,
            "-B",
            *(["-q"] if quiet else []),
            "-f",
            str(pom_path),
            f"-Dcassandra.version={version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0 or not any(staging.glob("cassandra-all-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LocalServerError(
            f"Could not resolve org.apache.cassandra:cassandra-all:{version} and its dependencies "
            f"with Maven (exit {result.returncode}). Check that Maven Central is reachable "
            f"(proxy settings in ~/.m2/settings.xml). Last Maven output:\n{tail}"
        )
    (staging / _COMPLETE_MARKER).write_text(version + "\n")
    if lib.exists():
        shutil.rmtree(lib)
    staging.rename(lib)
    return JarSet(version, lib)
