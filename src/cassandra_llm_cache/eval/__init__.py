"""Hit-quality evaluation of the semantic cache (``cassandra-llm-cache eval-semantic``).

See ``docs/semantic-quality.md`` for what it measures and the latest results.
"""
