"""`make demo`'s streaming part on the real node: one model call for three streams, same text."""

from cassandra_llm_cache.demo import run_streaming_demo


def test_the_streaming_demo_streams_a_miss_then_replays_it(cassandra_session, cassandra_keyspace):
    result = run_streaming_demo(cassandra_session, cassandra_keyspace)
    assert result["model_calls"] == 1
    assert result["same_text"]
    figures = result["figures"]
    assert figures["miss, model streams"][2] == figures["hit, instant replay"][2] == 10
    # The model waits 0.5 s before its first word; a replay does not.
    assert figures["miss, model streams"][0] >= 0.5
