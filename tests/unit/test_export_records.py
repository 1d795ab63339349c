import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.keys import md5_hex, sha256_key
from cassandra_llm_cache.admin._records import (
    FORMAT,
    EntryRecord,
    KeyHash,
    RecordError,
    from_line,
    to_line,
)

CHAT = [
    ChatGeneration(
        message=AIMessage(
            content="hi",
            tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1", "type": "tool_call"}],
            usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        )
    )
]


def record(**overrides):
    fields = {
        "namespace": "tenant-a",
        "key_hash": KeyHash.SHA256,
        "llm_key": sha256_key("model"),
        "prompt_key": sha256_key("prompt"),
        "value": _codec.to_plain(CHAT),
        "expires_at": 1_900_000_000,
        "written_at": 1_800_000_000_123_456,
    }
    return EntryRecord(**{**fields, **overrides})


def test_a_record_round_trips_through_one_line_of_json():
    original = record(llm_string="model", prompt="prompt")
    line = to_line(original)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    parsed = from_line(line)
    assert parsed == original
    assert parsed.generations() == CHAT


def test_semantic_entries_carry_their_vector_and_guard():
    original = record(embedding=[0.5, -0.25, 1.0], guard="g:abc")
    parsed = from_line(to_line(original))
    assert parsed.embedding == [0.5, -0.25, 1.0]
    assert parsed.guard == "g:abc"
    assert "embedding" not in json.loads(to_line(record()))


def test_a_line_is_self_describing():
    data = json.loads(to_line(record()))
    assert data["format"] == FORMAT
    assert data["version"] == 1
    assert data["key_hash"] == "sha256"
    assert data["llm_key"] == sha256_key("model").hex()
    assert "prompt" not in data  # texts only when the table stored them
    assert data["value"][0]["message"]["content"] == "hi"


def test_keys_are_rederived_only_from_texts():
    md5_record = record(
        key_hash=KeyHash.MD5,
        llm_key=bytes.fromhex(md5_hex("model")),
        prompt_key=bytes.fromhex(md5_hex("prompt")),
    )
    assert md5_record.keys_for(KeyHash.MD5) == (md5_record.llm_key, md5_record.prompt_key)
    assert md5_record.keys_for(KeyHash.SHA256) is None
    with_texts = record(llm_string="model", prompt="prompt")
    assert with_texts.keys_for(KeyHash.MD5) == (
        bytes.fromhex(md5_hex("model")),
        bytes.fromhex(md5_hex("prompt")),
    )


def test_ttl_left_at_import_time():
    assert record(expires_at=None).ttl_at(1e9) is None
    assert record(expires_at=1000).ttl_at(400.5) == 599
    assert record(expires_at=1000).ttl_at(2000) <= 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "'format'"),
        ({"version": 2}, "unsupported 'version'"),
        ({"key_hash": "sha1"}, "'key_hash'"),
        ({"llm_key": "abcd"}, "'llm_key' must be a sha256 digest"),
        ({"prompt_key": "zz" * 32}, "'prompt_key'"),
        ({"namespace": 3}, "'namespace'"),
        ({"value": {"text": "x"}}, "'value'"),
        ({"expires_at": -1}, "'expires_at'"),
        ({"written_at": 1.5}, "'written_at'"),
        ({"prompt": ["x"]}, "'prompt'"),
        ({"embedding": []}, "'embedding'"),
        ({"embedding": [1.0, "x"]}, "'embedding'"),
    ],
)
def test_malformed_lines_are_refused_naming_the_field(change, message):
    data = {**json.loads(to_line(record())), **change}
    with pytest.raises(RecordError, match=message):
        from_line(json.dumps(data))


def test_foreign_generations_are_refused_when_read_not_executed():
    data = json.loads(to_line(record()))
    data["value"] = [{"_": "os.system", "text": "x"}]
    parsed = from_line(json.dumps(data))
    with pytest.raises(RecordError, match="not a list of generations"):
        parsed.generations()


def test_not_json_and_not_an_object():
    with pytest.raises(RecordError, match="not valid JSON"):
        from_line(b"{nope")
    with pytest.raises(RecordError, match="not a JSON object"):
        from_line(b"[1, 2]")


def test_repr_shows_no_content():
    shown = repr(record(llm_string="secret-model", prompt="secret prompt"))
    assert "secret" not in shown
    assert sha256_key("prompt").hex() not in shown


@given(st.text(), st.text(), st.text(max_size=50))
def test_any_text_round_trips(prompt, llm_string, text):
    original = record(
        value=_codec.to_plain([Generation(text=text)]), prompt=prompt, llm_string=llm_string
    )
    parsed = from_line(to_line(original))
    assert parsed == original
    assert parsed.generations() == [Generation(text=text)]
