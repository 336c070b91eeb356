"""Shared test helpers: a small reward-model file with known normalisation and quantiles."""

import dataclasses

import torch
from intarsia_motif.config import RewardModelConfig
from intarsia_motif.reward_model import QUANTILE_LEVELS, CaptionRewardNet, save_artefact


def make_model_file(path, mean=1.0, std=2.0, seed=0):
    """A (randomly initialised) char-CNN reward model saved in the plugin's format; returns eps at 0.5."""
    torch.manual_seed(seed)
    cfg = RewardModelConfig(hidden_dim=8, head_dims=[8, 8], char_embed_dim=4)
    net = CaptionRewardNet(cfg)
    quantiles = torch.linspace(-1.0, 1.5, len(QUANTILE_LEVELS))  # the 0.5 level (index 9) is ~0.25
    save_artefact({"format": "intarsia-motif/reward-model/1", "config": dataclasses.asdict(cfg),
                   "state_dict": net.state_dict(), "reward_mean": torch.tensor(mean), "reward_std": torch.tensor(std),
                   "quantile_levels": torch.tensor(QUANTILE_LEVELS), "quantiles": quantiles, "metrics": {},
                   "extra": {}}, path)
    return float(quantiles[9])


# progress values of a small synthetic caption world: enough distinct captions that held-out pairs test
# generalisation of the Bradley-Terry scores (transitivity), not memorisation
NOUNS = {"goal": 3.0, "door": 2.0, "key": 1.0, "gold": 1.5, "torch": 0.0, "wall": -1.0, "trap": -2.0}
VERBS = ["You reach the", "You see the", "You touch the"]


def synthetic_scores():
    return {f"{v} {n}.": s for n, s in NOUNS.items() for v in VERBS}
