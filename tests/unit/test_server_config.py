"""The pure parts of the local launcher: tokens, cassandra.yaml and the JVM command."""

from pathlib import Path

from cassandra_llm_cache.server._config import NodeSpec, balanced_tokens


def test_balanced_tokens_match_the_documented_three_node_ring():
    assert balanced_tokens(3) == [
        -9223372036854775808,
        -3074457345618258603,
        3074457345618258602,
    ]
    assert balanced_tokens(1) == [-(2**63)]


def test_yaml_has_the_settings_cassandra_5_refuses_to_start_without(tmp_path: Path):
    spec = NodeSpec(index=2, node_count=3, base_dir=tmp_path, native_port=9142, storage_port=7100)
    text = spec.yaml_text()
    for required in (
        "commitlog_sync: periodic",
        "commitlog_sync_period: 10000ms",
        "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch: SimpleSnitch",
        "org.apache.cassandra.locator.SimpleSeedProvider",
    ):
        assert required in text
    assert "listen_address: 127.0.0.2" in text
    assert "rpc_address: 127.0.0.2" in text
    assert "native_transport_port: 9142" in text
    assert 'seeds: "127.0.0.1:7100,127.0.0.2:7100,127.0.0.3:7100"' in text
    assert f"initial_token: {balanced_tokens(3)[1]}" in text
    assert "num_tokens: 1" in text
    assert "allocate_tokens_for_local_replication_factor" not in text
    assert str(tmp_path / "node2" / "data") in text


def test_password_auth_switches_authenticator(tmp_path: Path):
    plain = NodeSpec(index=1, node_count=1, base_dir=tmp_path).yaml_text()
    secured = NodeSpec(index=1, node_count=1, base_dir=tmp_path, password_auth=True).yaml_text()
    assert "authenticator: AllowAllAuthenticator" in plain
    assert "authenticator: PasswordAuthenticator" in secured


def test_java_command_has_jdk17_flags_config_url_and_daemon(tmp_path: Path):
    spec = NodeSpec(index=1, node_count=1, base_dir=tmp_path, heap="768M")
    command = spec.java_command("java", "a.jar:b.jar", tmp_path / "jamm-0.4.0.jar")
    assert command[0] == "java"
    assert command[-1] == "org.apache.cassandra.service.CassandraDaemon"
    assert "-Xmx768M" in command
    assert f"-Dcassandra.config={spec.yaml_path.as_uri()}" in command
    assert spec.yaml_path.as_uri().startswith("file:///")
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in command
    assert "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED" in command
    assert f"-javaagent:{tmp_path / 'jamm-0.4.0.jar'}" in command
    assert "-Dcassandra.skip_wait_for_gossip_to_settle=0" in command
    assert f"-Djava.io.tmpdir={spec.tmp_dir}" in command
    assert command[command.index("-cp") + 1] == "a.jar:b.jar"
