"""Cache, deduplication, ordering, stats and failure behaviour of the shared backend machinery."""

import numpy as np
import pytest
from intarsia_llm.config import LLMCommonConfig
from llm_fakes import RecordingLLM


def test_answers_in_prompt_order_even_when_the_backend_yields_out_of_order(make_recording):
    llm = make_recording(reverse=True)
    prompts = [f"p{i}" for i in range(10)]
    assert llm.generate(prompts, max_tokens=3) == [f"out:p{i}:0.0:None" for i in range(10)]


def test_identical_requests_are_answered_once_across_instances(make_recording):
    first = make_recording()
    prompts = ["a", "b", "a", [{"role": "user", "content": "c"}]]
    out1 = first.generate(prompts, max_tokens=3)
    assert first.asked == ["a", "b", "User: c\nAssistant:"]  # the duplicate "a" asked once
    assert out1[0] == out1[2]
    assert first.last_stats.requests == 4 and first.last_stats.cache_hits == 1
    first.close()
    second = make_recording()  # a new process would see the same cache file
    assert second.generate(prompts, max_tokens=3) == out1
    assert second.asked == [] and second.last_stats.hit_rate == 1.0
    second.generate(["a", "new"], max_tokens=3)
    assert second.asked == ["new"]


def test_parameters_are_part_of_the_key(make_recording):
    llm = make_recording()
    llm.generate(["a"], max_tokens=3)
    llm.generate(["a"], max_tokens=4)
    llm.generate(["a"], max_tokens=4, stop=["\n"])
    llm.generate(["a"], max_tokens=4, temperature=0.7, seed=1)
    llm.generate(["a"], max_tokens=4, temperature=0.7, seed=2)
    assert len(llm.asked) == 5
    # Greedy decoding ignores the seed, so greedy requests with different seeds share one entry.
    llm.generate(["a"], max_tokens=3, seed=123)
    assert len(llm.asked) == 5
    # Sampling with seed=None uses config.seed: reproducible, hence cached.
    a = llm.generate(["a"], max_tokens=4, temperature=0.7)
    assert a == llm.generate(["a"], max_tokens=4, temperature=0.7, seed=0)
    assert len(llm.asked) == 6


def test_cache_can_be_switched_off(tmp_path):
    llm = RecordingLLM(LLMCommonConfig(cache=False, progress=False))
    llm.generate(["a"], max_tokens=2)
    llm.generate(["a"], max_tokens=2)
    assert llm.asked == ["a", "a"] and llm.cache is None


def test_a_failure_midway_keeps_every_finished_answer(make_recording):
    prompts = [f"p{i}" for i in range(200)]
    crashing = make_recording(fail_after=73)
    with pytest.raises(RuntimeError, match="injected"):
        crashing.generate(prompts, max_tokens=2)
    assert len(crashing.asked) == 73
    assert crashing.cache.integrity_ok() and len(crashing.cache) == 73
    rerun = make_recording()
    out = rerun.generate(prompts, max_tokens=2)
    assert rerun.asked == prompts[73:]  # only the unfinished prompts are asked again
    assert out == [f"out:p{i}:0.0:None" for i in range(200)]
    assert rerun.last_stats.cache_hits == 73


def test_stats_count_tokens_and_hits(make_recording):
    llm = make_recording()
    llm.generate(["aa", "bbb"], max_tokens=3)
    s = llm.last_stats
    assert (s.requests, s.cache_hits, s.prompt_tokens, s.completion_tokens) == (2, 0, 5, 6)
    assert s.seconds > 0 and s.tokens_per_s > 0
    llm.generate(["aa"], max_tokens=3)
    assert llm.stats.requests == 3 and llm.stats.cache_hits == 1
    assert set(llm.stats.as_dict()) >= {"hit_rate", "tokens_per_s", "seconds_per_request"}


def test_progress_bar_for_long_batches(tmp_path, capsys):
    llm = RecordingLLM(LLMCommonConfig(cache_dir=str(tmp_path), progress=True, progress_min=5))
    llm.generate([f"q{i}" for i in range(6)], max_tokens=2)
    err = capsys.readouterr()
    assert "recording: generating" in err.out + err.err


def test_option_logprobs_shape_cache_and_validation(make_recording):
    llm = make_recording()
    lp = llm.option_logprobs(["x", "yy"], ["1", "None"])
    assert lp.shape == (2, 2) and np.allclose(lp[0], [-1.01, -4.01])
    again = make_recording().option_logprobs(["x", "yy"], ["1", "None"])
    assert np.array_equal(lp, again)
    with pytest.raises(ValueError):
        llm.option_logprobs(["x"], ["1", "1"])


def test_bad_calls_are_clear(make_recording):
    llm = make_recording()
    with pytest.raises(TypeError, match="list of prompts"):
        llm.generate("just a string")
    with pytest.raises(ValueError, match="max_tokens"):
        llm.generate(["a"], max_tokens=0)
    assert llm.generate([]) == []
