"""Labelled question pairs nobody on this project wrote: loaders and a deterministic split.

A data set is a list of pairs ``(a, b, same)``: may the answer cached for ``a`` answer ``b``?

- **STS 2016 question-question** (shipped: ``sts2016_question_question.tsv``, CC BY-SA 3.0, see
  ``sts2016_question_question.LICENSE``): 209 Stack Exchange question pairs with a graded
  similarity (0-5). ``same`` is a score of 4 or 5 ("mostly" or "completely equivalent"); a 3
  ("roughly equivalent, some important information differs") is not the same question.
- **Quora Question Pairs** from a path the user passes (GPTCache's
  ``examples/benchmark/similiar_qqp_full.json.gz``, a tar.gz of one JSON list, or any JSON/JSONL
  with ``text_a``/``text_b``/``label``): Quora's terms allow non-commercial use only, so it is
  never shipped.
- **AskUbuntu duplicate questions** from a directory the user passes (a checkout of
  ``taolei87/askubuntu`` with ``text_tokenized.txt.gz`` and ``test.txt``): the question titles;
  each query against its 20 annotated candidates.
- **Any JSONL of labelled pairs** (``--pairs`` of ``calibrate``): ``cached``/``query``/``same``,
  ``question1``/``question2``/``is_duplicate`` or ``text_a``/``text_b``/``label``.

The split keeps calibration and test apart by connected component (two pairs sharing a question
land in the same split), chosen by a hash of the texts, so it is the same on every machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

STS_FILE: Final = "sts2016_question_question.tsv"
STS_SAME_FROM: Final = 4.0
CALIBRATION: Final = "calibration"
TEST: Final = "test"
_PAIR_KEYS: Final = (
    ("cached", "query", "same"),
    ("question1", "question2", "is_duplicate"),
    ("text_a", "text_b", "label"),
    ("text1", "text2", "label"),
)


@dataclass(frozen=True)
class LabelledPair:
    """May the answer cached for ``a`` answer ``b``? (``same``)."""

    a: str
    b: str
    same: bool


@dataclass(frozen=True)
class PairSet:
    """A named data set of labelled pairs and where it came from."""

    name: str
    source: str
    pairs: tuple[LabelledPair, ...]


def sts2016() -> PairSet:
    """The shipped STS 2016 question-question pairs."""
    text = resources.files("cassandra_llm_cache.eval").joinpath(STS_FILE).read_text("utf-8")
    pairs = []
    for line in text.splitlines():
        score, a, b = line.split("\t")
        pairs.append(LabelledPair(a.strip(), b.strip(), float(score) >= STS_SAME_FROM))
    return PairSet("sts2016-qq", "SemEval-2016 STS question-question (CC BY-SA 3.0)", tuple(pairs))


def quora(path: Path, *, limit: int | None = None) -> PairSet:
    """Quora Question Pairs from the user's file; ``limit`` pairs chosen by a hash, not the top."""
    items = _json_items(path)
    pairs = [_pair(item, path) for item in items]
    if limit is not None:
        pairs = sorted(pairs, key=lambda p: _digest(p.a, p.b))[:limit]
    return PairSet("quora", f"Quora Question Pairs from {path.name} (non-commercial)", tuple(pairs))


def askubuntu(directory: Path, *, limit: int | None = None) -> PairSet:
    """AskUbuntu's annotated test queries (titles), each with its 20 candidates."""
    corpus, annotations = directory / "text_tokenized.txt.gz", directory / "test.txt"
    for needed in (corpus, annotations):
        if not needed.is_file():
            raise ConfigurationError(f"{needed} is missing: pass a checkout of taolei87/askubuntu")
    titles: dict[str, str] = {}
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            qid, title, *_ = line.rstrip("\n").split("\t")
            titles[qid] = title.strip()
    pairs: list[LabelledPair] = []
    for line in annotations.read_text(encoding="utf-8").splitlines()[:limit]:
        query, similar, candidates, *_ = line.split("\t")
        positives = set(similar.split())
        if not positives:
            continue  # the paper leaves out queries without an annotated duplicate
        pairs.extend(
            LabelledPair(titles[candidate], titles[query], candidate in positives)
            for candidate in candidates.split()
            if candidate in titles and query in titles
        )
    return PairSet("askubuntu", f"AskUbuntu test annotations from {directory.name}", tuple(pairs))


def jsonl_pairs(path: Path) -> PairSet:
    """Labelled pairs from a JSON Lines file (or a JSON list) in one of the known layouts."""
    return PairSet(
        path.stem, str(path.name), tuple(_pair(item, path) for item in _json_items(path))
    )


def _json_items(path: Path) -> list[Any]:
    if not path.is_file():
        raise ConfigurationError(f"no such file: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
        if tarfile.is_tarfile(io.BytesIO(raw)):
            raw = _only_json_member(raw, path)
    text = raw.decode("utf-8").strip()
    if text.startswith("["):
        items = json.loads(text)
        if not isinstance(items, list):  # pragma: no cover - "[" starts a list
            raise ConfigurationError(f"{path}: expected a JSON list of pairs")
        return items
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{path}: line {exc.lineno} is not JSON") from None


def _only_json_member(raw: bytes, path: Path) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")]
        if len(members) != 1:
            raise ConfigurationError(f"{path}: expected one .json file in the archive")
        extracted = archive.extractfile(members[0])
        assert extracted is not None
        return extracted.read()


def _pair(item: object, path: Path) -> LabelledPair:
    if isinstance(item, dict):
        for a_key, b_key, label_key in _PAIR_KEYS:
            if a_key in item and b_key in item and label_key in item:
                a, b, label = item[a_key], item[b_key], item[label_key]
                if isinstance(a, str) and isinstance(b, str) and isinstance(label, (bool, int)):
                    return LabelledPair(a, b, bool(label))
    layouts = "; ".join("/".join(keys) for keys in _PAIR_KEYS)
    raise ConfigurationError(f"{path}: every pair needs one of these key sets: {layouts}")


def _digest(*texts: str) -> bytes:
    return hashlib.sha256("\x00".join(texts).encode()).digest()


def _components(pairs: Iterable[LabelledPair], *, only_same: bool) -> dict[str, str]:
    """Each text's component root: texts joined by the pairs (by ``same`` ones only, if asked)."""
    parent: dict[str, str] = {}

    def root(text: str) -> str:
        parent.setdefault(text, text)
        while parent[text] != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    for pair in pairs:
        first, second = root(pair.a), root(pair.b)
        if pair.same or not only_same:
            parent[first] = second
    return {text: root(text) for text in parent}


def split(pairs: Sequence[LabelledPair]) -> dict[str, tuple[LabelledPair, ...]]:
    """Calibration and test halves, apart by connected component, the same on every machine."""
    roots = _components(pairs, only_same=False)
    members: dict[str, list[str]] = {}
    for text, component in roots.items():
        members.setdefault(component, []).append(text)
    side = {
        text: CALIBRATION if _digest(min(texts))[0] % 2 == 0 else TEST
        for texts in members.values()
        for text in texts
    }
    halves: dict[str, list[LabelledPair]] = {CALIBRATION: [], TEST: []}
    for pair in pairs:
        halves[side[pair.a]].append(pair)
    return {name: tuple(items) for name, items in halves.items()}


def same_question_classes(pairs: Iterable[LabelledPair]) -> dict[str, str]:
    """Each text's class: texts linked by ``same`` pairs ask the same question (transitively).

    Texts never labelled the same are different questions: the simulation counts a hit between
    them as wrong, which is right for these sets (their unlabelled cross pairs are different
    questions almost always) and makes the measured precision a lower bound.
    """
    return _components(pairs, only_same=True)


def stream(pairs: Sequence[LabelledPair]) -> tuple[str, ...]:
    """The order queries arrive in: pairs in a fixed pseudo-random order, ``a`` then ``b``.

    Each distinct text arrives once (a repeat would be an exact hit, which says nothing about
    the threshold); ``a`` arrives first, so it is in the cache when ``b`` comes.
    """
    seen: dict[str, None] = {}
    for pair in sorted(pairs, key=lambda p: _digest(p.a, p.b)):
        seen.setdefault(pair.a)
        seen.setdefault(pair.b)
    return tuple(seen)
