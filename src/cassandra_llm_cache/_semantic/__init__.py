"""Semantic-cache internals: prompt text, similarity, the false-hit guard, vector CQL and writes.

May import ``_storage``, ``_policy``, ``_values``, ``_errors``; never the cache classes.
"""
