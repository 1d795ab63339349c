"""The real node answers CQL and does vector search: the ground every other test stands on."""

import uuid

from cassandra.cluster import Session


def test_cql_round_trip(cassandra_session: Session, cassandra_keyspace: str, table_name: str):
    cassandra_session.execute(
        f"CREATE TABLE {cassandra_keyspace}.{table_name} (id uuid PRIMARY KEY, body text)"
    )
    key = uuid.uuid4()
    cassandra_session.execute(
        f"INSERT INTO {cassandra_keyspace}.{table_name} (id, body) VALUES (%s, %s)",
        (key, "héllo ✓"),
    )
    row = cassandra_session.execute(
        f"SELECT body FROM {cassandra_keyspace}.{table_name} WHERE id = %s", (key,)
    ).one()
    assert row is not None
    assert row.body == "héllo ✓"
    release = cassandra_session.execute("SELECT release_version FROM system.local").one()
    assert release.release_version.startswith("5.0")


def test_vector_column_with_sai_index_finds_the_nearest_row(
    cassandra_session: Session, cassandra_keyspace: str, table_name: str
):
    table = f"{cassandra_keyspace}.{table_name}"
    cassandra_session.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector<float, 3>)")
    cassandra_session.execute(f"CREATE INDEX ON {table}(v) USING 'sai'")
    insert = cassandra_session.prepare(f"INSERT INTO {table} (id, v) VALUES (?, ?)")
    for row_id, vector in enumerate([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]):
        cassandra_session.execute(insert, (row_id, vector))
    nearest = cassandra_session.execute(
        f"SELECT id, similarity_cosine(v, [0.1, 0.2, 0.9]) AS score FROM {table} "
        "ORDER BY v ANN OF [0.1, 0.2, 0.9] LIMIT 1"
    ).one()
    assert nearest.id == 2
    assert 0.9 < nearest.score <= 1.0
