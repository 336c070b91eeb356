"""The plugin as a whole passes PluginContract, and its tiny preset (`lmcdqn/tiny`) runs end to end through
the core's runner in seconds, as a plugin author's test would start from it."""

import intarsia_lmcdqn.plugin as plugin
import pytest
from intarsia.testing import PluginContract


class TestLMCDQNPlugin(PluginContract):
    plugin = plugin


@pytest.mark.parametrize("agent", ["lmcdqn", "dqn"])
def test_tiny_preset_runs_through_the_runner(intarsia_host, tmp_path, agent):
    from intarsia.runner.api import run_config

    intarsia_host(plugin)
    report = run_config({"extends": "lmcdqn/tiny", "steps": 500}, [f"policy.name={agent}"], run_dir=tmp_path)
    assert report["steps"] == 500
    assert report["metrics"]["episodes"] >= 500 // 13  # N=5: an episode is N+8 steps
    assert any(key.startswith("policy_") for key in report["training"]), report["training"]  # it trained
