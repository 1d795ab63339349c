"""Policy around each request (fail-open, breaker, limits, stats, telemetry, argument checks), pure.

May import ``_values``, ``_errors`` and ``_version``; never storage, the caches or I/O.
"""
