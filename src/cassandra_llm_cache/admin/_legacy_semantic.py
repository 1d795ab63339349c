"""Migrating langchain_community's semantic cache table into this package's semantic layout.

The legacy table (cassio's metadata vector table) keeps, per entry, ``row_id`` = md5(prompt)
``-`` md5(llm_string), the prompt in plain text (``attributes_blob``), the md5 of the
llm_string (``metadata_s``), the serialized generations (``body_blob``) and the prompt's vector.
The llm_string itself is not stored, so its SHA-256 cannot be computed: the target keeps md5
keys (``(md5 keys)`` in its comment), which ``CassandraSemanticCache`` honours for lookups and
writes alike, so every migrated entry stays a hit for its prompt and model string.

Vectors are reused when they mean what this package embeds: same length as the target's, and
the whole prompt embedded (an LLM prompt; for a chat prompt the legacy class embedded the JSON of
all messages, this package only the last human message's text). Otherwise the prompt's text is
embedded again with the embedding given on the command line; without one such entries are
skipped and counted (``needs embedding``). The guard's digests are computed from the prompt, as
the cache computes them when it writes.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._semantic import guard as _guard
from cassandra_llm_cache._semantic.cql import (
    legacy_dimension,
    semantic_index_cql,
    semantic_table_cql,
    table_dimension,
    usable_vector,
)
from cassandra_llm_cache._semantic.prompt_text import split_prompt
from cassandra_llm_cache._semantic.similarity import resolve_measure
from cassandra_llm_cache._storage.cql import uses_md5_keys
from cassandra_llm_cache.admin._records import EntryRecord, SkipRecordError
from cassandra_llm_cache.admin._tables import TableDescription, TableKind, describe

if TYPE_CHECKING:
    from cassandra.cluster import Session
    from langchain_core.embeddings import Embeddings

PROBE_TEXT: Final = "This is a sample sentence."
"""Embedded to learn the vector length of an embedding that does not advertise it."""
NEEDS_EMBEDDING: Final = "needs embedding"
UNUSABLE_VECTOR: Final = "unusable vector"


def load_embedding(spec: str) -> Embeddings:
    """``local`` (:class:`LocalEmbeddings`) or ``module:factory``, called without arguments."""
    if spec == "local":
        from cassandra_llm_cache.embeddings import LocalEmbeddings

        return LocalEmbeddings()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        msg = "--embedding must be 'local' or 'module:factory' (a callable returning Embeddings)"
        raise ConfigurationError(msg)
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"--embedding {spec}: cannot load it ({exc})") from None
    embedding = factory() if callable(factory) else factory
    if not callable(getattr(embedding, "embed_query", None)):
        raise ConfigurationError(f"--embedding {spec} is not a LangChain Embeddings")
    return embedding  # type: ignore[no-any-return]


def dimension_of(embedding: Embeddings) -> int:
    """The embedding's vector length: its ``dimension`` attribute, or one probe's length."""
    advertised = getattr(embedding, "dimension", None)
    if isinstance(advertised, int) and not isinstance(advertised, bool):
        return advertised
    return len(embedding.embed_query(PROBE_TEXT))


class LegacyVectors:
    """Gives each legacy record the vector and guard this package's semantic table needs.

    ``dry_run``: count what would be embedded, without embedding.
    """

    def __init__(
        self, *, dimension: int, embedding: Embeddings | None, dry_run: bool = False
    ) -> None:
        self._dimension = dimension
        self._embedding = embedding
        self._dry_run = dry_run
        self.reused = 0
        self.embedded = 0

    def __call__(self, record: EntryRecord) -> EntryRecord:
        if record.prompt is None:  # pragma: no cover - legacy rows without one are unreadable
            raise SkipRecordError("unreadable")
        parts = split_prompt(record.prompt)
        vector: list[float] | None = None
        if parts.text:
            vector = self._reusable(record, whole_prompt=parts.text == record.prompt)
            if vector is None:
                vector = self._embedded(parts.text)
        signature = _guard.signature(parts.text)
        guard = _guard.encode(_guard.digest(signature, record.prompt_key.hex()))
        return dataclasses.replace(record, embedding=vector, guard=guard)

    def _reusable(self, record: EntryRecord, *, whole_prompt: bool) -> list[float] | None:
        stored = record.embedding
        if not whole_prompt or stored is None or len(stored) != self._dimension:
            return None
        vector = usable_vector(stored, self._dimension)
        if vector is not None:
            self.reused += 1
        return vector

    def _embedded(self, text: str) -> list[float]:
        if self._embedding is None:
            raise SkipRecordError(NEEDS_EMBEDDING)
        self.embedded += 1
        if self._dry_run:
            return []
        vector = usable_vector(self._embedding.embed_query(text), self._dimension)
        if vector is None:
            raise SkipRecordError(UNUSABLE_VECTOR)
        return vector


def target_dimension(
    session: Session,
    source: TableDescription,
    keyspace: str,
    table: str,
    *,
    embedding: Embeddings | None,
) -> tuple[TableDescription | None, int]:
    """The existing target (or None) and the vector length the target has or will have.

    An existing target must be this package's semantic table keyed with md5; a new one gets the
    embedding's vector length, or without an embedding the source's (so vectors are reused).
    """
    source_dimension = legacy_dimension(source.info, where=source.where)
    # Learnt once: an embedding that does not advertise it is asked with one (paid) probe.
    embedded = dimension_of(embedding) if embedding is not None else None
    try:
        target: TableDescription | None = describe(session, keyspace, table)
    except ConfigurationError as exc:
        if "does not exist" not in str(exc) or str(exc).startswith("keyspace"):
            raise
        target = None
    if target is not None:
        if target.kind is not TableKind.SEMANTIC or not uses_md5_keys(target.info):
            msg = (
                f"{target.where} exists and is not a semantic table keyed with md5: entries of "
                f"langchain_community's semantic cache keep their md5 keys (the model strings "
                "are not stored), so migrate them into a new table"
            )
            raise ConfigurationError(msg)
        dimension = table_dimension(target.info, where=target.where)
        if embedded is not None and embedded != dimension:
            msg = (
                f"the embedding gives vectors of {embedded} numbers, {target.where} holds "
                f"{dimension}: use the table's model or another table"
            )
            raise ConfigurationError(msg)
    else:
        dimension = embedded if embedded is not None else source_dimension
    if embedding is None and dimension != source_dimension:
        msg = (
            f"{source.where} holds vectors of {source_dimension} numbers, the target "
            f"{dimension}: pass --embedding to embed the prompts again"
        )
        raise ConfigurationError(msg)
    return target, dimension


def create_target(
    session: Session, keyspace: str, table: str, *, dimension: int, similarity: str
) -> TableDescription:
    """Create this package's semantic table (md5 keys) and its indexes; describe it."""
    measure = resolve_measure(similarity)
    statements = [
        semantic_table_cql(keyspace, table, dimension, md5_keys=True),
        *semantic_index_cql(keyspace, table, measure),
    ]
    for statement in statements:
        session.execute(statement, timeout=60)
    return describe(session, keyspace, table)
