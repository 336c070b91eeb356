"""Mixed precision acts in the recurrent PPO: under bf16-mixed every call goes through the Fabric-wrapped
model (so autocast applies), its matmuls run in bf16, and it still solves test_ppo.py's memory task."""

import numpy as np
import pytest
import torch
from intarsia.interfaces import EnvSpec
from intarsia.testing.precision import linear_output_dtypes
from intarsia_motif.config import PPOConfig
from intarsia_motif.ppo import PPOAgent
from lightning.fabric import Fabric
from test_ppo import CueRecall, drive


def _agent(precision, **overrides):
    fabric = Fabric(accelerator="cpu", devices=1, precision=precision)
    fabric.seed_everything(0, verbose=False)
    spec = EnvSpec(CueRecall().observation_space, CueRecall().action_space, num_envs=8)
    config = dict(rollout=32, epochs=4, minibatches=4, lr=3e-3, hidden=32, entropy_coef=0.01, seed=0)
    return PPOAgent(PPOConfig(**(config | overrides)), env_spec=spec, fabric=fabric)


def test_ppo_matmuls_run_in_bf16_under_bf16_mixed():
    agent = _agent("bf16-mixed", rollout=8, epochs=1)
    with linear_output_dtypes(agent.model) as seen:
        drive(agent, lambda: CueRecall(delay=3), 8, 8 * 17)  # two updates
    assert agent.updates == 2
    assert seen[torch.bfloat16] > 0 and seen[torch.float32] == 0, seen
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in agent.model.parameters())


@pytest.mark.slow
def test_recurrent_ppo_solves_the_memory_task_under_bf16_mixed():
    """test_ppo.py's CueRecall settings under bf16-mixed (about 45 s on a busy CPU)."""
    agent = _agent("bf16-mixed")
    with linear_output_dtypes(agent.model) as seen:
        returns = drive(agent, lambda: CueRecall(delay=3), 8, 12_000)
    assert seen[torch.bfloat16] > 0 and seen[torch.float32] == 0, seen
    late = np.mean(returns[-200:])
    assert late > 0.75, late  # a memoryless policy cannot beat 0.5
