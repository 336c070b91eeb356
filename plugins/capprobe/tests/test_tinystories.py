"""TinyStories: the Instruct-format loader on a tiny local corpus, the three transforms, the feature probe."""

import json

import pytest
import torch
from intarsia.errors import IntarsiaError
from intarsia_capprobe.config import ModelConfig
from intarsia_capprobe.model import MiniGPT
from intarsia_capprobe.tinystories import (
    ByteTokenizer,
    StoryFeatureProbe,
    StoryProbeConfig,
    load_stories,
    synthetic_corpus,
    transform,
)


@pytest.fixture
def corpus():
    return synthetic_corpus(300, seed=0)


def test_local_txt_and_jsonl_round_trip(tmp_path, corpus):
    txt = tmp_path / "tiny.txt"
    txt.write_text("".join(s.text() for s in corpus))
    back = load_stories(str(txt))
    assert [(s.features, s.story, s.words, s.summary) for s in back] == \
        [(s.features, s.story, s.words, s.summary) for s in corpus]
    jl = tmp_path / "tiny.jsonl"
    jl.write_text("\n".join(json.dumps({"features": s.features, "story": s.story}) for s in corpus[:5]))
    assert [s.story for s in load_stories(str(jl))] == [s.story for s in corpus[:5]]
    assert len(load_stories(str(txt), limit=7)) == 7


def test_unknown_source_is_a_clear_error_and_nothing_downloads(tmp_path):
    with pytest.raises(IntarsiaError, match="neither a local"):
        load_stories("someone/else")
    with pytest.raises(IntarsiaError, match="no story file"):
        load_stories(str(tmp_path / "missing.txt"))


def test_filter_drops_every_story_with_the_feature(corpus):
    out = transform(corpus, "filter", "Twist")
    assert out and all("Twist" not in s.features for s in out)
    assert len(out) == sum("Twist" not in s.features for s in corpus)


def test_mix_and_match_keeps_prompts_and_removes_the_feature_from_stories(corpus):
    out = transform(corpus, "mix_and_match", "Twist", seed=1)
    assert [s.features for s in out] == [s.features for s in corpus]
    assert not any("magic" in s.story for s in out)  # the synthetic twist sentence
    assert out == transform(corpus, "mix_and_match", "Twist", seed=1)


def test_randomise_removes_the_mentions_information(corpus):
    out = transform(corpus, "randomise", "Twist", seed=0)
    assert [s.story for s in out] == [s.story for s in corpus]
    assert not any("Twist" in s.features for s in out)
    with pytest.raises(ValueError, match="unknown transform"):
        transform(corpus, "shuffle")


def test_feature_probe_per_layer_reads_the_prompt_feature():
    stories = synthetic_corpus(400, seed=1)
    torch.manual_seed(0)
    model = MiniGPT(ModelConfig(n_layer=2, d_model=32), ByteTokenizer.vocab_size, 256)
    out = StoryFeatureProbe(StoryProbeConfig(max_len=160)).run(model, stories)
    m = out["metrics"]
    assert set(m) == {"story_probe/drop", "story_probe/blocks.0", "story_probe/blocks.1", "story_probe/chance"}
    # even untrained, attention over the prompt carries the feature's mention into the last position
    assert max(m["story_probe/blocks.0"], m["story_probe/blocks.1"]) > m["story_probe/chance"] + 0.1
    assert all(0.0 <= v <= 1.0 for v in m.values())
