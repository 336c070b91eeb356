"""The plugin as a whole passes PluginContract (its recipes also name R2I and the LLM backends), and the
PPO agent's tiny preset (`motif/tiny-ppo`) runs end to end through the core's runner in seconds."""

import intarsia_motif.plugin as plugin
from intarsia.testing import PluginContract


class TestMotifPlugin(PluginContract):
    plugin = plugin
    uses = ("r2i", "llm")


def test_tiny_preset_runs_through_the_runner(intarsia_host, tmp_path):
    from intarsia.runner.api import run_config

    intarsia_host(plugin)
    report = run_config({"extends": "motif/tiny-ppo", "steps": 256,
                         "rewards": [{"name": "caption", "phrase": "key", "coef": 0.5}]}, run_dir=tmp_path)
    assert report["steps"] == 256
    assert report["metrics"]["episodes"] >= 256 // 30
    assert "reward_caption_mean" in report["metrics"]  # a composed term reached the report
    assert any(key.startswith("policy_") for key in report["training"]), report["training"]  # it trained
