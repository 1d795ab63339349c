"""Where a cache's session and keyspace come from: ``init()``, the process-wide connection.

A cache built without ``session``/``keyspace`` uses, in order: the connection set by
:func:`init`, the one set by ``cassio.init(...)`` (if cassio was imported and initialised: code
written for the legacy cache keeps working unchanged), and for the keyspace, the session's own
current keyspace.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.query import tuple_factory

from cassandra_llm_cache._errors import ConfigurationError, SessionNotConfiguredError
from cassandra_llm_cache._storage.cql import identifier
from cassandra_llm_cache._version import __version__

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping, Sequence

APPLICATION_NAME: Final = "cassandra-llm-cache"
PROTOCOL_VERSION: Final = 4
"""The native protocol version ``init()`` and the CLI ask for (override with ``cluster_options``).

v4, not v5: the driver's v5 framing (a checksummed frame around each message, built in Python)
cost 18-23% more client CPU per cache hit on the same node (docs/configuration.md), and client
CPU is what bounds a Python client. Cassandra 3.0 to 5.0 all speak v4; nothing the caches use
(prepared statements, vectors, paging, per-statement consistency) needs v5."""
NO_DELAY_SOCKOPTS: Final = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
"""TCP_NODELAY: the driver writes a request larger than its 4 KiB chunk in several sends; with
Nagle's algorithm on, a 20 KB write waited ~40 ms for a delayed ACK in the benchmark."""
ENV_CONTACT_POINTS: Final = "CASSANDRA_CONTACT_POINTS"
ENV_PORT: Final = "CASSANDRA_PORT"
ENV_USERNAME: Final = "CASSANDRA_USERNAME"
ENV_PASSWORD: Final = "CASSANDRA_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_KEYSPACE: Final = "CASSANDRA_KEYSPACE"

NO_SESSION_MESSAGE: Final = (
    "no Cassandra session: pass session=<cassandra.cluster.Session> (and keyspace=...) to the "
    "cache, or call cassandra_llm_cache.init(...) once at start-up, e.g. "
    f"init(contact_points=[...], keyspace=...) or init(auto=True) with {ENV_CONTACT_POINTS} "
    f"(and {ENV_KEYSPACE}) set"
)


@dataclass(frozen=True)
class _Connection:
    session: Session
    keyspace: str | None
    owned_cluster: Cluster | None  # created by init(); shut down when init() replaces it

    def __repr__(self) -> str:
        return f"_Connection(keyspace={self.keyspace!r})"


_lock = threading.Lock()
_current: _Connection | None = None


def init(
    session: Session | None = None,
    *,
    contact_points: Sequence[str] | str | None = None,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    keyspace: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    secure_connect_bundle: str | os.PathLike[str] | None = None,
    local_datacenter: str | None = None,
    auto: bool = False,
    cluster_options: Mapping[str, Any] | None = None,
) -> Session:
    """Set the connection used by caches built without ``session``; return its session.

    Give an open ``session``, or the means to open one: ``contact_points`` (and ``port``,
    ``username``/``password``, ``ssl_context``, ``local_datacenter``), or an Astra DB
    ``secure_connect_bundle`` (with ``username="token"`` and the token as ``password``).
    ``auto=True`` fills whatever was not given from ``CASSANDRA_CONTACT_POINTS`` (comma
    separated), ``CASSANDRA_PORT``, ``CASSANDRA_USERNAME``, ``CASSANDRA_PASSWORD`` and
    ``CASSANDRA_KEYSPACE``. ``cluster_options`` go to ``cassandra.cluster.Cluster`` as they are.

    A cluster opened here identifies itself to the server as ``cassandra-llm-cache``. Calling
    ``init`` again replaces the connection (shutting down a cluster the previous call opened).
    Connection failures raise the driver's own error (e.g. ``NoHostAvailable``).
    """
    if auto:
        contact_points = contact_points or os.environ.get(ENV_CONTACT_POINTS) or None
        port = port if port is not None else _env_port()
        username = username if username is not None else os.environ.get(ENV_USERNAME) or None
        password = password if password is not None else os.environ.get(ENV_PASSWORD) or None
        keyspace = keyspace or os.environ.get(ENV_KEYSPACE) or None
    if keyspace is not None:
        keyspace = identifier(keyspace, "keyspace name")
    opens_cluster = contact_points is not None or secure_connect_bundle is not None
    if session is not None and opens_cluster:
        raise ConfigurationError("init() takes either a session or the means to open one, not both")
    owned: Cluster | None = None
    if session is None:
        if not opens_cluster:
            hint = f" ({ENV_CONTACT_POINTS} is not set)" if auto else ""
            msg = (
                "init() needs session=..., contact_points=[...], secure_connect_bundle=..., or "
                f"auto=True with {ENV_CONTACT_POINTS} set{hint}"
            )
            raise ConfigurationError(msg)
        owned = _open_cluster(
            contact_points=contact_points,
            port=port,
            username=username,
            password=password,
            ssl_context=ssl_context,
            secure_connect_bundle=secure_connect_bundle,
            local_datacenter=local_datacenter,
            cluster_options=cluster_options,
        )
        session = owned.connect()
    elif not isinstance(session, Session):
        raise ConfigurationError("session must be a cassandra.cluster.Session")
    _replace(_Connection(session=session, keyspace=keyspace, owned_cluster=owned))
    return session


def _env_port() -> int | None:
    raw = os.environ.get(ENV_PORT, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{ENV_PORT} must be a port number, got {raw[:20]!r}") from None


def _open_cluster(
    *,
    contact_points: Sequence[str] | str | None,
    port: int | None,
    username: str | None,
    password: str | None,
    ssl_context: ssl.SSLContext | None,
    secure_connect_bundle: str | os.PathLike[str] | None,
    local_datacenter: str | None,
    cluster_options: Mapping[str, Any] | None,
) -> Cluster:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    kwargs: dict[str, Any] = {
        "application_name": APPLICATION_NAME,
        "application_version": __version__,
        "sockopts": list(NO_DELAY_SOCKOPTS),
    }
    if contact_points is not None:
        points = contact_points.split(",") if isinstance(contact_points, str) else contact_points
        kwargs["contact_points"] = [p.strip() for p in points if p.strip()]
        if not kwargs["contact_points"]:
            raise ConfigurationError("contact_points is empty")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:  # noqa: PLR2004
            raise ConfigurationError("port must be an integer between 1 and 65535")
        kwargs["port"] = port
    if (username is None) != (password is None):
        raise ConfigurationError("give both username and password, or neither")
    if username is not None:
        kwargs["auth_provider"] = PlainTextAuthProvider(username=username, password=password)
    if ssl_context is not None:
        kwargs["ssl_context"] = ssl_context
    if secure_connect_bundle is not None:
        kwargs["cloud"] = {"secure_connect_bundle": os.fspath(secure_connect_bundle)}
    if secure_connect_bundle is None:
        # An explicit load-balancing policy: the driver warns without one.
        policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=local_datacenter))
        kwargs["execution_profiles"] = {
            EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=policy)
        }
        # Named, so the driver does not first offer newer versions and log a warning as it
        # downgrades; cluster_options={"protocol_version": 5} for v5's checksummed frames.
        kwargs["protocol_version"] = PROTOCOL_VERSION
    kwargs.update(cluster_options or {})
    return Cluster(**kwargs)


def _replace(connection: _Connection | None) -> None:
    global _current
    with _lock:
        previous, _current = _current, connection
    if previous is not None and previous.owned_cluster is not None:
        previous.owned_cluster.shutdown()


def reset() -> None:
    """Forget the connection set by :func:`init` (shutting down a cluster it opened)."""
    _replace(None)


def _cassio_default(name: str) -> Any:
    # Only if the application already imported cassio: never import it for this.
    import sys

    config = sys.modules.get("cassio.config")
    return getattr(config, name, None) if config is not None else None


def resolve_session(session: Session | None, keyspace: str | None) -> tuple[Session, str]:
    """The session and (validated) keyspace a cache uses, from its arguments or the defaults."""
    current = _current
    if session is None:
        session = current.session if current is not None else _cassio_default("default_session")
        if session is None:
            raise SessionNotConfiguredError(NO_SESSION_MESSAGE)
    if not isinstance(session, Session):
        raise ConfigurationError("session must be a cassandra.cluster.Session")
    if keyspace is None:
        keyspace = (
            (current.keyspace if current is not None else None)
            or _cassio_default("default_keyspace")
            or session.keyspace
        )
        if keyspace is None:
            msg = (
                "no keyspace: pass keyspace=..., call init(keyspace=...), or connect the session "
                "to a keyspace"
            )
            raise ConfigurationError(msg)
    return session, identifier(keyspace, "keyspace name")


def cache_profile(session: Session, base: object = EXEC_PROFILE_DEFAULT) -> ExecutionProfile:
    """A private copy of ``base`` returning rows as plain tuples (the fastest row factory).

    The copy is passed per request; the user's profiles are left untouched.
    """
    try:
        profile: ExecutionProfile = session.execution_profile_clone_update(
            base, row_factory=tuple_factory
        )
    except ValueError as exc:
        raise ConfigurationError(f"unknown execution profile {base!r}") from exc
    return profile
