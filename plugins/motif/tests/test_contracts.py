"""The core's conformance classes applied to this plugin's components."""

from helpers_motif import make_model_file
from intarsia.testing import PolicyContract, RewardContract


class TestMotifRewardContract(RewardContract):
    def make_reward(self, env_spec):
        import tempfile
        from pathlib import Path

        from intarsia_motif.config import MotifRewardConfig
        from intarsia_motif.intrinsic import MotifReward

        path = Path(tempfile.mkdtemp()) / "rm.pt"
        make_model_file(path)
        return MotifReward(MotifRewardConfig(reward_model=str(path), threshold_quantile=0.0), env_spec=env_spec)


class TestPPOContract(PolicyContract):
    def make_env(self):
        from intarsia.builtin.gridworld import CaptionedGridEnv

        return CaptionedGridEnv(size=5, max_steps=20)

    def make_policy(self, env_spec, fabric):
        from intarsia_motif.config import PPOConfig
        from intarsia_motif.ppo import PPOAgent

        return PPOAgent(PPOConfig(rollout=16, hidden=16), env_spec=env_spec, fabric=fabric)


try:
    import nle  # noqa: F401
    from intarsia.testing import EnvContract

    class TestNetHackEnvContract(EnvContract):
        steps = 100

        def make_env(self):
            from intarsia_motif.envs.nethack import NetHackCaptioned

            return NetHackCaptioned(task="NetHackStaircase-v0", max_episode_steps=60)
except ImportError:  # pragma: no cover
    pass
