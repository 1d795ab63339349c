"""The false-hit guard: cheap checks that a cached prompt asks what a new prompt asks. Pure.

Every embedding model scores "Convert 10 miles to kilometers" and "Convert 10 kilometers to miles"
above 0.99, so no threshold separates them. The guard extracts, from each prompt, the features that
change the answer while barely moving the embedding, and rejects a candidate hit whose features
differ from the query's:

- numbers, in order (digits, number words, "10k", "1,000", versions), and identifiers with digits
  ("GPT-4", "IPv6");
- the count of negations ("not", "no", "never", "without", "-n't" ...);
- units (multiset) and the conversion direction ("X to Y", "how many Y in X");
- a "from X to Y" flow ("migrate from MySQL to PostgreSQL", "convert a list to a tuple");
- opposite poles of the same scale ("largest" / "smallest", "before" / "after", "buy" / "sell");
- the question asked ("who" / "when" / "where" / "why");
- named things: one prompt naming something the other does not while the other names something
  the first does not ("France" / "Germany", "in Python" / "in Rust"); a name present on one side
  only is allowed, paraphrases often drop or add one. With "than", the order of the names.

It is English-only and heuristic: it trades some recall (a paraphrase that writes a number in a way
it does not parse is rejected) for fewer wrong answers; ``docs/semantic-quality.md`` measures both.
A stored entry keeps only salted digests of its features (``digest``), never the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._semantic import guard_words as words

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "SIGNATURE_FORMAT",
    "Signature",
    "check",
    "compare",
    "decode",
    "digest",
    "encode",
    "signature",
]

SIGNATURE_FORMAT: Final = 1
_DIGEST_HEX_CHARS: Final = 16
_FAR: Final = -(10**9)

_TOKEN: Final = re.compile(
    r"""
    (?P<num>(?<![\w.])-?\d+(?:,\d{3})+(?:\.\d+)?|(?<![\w.])-?\d+(?:\.\d+)*)
    |(?P<word>[^\W\d_](?:[\w'\u2019+#./-]*[\w+#])?)
    |(?P<sym>[$€£¥₹%°])
    |(?P<punct>[.!?;:\n])
    """,
    re.VERBOSE,
)
_VERSION: Final = re.compile(r"v\d+(?:\.\d+)*")
_ELISION: Final = re.compile(
    r"(?<![\w'\u2019])((?:[cdjlmnstCDJLMNST]|[Qq]u)['\u2019])(?=[A-ZÀ-ÖØ-Þ])"
)
_OTHER_UNITS: Final = words.UNIT_WORDS_OTHER_LANGUAGES
_POLES_OF_WORD: Final[dict[str, list[tuple[str, str]]]] = defaultdict(list)
for _group, (_plus, _minus) in words.OPPOSITES.items():
    for _word in _plus:
        _POLES_OF_WORD[_word].append((_group, "+"))
    for _word in _minus:
        _POLES_OF_WORD[_word].append((_group, "-"))
_LEXICON_WORDS: Final = (
    frozenset(_POLES_OF_WORD)
    | words.NEGATIONS
    | words.QUESTION_WORDS
    | frozenset(words.NUMBER_WORDS)
    | frozenset(words.MULTIPLIER_WORDS)
)
# Words after which a time unit stands for one of it ("per hour", "a day").
_ONE_WORDS: Final = frozenset({"a", "an", "per", "each", "every"})
_UNIT_WINDOW: Final = 3  # "3 short paragraphs": a count may sit up to 3 words before its unit
_RATE_NAMES: Final = {("mile", "hour"): "mph", ("kilometer", "hour"): "kph"}
_TEMPERATURES: Final = frozenset({"celsius", "fahrenheit", "kelvin"})
_AREA_PREFIXES: Final = {"square": "square_", "sq": "square_", "cubic": "cubic_"}
_INCH_FOLLOWERS: Final = frozenset({"to", "into", "in", "=", "is", "are", "equals"})
_TWO: Final = 2
_FLOW_WINDOW: Final = 5


@dataclass(frozen=True)
class Signature:
    """What must agree between a query and a cached prompt for a hit to be safe."""

    numbers: tuple[str, ...] = ()
    identifiers: frozenset[str] = frozenset()
    negations: int = 0
    units: tuple[str, ...] = ()
    directions: tuple[tuple[str, str], ...] = ()
    flow: tuple[str, ...] = ()
    poles: tuple[tuple[str, str], ...] = ()
    questions: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    weak_entities: frozenset[str] = frozenset()
    ordered_names: tuple[str, ...] = ()
    salted: bool = field(default=False, compare=False)


@dataclass
class _Token:
    kind: str
    text: str
    start: int
    end: int
    initial: bool
    after: str
    sentence: int
    key: str | None = None  # what the token stands for, for flows and name order
    named: bool = False  # the key is a name or a unit, not a plain word


@dataclass
class _Features:
    numbers: list[str] = field(default_factory=list)
    identifiers: set[str] = field(default_factory=set)
    negations: int = 0
    units: list[tuple[str, int]] = field(default_factory=list)
    poles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    questions: set[str] = field(default_factory=set)
    entities: set[str] = field(default_factory=set)
    weak_entities: set[str] = field(default_factory=set)
    how_many_at: list[int] = field(default_factory=list)
    quantity_at: int = _FAR
    article_at: int = _FAR


# -- extraction -----------------------------------------------------------------------------------
def signature(text: str) -> Signature:
    """The guard features of ``text``."""
    tokens = _tokenize(_normalise_phrases(text))
    features = _Features()
    index = 0
    while index < len(tokens):
        index = _consume(tokens, index, features)
    return Signature(
        numbers=tuple(features.numbers),
        identifiers=frozenset(features.identifiers),
        negations=features.negations,
        units=tuple(sorted(name for name, _ in features.units)),
        directions=_directions(features),
        flow=_flow(tokens),
        poles=tuple(sorted((g, "".join(sorted(signs))) for g, signs in features.poles.items())),
        questions=frozenset(features.questions),
        entities=frozenset(features.entities),
        weak_entities=frozenset(features.weak_entities - features.entities),
        ordered_names=_ordered_names(tokens, features),
    )


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    sentence = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or ""
        initial = not tokens or tokens[-1].kind == "punct"
        if kind == "punct":
            sentence += 1
        after = text[match.end() : match.end() + 1]
        tokens.append(
            _Token(kind, match.group(), match.start(), match.end(), initial, after, sentence)
        )
    return tokens


def _consume(tokens: list[_Token], index: int, features: _Features) -> int:
    """Read the token at ``index`` (and any that belong to it); return the next index."""
    kind = tokens[index].kind
    if kind == "punct":
        return index + 1
    if kind == "sym":
        return _consume_symbol(tokens, index, features)
    if kind == "num":
        return _consume_numeral(tokens, index, features)
    return _consume_word(tokens, index, features)


def _consume_symbol(tokens: list[_Token], index: int, features: _Features) -> int:
    symbol = tokens[index].text
    if symbol == "%":
        _add_unit(tokens, features, "percent", index)
    elif symbol in words.CURRENCY_SYMBOLS:
        _add_unit(tokens, features, words.CURRENCY_SYMBOLS[symbol], index)
    elif symbol == "°":
        following = _word_at(tokens, index + 1)
        unit = {"c": "celsius", "f": "fahrenheit", "k": "kelvin"}.get(following or "")
        if unit is None and following in _TEMPERATURES:
            unit = following
        if unit is not None:
            _add_unit(tokens, features, unit, index + 1)
            return index + 2
        _add_unit(tokens, features, "degree", index)
    return index + 1


def _consume_numeral(tokens: list[_Token], index: int, features: _Features) -> int:
    token = tokens[index]
    if token.after == ")" or (token.initial and token.after == "."):
        return index + 1  # a list marker: "1) ...", "2. ..."
    if token.text.count(".") > 1:
        features.numbers.append(token.text)  # a version: "2.10.0"
        features.quantity_at = index
        return index + 1
    value = _decimal(token.text.replace(",", ""))
    index += 1
    following = tokens[index] if index < len(tokens) else None
    if following is not None and following.kind == "word":
        glued = following.start == token.end
        if glued and following.text in words.NUMBER_SUFFIXES:
            value *= words.NUMBER_SUFFIXES[following.text]
            index += 1
        elif glued and following.text.lower() in words.ORDINAL_SUFFIXES:
            index += 1
        elif following.text.lower() in words.MULTIPLIER_WORDS:
            value *= words.MULTIPLIER_WORDS[following.text.lower()]
            index += 1
    features.numbers.append(_format(value))
    features.quantity_at = index - 1
    return index


def _consume_number_words(tokens: list[_Token], index: int, features: _Features) -> int:
    start = index
    total = Decimal(0)
    current = Decimal(0)
    counted = False
    while index < len(tokens) and tokens[index].kind == "word":
        lower = _normal_word(tokens[index].text)
        if not _is_number_part(lower):
            if lower == "and" and _is_number_part(_word_at(tokens, index + 1)):
                index += 1
                continue
            break
        for part in lower.split("-"):
            if part in words.NUMBER_WORDS:
                current += Decimal(str(words.NUMBER_WORDS[part]))
                counted = True
            elif part == "hundred":
                current = (current or Decimal(1)) * 100
            else:
                total += (current or Decimal(1)) * words.MULTIPLIER_WORDS[part]
                current = Decimal(0)
        index += 1
    # "several thousand", "thousands of": no count was given.
    if counted or _word_at(tokens, start - 1) in _ONE_WORDS:
        features.numbers.append(_format(total + current))
        features.quantity_at = index - 1
    return index


def _consume_word(tokens: list[_Token], index: int, features: _Features) -> int:
    token = tokens[index]
    lower = _normal_word(token.text)
    if _is_number_word(lower, tokens, index):
        return _consume_number_words(tokens, index, features)
    if _consume_counted_noun(tokens, index, features) or _consume_unit_word(
        tokens, index, features
    ):
        return index + 1
    _note_meaning(tokens, index, features)
    name = _name(token, lower)
    if name is not None:
        token.key = words.ALIASES.get(lower, lower)
        token.named = True
        (features.entities if name else features.weak_entities).add(token.key)
    elif _VERSION.fullmatch(lower):
        features.numbers.append(lower[1:])  # "v2.10.0" is the version "2.10.0"
    elif any(ch.isdigit() for ch in lower):
        # "GPT-4", "IPv6", "x86": identifiers whose digits matter as numbers do.
        features.identifiers.add(lower)
    elif lower not in words.FLOW_SKIP:
        token.key = _singular(lower)
    return index + 1


def _consume_counted_noun(tokens: list[_Token], index: int, features: _Features) -> bool:
    """ "three-sentence", "two-step", "five-year-old": a count glued to its noun."""
    head, _, tail = _normal_word(tokens[index].text).partition("-")
    if not tail or head not in words.NUMBER_WORDS:
        return False
    features.numbers.append(_format(Decimal(str(words.NUMBER_WORDS[head]))))
    noun = tail.split("-", 1)[0]
    unit = _lookup(noun, words.UNIT_WORDS_AFTER_NUMBER) or _lookup(noun, words.UNIT_WORDS)
    if unit is not None:
        _add_unit(tokens, features, unit, index)
    return True


def _note_meaning(tokens: list[_Token], index: int, features: _Features) -> None:
    """Negations, question words, opposite poles and articles."""
    token = tokens[index]
    lower = _normal_word(token.text)
    interjection = lower == "no" and token.initial and token.after == ","  # "No, it does not."
    negation = lower in words.NEGATIONS or lower in words.NEGATIONS_OTHER_LANGUAGES
    if (negation or lower.endswith("n't")) and not interjection:
        features.negations += 1
    if (lower, _word_at(tokens, index + 1)) in words.HOW_MANY_PAIRS:
        features.how_many_at.append(index + 1)
    elif lower in words.HOW_MANY_WORDS:
        features.how_many_at.append(index)
    asked = token.initial or _word_at(tokens, index - 1) in words.QUESTION_LEADS
    if lower in words.QUESTION_WORDS and asked:
        features.questions.add("who" if lower.startswith("who") else lower)
    for group, sign in _POLES_OF_WORD.get(lower, ()):
        features.poles[group].add(sign)
    if lower in _ONE_WORDS:
        features.article_at = index


def _consume_unit_word(tokens: list[_Token], index: int, features: _Features) -> bool:
    """Record the unit at ``index``, if it is one."""
    token = tokens[index]
    lower = _normal_word(token.text)
    unit: str | None = None
    if token.text in words.CURRENCY_CODES:
        unit = token.text.lower()
    else:
        unit = _lookup(lower, words.UNIT_WORDS) or _lookup(lower, _OTHER_UNITS)
    if unit is None and index - features.quantity_at <= _UNIT_WINDOW:
        unit = _lookup(lower, words.UNIT_WORDS_AFTER_NUMBER) or _lookup(
            lower, words.UNIT_WORDS_AFTER_NUMBER_OTHER_LANGUAGES
        )
    if unit is None and (index - features.article_at == 1 or lower.endswith("s")):
        time_unit = _lookup(lower, words.UNIT_WORDS_AFTER_NUMBER)
        unit = time_unit if time_unit in words.TIME_UNITS else None
    inch_like = lower == "in" and (_word_at(tokens, index + 1) or "=") not in _INCH_FOLLOWERS
    right_after_count = index - features.quantity_at == 1
    if unit is None and right_after_count and lower in words.UNIT_ABBREVIATIONS and not inch_like:
        unit = words.UNIT_ABBREVIATIONS[lower]
    if unit is None:
        return False
    previous = _word_at(tokens, index - 1)
    if previous in _AREA_PREFIXES:
        unit = _AREA_PREFIXES[previous] + unit
    _add_unit(tokens, features, unit, index)
    return True


def _add_unit(tokens: list[_Token], features: _Features, name: str, position: int) -> None:
    last = features.units[-1] if features.units else None
    if name in _TEMPERATURES and last is not None and last[0] == "degree":
        features.units.pop()  # "degrees Celsius" is one unit
    elif last is not None and last[1] == position - 2 and _word_at(tokens, position - 1) == "per":
        features.units.pop()  # "miles per hour" is one unit
        name = _RATE_NAMES.get((last[0], name), f"{last[0]}/{name}")
    features.units.append((name, position))
    tokens[position].key = name
    tokens[position].named = True


def _directions(features: _Features) -> tuple[tuple[str, str], ...]:
    """Which unit converts into which: per dimension, and across all units."""
    by_dimension: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for unit in features.units:
        by_dimension[_dimension(unit[0])].append(unit)
        by_dimension["*"].append(unit)
    directions: list[tuple[str, str]] = []
    for dimension, units in sorted(by_dimension.items()):
        distinct: list[tuple[str, int]] = []
        for unit in units:
            if all(unit[0] != seen[0] for seen in distinct):
                distinct.append(unit)
        if len(distinct) < _TWO:
            continue
        source, target = distinct[0], distinct[-1]
        # "How many kilometers are in 10 miles": the first unit named is the target.
        if any(0 < source[1] - at <= _TWO for at in features.how_many_at):
            source, target = target, source
        directions.append((dimension, f"{source[0]}>{target[0]}"))
    return tuple(directions)


def _flow(tokens: list[_Token]) -> tuple[str, ...]:
    """("X", "Y") for "from X to Y", "convert X to Y", "translate X into Y"; () if none."""
    for index, token in enumerate(tokens):
        if token.kind != "word" or token.text.lower() not in ("to", "into"):
            continue
        window = [
            i
            for i in range(max(0, index - _FLOW_WINDOW), index)
            if tokens[i].sentence == token.sentence
        ]
        triggers = [i for i in window if tokens[i].text.lower() in words.FLOW_TRIGGERS]
        if not triggers:
            continue
        between = [tokens[i] for i in range(triggers[-1] + 1, index) if tokens[i].key is not None]
        names = [t for t in between if t.named]
        # A plain word is the X only when it stands alone: "convert a list to", not
        # "cast is needed in order to".
        source = names[-1] if names else (between[0] if len(between) == 1 else None)
        after = [
            t
            for t in tokens[index + 1 : index + 1 + _FLOW_WINDOW]
            if t.sentence == token.sentence and t.key is not None
        ]
        if source is not None and after and source.key is not None and after[0].key is not None:
            return (source.key, after[0].key)
    return ()


def _ordered_names(tokens: list[_Token], features: _Features) -> tuple[str, ...]:
    """The names, in order, of a sentence comparing them with "than" ("Is X faster than Y").

    Also "als" and "que" ("Ist X schneller als Y", "X est-il plus rapide que Y").
    """
    names = features.entities | features.weak_entities
    for token in tokens:
        if token.kind == "word" and token.text.lower() in words.COMPARISON_WORDS:
            sentence = [t.key for t in tokens if t.sentence == token.sentence and t.key in names]
            return tuple(key for key in sentence if key is not None)
    return ()


def _dimension(unit: str) -> str:
    if "/" in unit:
        return "rate"
    for prefix in ("square_", "cubic_"):
        if unit.startswith(prefix):
            return prefix + words.UNIT_DIMENSIONS.get(unit.removeprefix(prefix), unit)
    return words.UNIT_DIMENSIONS.get(unit, unit)


def _is_number_part(lower: str | None) -> bool:
    return lower is not None and all(
        p in words.NUMBER_WORDS or p in words.MULTIPLIER_WORDS for p in lower.split("-")
    )


def _is_number_word(lower: str, tokens: list[_Token], index: int) -> bool:
    if not _is_number_part(lower):
        return False
    if lower == "one":
        # "which one", "one of the", "one can": a pronoun, not a count.
        before = _word_at(tokens, index - 1)
        after = _word_at(tokens, index + 1)
        if before in words.ONE_AS_PRONOUN_BEFORE or after in words.ONE_AS_PRONOUN_AFTER:
            return False
    return True


def _name(token: _Token, lower: str) -> bool | None:
    """True for a name, False for a weak one (a capitalised first word), None for no name."""
    if lower in words.LOWERCASE_ENTITIES:
        return True
    text = token.text
    if not text[:1].isupper() or lower in _LEXICON_WORDS or lower in words.SENTENCE_STARTERS:
        return None
    if any(ch.isdigit() for ch in text):
        return None
    # "PyTorch", "JAX": unmistakably a name, even where any word could be capitalised.
    distinctive = any(ch.isupper() for ch in text[1:])
    return distinctive or not token.initial


def _normalise_phrases(text: str) -> str:
    """Fold multi-word names into one token ("machine learning" -> "ML").

    An elided article before a capital is split off ("l'Allemagne" -> "l' Allemagne"), so that
    the name after it counts as a name.
    """
    text = _ELISION.sub(r"\1 ", text)
    return words.PHRASES.sub(lambda m: words.PHRASE_ABBREVIATIONS[m.group().lower()], text)


def _word_at(tokens: list[_Token], index: int) -> str | None:
    if 0 <= index < len(tokens) and tokens[index].kind == "word":
        return _normal_word(tokens[index].text)
    return None


def _normal_word(text: str) -> str:
    lower = text.lower().replace("\u2019", "'").removesuffix("'s")
    if lower.endswith("n't"):
        return lower
    return lower.replace("'", "").strip(".-/")


def _lookup(lower: str, table: dict[str, str]) -> str | None:
    """``table``'s entry for ``lower`` or for its singular."""
    for form in (lower, words.IRREGULAR_SINGULAR.get(lower, ""), *_plural_stems(lower)):
        if form in table:
            return table[form]
    return None


def _plural_stems(lower: str) -> tuple[str, ...]:
    if len(lower) <= _TWO or not lower.endswith("s"):
        return ()
    stems = [lower[:-1]]
    if lower.endswith("es"):
        stems.append(lower[:-2])
    if lower.endswith("ies"):
        stems.append(lower[:-3] + "y")
    return tuple(stems)


def _singular(lower: str) -> str:
    stems = _plural_stems(lower)
    return stems[0] if stems and not lower.endswith("ss") else lower


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


def _format(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- comparison -----------------------------------------------------------------------------------
def compare(query: Signature, candidate: Signature) -> str | None:
    """Why ``candidate`` must not answer ``query`` (a short reason code), or None if it may.

    Both signatures must be plain (from ``signature``) or both digested with the same salt.
    """
    for reason, differ in _CHECKS:
        if differ(query, candidate):
            return reason
    return None


def _numbers_differ(query: Signature, candidate: Signature) -> bool:
    return query.numbers != candidate.numbers or query.identifiers != candidate.identifiers


def _flows_differ(query: Signature, candidate: Signature) -> bool:
    return bool(query.flow and candidate.flow and query.flow != candidate.flow)


def _poles_oppose(query: Signature, candidate: Signature) -> bool:
    candidate_poles = dict(candidate.poles)
    return any(not set(candidate_poles.get(g, signs)) & set(signs) for g, signs in query.poles)


def _questions_differ(query: Signature, candidate: Signature) -> bool:
    return bool(query.questions and candidate.questions) and not (
        query.questions & candidate.questions
    )


def _names_reordered(query: Signature, candidate: Signature) -> bool:
    return (
        bool(query.ordered_names and candidate.ordered_names)
        and set(query.ordered_names) == set(candidate.ordered_names)
        and query.ordered_names != candidate.ordered_names
    )


def _disagree(ours: tuple[tuple[str, str], ...], theirs: tuple[tuple[str, str], ...]) -> bool:
    their_values = dict(theirs)
    return any(their_values.get(key, value) != value for key, value in ours)


def _substituted_name(query: Signature, candidate: Signature) -> bool:
    """Each side names something the other does not, and one of those is a sure name."""
    query_names = query.entities | query.weak_entities
    candidate_names = candidate.entities | candidate.weak_entities
    only_query = query_names - candidate_names
    only_candidate = candidate_names - query_names
    if not only_query or not only_candidate:
        return False
    return bool(only_query & query.entities or only_candidate & candidate.entities)


_CHECKS: Final[tuple[tuple[str, Callable[[Signature, Signature], bool]], ...]] = (
    ("numbers", _numbers_differ),
    ("negation", lambda q, c: q.negations != c.negations),
    ("units", lambda q, c: q.units != c.units),
    ("direction", lambda q, c: _disagree(q.directions, c.directions)),
    ("flow", _flows_differ),
    ("opposites", _poles_oppose),
    ("question", _questions_differ),
    ("entities", _substituted_name),
    ("order", _names_reordered),
)


def check(query: str, candidate: str) -> str | None:
    """``compare`` on two texts: why ``candidate`` must not answer ``query``, or None."""
    return compare(signature(query), signature(candidate))


# -- storage: salted digests, never the text ------------------------------------------------------
def digest(plain: Signature, salt: str) -> Signature:
    """``plain`` with every extracted string replaced by a salted SHA-256 digest.

    Equality between digests of the same salt is all ``compare`` needs; the stored form cannot be
    read back, though someone holding the salt can confirm a guessed number or name.
    """
    if plain.salted:
        raise ValueError("signature is already digested")

    def h(value: str) -> str:
        return hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()[:_DIGEST_HEX_CHARS]

    return replace(
        plain,
        numbers=tuple(h(n) for n in plain.numbers),
        identifiers=frozenset(h(i) for i in plain.identifiers),
        units=tuple(sorted(h(u) for u in plain.units)),
        directions=tuple(sorted((h(d), h(v)) for d, v in plain.directions)),
        flow=tuple(h(f) for f in plain.flow),
        poles=tuple(sorted((h(g), s) for g, s in plain.poles)),
        questions=frozenset(h(q) for q in plain.questions),
        entities=frozenset(h(e) for e in plain.entities),
        weak_entities=frozenset(h(e) for e in plain.weak_entities),
        ordered_names=tuple(h(n) for n in plain.ordered_names),
        salted=True,
    )


def encode(salted: Signature) -> str:
    """A compact text form of a digested signature, for a table column."""
    if not salted.salted:
        raise ValueError("only digested signatures are stored")
    return json.dumps(
        {
            "v": SIGNATURE_FORMAT,
            "n": list(salted.numbers),
            "i": sorted(salted.identifiers),
            "x": salted.negations,
            "u": list(salted.units),
            "d": [list(pair) for pair in salted.directions],
            "f": list(salted.flow),
            "p": [list(pair) for pair in salted.poles],
            "q": sorted(salted.questions),
            "e": sorted(salted.entities),
            "w": sorted(salted.weak_entities),
            "o": list(salted.ordered_names),
        },
        separators=(",", ":"),
    )


def decode(stored: str | None) -> Signature | None:
    """The digested signature in ``stored``; None if absent, foreign or damaged."""
    if not stored:
        return None
    try:
        raw = json.loads(stored)
        if not isinstance(raw, dict) or raw.get("v") != SIGNATURE_FORMAT:
            return None
        return Signature(
            numbers=tuple(str(n) for n in raw["n"]),
            identifiers=frozenset(str(i) for i in raw["i"]),
            negations=int(raw["x"]),
            units=tuple(str(u) for u in raw["u"]),
            directions=tuple((str(d), str(v)) for d, v in raw["d"]),
            flow=tuple(str(f) for f in raw["f"]),
            poles=tuple((str(g), str(s)) for g, s in raw["p"]),
            questions=frozenset(str(q) for q in raw["q"]),
            entities=frozenset(str(e) for e in raw["e"]),
            weak_entities=frozenset(str(e) for e in raw["w"]),
            ordered_names=tuple(str(n) for n in raw["o"]),
            salted=True,
        )
    except (ValueError, TypeError, KeyError):
        return None
