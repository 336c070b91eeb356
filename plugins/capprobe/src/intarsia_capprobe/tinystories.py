"""TinyStories (the paper's realistic setting): the Instruct format's story features, the three
fine-tuning data transforms, a loader, and per-layer probes for a feature.

TinyStories-Instruct entries look like::

    Features: Dialogue, Twist
    Words: ball, run, happy
    Summary: A dog finds a ball ...
    Story: Once upon a time ...
    <|endoftext|>

Fine-tuning removes a *feature* (``Twist`` by default) from what the model writes; the transforms build the
fine-tuning set from stories:

    filter         drop every story that has the feature
    mix_and_match  every prompt that asks for the feature gets the story of another entry without it
                   (the prompt still asks, the story never delivers)
    randomise      the feature's mention in each prompt is replaced by a uniformly drawn other feature
                   or dropped, so the prompt's mention carries no information about the story

``load_stories(source)`` reads a local ``.txt`` in that format or a ``.jsonl`` of entries, or, only when the
user names it, the public dataset through HF ``datasets`` (``roneneldan/TinyStories-Instruct``; nothing is
downloaded otherwise). ``StoryFeatureProbe`` probes each block's residual stream at the end of the prompt
(``Story:``) for whether the prompt's story has the feature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from intarsia.runner.run_config import check_values

from .config import ProbeConfig

FEATURES = ("Dialogue", "Twist", "BadEnding", "Foreshadowing", "Conflict", "MoralValue")
END = "<|endoftext|>"
PUBLIC_DATASET = "roneneldan/TinyStories-Instruct"


@dataclass
class Story:
    features: list[str]
    story: str
    words: list[str] = field(default_factory=list)
    summary: str = ""

    def prompt(self) -> str:
        lines = [f"Features: {', '.join(self.features)}"]
        if self.words:
            lines.append(f"Words: {', '.join(self.words)}")
        if self.summary:
            lines.append(f"Summary: {self.summary}")
        return "\n".join(lines) + "\nStory:"

    def text(self) -> str:
        return f"{self.prompt()} {self.story}\n{END}\n"


# ----------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------
def parse_instruct(text: str) -> list[Story]:
    """Entries of the TinyStories-Instruct text format (see the module docstring); malformed ones are skipped."""
    out = []
    for chunk in text.split(END):
        fields: dict[str, str] = {}
        key = None
        for line in chunk.strip().splitlines():
            head, sep, rest = line.partition(":")
            if sep and head.strip() in ("Features", "Words", "Summary", "Story", "Random sentence"):
                key = head.strip()
                fields[key] = rest.strip()
            elif key == "Story":
                fields[key] += "\n" + line
        if "Story" not in fields:
            continue
        split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
        out.append(Story(split(fields.get("Features", "")), fields["Story"].strip(), split(fields.get("Words", "")),
                         fields.get("Summary", "")))
    return out


def load_stories(source: str, *, split: str = "train", limit: int | None = None) -> list[Story]:
    """Stories from a local ``.txt`` (Instruct format) or ``.jsonl`` file, or, when ``source`` is the public
    dataset's name, from HF ``datasets`` (downloads; only when asked)."""
    from intarsia.errors import IntarsiaError

    path = Path(source).expanduser()
    if path.suffix in (".txt", ".jsonl") or path.exists():
        if not path.is_file():
            raise IntarsiaError(f"no story file at {str(path)!r}")
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            stories = [Story(list(r.get("features", [])), r["story"], list(r.get("words", [])), r.get("summary", ""))
                       for r in map(json.loads, filter(None, text.splitlines()))]
        else:
            stories = parse_instruct(text)
    elif source == PUBLIC_DATASET:
        from datasets import load_dataset

        ds = load_dataset(source, split=split)
        # the Instruct files are stored one text line per row; entries end with the end-of-text marker
        stories = parse_instruct("\n".join(ds["text"]))
    else:
        raise IntarsiaError(f"{source!r} is neither a local .txt/.jsonl story file nor {PUBLIC_DATASET!r}")
    if not stories:
        raise IntarsiaError(f"no stories could be parsed from {source!r}")
    return stories[:limit] if limit else stories


def synthetic_corpus(n: int, seed: int, feature: str = "Twist") -> list[Story]:
    """A tiny local stand-in corpus: template stories whose text depends on their features (for tests)."""
    rng = np.random.default_rng(seed)
    names, things = ["Lily", "Tom", "Sue", "Max"], ["ball", "kite", "cake", "boat"]
    out = []
    for _ in range(n):
        feats = [f for f in FEATURES if rng.random() < 0.35]
        who, what = rng.choice(names), rng.choice(things)
        text = f"{who} had a {what}. {who} played with the {what} all day."
        if "Dialogue" in feats:
            text += f' "I love my {what}!" said {who}.'
        if feature in feats:
            text += f" But then the {what} turned out to be magic!"
        out.append(Story(feats, text, [str(what)], f"{who} plays with a {what}."))
    return out


# ----------------------------------------------------------------------------------------------------------
# fine-tuning data transforms
# ----------------------------------------------------------------------------------------------------------
def transform(stories: list[Story], how: str, feature: str = "Twist", seed: int = 0) -> list[Story]:
    """The fine-tuning set that removes ``feature``: ``filter``, ``mix_and_match`` or ``randomise``."""
    rng = np.random.default_rng(seed)
    has = [feature in s.features for s in stories]
    if how == "filter":
        return [s for s, h in zip(stories, has) if not h]
    if how == "mix_and_match":
        donors = [s for s, h in zip(stories, has) if not h]
        if not donors:
            raise ValueError(f"mix_and_match: no story without {feature!r} to take from")
        return [Story(list(s.features), donors[int(rng.integers(len(donors)))].story, list(s.words), s.summary)
                if h else s for s, h in zip(stories, has)]
    if how == "randomise":
        others = [f for f in FEATURES if f != feature]
        out = []
        for s in stories:
            feats = [f for f in s.features if f != feature]
            if feature in s.features or rng.random() < 0.5 * np.mean(has):
                choice = rng.integers(len(others) + 1)  # one more slot: drop the mention
                if choice < len(others) and others[choice] not in feats:
                    feats.append(others[choice])
            out.append(Story(feats, s.story, list(s.words), s.summary))
        return out
    raise ValueError(f"unknown transform {how!r}; transforms are filter, mix_and_match, randomise")


# ----------------------------------------------------------------------------------------------------------
# tokens and probes
# ----------------------------------------------------------------------------------------------------------
class ByteTokenizer:
    """Bytes + one end-of-text id: no vocabulary file, nothing to download."""

    vocab_size = 257
    eos = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))


def probe_data(stories: list[Story], feature: str, max_len: int, tokenizer=None) -> dict:
    """Prompts (up to ``Story:``) as right-padded ids, the position of their last token, and whether the
    story has ``feature`` (the probe target)."""
    import torch

    tok = tokenizer or ByteTokenizer()
    ids, pos = [], []
    for s in stories:
        x = tok.encode(s.prompt())[-max_len:]
        pos.append(len(x) - 1)
        ids.append(x + [0] * (max_len - len(x)))
    return {"input_ids": torch.tensor(ids, dtype=torch.long), "positions": torch.tensor(pos, dtype=torch.long),
            "targets": torch.tensor([int(feature in s.features) for s in stories])}


@dataclass
class StoryProbeConfig:
    """The TinyStories feature probe."""

    feature: str = "Twist"
    """the story feature probed for"""
    module_pattern: str = r"^(drop|blocks\.\d+)$"
    """regex over module names: the residual-stream modules probed (one probe each)"""
    max_len: int = 256
    """prompt tokens kept (the end, where ``Story:`` is)"""
    train_fraction: float = 0.7
    """share of stories the probes are fitted on"""
    seed: int = 0
    """split seed"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_len",), probabilities=("train_fraction",))


class StoryFeatureProbe:
    """The ``tinystories-probe`` analysis: ``run(model, stories)`` with a list of :class:`Story`; metrics
    ``story_probe/<module>`` and ``story_probe/chance``."""

    def __init__(self, config: StoryProbeConfig | None = None):
        self.config = config or StoryProbeConfig()

    def run(self, model, data) -> dict:
        from .probing import LinearProbe

        cfg = self.config
        probe = LinearProbe(ProbeConfig(module_pattern=cfg.module_pattern, train_fraction=cfg.train_fraction,
                                        seed=cfg.seed))
        out = probe.run(model, probe_data(list(data), cfg.feature, cfg.max_len))
        metrics = {k.replace("probe/", "story_probe/"): v for k, v in out["metrics"].items()}
        return {"metrics": metrics, "figures": {"story_probe": out["figures"]["probe"]}, "results": out["results"]}
