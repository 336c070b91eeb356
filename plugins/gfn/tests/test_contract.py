"""The samplers against intarsia.testing.SamplerContract (tiny configs)."""

import tempfile
from pathlib import Path

import pytest
import torch
from intarsia.errors import ConfigError
from intarsia.testing import PluginContract, SamplerContract
from intarsia_gfn import plugin
from intarsia_gfn.config import (
    DQNConfig,
    EnvConfig,
    ExplorerConfig,
    FinetuneConfig,
    GFlowNetConfig,
    MCMCConfig,
    NetworkConfig,
    OCGFNConfig,
    ReplayConfig,
)
from intarsia_gfn.dqn import DQN
from intarsia_gfn.finetune import AmortizedFinetune
from intarsia_gfn.gflownet import GFlowNet
from intarsia_gfn.mcmc import MetropolisHastings
from intarsia_gfn.ocgfn import OutcomeConditionedGFlowNet

GRID = EnvConfig(ndim=2, height=4)


class TestGFNPlugin(PluginContract):
    plugin = plugin

SMALL = NetworkConfig(hidden=32, layers=1)


class TestGFlowNetTB(SamplerContract):
    def make_sampler(self, fabric):
        return GFlowNet(GFlowNetConfig(env=GRID, batch_size=8, network=SMALL), fabric=fabric)


class TestGFlowNetSubTBWithReplay(SamplerContract):
    def make_sampler(self, fabric):
        return GFlowNet(GFlowNetConfig(env=EnvConfig(name="bitseq", length=4, word=2), loss="subtb", batch_size=8,
                                       network=SMALL, replay=ReplayConfig(capacity=16, ratio=0.5)), fabric=fabric)


class TestOCGFN(SamplerContract):
    def make_sampler(self, fabric):
        return OutcomeConditionedGFlowNet(OCGFNConfig(env=GRID, batch_size=8, network=SMALL,
                                                      explorer=ExplorerConfig(hidden=16)), fabric=fabric)


def pretrained_model() -> str:
    from lightning.fabric import Fabric

    path = Path(tempfile.mkdtemp()) / "model.pt"
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=GRID, batch_size=8, network=SMALL), fabric=Fabric(accelerator="cpu"))
    torch.save(oc.model_state(), path)
    return str(path)


class TestAmortizedFinetune(SamplerContract):
    model = None

    def make_sampler(self, fabric):
        if TestAmortizedFinetune.model is None:
            TestAmortizedFinetune.model = pretrained_model()
        cfg = FinetuneConfig(env=EnvConfig(ndim=2, height=4, reward="random", modes=2), pretrained=self.model,
                             batch_size=4, outcomes_per_transition=2, hidden=32, layers=1)
        return AmortizedFinetune(cfg, fabric=fabric)


class TestAmortizedFinetuneAllActions(SamplerContract):
    def make_sampler(self, fabric):
        if TestAmortizedFinetune.model is None:
            TestAmortizedFinetune.model = pretrained_model()
        cfg = FinetuneConfig(env=EnvConfig(ndim=2, height=4, reward="random", modes=2), pretrained=TestAmortizedFinetune.model,
                             transitions="all", batch_size=4, outcomes_per_transition=2, hidden=32, layers=1)
        return AmortizedFinetune(cfg, fabric=fabric)


class TestMCMC(SamplerContract):
    def make_sampler(self, fabric):
        return MetropolisHastings(MCMCConfig(env=EnvConfig(name="bitseq", length=8, word=2), batch_size=8), fabric=fabric)


class TestDQN(SamplerContract):
    def make_sampler(self, fabric):
        return DQN(DQNConfig(env=GRID, batch_size=4, hidden=32, layers=1, train_batch=16, target_every=2), fabric=fabric)


def test_bad_configs_are_clear_errors(cpu_fabric):
    with pytest.raises(ConfigError, match="unknown GFlowNet objective 'fm'"):
        GFlowNet(GFlowNetConfig(env=GRID, loss="fm"), fabric=cpu_fabric)
    with pytest.raises(ConfigError, match="pretrained: empty"):
        AmortizedFinetune(FinetuneConfig(env=GRID), fabric=cpu_fabric)
    with pytest.raises(ConfigError, match="does not exist"):
        AmortizedFinetune(FinetuneConfig(env=GRID, pretrained="/nonexistent/model.pt"), fabric=cpu_fabric)
    model = pretrained_model()
    with pytest.raises(ConfigError, match="not the DAG the model was pre-trained on"):
        AmortizedFinetune(FinetuneConfig(env=EnvConfig(ndim=3, height=4), pretrained=model), fabric=cpu_fabric)
    with pytest.raises(ValueError, match="reward_floor"):  # the config itself refuses it (a ConfigError when loaded)
        OutcomeConditionedGFlowNet(OCGFNConfig(env=GRID, reward_floor=1.5), fabric=cpu_fabric)
