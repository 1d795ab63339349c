"""Authentication and TLS, on a node of our own with PasswordAuthenticator and client TLS.

The node (127.0.0.1, native port 9242, storage port 7200; ``CASSANDRA_LLM_CACHE_TEST_SECURE_PORTS``
as ``NATIVE,STORAGE`` moves it) is started once, only when these tests run, and stopped at the end
of the session. Secrets and prompts must never show up in errors,
reprs or log lines: every test captures all logs at DEBUG and looks.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import uuid
from pathlib import Path

import pytest
from cassandra.cluster import NoHostAvailable
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache, init
from cassandra_llm_cache._storage.connection import reset
from cassandra_llm_cache.server import LocalCluster

pytestmark = pytest.mark.slow

NATIVE_PORT, STORAGE_PORT = (
    int(port)
    for port in os.environ.get("CASSANDRA_LLM_CACHE_TEST_SECURE_PORTS", "9242,7200").split(",")
)
KEYSPACE = "llm_cache_secure"
ROLE = "cache_app"
PASSWORD = f"Pw-{uuid.uuid4().hex}"  # distinctive, so a leak anywhere is found
PROMPT = f"TOP-SECRET-PROMPT-{uuid.uuid4().hex}"
LLM_STRING = "secure-test-llm"


def secure_base_dir() -> Path:
    base = os.environ.get("CASSANDRA_LLM_CACHE_TEST_DATA") or str(
        Path(tempfile.gettempdir()) / "cassandra-llm-cache-test"
    )
    return Path(base + "-secure")


@pytest.fixture(scope="session")
def secure_node():
    """A password-protected, TLS-only node with a role for the cache and a keyspace it may use."""
    node = LocalCluster(
        secure_base_dir(),
        nodes=1,
        native_port=NATIVE_PORT,
        storage_port=STORAGE_PORT,
        heap="512M",
        password_auth=True,
        tls=True,
    )
    already_running = node.is_running(1)
    try:
        node.start()
        from cassandra.cluster import Cluster

        admin = Cluster(
            ["127.0.0.1"], port=NATIVE_PORT, protocol_version=5, **node.driver_options()
        )
        try:
            session = admin.connect()
            session.execute(
                f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}"
            )
            # A fresh role per session (a password can only be changed every 5 s).
            session.execute(f"DROP ROLE IF EXISTS {ROLE}")
            session.execute(f"CREATE ROLE {ROLE} WITH LOGIN = true AND PASSWORD = %s", (PASSWORD,))
            session.execute(f"GRANT ALL PERMISSIONS ON KEYSPACE {KEYSPACE} TO {ROLE}")
        finally:
            admin.shutdown()
        yield node
    finally:
        if not already_running:
            node.stop()


@pytest.fixture
def every_log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def global_connection():
    yield
    reset()


def leaked(text: str) -> list[str]:
    return [secret for secret in (PASSWORD, PROMPT) if secret in text]


def all_log_text(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def connect(node: LocalCluster, password: str, context: ssl.SSLContext | None = None):
    return init(
        contact_points=["127.0.0.1"],
        port=NATIVE_PORT,
        username=ROLE,
        password=password,
        keyspace=KEYSPACE,
        ssl_context=context if context is not None else node.ssl_context(),
    )


def test_right_credentials_over_tls_work_and_leak_nothing(
    secure_node, every_log, global_connection, table_name
):
    connect(secure_node, PASSWORD)
    cache = CassandraCache(table_name=table_name)
    cache.update(PROMPT, LLM_STRING, [Generation(text="the answer")])
    assert cache.lookup(PROMPT, LLM_STRING) == [Generation(text="the answer")]
    assert cache.lookup(PROMPT + "?", LLM_STRING) is None
    assert cache.stats().hits == 1
    texts = [repr(cache), str(cache), repr(cache.stats()), all_log_text(every_log)]
    assert not [secret for text in texts for secret in leaked(text)]


@pytest.mark.asyncio
async def test_async_calls_over_tls_with_auth(secure_node, global_connection, table_name):
    connect(secure_node, PASSWORD)
    cache = CassandraCache(table_name=table_name)
    await cache.aupdate(PROMPT, LLM_STRING, [Generation(text="async answer")])
    assert await cache.alookup(PROMPT, LLM_STRING) == [Generation(text="async answer")]


def test_wrong_password_is_a_clear_error_without_the_password(
    secure_node, every_log, global_connection
):
    wrong = PASSWORD[::-1]
    with pytest.raises(NoHostAvailable) as info:
        connect(secure_node, wrong)
    message = str(info.value)
    assert "Bad credentials" in message
    assert "password are incorrect" in message
    for text in (message, repr(info.value), all_log_text(every_log)):
        assert PASSWORD not in text
        assert wrong not in text


def test_plaintext_connections_are_refused(secure_node, global_connection):
    with pytest.raises(NoHostAvailable):
        init(
            contact_points=["127.0.0.1"],
            port=NATIVE_PORT,
            username=ROLE,
            password=PASSWORD,
            cluster_options={"connect_timeout": 3, "control_connection_timeout": 3},
        )


def test_an_untrusted_certificate_is_refused(secure_node, global_connection):
    untrusted = ssl.create_default_context()  # system CAs only: the node's cert is self-signed
    with pytest.raises(NoHostAvailable) as info:
        connect(secure_node, PASSWORD, untrusted)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_the_certificate_must_name_the_server(secure_node, global_connection):
    with pytest.raises(NoHostAvailable) as info:
        init(
            contact_points=["127.0.0.1"],
            port=NATIVE_PORT,
            username=ROLE,
            password=PASSWORD,
            ssl_context=secure_node.ssl_context(),
            # As if the node were reached under a name its certificate does not carry.
            cluster_options={"ssl_options": {"server_hostname": "cache.example.invalid"}},
        )
    assert "certificate" in str(info.value).lower()
