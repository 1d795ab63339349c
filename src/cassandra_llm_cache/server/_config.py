"""Pure description of a local node: directories, cassandra.yaml, logback config, JVM command.

Nothing here touches the disk or starts a process; ``_process`` does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_MIN_TOKEN = -(2**63)
# The password of the throw-away keystore of a local TLS node (not a secret: the key never leaves
# the node directory and only serves 127.0.0.x).
KEYSTORE_PASSWORD = "cassandra"  # noqa: S105
_TOKEN_SPAN = 2**64

# From conf/jvm17-server.options of Cassandra 5.0: JDK 17 refuses Cassandra's reflection without.
_JDK17_EXPORTS = (
    "java.base/jdk.internal.misc",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.management/com.sun.jmx.remote.security",
    "java.rmi/sun.rmi.registry",
    "java.rmi/sun.rmi.server",
    "java.sql/java.sql",
    "java.base/java.lang.ref",
    "jdk.unsupported/sun.misc",
)
_JDK17_OPENS = (
    "java.base/java.lang.module",
    "java.base/jdk.internal.loader",
    "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect",
    "java.base/jdk.internal.math",
    "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar",
    "jdk.management/com.sun.management.internal",
    "java.base/sun.nio.ch",
    "java.base/java.io",
    "java.base/java.lang.reflect",
    "java.base/java.lang",
    "java.base/java.util",
    "java.base/java.nio",
)

LOGBACK_XML = """<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <logger name="com.datastax" level="WARN"/>
  <root level="WARN"><appender-ref ref="FILE"/></root>
</configuration>
"""


def balanced_tokens(count: int) -> list[int]:
    """One Murmur3 token per node, evenly spread (node 1 gets the minimum token)."""
    return [_MIN_TOKEN + (_TOKEN_SPAN * i) // count for i in range(count)]


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    """Everything needed to run node ``index`` (1-based) of a local cluster."""

    index: int
    node_count: int
    base_dir: Path
    cluster_name: str = "cassandra-llm-cache"
    native_port: int = 9042
    storage_port: int = 7000
    heap: str = "1G"
    password_auth: bool = False
    tls: bool = False

    @property
    def address(self) -> str:
        return f"127.0.0.{self.index}"

    @property
    def node_dir(self) -> Path:
        return self.base_dir / f"node{self.index}"

    @property
    def log_dir(self) -> Path:
        return self.node_dir / "logs"

    @property
    def yaml_path(self) -> Path:
        return self.node_dir / "conf" / "cassandra.yaml"

    @property
    def logback_path(self) -> Path:
        return self.node_dir / "conf" / "logback.xml"

    @property
    def pid_path(self) -> Path:
        return self.node_dir / "cassandra.pid"

    @property
    def system_log(self) -> Path:
        return self.log_dir / "system.log"

    @property
    def stdout_log(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def tmp_dir(self) -> Path:
        return self.node_dir / "tmp"

    @property
    def tls_dir(self) -> Path:
        """One self-signed key pair per cluster, valid for every node's address."""
        return self.base_dir / "tls"

    @property
    def keystore_path(self) -> Path:
        return self.tls_dir / "keystore.p12"

    @property
    def certificate_path(self) -> Path:
        """The nodes' certificate (PEM), for ``ssl.SSLContext.load_verify_locations``."""
        return self.tls_dir / "node-cert.pem"

    def keytool_commands(self, keytool: str) -> list[list[str]]:
        """Make a self-signed key pair for 127.0.0.1..N, then export its certificate as PEM."""
        addresses = ",".join(f"IP:127.0.0.{i}" for i in range(1, self.node_count + 1))
        common = ["-storetype", "PKCS12", "-storepass", KEYSTORE_PASSWORD, "-noprompt"]
        return [
            [
                keytool,
                "-genkeypair",
                "-alias",
                "node",
                "-keyalg",
                "RSA",
                "-keysize",
                "2048",
                "-validity",
                "3650",
                "-dname",
                "CN=cassandra-llm-cache local node",
                "-ext",
                f"SAN={addresses}",
                "-keystore",
                str(self.keystore_path),
                "-keypass",
                KEYSTORE_PASSWORD,
                *common,
            ],
            [
                keytool,
                "-exportcert",
                "-rfc",
                "-alias",
                "node",
                "-keystore",
                str(self.keystore_path),
                "-file",
                str(self.certificate_path),
                *common,
            ],
        ]

    @property
    def token(self) -> int:
        return balanced_tokens(self.node_count)[self.index - 1]

    def seeds(self) -> str:
        return ",".join(f"127.0.0.{i}:{self.storage_port}" for i in range(1, self.node_count + 1))

    def yaml_text(self) -> str:
        data = self.node_dir / "data"
        lines = [
            f"cluster_name: '{self.cluster_name}'",
            "num_tokens: 1",
            f"initial_token: {self.token}",
            "auto_bootstrap: false",
            "auto_snapshot: false",
            "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
            "endpoint_snitch: SimpleSnitch",
            "commitlog_sync: periodic",
            "commitlog_sync_period: 10000ms",
            "commitlog_segment_size: 32MiB",
            f"listen_address: {self.address}",
            f"rpc_address: {self.address}",
            f"native_transport_port: {self.native_port}",
            f"storage_port: {self.storage_port}",
            "seed_provider:",
            "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
            "    parameters:",
            f'      - seeds: "{self.seeds()}"',
            f"data_file_directories: ['{data / 'data'}']",
            f"commitlog_directory: '{data / 'commitlog'}'",
            f"hints_directory: '{data / 'hints'}'",
            f"saved_caches_directory: '{data / 'saved_caches'}'",
            f"cdc_raw_directory: '{data / 'cdc_raw'}'",
            "concurrent_reads: 8",
            "concurrent_writes: 8",
            "concurrent_compactors: 1",
            "memtable_flush_writers: 1",
            "sai_options:",
            "  segment_write_buffer_size: 64MiB",
            "authenticator: "
            + ("PasswordAuthenticator" if self.password_auth else "AllowAllAuthenticator"),
            "authorizer: "
            + ("CassandraAuthorizer" if self.password_auth else "AllowAllAuthorizer"),
        ]
        if self.tls:
            lines += [
                "client_encryption_options:",
                "  enabled: true",
                "  optional: false",
                f"  keystore: '{self.keystore_path}'",
                f"  keystore_password: '{KEYSTORE_PASSWORD}'",
                "  store_type: PKCS12",
                "  require_client_auth: false",
            ]
        return "\n".join(lines) + "\n"

    def java_command(self, java: str, classpath: str, jamm_agent: Path | None) -> list[str]:
        command = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-Xss256k",
            "-XX:+UseG1GC",
            "-XX:+HeapDumpOnOutOfMemoryError",
            f"-XX:HeapDumpPath={self.node_dir}",
            "-Djdk.attach.allowAttachSelf=true",
            "-Djava.net.preferIPv4Stack=true",
            "-Dchronicle.analytics.disable=true",
            "-Dio.netty.tryReflectionSetAccessible=true",
            "-Dio.netty.allocator.useCacheForAllThreads=true",
            "-Dio.netty.allocator.maxOrder=11",
            f"-Dcassandra.config={self.yaml_path.as_uri()}",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.logdir={self.log_dir}",
            f"-Dcassandra.storagedir={self.node_dir / 'data'}",
            f"-Dlogback.configurationFile={self.logback_path}",
            f"-Djava.io.tmpdir={self.tmp_dir}",
            f"-Djna.tmpdir={self.tmp_dir}",
            # Fast start for a local node: no gossip settling, short ring delay, no fsync.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=1000",
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-Dcassandra.skip_sync=true",
        ]
        if jamm_agent is not None:
            command.append(f"-javaagent:{jamm_agent}")
        command += [f"--add-exports={name}=ALL-UNNAMED" for name in _JDK17_EXPORTS]
        command += [f"--add-opens={name}=ALL-UNNAMED" for name in _JDK17_OPENS]
        command += [
            "-cp",
            classpath,
            "org.apache.cassandra.service.CassandraDaemon",
        ]
        return command
