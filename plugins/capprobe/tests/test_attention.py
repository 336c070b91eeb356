"""The attention-map analysis: its weights are the model's own attention, its masses land on the tokens."""

import torch
from intarsia.testing import AnalysisContract
from intarsia_capprobe.attention import AttentionMap, AttentionMapConfig, _attention_rows
from intarsia_capprobe.config import ModelConfig, TaskConfig
from intarsia_capprobe.model import MiniGPT
from intarsia_capprobe.tasks import TaskPair, tensors

TASK = TaskPair(TaskConfig(kind="counter", seq_len=20, count_window=8, max_count=3))


def _model():
    torch.manual_seed(0)
    return MiniGPT(ModelConfig(n_layer=2, d_model=32), len(TASK.vocab), TASK.width)


def test_recomputed_weights_reproduce_the_attention_output():
    torch.manual_seed(1)
    attn = _model().blocks[0].attn.eval()
    x = torch.randn(5, 12, 32)
    pos = torch.tensor([11, 3, 7, 0, 5])
    w = _attention_rows(attn, x, pos)  # (B, H, T)
    assert torch.allclose(w.sum(-1), torch.ones(5, 4), atol=1e-5)
    _, _, v = attn.qkv(x).view(5, 12, 3, 4, 8).permute(2, 0, 3, 1, 4)
    mixed = torch.einsum("bht,bhtd->bhd", w, v).reshape(5, 32)
    full = attn(x)
    assert torch.allclose(attn.proj(mixed), full[torch.arange(5), pos], atol=1e-5)


def test_masses_sum_over_disjoint_groups_to_at_most_one():
    v = TASK.vocab
    data = tensors(TASK.dataset("original", 64, seed=0))
    groups = {"a": [v.letter(0)], "b": [v.letter(1)], "rest": [v.letter(i) for i in range(2, 6)],
              "specials": [v.id("<bos>"), v.id("=")]}
    out = AttentionMap(AttentionMapConfig(groups=groups)).run(_model(), data)
    for block in ("blocks.0.attn", "blocks.1.attn"):
        total = sum(out["metrics"][f"attention/{block}/{g}"] for g in groups)
        assert abs(total - 1.0) < 1e-4  # every prompt token is in exactly one group
        assert len(out["results"][block]["a"]) == 4  # per head


def test_registered_by_name():
    from intarsia.build import build

    a = build("analyses", "attention-map", {"groups": {"a": [TASK.vocab.letter(0)]}})
    assert isinstance(a, AttentionMap) and a.config.groups == {"a": [TASK.vocab.letter(0)]}


class TestAttentionMap(AnalysisContract):
    def make_analysis(self):
        return AttentionMap(AttentionMapConfig(groups={"a": [TASK.vocab.letter(0)]}))

    def make_model(self):
        return _model()

    def make_data(self):
        return tensors(TASK.dataset("original", 40, seed=0))
