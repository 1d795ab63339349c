"""Tools for operators: table statistics, inspection, clears, export, import and migration.

The ``cassandra-llm-cache`` command line is built on this package; its functions can be called
from Python too.
"""
