"""Mixed precision acts in SAC: under bf16-mixed the actor's and critics' matmuls run in bf16 (the target
critic too) and an update gives finite metrics, read every ``metrics_every`` updates."""

import gymnasium as gym
import numpy as np
import torch
from intarsia.interfaces import EnvSpec, Transitions
from intarsia.testing.precision import linear_output_dtypes
from intarsia_hc.config import SACConfig
from intarsia_hc.sac import SACAgent
from lightning.fabric import Fabric


def test_sac_update_runs_bf16_matmuls_under_bf16_mixed():
    fabric = Fabric(accelerator="cpu", devices=1, precision="bf16-mixed")
    env = gym.make("Pendulum-v1")
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    agent = SACAgent(SACConfig(seed=0, seed_steps=0, batch_size=32, metrics_every=4), env_spec=spec, fabric=fabric)
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((65, 1, 3)).astype(np.float32)
    results = []
    with linear_output_dtypes(agent.actor_module, agent.critic, agent.critic_target) as seen:
        for i in range(64):
            agent.observe(Transitions(obs=obs[i], action=rng.uniform(-2, 2, (1, 1)).astype(np.float32),
                                      next_obs=obs[i + 1], env_reward=np.zeros(1, np.float32),
                                      terminated=np.zeros(1, bool), truncated=np.zeros(1, bool)))
            results.append(agent.update(i))
    assert seen[torch.bfloat16] > 0 and seen[torch.float32] == 0, seen
    reported = [m for m in results if m]
    assert reported and all(np.isfinite(v) for m in reported for v in m.values())
    assert len(reported) == agent.updates // 4
