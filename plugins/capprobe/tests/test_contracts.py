"""The capprobe analyses pass the core's analysis conformance class."""

import torch
from intarsia.testing import AnalysisContract
from intarsia_capprobe.accuracy import ExactMatch
from intarsia_capprobe.config import ModelConfig, ProbeConfig, PruneConfig, TaskConfig
from intarsia_capprobe.model import MiniGPT
from intarsia_capprobe.probing import LinearProbe
from intarsia_capprobe.pruning import SaliencyPruning
from intarsia_capprobe.tasks import TaskPair, tensors

TASK = TaskPair(TaskConfig())


def _model():
    torch.manual_seed(0)
    return MiniGPT(ModelConfig(n_layer=2, d_model=32), len(TASK.vocab), TASK.width)


def _data(n=120):
    return tensors(TASK.dataset("original", n, seed=0))


class TestLinearProbe(AnalysisContract):
    def make_analysis(self):
        return LinearProbe(ProbeConfig(max_iter=200))

    def make_model(self):
        return _model()

    def make_data(self):
        d = _data()
        return {**d, "targets": d["original"]}


class TestSaliencyPruning(AnalysisContract):
    def make_analysis(self):
        return SaliencyPruning(PruneConfig(ks=[0, 4, 16], random_repeats=2))

    def make_model(self):
        return _model()

    def make_data(self):
        return _data()


class TestExactMatch(AnalysisContract):
    def make_analysis(self):
        return ExactMatch()

    def make_model(self):
        return _model()

    def make_data(self):
        return {"original": _data(40)}


def test_the_analyses_are_registered(intarsia_host):
    from intarsia_capprobe import plugin

    host = intarsia_host(plugin)
    assert {"linear-probe", "saliency-pruning", "exact-match", "r2i-memory-probe", "tinystories-probe"} <= set(
        host.registry.names("analyses"))
    assert "capprobe" in host.registry.names("jobs")
