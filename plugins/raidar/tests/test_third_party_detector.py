"""A detector registered by another distribution runs through `intarsia raidar fit|eval` and `intarsia detect`
(`--detector NAME`, built through the registry) and gets the same report as Raidar."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from intarsia import hookimpl
from intarsia_raidar.cli import add_commands

MACHINE_WORDS = "delve tapestry furthermore crucial landscape notably moreover intricate foster pivotal".split()
HUMAN_WORDS = "yeah kinda gonna stuff honestly lol pretty weird guess anyway".split()
SHARED = "the a of to and in it was is on that for with".split()


@dataclass
class WordBayesConfig:
    """Config of the test's detector."""

    smoothing: float = 1.0
    """Add-k smoothing of the word counts; must be positive."""


class WordBayes:
    """Naive Bayes over words: a detector that shares no code with Raidar (plain texts only)."""

    def __init__(self, config: WordBayesConfig | None = None):
        self.config = config or WordBayesConfig()
        if self.config.smoothing <= 0:
            raise ValueError("smoothing: must be positive")
        self.counts: dict[str, dict[str, int]] | None = None

    @staticmethod
    def _words(item) -> list[str]:
        return (item["input"] if isinstance(item, dict) else item).lower().split()

    def fit(self, texts, labels, where=None):
        self.counts = {"1": Counter(), "0": Counter()}
        for text, y in zip(texts, labels, strict=True):
            self.counts[str(int(y))].update(self._words(text))
        return self

    def score(self, texts, where=None):
        if self.counts is None:
            raise RuntimeError("not fitted")
        vocab = set(self.counts["1"]) | set(self.counts["0"])
        k = self.config.smoothing
        totals = {c: sum(self.counts[c].values()) + k * len(vocab) for c in ("1", "0")}
        out = []
        for text in texts:
            llr = sum(
                math.log((self.counts["1"][w] + k) / totals["1"]) - math.log((self.counts["0"][w] + k) / totals["0"])
                for w in self._words(text)
                if w in vocab
            )
            out.append(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, llr)))))
        return np.asarray(out)

    def save(self, path):
        Path(path).write_text(json.dumps({"config": asdict(self.config), "counts": self.counts}))

    @classmethod
    def load(cls, path):
        payload = json.loads(Path(path).read_text())
        det = cls(WordBayesConfig(**payload["config"]))
        det.counts = {c: Counter(v) for c, v in payload["counts"].items()}
        return det


class AcmePlugin:
    """The hooks of a distribution other than intarsia-raidar."""

    __distribution__ = "intarsia-acme"

    @hookimpl
    def register_detectors(self, register):
        register("acme-bayes", factory=WordBayes, config=WordBayesConfig, summary="word naive Bayes (test)")


def _texts(n: int, seed: int, words: list[str]) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(words if rng.random() < 0.3 else SHARED) for _ in range(rng.randint(15, 30)))
        for _ in range(n)
    ]


@pytest.fixture
def group(intarsia_host):
    intarsia_host(AcmePlugin(), "raidar")
    g = click.Group("intarsia")
    add_commands(g)
    return g


@pytest.fixture
def data(tmp_path):
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(t) for t in _texts(30, 1, MACHINE_WORDS)))
    (tmp_path / "h.jsonl").write_text("\n".join(json.dumps(t) for t in _texts(30, 2, HUMAN_WORDS)))
    return ["--human", str(tmp_path / "h.jsonl"), "--machine", str(tmp_path / "m.jsonl")]


def test_fit_then_detect_with_a_third_party_detector(group, data, tmp_path):
    model = tmp_path / "acme.json"
    res = CliRunner().invoke(
        group,
        ["raidar", "fit", "--detector", "acme-bayes", "--detector-option", "smoothing=0.5", *data, "--out", str(model)],
    )
    assert res.exit_code == 0, res.output
    assert "acme-bayes on 30 machine + 30 human texts" in res.stdout
    assert json.loads(model.read_text())["config"] == {"smoothing": 0.5}  # the option reached the detector's config
    test = _texts(10, 3, MACHINE_WORDS) + _texts(10, 4, HUMAN_WORDS)
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(t) for t in test))
    res = CliRunner().invoke(
        group, ["detect", "--detector", "acme-bayes", "--model", str(model), "--json", str(tmp_path / "test.jsonl")]
    )
    assert res.exit_code == 0, res.output
    probs = [row["probability"] for row in json.loads(res.stdout)]
    assert len(probs) == 20
    acc = sum((p >= 0.5) == (i < 10) for i, p in enumerate(probs)) / 20
    assert acc >= 0.9


def test_eval_reports_a_third_party_detector_like_raidar(group, data, tmp_path):
    plot = tmp_path / "roc.png"
    res = CliRunner().invoke(
        group, ["raidar", "eval", "--detector", "acme-bayes", *data, "--seeds", "2", "--json", "--plot", str(plot)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["detector"] == "acme-bayes" and out["n_splits"] == 2 and len(out["splits"]) == 2
    assert out["n_machine"] == 30 and out["n_human"] == 30 and out["options"] == {}
    assert out["auroc"] > 0.9 and out["f1"] > out["floor_f1"]
    assert plot.stat().st_size > 1000
    res = CliRunner().invoke(group, ["raidar", "eval", "--detector", "acme-bayes", *data, "--plot", str(plot)])
    assert res.exit_code == 0 and res.stdout.startswith("acme-bayes, split=paper, 5 split(s)"), res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--classifier", "gbt"], "--classifier: option(s) of the raidar detector, not of 'acme-bayes'"),
        (["--detector-option", "smoothing=0"], "smoothing: must be positive"),
        (["--detector-option", "smoothin=1"], "--detector-option.smoothin: unknown key"),
    ],
)
def test_bad_options_for_a_third_party_detector_are_one_line(group, data, tmp_path, args, message):
    res = CliRunner().invoke(
        group, ["raidar", "fit", "--detector", "acme-bayes", *args, *data, "--out", str(tmp_path / "m.json")]
    )
    assert res.exit_code == 2, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "m.json").exists()


def test_an_unknown_detector_is_one_line(group, data, tmp_path):
    res = CliRunner().invoke(group, ["raidar", "fit", "--detector", "acme-bayse", *data, "--out", str(tmp_path / "m")])
    assert res.exit_code == 2
    assert "acme-bayse" in res.stderr and "acme-bayes" in res.stderr and len(res.stderr.strip().splitlines()) == 1
