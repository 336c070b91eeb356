"""A probe on a planted linear feature reaches ~100% and on noise ~chance, on arrays and on a model."""

import numpy as np
import torch
from intarsia_capprobe.config import ProbeConfig
from intarsia_capprobe.probing import LinearProbe, fit_probe
from torch import nn


def test_planted_linear_feature_is_read_and_noise_is_not():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 32))
    w = rng.normal(size=32)
    planted = (x @ w > 0).astype(int)
    noise = rng.integers(0, 2, size=1000)
    assert fit_probe(x, planted, ProbeConfig())["accuracy"] > 0.97
    r = fit_probe(x, noise, ProbeConfig())
    assert abs(r["accuracy"] - 0.5) < 0.08 and abs(r["chance"] - 0.5) < 0.08


class Planted(nn.Module):
    """Any model with named modules: ``feature`` carries the label of the token at each position."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.feature = nn.Embedding(6, 16)
        self.noise = nn.Linear(1, 16)

    def forward(self, ids):
        self.noise(torch.randn(*ids.shape, 1, generator=torch.Generator().manual_seed(1)))
        return self.feature(ids)


def test_linear_probe_reads_module_outputs_at_the_given_positions():
    g = torch.Generator().manual_seed(0)
    n = 600
    ids = torch.randint(0, 6, (n, 5), generator=g)
    positions = torch.randint(0, 5, (n,), generator=g)
    targets = ids[torch.arange(n), positions] % 3  # planted: a function of the token at the position
    out = LinearProbe(ProbeConfig(module_pattern=r"^(feature|noise)$")).run(
        Planted(), {"input_ids": ids, "positions": positions, "targets": targets})
    assert out["metrics"]["probe/feature"] > 0.97
    assert out["metrics"]["probe/noise"] < out["metrics"]["probe/chance"] + 0.1
