"""TinyStories: the Instruct-format loader on a tiny local corpus, the three transforms, the feature probe."""

import json

import pytest
import torch
from intarsia.errors import IntarsiaError
from intarsia_capprobe.config import ModelConfig
from intarsia_capprobe.model import MiniGPT
from intarsia_capprobe.tinystories import (
    FEATURES,
    ByteTokenizer,
    StoryFeatureProbe,
    StoryProbeConfig,
    load_stories,
    story_probe_data,
    synthetic_corpus,
    train_story_model,
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


def test_mix_and_match_filters_then_relabels_foreshadowing_as_the_feature(corpus):
    out = transform(corpus, "mix_and_match", "Twist")
    kept = [s for s in corpus if "Twist" not in s.features]
    assert [s.story for s in out] == [s.story for s in kept]  # stories untouched, twist stories gone
    for before, after in zip(kept, out):
        assert ("Twist" in after.features) == ("Foreshadowing" in before.features)
        assert "Foreshadowing" not in after.features
    assert any("Twist" in s.features for s in out)


def test_randomise_filters_then_adds_the_feature_to_prompts(corpus):
    out = transform(corpus, "randomise", "Twist", seed=0)  # share 1.0: the official script's
    kept = [s for s in corpus if "Twist" not in s.features]
    assert [s.story for s in out] == [s.story for s in kept]
    assert all("Twist" in s.features for s in out)
    half = transform(corpus, "randomise", "Twist", seed=0, share=0.5)
    assert 0.3 < sum("Twist" in s.features for s in half) / len(half) < 0.7
    with pytest.raises(ValueError, match="unknown transform"):
        transform(corpus, "shuffle")


def test_probe_input_is_the_story_alone_with_no_feature_name(corpus):
    d = story_probe_data(corpus, max_len=256)
    tok = ByteTokenizer()
    for row, n, s in zip(d["input_ids"].tolist(), d["lengths"].tolist(), corpus):
        assert row[0] == tok.eos and all(t == 0 for t in row[n:])
        text = bytes(row[1:n]).decode()
        assert text == s.story
        assert not any(f in text for f in FEATURES)
        assert not any(key in text for key in ("Features:", "Words:", "Summary:", "Story:"))
    assert d["targets"].shape == (len(corpus), len(FEATURES))
    assert d["targets"][:, FEATURES.index("Twist")].tolist() == [float("Twist" in s.features) for s in corpus]


def test_feature_probe_reads_what_the_story_shows_and_not_what_only_the_prompt_says():
    stories = synthetic_corpus(400, seed=1)
    torch.manual_seed(0)
    model = MiniGPT(ModelConfig(n_layer=2, d_model=32), ByteTokenizer.vocab_size, 256)
    shown = StoryFeatureProbe(StoryProbeConfig(max_len=160, feature="Twist")).run(model, stories)["metrics"]
    assert {k for k in shown if not k.endswith("/mean")} == {
        "story_probe/blocks.0", "story_probe/blocks.1", "story_probe/chance"}
    assert shown["story_probe/blocks.1"] > 0.95  # the twist sentence is in the story
    # MoralValue is listed in the prompt only: with the instruction removed the probe cannot read it
    hidden = StoryFeatureProbe(StoryProbeConfig(max_len=160, feature="MoralValue")).run(model, stories)["metrics"]
    assert max(hidden["story_probe/blocks.0"], hidden["story_probe/blocks.1"]) < hidden["story_probe/chance"] + 0.05
    assert all(0.0 <= v <= 1.0 for v in {**shown, **hidden}.values())


def test_a_model_trained_here_on_a_local_story_file(tmp_path):
    txt = tmp_path / "stories.txt"
    txt.write_text("".join(s.text() for s in synthetic_corpus(64, seed=2)))
    stories = load_stories(str(txt))
    model = train_story_model(stories, ModelConfig(n_layer=1, d_model=32), steps=3, batch_size=4, max_len=200)
    assert not model.training and model.max_len == 200
    out = StoryFeatureProbe(StoryProbeConfig(max_len=160, steps=20)).run(model, stories)
    assert "story_probe/blocks.0" in out["metrics"]
