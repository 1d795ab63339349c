"""A local Apache Cassandra 5.0 node (or a small cluster) run from Maven Central jars.

This is a user feature as well as the test harness: ``cassandra-llm-cache server start`` gives a
developer a real node with no Docker and no tarball download.
"""

from cassandra_llm_cache.server._jars import CASSANDRA_VERSION, JarSet, cached_jars, resolve_jars
from cassandra_llm_cache.server._process import (
    ClusterSettings,
    LocalCluster,
    NodeStatus,
    default_base_dir,
    find_java,
)

__all__ = [
    "CASSANDRA_VERSION",
    "ClusterSettings",
    "JarSet",
    "LocalCluster",
    "NodeStatus",
    "cached_jars",
    "default_base_dir",
    "find_java",
    "resolve_jars",
]
