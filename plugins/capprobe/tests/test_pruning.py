"""Pruning zeroes exactly the chosen neurons; saliency is the signed weight x gradient (|w x g| as an option);
the default is the paper's signed one-shot score with K from 5 to 15; the model is left untouched."""

import copy

import torch
import torch.nn.functional as F
from intarsia_capprobe.config import ModelConfig, PruneConfig, TaskConfig
from intarsia_capprobe.model import MiniGPT, answer_logits
from intarsia_capprobe.pruning import SaliencyPruning, neurons, prune, saliency, salient_order, top_k
from intarsia_capprobe.tasks import TaskPair, tensors


def _model_and_data():
    tp = TaskPair(TaskConfig())
    torch.manual_seed(0)
    model = MiniGPT(ModelConfig(n_layer=2, d_model=32), len(tp.vocab), tp.width)
    return model, tensors(tp.dataset("original", 64, seed=0))


def test_prune_zeroes_exactly_the_chosen_neurons():
    model, data = _model_and_data()
    before = copy.deepcopy(model.state_dict())
    chosen = [("blocks.0.mlp.fc", 3), ("blocks.1.mlp.fc", 0), ("blocks.1.attn.qkv", 7)]
    prune(model, chosen)
    after = model.state_dict()
    for key, old in before.items():
        new = after[key]
        module, _, kind = key.rpartition(".")
        rows = [i for m, i in chosen if m == module]
        if rows and kind in ("weight", "bias"):
            assert torch.all(new[rows] == 0)
            keep = [i for i in range(len(new)) if i not in rows]
            assert torch.equal(new[keep], old[keep])
        else:
            assert torch.equal(new, old), key
    seen = {}
    h = model.blocks[0].mlp.fc.register_forward_hook(lambda m, i, o: seen.update(out=o))
    model(data["input_ids"])
    h.remove()
    assert torch.all(seen["out"][..., 3] == 0) and torch.any(seen["out"][..., 4] != 0)


def test_saliency_is_weight_times_gradient_per_neuron():
    model, data = _model_and_data()
    scores = saliency(model, data, r"mlp\.fc$", signed=False)
    signed = saliency(model, data, r"mlp\.fc$")
    assert len(scores) == len(neurons(model, r"mlp\.fc$")) == 2 * 128
    ref = copy.deepcopy(model).eval()
    F.cross_entropy(answer_logits(ref, data["input_ids"], data["positions"]), data["labels"]).backward()
    fc = ref.blocks[1].mlp.fc
    manual = (fc.weight * fc.weight.grad).abs().sum(1) + (fc.bias * fc.bias.grad).abs()
    got = torch.tensor([scores[("blocks.1.mlp.fc", i)] for i in range(128)])
    torch.testing.assert_close(got, manual.detach(), rtol=1e-4, atol=1e-8)
    manual_signed = (fc.weight * fc.weight.grad).sum(1) + fc.bias * fc.bias.grad
    got_signed = torch.tensor([signed[("blocks.1.mlp.fc", i)] for i in range(128)])
    torch.testing.assert_close(got_signed, manual_signed.detach(), rtol=1e-4, atol=1e-7)
    assert all(p.grad is None for p in model.parameters())
    best = top_k(scores, 5)
    assert [scores[n] for n in best] == sorted((scores[n] for n in best), reverse=True)


def test_pruning_analysis_curves_and_an_untouched_model():
    model, data = _model_and_data()
    before = copy.deepcopy(model.state_dict())
    out = SaliencyPruning(PruneConfig(ks=[0, 8, 256], random_repeats=2)).run(model, data)
    m = out["metrics"]
    assert m["pruned_acc@0"] == m["random_pruned_acc@0"] == m["unpruned_acc"]
    assert len(out["top_neurons"]) == 256
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_iterative_order_is_distinct_and_one_shot_is_top_k():
    model, data = _model_and_data()
    one_shot = salient_order(model, data, PruneConfig(score="abs"), 10)
    assert one_shot == top_k(saliency(model, data, PruneConfig().module_pattern, signed=False), 10)
    order = salient_order(model, data, PruneConfig(method="iterative", chunk=3), 10)
    assert len(order) == len(set(order)) == 10
    assert order != salient_order(model, data, PruneConfig(), 10)  # rescoring changes the order


def test_the_default_is_the_papers_signed_one_shot_score_with_k_from_5_to_15():
    cfg = PruneConfig()
    assert (cfg.score, cfg.method) == ("signed", "one-shot")
    assert [k for k in cfg.ks if k] and min(k for k in cfg.ks if k) == 5 and max(cfg.ks) == 15
    model, data = _model_and_data()
    signed = saliency(model, data, cfg.module_pattern, signed=True)
    assert salient_order(model, data, cfg, 15) == top_k(signed, 15)
    assert top_k(signed, 15) != top_k(saliency(model, data, cfg.module_pattern, signed=False), 15)


def test_every_shipped_recipe_prunes_with_the_papers_score():
    from intarsia.runner.api import prepare

    for recipe in ("capprobe/counter", "capprobe/pcfg", "capprobe/counter-gpu", "capprobe/pcfg-gpu"):
        _, _, config = prepare(recipe)
        assert (config.prune.score, config.prune.method) == ("signed", "one-shot"), recipe
        assert 5 <= config.prune_k <= 15, recipe
