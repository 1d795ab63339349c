"""Storage: how a cache talks to Cassandra (connection, setup, CQL, statements, asyncio bridge).

May import ``_policy``, ``_values``, ``_errors`` and ``_version``; never the semantic internals or
the cache classes.
"""
