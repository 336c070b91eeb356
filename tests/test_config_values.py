"""Every plugin's component configs check their values in ``__post_init__``: a bad value is one line naming
the key (positive sizes, probabilities in [0, 1], finite floats, sane upper bounds); the defaults build."""

from __future__ import annotations

import importlib

import pytest
from intarsia.config import merge_into
from intarsia.errors import ConfigError

# (plugin, "module:Class", the key given a bad value, that value)
BAD = [
    ("hc", "intarsia_hc.config:SACConfig", "batch_size", 0),
    ("hc", "intarsia_hc.config:SACConfig", "gamma", 1.5),
    ("hc", "intarsia_hc.config:SACConfig", "actor_lr", float("nan")),
    ("hc", "intarsia_hc.config:SACConfig", "buffer_size", 10**12),
    ("hc", "intarsia_hc.config:SACMLPConfig", "critic_hidden_sizes", [64, -1]),
    ("hc", "intarsia_hc.config:ActorConfig", "log_std_min", 3.0),
    ("hc", "intarsia_hc.config:RISConfig", "replay_goal_fraction", -0.1),
    ("hc", "intarsia_hc.config:PendulumConfig", "max_episode_steps", 0),
    ("hc", "intarsia_hc.config:DMCConfig", "action_repeat", -2),
    ("hc", "intarsia_hc.config:PointNavConfig", "step_size", float("inf")),
    ("crl", "intarsia_crl.config:SpritesConfig", "num_objects", 0),
    ("crl", "intarsia_crl.config:SpritesConfig", "radius_range", [0.2, 0.1]),
    ("crl", "intarsia_crl.config:SpritesConfig", "properties", ["x", "colour"]),
    ("crl", "intarsia_crl.config:ModelConfig", "slot_dim", -64),
    ("crl", "intarsia_crl.config:LossConfig", "w_latent", -1.0),
    ("crl", "intarsia_crl.config:TrainerConfig", "lr", 0.0),
    ("crl", "intarsia_crl.config:EncoderConfig", "image_size", 0),
    ("gfn", "intarsia_gfn.config:EnvConfig", "height", 0),
    ("gfn", "intarsia_gfn.config:GFlowNetConfig", "subtb_lambda", 2.0),
    ("gfn", "intarsia_gfn.config:GFlowNetConfig", "lr", float("nan")),
    ("gfn", "intarsia_gfn.config:OCGFNConfig", "attempt_epsilon", 1.5),
    ("gfn", "intarsia_gfn.config:FinetuneConfig", "outcomes_per_transition", 0),
    ("gfn", "intarsia_gfn.config:ExplorerConfig", "epsilon", -0.5),
    ("llm", "intarsia_llm.config:GGUFConfig", "n_ctx", 0),
    ("llm", "intarsia_llm.config:GGUFConfig", "n_gpu_layers", -2),
    ("llm", "intarsia_llm.config:GGUFConfig", "extra_buffer_types", "maybe"),
    ("llm", "intarsia_llm.config:TransformersConfig", "batch_size", -8),
    ("llm", "intarsia_llm.config:OpenAIConfig", "timeout_s", 0.0),
    ("llm", "intarsia_llm.config:OpenAIConfig", "progress_min", -1),
    ("raidar", "intarsia_raidar.config:RaidarConfig", "top_p", 1.5),
    ("raidar", "intarsia_raidar.config:RaidarConfig", "temperature", float("inf")),
    ("raidar", "intarsia_raidar.config:RaidarConfig", "ngram_max", 0),
    ("capprobe", "intarsia_capprobe.config:TaskConfig", "index_share", 1.5),
    ("capprobe", "intarsia_capprobe.config:TaskConfig", "prior_levels", {"low": 0.02, "high": 3.0}),
    ("capprobe", "intarsia_capprobe.config:ModelConfig", "d_model", 66),
    ("capprobe", "intarsia_capprobe.config:StageConfig", "batch_size", 0),
    ("capprobe", "intarsia_capprobe.config:SweepConfig", "correlations", [0.0, 1.2]),
    ("capprobe", "intarsia_capprobe.config:ProbeConfig", "train_fraction", 1.7),
    ("capprobe", "intarsia_capprobe.config:PruneConfig", "ks", [0, -4]),
    ("capprobe", "intarsia_capprobe.r2i_probe:R2IProbeConfig", "episodes", 0),
    ("capprobe", "intarsia_capprobe.tinystories:StoryProbeConfig", "max_len", -1),
    ("r2i", "intarsia_r2i.config:PopGymConfig", "env", "not a class"),
    ("r2i", "intarsia_r2i.config:DiscountingChainConfig", "reward_delays", [10]),
    ("r2i", "intarsia_r2i.config:DiscountingChainConfig", "reward_delays", [1, 3, 0, 30, 100]),
    ("r2i", "intarsia_r2i.config:MemoryMazeConfig", "size", "10x10"),
    ("r2i", "intarsia_r2i.config:AgentConfig", "return_lambda", 1.5),
    ("lmcdqn", "intarsia_lmcdqn.config:DQNConfig", "eps_start", 2.0),
    ("motif", "intarsia_motif.config:PPOConfig", "gae_lambda", -0.5),
]


def _cls(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("plugin", "path", "key", "value"), BAD, ids=[f"{b[0]}-{b[1].split(':')[1]}-{b[2]}" for b in BAD])
def test_a_bad_value_is_one_line_naming_the_key(plugin, path, key, value):
    with pytest.raises(ConfigError) as info:
        merge_into(_cls(path), {key: value}, "section")
    msg = str(info.value)
    assert len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"section.{key}: "), msg


@pytest.mark.parametrize("path", sorted({b[1] for b in BAD}))
def test_the_defaults_build(path):
    cls = _cls(path)
    assert isinstance(merge_into(cls, {}, "section"), cls)


def test_every_plugin_is_covered():
    assert {b[0] for b in BAD} >= {"hc", "crl", "gfn", "llm", "raidar", "capprobe", "r2i", "lmcdqn", "motif"}


@pytest.mark.parametrize(("path", "section", "expected"), [
    ("intarsia_hc.config:SACConfig", {"actor": {"num_subpolicies": 0}}, "policy.actor.num_subpolicies: must be > 0"),
    ("intarsia_gfn.config:GFlowNetConfig", {"exploration": {"epsilon": 1.5}}, "policy.exploration.epsilon: must be a"),
    ("intarsia_crl.config:EncoderConfig", {"model": {"slot_dim": -1}}, "policy.model.slot_dim: must be > 0"),
])
def test_a_nested_configs_bad_value_names_its_full_key(path, section, expected):
    with pytest.raises(ConfigError, match=f"^{expected}"):
        merge_into(_cls(path), section, "policy")
