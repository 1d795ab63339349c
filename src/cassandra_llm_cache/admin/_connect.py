"""The connection options every data command shares, and the session they open.

Flags win over the environment variables ``init(auto=True)`` reads: ``CASSANDRA_CONTACT_POINTS``,
``CASSANDRA_PORT``, ``CASSANDRA_USERNAME``, ``CASSANDRA_PASSWORD``, ``CASSANDRA_KEYSPACE``. The
password is read from the environment only, so that it never shows in a process list.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._storage.cql import identifier

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from cassandra.cluster import Session


def add_connection_arguments(parser: argparse.ArgumentParser, *, table_default: str) -> None:
    group = parser.add_argument_group(
        "connection",
        "Flags override the environment variables CASSANDRA_CONTACT_POINTS, CASSANDRA_PORT, "
        "CASSANDRA_USERNAME and CASSANDRA_KEYSPACE; the password comes from CASSANDRA_PASSWORD.",
    )
    group.add_argument(
        "--contact-points", metavar="HOSTS", help="comma-separated hosts (default: from env)"
    )
    group.add_argument("--port", type=int, help="CQL port (default 9042)")
    group.add_argument("--username", help="user name (the password is read from the env)")
    group.add_argument(
        "--secure-connect-bundle", metavar="ZIP", help="Astra DB secure connect bundle"
    )
    group.add_argument("--local-dc", help="the local data centre, for multi-DC clusters")
    group.add_argument("-k", "--keyspace", help="the keyspace (default: $CASSANDRA_KEYSPACE)")
    group.add_argument(
        "-t", "--table", default=table_default, help=f"the cache table (default {table_default})"
    )


def keyspace_and_table(args: argparse.Namespace) -> tuple[str, str]:
    """The validated keyspace (flag, then environment) and table of a command."""
    keyspace = args.keyspace or os.environ.get("CASSANDRA_KEYSPACE")
    if not keyspace:
        raise ConfigurationError("no keyspace: pass --keyspace or set CASSANDRA_KEYSPACE")
    return identifier(keyspace, "keyspace name"), identifier(args.table, "table name")


@contextmanager
def connected(args: argparse.Namespace) -> Iterator[Session]:
    """A session opened from the flags and environment; closed on exit."""
    # The driver loads only now: building the parser and --help stay fast.
    from cassandra_llm_cache._errors import CacheOperationError
    from cassandra_llm_cache._storage.connection import (
        ENV_CONTACT_POINTS,
        ENV_PASSWORD,
        ENV_PORT,
        ENV_USERNAME,
        _open_cluster,
    )
    from cassandra_llm_cache._storage.store import DRIVER_ERRORS

    if not logging.getLogger("cassandra").handlers:
        # The driver's notices (protocol negotiation, ...) would clutter a command's output.
        logging.getLogger("cassandra").setLevel(logging.ERROR)
    bundle = args.secure_connect_bundle
    contact_points = args.contact_points or (None if bundle else os.environ.get(ENV_CONTACT_POINTS))
    if not (contact_points or bundle):
        msg = (
            f"no cluster: pass --contact-points or --secure-connect-bundle, or set "
            f"{ENV_CONTACT_POINTS}"
        )
        raise ConfigurationError(msg)
    port = args.port
    if port is None and os.environ.get(ENV_PORT, "").strip():
        try:
            port = int(os.environ[ENV_PORT])
        except ValueError:
            raise ConfigurationError(f"{ENV_PORT} must be a port number") from None
    # A cluster of the command's own, as init() would open it, but leaving the process-wide
    # connection alone: commands also run inside applications and tests.
    cluster = _open_cluster(
        contact_points=contact_points,
        port=port,
        username=args.username or os.environ.get(ENV_USERNAME) or None,
        password=os.environ.get(ENV_PASSWORD) or None,
        ssl_context=None,
        secure_connect_bundle=bundle,
        local_datacenter=args.local_dc,
        # An administrative command can wait longer than an application for a busy cluster.
        cluster_options={"connect_timeout": 20, "control_connection_timeout": 20},
    )
    try:
        try:
            session = cluster.connect()
        except DRIVER_ERRORS as exc:
            # The driver's message names hosts and the reason (never the password).
            raise CacheOperationError(f"cannot connect: {str(exc)[:500]}") from exc
        yield session
    finally:
        cluster.shutdown()
