"""Mixed precision acts: under ``bf16-mixed`` the world model's matmuls run in bf16 and it still learns;
the S5 recurrence stays complex64 under any precision (``bf16-true`` included)."""

import numpy as np
import pytest
import torch
from intarsia.interfaces import EnvSpec
from intarsia.testing.precision import linear_output_dtypes
from intarsia_r2i.agent import make_r2i
from intarsia_r2i.envs.bsuite import MemoryLengthEnv
from intarsia_r2i.loop import drive
from intarsia_r2i.presets import tiny_config
from intarsia_r2i.s5 import S5Stack
from lightning.fabric import Fabric


class RecallEnv(MemoryLengthEnv):
    """memory_length whose final reward is the cue (+-1) whatever the action (as in test_learning.py)."""

    def step(self, action):
        obs, reward, term, trunc, info = super().step(action)
        if term:
            reward = float(2 * self._context[0] - 1)
        return obs, reward, term, trunc, info


def test_s5_stack_runs_in_complex64_under_bf16_parameters():
    torch.manual_seed(0)
    stack = S5Stack(16, 8, 2, blocks=2)
    ref_in = torch.randn(3, 5, 16)
    ref, _ = stack(ref_in, torch.zeros(3, 2, 8, dtype=torch.complex64))
    stack = stack.to(torch.bfloat16)
    out, states = stack(ref_in.bfloat16(), torch.zeros(3, 2, 8, dtype=torch.complex64))
    assert out.dtype == torch.bfloat16 and states.dtype == torch.complex64
    torch.testing.assert_close(out.float(), ref, atol=0.1, rtol=0.05)
    y, x = stack.step(ref_in[:, 0].bfloat16(), states[:, -1])
    assert y.dtype == torch.bfloat16 and x.dtype == torch.complex64


@pytest.mark.slow
def test_r2i_world_model_learns_under_bf16_mixed_with_bf16_matmuls():
    """The recall check of test_learning.py under bf16-mixed, shorter, trained by the agent's own
    ``train_step``: its world-model matmuls are bf16 (a hook on the Linear layers sees bf16 outputs, so the
    update itself runs under autocast), the S5 states complex64, and the reward head still learns the cue."""
    fabric = Fabric(accelerator="cpu", devices=1, precision="bf16-mixed")
    torch.manual_seed(0)
    L = 1
    env = RecallEnv(L)
    spec = EnvSpec(env.observation_space, env.action_space, 4)
    cfg = tiny_config(stoch=8, classes=8, deter=64, units=64, ssm_state=32, ssm_layers=2, ssm_blocks=4,
                      mlp_units=64, head_units=64, bins=255, batch_size=16, batch_length=L + 2,
                      replay_episode_starts=True, learning_starts=10**9, model_lr=1e-3,
                      c_init="complex_normal", dt_min=0.01, dt_max=1.0)
    agent = make_r2i(cfg, env_spec=spec, fabric=fabric)
    drive(lambda: RecallEnv(L), agent, 2000, num_envs=4)

    def accuracy():
        batch = agent._sample_batch()
        with torch.no_grad(), fabric.autocast():
            _, post = agent.wm.loss(batch)
            pred = agent.wm.predict_rewards(post)["extrinsic"]
        term = batch["is_terminal"].bool()
        return float((torch.sign(pred[term].float()) == batch["rewards"]["extrinsic"][term]).float().mean())

    before = np.mean([accuracy() for _ in range(4)])
    # the agent's own update (world model, then actor-critic in imagination) is what trains here
    with linear_output_dtypes(agent.wm) as seen:
        agent.train_step()
    assert seen[torch.bfloat16] > 0 and seen[torch.float32] == 0, seen
    with torch.no_grad(), fabric.autocast():
        _, post = agent.wm.loss(agent._sample_batch())
    assert post["hidden"].dtype == torch.complex64
    for _ in range(1500):
        agent.train_step()
    after = np.mean([accuracy() for _ in range(4)])
    assert before < 0.75 and after > 0.9, (before, after)


def test_r2i_agent_update_runs_under_bf16_mixed_and_16_mixed():
    """A few full updates (world model + actor-critic) under each mixed precision give finite metrics;
    16-mixed unscales before clipping (the reported norms are the true, unscaled ones)."""
    for precision in ("bf16-mixed", "16-mixed"):
        fabric = Fabric(accelerator="cpu", devices=1, precision=precision)
        torch.manual_seed(0)
        spec = EnvSpec(MemoryLengthEnv(2).observation_space, MemoryLengthEnv(2).action_space, 2)
        agent = make_r2i(tiny_config(metrics_every=1), env_spec=spec, fabric=fabric)
        drive(lambda: MemoryLengthEnv(2), agent, 40, num_envs=2)
        assert agent.updates > 0, precision
        metrics = {k: float(v) for k, v in agent.train_step().items()}
        assert all(np.isfinite(v) for v in metrics.values()), (precision, metrics)
        assert metrics["wm/grad_norm"] < 1e3, (precision, metrics)  # a scaled norm would be ~65536x
