"""``python -m cassandra_llm_cache.eval``: the same as ``cassandra-llm-cache eval-semantic``."""

from cassandra_llm_cache.eval._command import main

raise SystemExit(main())
