"""Named size presets (for tests, smoke runs and benchmarks); recipes spell their sizes out in YAML."""

from __future__ import annotations

import dataclasses

from .config import AgentConfig, WorldModelConfig


def tiny_config(**overrides) -> AgentConfig:
    """A few-thousand-parameter agent for fast CPU tests. Overrides go to the agent or, for world-model
    fields, to ``world_model`` (its options, as a plain mapping; ``name`` picks another world model)."""
    model = WorldModelConfig(stoch=4, classes=4, deter=16, units=16, ssm_state=8, ssm_layers=1, ssm_blocks=2,
                             mlp_units=16, head_units=16, mlp_layers=1, head_layers=1, cnn_depth=4, bins=31)
    cfg = AgentConfig(actor_units=16, critic_units=16, actor_layers=1, critic_layers=1,
                      batch_size=2, batch_length=8, train_ratio=16, learning_starts=16, imag_horizon=4,
                      critic_bins=31)
    options = {}
    for key, value in overrides.items():
        if hasattr(cfg, key):
            setattr(cfg, key, value)
        elif hasattr(model, key) or key == "name":
            options[key] = value
        else:
            raise KeyError(key)
    if "world_model" not in overrides:  # a world model of its own keeps its own options
        cfg.world_model = {**dataclasses.asdict(model), **options}
    return cfg
