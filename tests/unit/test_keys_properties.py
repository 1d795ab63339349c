"""Property tests of key derivation: any unicode (lone surrogates too), empty and huge strings."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from cassandra_llm_cache._values.keys import legacy_key_vals, md5_hex, sha256_key, utf8

# Every code point, lone surrogates included (hypothesis leaves them out unless asked).
any_text = st.text(st.characters(exclude_categories=()))
valid_text = st.text()


@given(any_text)
def test_sha256_key_is_32_bytes_and_deterministic(text):
    key = sha256_key(text)
    assert isinstance(key, bytes)
    assert len(key) == 32
    assert sha256_key(text) == key
    assert sha256_key(str(text)) == key  # an equal string, not the same object


@given(valid_text)
def test_valid_text_hashes_its_strict_utf8(text):
    assert utf8(text) == text.encode("utf-8")
    assert sha256_key(text) == hashlib.sha256(text.encode("utf-8")).digest()


@given(any_text, any_text)
def test_different_texts_get_different_keys(first, second):
    assert (sha256_key(first) == sha256_key(second)) == (first == second)
    assert (md5_hex(first) == md5_hex(second)) == (first == second)


@given(any_text)
def test_utf8_with_surrogates_round_trips(text):
    assert utf8(text).decode("utf-8", "surrogatepass") == text


@given(any_text, any_text)
def test_legacy_key_vals_is_the_cassio_json_of_two_md5s(prompt, llm_string):
    key_vals = legacy_key_vals(prompt, llm_string)
    assert json.loads(key_vals) == [md5_hex(llm_string), md5_hex(prompt)]
    assert " " not in key_vals
    assert all(len(part) == 32 for part in json.loads(key_vals))


def test_empty_strings_have_the_well_known_digests():
    assert sha256_key("") == hashlib.sha256(b"").digest()
    assert md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e"
    assert legacy_key_vals("", "") == (
        '["d41d8cd98f00b204e9800998ecf8427e","d41d8cd98f00b204e9800998ecf8427e"]'
    )


def test_the_anchor_example_of_the_legacy_layout():
    assert legacy_key_vals("hello", "llmstr") == (
        '["95405c669fcde44d0e6a1a59e6787734","5d41402abc4b2a76b9719d911017c592"]'
    )


@settings(max_examples=5, deadline=None)
@given(st.sampled_from(["a", "é", "\U0001f600", "\ud800"]))
def test_a_10_mb_prompt_hashes_like_any_other(unit):
    prompt = unit * (10 * 1024 * 1024 // len(utf8(unit)))
    assert len(utf8(prompt)) >= 10 * 1024 * 1024 - 4
    assert sha256_key(prompt) == hashlib.sha256(utf8(prompt)).digest()
    assert sha256_key(prompt) != sha256_key(prompt[:-1])
