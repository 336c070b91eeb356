"""NetHack through nle: the env (captions = the message line) and the NetHack recipe for a few hundred steps."""

import numpy as np
import pytest

pytest.importorskip("nle")

from helpers_motif import make_model_file


def test_nethack_env_gives_message_captions():
    from intarsia_motif.envs.nethack import NetHackCaptioned

    env = NetHackCaptioned(task="NetHackScore-v0", max_episode_steps=200)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert isinstance(info["caption"], str)
    env.action_space.seed(0)
    captions = set()
    for _ in range(200):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        assert isinstance(info["caption"], str) and "\0" not in info["caption"]
        assert obs["message"].shape == (256,) and obs["crop"].shape == (9, 9)
        captions.add(info["caption"])
        if term or trunc:
            obs, info = env.reset()
    assert len(captions - {""}) >= 1  # random play in NetHack always produces some messages
    env.close()


@pytest.mark.parametrize("recipe,extra", [("motif/nethack-score", []), ("motif/nethack-staircase", ["env.max_episode_steps=150"])])
def test_nethack_recipe_runs_a_few_hundred_steps(tmp_path, recipe, extra):
    from intarsia.runner.api import run_recipe

    make_model_file(tmp_path / "rm.pt")
    report = run_recipe(recipe, overrides=["steps=300", "num_envs=2", "policy.rollout=32", "policy.hidden=32",
                                           f"rewards.0.reward_model={tmp_path / 'rm.pt'}", "log.every=100",
                                           "log.progress=false", "checkpoint.every=0", "fabric.accelerator=cpu",
                                           *extra],
                        run_dir=tmp_path / "run")
    assert report["steps"] >= 300
    assert "policy_loss_policy" in report["training"]  # PPO updated on the composed reward
    assert np.isfinite(report["training"]["policy_loss_value"])
