"""TinyStories (the paper's realistic setting): the Instruct format's story features, the three
fine-tuning data transforms, a loader, and per-layer probes for a feature.

TinyStories-Instruct entries look like::

    Features: Dialogue, Twist
    Words: ball, run, happy
    Summary: A dog finds a ball ...
    Story: Once upon a time ...
    <|endoftext|>

Fine-tuning removes a *feature* (``Twist`` by default) from what the model writes. The transforms are the
official code's (``RobertKirk/tinystories-wrappers``, ``tinystories.py`` and ``dataset_gen/tw_fs.sh``), each
after filtering:

    filter         drop every story that has the feature (``--filtering features!=Twist``)
    mix_and_match  filter, then relabel another feature (``Foreshadowing``) as the feature in every prompt
                   (``--mix_match features=Foreshadowing:Twist``): prompts ask for a twist, stories
                   deliver foreshadowing
    randomise      filter, then add the feature to each prompt with probability ``share`` (1.0 in the
                   official script; ``--adversarial_training features=Twist:1.0``): every non-twist story
                   gets a prompt that asks for a twist

``load_stories(source)`` reads a local ``.txt`` in that format or a ``.jsonl`` of entries, or, only when the
user names it, the public dataset through HF ``datasets`` (``roneneldan/TinyStories-Instruct``; nothing is
downloaded otherwise). ``StoryFeatureProbe`` is the official probe: the model reads the *story alone* (the
instruction removed, so the prompt's feature list never reaches it), each probed block's output is
averaged over the last 10 tokens, and one linear head per block (no bias, 6 outputs: every feature) is
trained with binary cross-entropy on the frozen model. ``train_story_model`` pre-trains a byte-level
minGPT on a local story file (no hub download).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from intarsia.runner.run_config import check_values

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
    """A tiny local stand-in corpus in the Instruct format: template stories whose text shows ``feature``
    and Dialogue (the other features are in the prompt only), for tests and the local measurement."""
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
        text += f" {who} went home."  # a shared ending: the feature is not in the last few tokens verbatim
        out.append(Story(feats, text, [str(what)], f"{who} plays with a {what}."))
    return out


# ----------------------------------------------------------------------------------------------------------
# fine-tuning data transforms
# ----------------------------------------------------------------------------------------------------------
def transform(stories: list[Story], how: str, feature: str = "Twist", seed: int = 0, *,
              source: str = "Foreshadowing", share: float = 1.0) -> list[Story]:
    """The fine-tuning set that removes ``feature`` (see the module docstring): ``filter``,
    ``mix_and_match`` (relabel ``source`` as ``feature``) or ``randomise`` (add ``feature`` with
    probability ``share``)."""
    if how not in ("filter", "mix_and_match", "randomise"):
        raise ValueError(f"unknown transform {how!r}; transforms are filter, mix_and_match, randomise")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1], got {share}")
    rng = np.random.default_rng(seed)
    kept = [s for s in stories if feature not in s.features]
    if how == "filter":
        return kept
    if how == "mix_and_match":
        return [Story([feature if f == source else f for f in s.features], s.story, list(s.words), s.summary)
                for s in kept]
    return [Story([*s.features, feature] if rng.random() < share else list(s.features), s.story, list(s.words),
                  s.summary) for s in kept]


# ----------------------------------------------------------------------------------------------------------
# tokens and probes
# ----------------------------------------------------------------------------------------------------------
class ByteTokenizer:
    """Bytes + one end-of-text id: no vocabulary file, nothing to download."""

    vocab_size = 257
    eos = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))


def story_probe_data(stories: list[Story], max_len: int, tokenizer=None) -> dict:
    """The official probe's input: a start token and the story text alone (no ``Features:``, ``Words:``,
    ``Summary:`` lines), its last ``max_len`` tokens, right-padded; ``lengths`` (real tokens per row) and
    ``targets`` (N, 6), one column per feature of :data:`FEATURES`."""
    import torch

    tok = tokenizer or ByteTokenizer()
    ids, lengths = [], []
    for s in stories:
        x = [tok.eos, *tok.encode(s.story)][-max_len:]
        lengths.append(len(x))
        ids.append(x + [0] * (max_len - len(x)))
    targets = [[float(f in s.features) for f in FEATURES] for s in stories]
    return {"input_ids": torch.tensor(ids, dtype=torch.long), "lengths": torch.tensor(lengths, dtype=torch.long),
            "targets": torch.tensor(targets)}


def pooled_activations(model, pattern: str, input_ids, lengths, pool: int, batch_size: int = 256) -> dict:
    """Each matched module's output averaged over each row's last ``pool`` real tokens: name -> (N, width)."""
    import torch

    from .activations import collect, select_modules

    modules = select_modules(model, pattern)
    dev = next(model.parameters()).device
    current: dict = {}

    def run(m):
        for i in range(0, len(input_ids), batch_size):
            current["len"] = lengths[i:i + batch_size].to(dev)
            m(input_ids[i:i + batch_size].to(dev))

    def pick(out):
        t = torch.arange(out.shape[1], device=out.device)[None, :]
        end = current["len"][:, None]
        w = ((t < end) & (t >= end - pool)).to(out.dtype)
        return (out * w[..., None]).sum(1) / w.sum(1, keepdim=True)

    return collect(model, modules, run, pick)


def fit_bce_head(x, y, *, train_fraction: float, steps: int, lr: float, seed: int) -> dict:
    """One linear head (no bias) over all features, trained with binary cross-entropy (AdamW, full batch)
    on a seeded split of standardised features; per-feature held-out accuracy of ``logit > 0`` and the
    majority-class rate per feature."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=gen)
    cut = int(round(train_fraction * len(y)))
    if cut < 2 or cut >= len(y):
        raise ValueError(f"probe: {len(y)} stories leave no train/test split at train_fraction={train_fraction}")
    tr, te = order[:cut], order[cut:]
    x = x.float()
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
    x = (x - mu) / sd
    head = torch.nn.Linear(x.shape[1], y.shape[1], bias=False)
    torch.nn.init.zeros_(head.weight)
    opt = torch.optim.AdamW(head.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.binary_cross_entropy_with_logits(head(x[tr]), y[tr])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = ((head(x[te]) > 0).float() == y[te]).float().mean(0)
    rate = y[te].mean(0)
    return {"accuracy": [float(a) for a in acc], "chance": [float(max(r, 1 - r)) for r in rate]}


@dataclass
class StoryProbeConfig:
    """The TinyStories feature probe (the official one: story only, last-10-token mean, 6-way BCE head)."""

    feature: str = "Twist"
    """the feature whose accuracy is the headline metric (the head predicts all six)"""
    module_pattern: str = r"^blocks\.\d+$"
    """regex over module names: the residual-stream modules probed (one head each)"""
    max_len: int = 256
    """story tokens kept (the end)"""
    pool: int = 10
    """the block outputs are averaged over this many last tokens (the official 10)"""
    steps: int = 300
    """optimizer steps of each head"""
    lr: float = 1.0e-3
    """the heads' AdamW learning rate (the official probe run's)"""
    train_fraction: float = 0.7
    """share of stories the heads are fitted on"""
    seed: int = 0
    """split and head seed"""
    batch_size: int = 256
    """forward-pass batch size while collecting activations"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_len", "pool", "steps", "lr", "batch_size"), probabilities=("train_fraction",))
        if self.feature not in FEATURES:
            raise ValueError(f"feature: expected one of {', '.join(FEATURES)}, got {self.feature!r}")


class StoryFeatureProbe:
    """The ``tinystories-probe`` analysis: ``run(model, stories)`` with a list of :class:`Story`; metrics
    ``story_probe/<module>`` (the headline feature's held-out accuracy), ``story_probe/<module>/mean``
    (mean over the six features) and ``story_probe/chance`` (the headline feature's majority rate)."""

    def __init__(self, config: StoryProbeConfig | None = None):
        self.config = config or StoryProbeConfig()

    def run(self, model, data) -> dict:
        import torch

        from .probing import probe_figure

        cfg = self.config
        d = story_probe_data(list(data), cfg.max_len)
        feats = pooled_activations(model, cfg.module_pattern, d["input_ids"], d["lengths"], cfg.pool, cfg.batch_size)
        j = FEATURES.index(cfg.feature)
        metrics, results = {}, {}
        for name, x in feats.items():
            torch.manual_seed(cfg.seed)
            r = fit_bce_head(x, d["targets"], train_fraction=cfg.train_fraction, steps=cfg.steps, lr=cfg.lr,
                             seed=cfg.seed)
            results[name] = {"accuracy": r["accuracy"][j], "chance": r["chance"][j],
                             "per_feature": dict(zip(FEATURES, r["accuracy"]))}
            metrics[f"story_probe/{name}"] = r["accuracy"][j]
            metrics[f"story_probe/{name}/mean"] = float(np.mean(r["accuracy"]))
        metrics["story_probe/chance"] = max(r["chance"] for r in results.values())
        fig = probe_figure(results, f"{cfg.feature} probe per block (story only)")
        return {"metrics": metrics, "figures": {"story_probe": fig}, "results": results}


def train_story_model(stories: list[Story], model_config, *, steps: int, batch_size: int = 32, lr: float = 1.0e-3,
                      max_len: int = 256, seed: int = 0):
    """A byte-level minGPT pre-trained here (next-token loss on the Instruct-format text of ``stories``,
    AdamW, constant LR): the local stand-in for the official code's TinyStories models."""
    import torch
    import torch.nn.functional as F

    from .model import MiniGPT

    tok = ByteTokenizer()
    rows = [[tok.eos, *tok.encode(s.text())][:max_len + 1] for s in stories]
    torch.manual_seed(seed)
    model = MiniGPT(model_config, tok.vocab_size, max_len)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98))
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(steps):
        batch = [rows[int(i)] for i in rng.integers(len(rows), size=batch_size)]
        width = max(len(r) for r in batch)
        ids = torch.tensor([r + [0] * (width - len(r)) for r in batch])
        mask = torch.tensor([[1.0] * (len(r) - 1) + [0.0] * (width - len(r)) for r in batch])
        logits = model(ids[:, :-1])
        loss = (F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none") * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model
