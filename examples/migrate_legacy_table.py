"""Move a langchain_community cache table into this package's layout, keeping every entry warm.

Run (with CASSANDRA_CONTACT_POINTS and CASSANDRA_KEYSPACE set; needs langchain-community and
cassio, only to create the legacy table this example starts from):
    python examples/migrate_legacy_table.py

Step 1 stands for an application that used `langchain_community.cache.CassandraCache`. Serving
that table in place already works (`CassandraCache(table_name=...)`); migrating gives it this
package's table options, compression, namespaces and faster values. Legacy keys are md5 digests
that cannot be turned into SHA-256 without the prompts, so the new table keeps md5 keys (its
comment says so) and every migrated entry stays a hit. The same command also rolls back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache, init

CLI = Path(sys.executable).with_name("cassandra-llm-cache")


def cli(*args: str) -> None:
    """Run a `cassandra-llm-cache` command (it reads the same CASSANDRA_* variables)."""
    print("$ cassandra-llm-cache", " ".join(args))
    subprocess.run([str(CLI), *args], check=True, env=os.environ)


def main() -> None:
    session = init(auto=True)
    keyspace = os.environ["CASSANDRA_KEYSPACE"]

    # 1. The legacy cache, as an application wrote it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.cache import CassandraCache as LegacyCassandraCache

    old = LegacyCassandraCache(session=session, keyspace=keyspace, table_name="legacy_cache")
    for i in range(20):
        old.update(f"question {i}", "my-model", [Generation(text=f"answer {i}")])

    # 2. Look before moving, then migrate (parallel, resumable with --resume).
    cli("stats", "--table", "legacy_cache")
    cli("migrate", "--table", "legacy_cache", "--to-table", "llm_cache", "--quiet")

    # 3. The application switches its import and table: the migrated entries are hits.
    cache = CassandraCache(table_name="llm_cache")
    assert cache.lookup("question 7", "my-model") == [Generation(text="answer 7")]
    print("question 7 ->", cache.lookup("question 7", "my-model")[0].text)
    cli("inspect", "--table", "llm_cache", "--prompt", "question 7", "--llm-string", "my-model")

    # 4. Rolling back, if ever needed: the legacy layout again, readable by the old class.
    cli("migrate", "--table", "llm_cache", "--to-table", "legacy_cache_again",
        "--layout", "legacy", "--quiet")  # fmt: skip
    for table in ("legacy_cache", "llm_cache", "legacy_cache_again"):
        session.execute(f"DROP TABLE IF EXISTS {keyspace}.{table}", timeout=60)


if __name__ == "__main__":
    main()
