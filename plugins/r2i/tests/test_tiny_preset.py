"""The plugin as a whole passes PluginContract, and its tiny preset (`r2i/tiny`) runs end to end through the
core's runner in seconds, as a plugin author's test would start from it."""

import intarsia_r2i.plugin as plugin
import pytest
from intarsia.testing import PluginContract


class TestR2IPlugin(PluginContract):
    plugin = plugin


@pytest.mark.parametrize("agent", ["r2i", "dreamerv3"])
def test_tiny_preset_runs_through_the_runner(intarsia_host, tmp_path, agent):
    from intarsia.runner.api import run_config

    intarsia_host(plugin)
    report = run_config({"extends": "r2i/tiny", "steps": 200}, [f"policy.name={agent}"], run_dir=tmp_path)
    assert report["steps"] == 200
    assert report["metrics"]["episodes"] >= 200 // 5  # L=3: an episode is 4 steps
    assert any(key.startswith("policy_loss") for key in report["training"]), report["training"]  # it trained
