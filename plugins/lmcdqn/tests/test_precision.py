"""Mixed precision acts in DQN and LMCDQN: under bf16-mixed the online and target Q-networks' matmuls run
in bf16, and LMCDQN still solves the short chain of test_agent.py.

The agents train as a user's run does, through the core's train job (``fabric.precision=bf16-mixed``): a
test plugin registers each agent under a probe name whose factory builds the plugin's own agent and hooks
its networks, so no training loop is copied here."""

import contextlib

import intarsia_lmcdqn.plugin as plugin
import pytest
import torch
from intarsia import hookimpl
from intarsia.runner.api import run_config
from intarsia.testing.precision import linear_output_dtypes
from intarsia_lmcdqn.agent import DQNAgent, LMCDQNAgent
from intarsia_lmcdqn.config import DQNConfig, LMCDQNConfig

SMALL = dict(learning_starts=8, batch_size=8, train_every=2, updates_per_round=2, target_update_every=5)


class Probe:
    """``probe-dqn`` / ``probe-lmcdqn``: the plugin's agents, recorded with the dtypes their Q-networks compute in."""

    __distribution__ = "intarsia-lmcdqn-tests"

    def __init__(self):
        self.agents, self.online, self.target = [], None, None
        self._hooks = contextlib.ExitStack()

    def _factory(self, agent_cls):
        def build(config, **kwargs):
            agent = agent_cls(config, **kwargs)
            self.agents.append(agent)
            self.online = self._hooks.enter_context(linear_output_dtypes(agent.q))
            self.target = self._hooks.enter_context(linear_output_dtypes(agent.target))
            return agent

        return build

    @hookimpl
    def register_policies(self, register):
        register("probe-dqn", factory=self._factory(DQNAgent), config=DQNConfig, summary="DQN, hooked")
        register("probe-lmcdqn", factory=self._factory(LMCDQNAgent), config=LMCDQNConfig, summary="LMCDQN, hooked")


@pytest.fixture
def probe(intarsia_host):
    probe = Probe()
    intarsia_host(plugin, probe)
    with probe._hooks:
        yield probe


def _run(tmp_path, policy: dict, **top):
    config = {"extends": "lmcdqn/tiny", "policy": policy, "fabric": {"precision": "bf16-mixed"},
              "eval": {"final": False}, "log": {"progress": False, "tensorboard": False}, **top}
    return run_config(config, run_dir=tmp_path / "run")


@pytest.mark.parametrize("name", ["probe-dqn", "probe-lmcdqn"])
def test_online_and_target_matmuls_run_in_bf16_under_bf16_mixed(probe, tmp_path, name):
    _run(tmp_path, {"name": name, "double_q": True, "max_grad_norm": 1.0, **SMALL}, steps=40, env={"n": 6})
    (agent,) = probe.agents
    assert agent.gradient_steps > 0
    assert probe.online[torch.bfloat16] > 0 and probe.online[torch.float32] == 0, probe.online
    assert probe.target[torch.bfloat16] > 0 and probe.target[torch.float32] == 0, probe.target
    assert all(p.dtype == torch.float32 for p in agent.q.parameters())  # mixed: the weights stay float32
    assert all(torch.isfinite(p).all() for p in agent.q.parameters())


@pytest.mark.slow
def test_lmcdqn_solves_a_short_chain_under_bf16_mixed(probe, tmp_path):
    """test_agent.py's N = 10 chain (its agent settings: the config's defaults with lr and sigma 1e-2), run by
    the train job under bf16-mixed: the mean of the last 20 episode returns reaches 9 of 10."""
    defaults = LMCDQNConfig()  # what lmcdqn/tiny shrinks, back to test_agent.py's values
    sizes = {k: getattr(defaults, k) for k in ("batch_size", "buffer_size", "learning_starts", "train_every",
                                               "updates_per_round", "target_update_every")}
    report = _run(tmp_path, {"name": "probe-lmcdqn", "lr": 1e-2, "noise_scale": 1e-2,
                             "hidden_sizes": list(defaults.hidden_sizes), **sizes}, steps=2500, env={"n": 10}, log={"progress": False, "tensorboard": False, "window": 20})
    assert probe.online[torch.bfloat16] > 0 and probe.online[torch.float32] == 0, probe.online
    assert report["metrics"]["return_mean"] >= 9.0, report["metrics"]
