"""The false-hit guard: what it rejects, what it lets through, and its stored form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cassandra_llm_cache._semantic import guard


@pytest.mark.parametrize(
    ("query", "cached", "reason"),
    [
        ("Convert 10 kilometers to miles", "Convert 10 miles to kilometers", "direction"),
        (
            "How many miles are in 26.2 kilometers?",
            "How many kilometers in 26.2 miles?",
            "direction",
        ),
        (
            "What is 100 °C in Fahrenheit?",
            "What is 100 degrees Fahrenheit in Celsius?",
            "direction",
        ),
        ("Change 20 EUR into USD", "Change 20 USD into EUR", "direction"),
        ("Convert 5 kg to pounds", "Convert 5 kg to ounces", "units"),
        ("Write a poem in 8 lines", "Write a poem in 4 lines", "numbers"),
        ("Give me ten ideas", "Give me 5 ideas", "numbers"),
        ("What is 10 minus 3?", "What is 3 minus 10?", "numbers"),
        ("What's new in GPT-3?", "What's new in GPT-4?", "numbers"),
        ("What changed in Python 3.11?", "What changed in Python 3.12?", "numbers"),
        ("Is ibuprofen not safe in pregnancy?", "Is ibuprofen safe in pregnancy?", "negation"),
        ("Why doesn't my code compile?", "Why does my code compile?", "negation"),
        ("Bread recipe without yeast", "Bread recipe with yeast", "negation"),
        ("What is the capital of Germany?", "What is the capital of France?", "entities"),
        ("How do I sort a list in rust?", "How do I sort a list in python?", "entities"),
        ("Say hello in spanish", "Say hello in French", "entities"),
        ("What is the smallest planet?", "What is the largest planet?", "opposites"),
        ("What should I eat after a run?", "What should I eat before a run?", "opposites"),
        (
            "When is the best time to sell a car?",
            "When is the best time to buy a car?",
            "opposites",
        ),
        ("Where did the Titanic sink?", "When did the Titanic sink?", "question"),
        (
            "How do I migrate from PostgreSQL to MySQL?",
            "How do I migrate from MySQL to PostgreSQL?",
            "flow",
        ),
        ("Convert a tuple to a list", "Convert a list to a tuple", "flow"),
        ("Is Java faster than Python?", "Is Python faster than Java?", "order"),
    ],
)
def test_rejects_near_misses(query, cached, reason):
    assert guard.check(query, cached) == reason


@pytest.mark.parametrize(
    ("query", "cached"),
    [
        ("How many kilometers are in 10 miles?", "Convert 10 miles to kilometers"),
        ("How many pounds is 5 kg?", "Convert 5 kg to pounds"),
        ("Convert 100 °F to Celsius", "What is 100 degrees Fahrenheit in Celsius?"),
        ("How many euros is $10?", "Convert 10 dollars to euros"),
        ("Convert 60 miles per hour to km/h", "What is 60 mph in km/h?"),
        ("Suggest five birthday party ideas", "Give me 5 ideas for a birthday party"),
        ("Write a 100-word summary", "Summarize in 100 words"),
        ("Give a three-sentence summary", "Summarize this in 3 sentences"),
        ("Population of 10k people", "Population of 10,000 people"),
        ("twenty-five thousand and three", "25003"),
        ("Which one is better?", "Which is better?"),
        ("Why won't my code compile?", "Why doesn't my code compile?"),
        ("What's the capital city of France?", "What is the capital of France?"),
        ("Which planet is the biggest?", "What is the largest planet?"),
        ("Python: turn a list into a tuple", "How do I convert a list to a tuple in Python?"),
        (
            "Translate this English sentence into French",
            "Translate this sentence from English to French",
        ),
        ("No, it is not in version 2.10.0.", "It does not exist in v2.10.0."),
        (
            "Hugging Face Hub serves as a repository for models.",
            "Hugging Face Hub is a platform for models.",
        ),
        ("Deep learning with JAX", "Deep learning with JAX and PyTorch"),
    ],
)
def test_lets_paraphrases_through(query, cached):
    assert guard.check(query, cached) is None


def test_identical_texts_always_pass():
    text = "Convert 10 miles to km, not 10 km to miles, for Alice in Paris before noon."
    assert guard.check(text, text) is None


def test_signature_extracts_the_features():
    sig = guard.signature("How many kilometers are in 10 miles? Don't round, per Alice.")
    assert sig.numbers == ("10",)
    assert sig.negations == 1
    assert sig.units == ("kilometer", "mile")
    assert ("length", "mile>kilometer") in sig.directions
    assert "alice" in sig.entities


def test_number_forms_normalise():
    assert guard.signature("1,000.50 and 10.0 and 3.5k").numbers == ("1000.5", "10", "3500")
    assert guard.signature("two hundred and five").numbers == ("205",)
    assert guard.signature("a dozen eggs, half a cup").numbers == ("12", "0.5")
    assert guard.signature("1) first 2) second").numbers == ()  # list markers


def test_pronoun_one_is_not_a_number():
    assert guard.signature("one of the best").numbers == ()
    assert guard.signature("one can say").numbers == ()
    assert guard.signature("in one day").numbers == ("1",)


def test_sentence_initial_words_are_weak_names():
    sig = guard.signature("Gradio builds demos. Use it with PyTorch.")
    assert sig.weak_entities == frozenset({"gradio"})
    assert "pytorch" in sig.entities


def test_two_weak_names_do_not_reject():
    # A capitalised first word may be an ordinary word: "Simulate" vs "Simulation".
    assert guard.check("Simulation makes environments.", "Simulate makes environments.") is None


def test_digest_keeps_comparisons_and_hides_text():
    query = "Convert 10 kilometers to miles in Paris"
    cached = "Convert 10 miles to kilometers in Paris"
    salt = "entry-salt"
    stored = guard.encode(guard.digest(guard.signature(cached), salt))
    for secret in ("10", "kilometer", "mile", "paris", "Paris"):
        assert secret not in stored
    decoded = guard.decode(stored)
    assert decoded is not None
    assert guard.compare(guard.digest(guard.signature(query), salt), decoded) == "direction"
    same = guard.digest(guard.signature(cached), salt)
    assert guard.compare(same, decoded) is None


def test_digests_depend_on_the_salt():
    sig = guard.signature("Convert 10 miles to kilometers")
    assert guard.digest(sig, "a").numbers != guard.digest(sig, "b").numbers


def test_digest_twice_is_an_error():
    with pytest.raises(ValueError, match="already digested"):
        guard.digest(guard.digest(guard.signature("x"), "s"), "s")


def test_plain_signatures_are_never_encoded():
    with pytest.raises(ValueError, match="digested"):
        guard.encode(guard.signature("x"))


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "not json",
        "[]",
        '{"v": 99}',
        '{"v": 1}',
        '{"v": 1, "n": 5}',
        json.dumps({"v": 1, "n": [], "i": []}),
    ],
)
def test_foreign_or_damaged_signatures_decode_to_none(stored):
    assert guard.decode(stored) is None


@given(st.text(max_size=200))
def test_any_text_has_a_signature_that_round_trips(text):
    salted = guard.digest(guard.signature(text), "salt")
    decoded = guard.decode(guard.encode(salted))
    assert decoded == salted
    assert guard.compare(salted, decoded) is None


@given(st.text(max_size=120), st.text(max_size=120))
def test_check_never_raises_and_answers_a_reason_code(a, b):
    reason = guard.check(a, b)
    assert reason is None or reason in {
        "numbers",
        "negation",
        "units",
        "direction",
        "flow",
        "opposites",
        "question",
        "entities",
        "order",
    }
