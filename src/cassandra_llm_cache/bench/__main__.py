from cassandra_llm_cache.bench import main

raise SystemExit(main())
