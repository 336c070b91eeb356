"""World models by name: the R2I models pass WorldModelContract, and a world model registered by another
distribution passes it and trains inside the agent."""

import contextlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn as nn
from gymnasium import spaces
from intarsia import hookimpl
from intarsia.testing import WorldModelContract
from intarsia_r2i.config import WorldModelConfig
from intarsia_r2i.envs.bsuite import MemoryLengthEnv
from intarsia_r2i.world_model import make_rssm, make_s3m

TINY = dict(stoch=4, classes=4, deter=16, units=16, ssm_state=8, ssm_layers=2, ssm_blocks=2, mlp_units=16,
            head_units=16, mlp_layers=1, head_layers=1, cnn_depth=4, bins=31)
OBS, ACT = spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)


def _batch(B=2, T=6, terms=("extrinsic",)):
    g = torch.Generator().manual_seed(0)
    is_first = torch.zeros(B, T)
    is_first[:, 0] = 1
    is_first[1, 3] = 1
    is_terminal = torch.zeros(B, T)
    is_terminal[1, 2] = 1
    return {"obs": torch.randn(B, T, 5, generator=g),
            "action": nn.functional.one_hot(torch.randint(0, 3, (B, T), generator=g), 3).float(),
            "is_first": is_first, "is_terminal": is_terminal,
            "rewards": {t: torch.randn(B, T, generator=g) for t in terms}}


class TestS3MContract(WorldModelContract):
    def make_world_model(self):
        torch.manual_seed(0)
        return make_s3m(WorldModelConfig(**TINY), obs_space=OBS, action_space=ACT, reward_terms=("extrinsic", "bonus"))

    def sample_batch(self):
        return _batch(terms=("extrinsic", "bonus"))


class TestGRURSSMContract(TestS3MContract):
    def make_world_model(self):
        torch.manual_seed(0)
        return make_rssm(WorldModelConfig(**TINY), obs_space=OBS, action_space=ACT,
                         reward_terms=("extrinsic", "bonus"))


# -- a world model of another distribution: a deterministic GRU latent, nothing shared with intarsia_r2i --
@dataclass
class ToyConfig:
    width: int = 8
    """latent and hidden width"""


class ToyWorldModel(nn.Module):
    """h_t = GRU(h_{t-1}, [a_{t-1}, e_t]) (posterior) and GRU(h_{t-1}, [a_{t-1}, 0]) (prior); linear heads."""

    stochastic = True

    def __init__(self, config: ToyConfig, *, obs_space, action_space, reward_terms=("extrinsic",)):
        super().__init__()
        w, self.n_obs, self.n_act = config.width, int(np.prod(obs_space.shape)), int(action_space.n)
        self.width, self.reward_terms = w, tuple(reward_terms)
        self.enc = nn.Linear(self.n_obs, w)
        self.cell = nn.GRUCell(self.n_act + w, w)
        self.dec = nn.Linear(w, self.n_obs)
        self.reward = nn.Linear(w, len(self.reward_terms))
        self.cont = nn.Linear(w, 1)

    def initial(self, batch_size):
        return {"h": torch.zeros(batch_size, self.width)}

    def encode(self, obs):
        return torch.tanh(self.enc(obs.float()))

    def _step(self, h, action, embed):
        return self.cell(torch.cat([action, embed], -1), h)

    def observe(self, embeds, actions, is_first, state=None):
        B, T = is_first.shape[:2]
        h = (state or self.initial(B))["h"]
        posts, priors = [], []
        for t in range(T):
            keep = 1 - is_first[:, t, None].float()
            h0, a = h * keep, actions[:, t] * keep
            priors.append(self._step(h0, a, torch.zeros_like(embeds[:, t])))
            h = self._step(h0, a, embeds[:, t])
            posts.append(h)
        return {"h": torch.stack(posts, 1)}, {"h": torch.stack(priors, 1)}

    def imagine_step(self, state, action):
        return {"h": self._step(state["h"], action, torch.zeros(*state["h"].shape[:-1], self.width))}

    def rollout(self):
        return contextlib.nullcontext()

    def features(self, state, kind="full"):
        if kind != "full":
            raise ValueError(f"toy world model: only 'full' features, not {kind!r}")
        return state["h"]

    def feature_dim(self, kind="full"):
        return self.width

    def predict_rewards(self, state):
        out = self.reward(state["h"])
        return {t: out[..., i] for i, t in enumerate(self.reward_terms)}

    def predict_cont(self, state):
        return torch.sigmoid(self.cont(state["h"]).squeeze(-1))

    def loss(self, batch):
        action = batch["action"]
        prev = torch.cat([torch.zeros_like(action[:, :1]), action[:, :-1]], 1)
        post, prior = self.observe(self.encode(batch["obs"]), prev, batch["is_first"])
        h = post["h"]
        losses = {"recon": (self.dec(h) - batch["obs"].float()).square().mean(),
                  "latent": (prior["h"] - h.detach()).square().mean(),
                  "cont": nn.functional.binary_cross_entropy_with_logits(
                      self.cont(h).squeeze(-1), 1 - batch["is_terminal"].float())}
        pred = self.predict_rewards(post)
        for t in self.reward_terms:
            losses[f"reward/{t}"] = (pred[t] - batch["rewards"][t].float()).square().mean()
        return losses, post


class ToyPlugin:
    __distribution__ = "intarsia-toy-world-models"

    @hookimpl
    def register_world_models(self, register):
        register("toy-gru", factory=ToyWorldModel, config=ToyConfig, summary="a deterministic GRU latent")


class TestToyWorldModelContract(WorldModelContract):
    def make_world_model(self):
        torch.manual_seed(0)
        return ToyWorldModel(ToyConfig(), obs_space=OBS, action_space=ACT, reward_terms=("extrinsic", "bonus"))

    def sample_batch(self):
        return _batch(terms=("extrinsic", "bonus"))


@pytest.mark.parametrize("policy", ["r2i", "dreamerv3"])
def test_a_world_model_of_another_distribution_trains_inside_the_agent(intarsia_host, cpu_fabric, policy):
    import intarsia_r2i.plugin as plugin
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec
    from intarsia_r2i.loop import drive
    from intarsia_r2i.presets import tiny_config

    host = intarsia_host(plugin, ToyPlugin())
    assert host.registry.get("world_models", "toy-gru").distribution == "intarsia-toy-world-models"
    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    options = {k: v for k, v in vars(tiny_config()).items() if k not in ("world_model", "model")}
    options["world_model"] = {"name": "toy-gru", "width": 6}
    agent = build("policies", policy, options, env_spec=spec, fabric=cpu_fabric)
    assert isinstance(agent.wm, ToyWorldModel) and agent.wm.width == 6
    before = [p.detach().clone() for p in agent.wm.parameters()]
    actor_before = [p.detach().clone() for p in agent.actor.parameters()]
    drive(lambda: MemoryLengthEnv(3), agent, 48, num_envs=2)
    assert agent.updates >= 3
    metrics = agent.train_step()
    for key in ("wm/recon", "wm/latent", "wm/reward/extrinsic", "loss/actor", "loss/critic"):
        assert np.isfinite(metrics[key]), key
    assert all(not torch.equal(a, p) for a, p in zip(before, agent.wm.parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(actor_before, agent.actor.parameters(), strict=True))


@pytest.mark.parametrize("policy", ["r2i", "dreamerv3"])
def test_latent_features_are_the_acting_path_states(cpu_fabric, policy):
    """Probeable: the per-step features of a recorded episode are the states greedy acting went through."""
    from intarsia.interfaces import EnvSpec, Probeable
    from intarsia_r2i.agent import make_dreamerv3, make_r2i
    from intarsia_r2i.presets import tiny_config

    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    agent = (make_r2i if policy == "r2i" else make_dreamerv3)(tiny_config(), env_spec=spec, fabric=cpu_fabric)
    assert isinstance(agent, Probeable)
    envs = [MemoryLengthEnv(3) for _ in range(2)]
    obs = np.stack([e.reset(seed=i)[0] for i, e in enumerate(envs)])
    obs_seq, act_seq, deters = [], [], []
    state, reset = None, np.ones(2, dtype=bool)
    for _ in range(4):
        actions, state = agent.act(obs, state, explore=False, reset=reset)
        obs_seq.append(obs), act_seq.append(actions), deters.append(state[0]["deter"])
        reset = np.zeros(2, dtype=bool)
        obs = np.stack([e.step(a)[0] for e, a in zip(envs, actions)])
    feats = agent.latent_features(np.stack(obs_seq), np.stack(act_seq))
    assert {"features", "deter", "posterior"} <= set(feats) and all(v.shape[:2] == (4, 2) for v in feats.values())
    assert ("ssm.0" in feats) == (policy == "r2i")
    torch.testing.assert_close(feats["deter"], torch.stack(deters), rtol=1e-4, atol=1e-4)
    assert agent.wm.training  # the mode is left as found
