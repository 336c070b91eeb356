import numpy as np
import pytest
import torch
from helpers_motif import synthetic_scores
from intarsia_motif import prompts as P
from intarsia_motif.annotators import OracleAnnotator, annotate_pairs
from intarsia_motif.config import PairsConfig, RewardModelConfig
from intarsia_motif.dataset import labelled_pairs, sample_pairs
from intarsia_motif.reward_model import (
    CaptionRewardModel,
    CaptionRewardNet,
    bradley_terry_loss,
    encode_bytes,
    encode_tokens,
    preference_targets,
    train_reward_model,
)


def test_byte_encoding_pads_and_truncates():
    x = encode_bytes(["ab", "é" * 200], 8)
    assert x.shape == (2, 8) and x.dtype == torch.int64
    assert x[0].tolist() == [97, 98, 0, 0, 0, 0, 0, 0]
    assert (x[1] > 0).all()
    t = encode_tokens(["You see the key.", ""], 6, 101)
    assert (t[0, :5] > 0).all() and t[0, 5] == 0 and (t[1] == 0).all()


def test_bradley_terry_loss_with_ties():
    ra, rb = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.0, 2.0, 1.0])
    labels = torch.tensor([P.FIRST, P.SECOND, P.TIE])
    assert preference_targets(labels).tolist() == [0.0, 1.0, 0.5]
    # hand computation: -log sigmoid(2) twice and -log(0.5) for the tie
    expected = (2 * -np.log(1 / (1 + np.exp(-2.0))) + np.log(2.0)) / 3
    assert bradley_terry_loss(ra, rb, labels).item() == pytest.approx(expected, rel=1e-5)
    # a tie is minimised by equal rewards
    r = torch.tensor([0.3], requires_grad=True)
    loss = bradley_terry_loss(r, torch.tensor([0.0]), torch.tensor([P.TIE]))
    loss.backward()
    assert r.grad.item() > 0  # pushes r_first down towards r_second


def test_labels_above_one_are_ties_and_pairs_keep_their_multiplicity(tmp_path):
    """Official training: every label > 1 (TIE, UNKNOWN) is 0.5; each sampled pair is one training row."""
    assert preference_targets(torch.tensor([P.FIRST, P.SECOND, P.TIE, P.UNKNOWN])).tolist() == [0.0, 1.0, 0.5, 0.5]
    pairs = sample_pairs(["a", "b", "c"] * 10, PairsConfig(num_pairs=200, seed=0))
    labels = {pid: P.FIRST for pid in pairs.unique}
    labels[next(iter(pairs.unique))] = P.UNKNOWN
    rows = labelled_pairs(pairs, labels)
    assert len(rows["label"]) == 200  # one row per sampled pair: a pair sampled k times weighs k
    counts = {pid: rows["pair_id"].count(pid) for pid in pairs.unique}
    assert max(counts.values()) > 1
    from intarsia_motif.reward_model import drop_unknown, unknown_to_tie

    n_unknown = rows["label"].count(P.UNKNOWN)
    assert n_unknown > 0
    assert unknown_to_tie(rows)["label"].count(P.TIE) == rows["label"].count(P.TIE) + n_unknown
    assert len(drop_unknown(rows)["label"]) == 200 - n_unknown


def test_unknown_labels_are_dropped_by_default(tmp_path):
    """Official: PairsDataset masks UNKNOWN rows out before the training loop makes labels > 1 ties."""
    pairs = sample_pairs(["a", "b", "c", "d"] * 10, PairsConfig(num_pairs=120, seed=0))
    labels = {pid: P.FIRST for pid in pairs.unique}
    labels[sorted(pairs.unique)[0]] = P.UNKNOWN
    rows = labelled_pairs(pairs, labels)
    n_unknown = rows["label"].count(P.UNKNOWN)
    assert 0 < n_unknown < len(rows["label"])
    small = dict(epochs=1, batch_size=64, hidden_dim=8, head_dims=[8], char_embed_dim=4, max_len=128)
    dropped = train_reward_model(rows, RewardModelConfig(**small), tmp_path / "a.pt")
    assert dropped["train_pairs"] + dropped["val_pairs"] == len(rows["label"]) - n_unknown
    kept = train_reward_model(rows, RewardModelConfig(unknown_as_tie=True, **small), tmp_path / "b.pt")
    assert kept["train_pairs"] + kept["val_pairs"] == len(rows["label"])


@pytest.mark.parametrize("encoder", ["char_cnn", "token"])
def test_init_is_sample_factorys_orthogonal_rule(encoder):
    """Official: every Linear orthogonal (gain 1) with zero bias; Conv1d and the embedding keep PyTorch's init."""
    for gain in (1.0, 2.0):
        torch.manual_seed(0)
        net = CaptionRewardNet(RewardModelConfig(encoder=encoder, init_gain=gain))
        linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        assert len(linears) == 4
        for m in linears:
            w = m.weight.detach().double()
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            assert torch.allclose(gram, gain**2 * torch.eye(len(gram), dtype=torch.float64), atol=1e-5)
            # each entry's standard deviation is gain / sqrt(max(fan_in, fan_out)) (unit-norm rows or columns)
            assert w.std().item() == pytest.approx(gain / max(w.shape) ** 0.5, rel=0.05)
            assert (m.bias == 0).all()
    torch.manual_seed(0)
    default = CaptionRewardNet(RewardModelConfig(encoder=encoder, init="torch"))
    assert any((m.bias != 0).any() for m in default.modules() if isinstance(m, torch.nn.Linear))
    # the init runs after construction, so the layers it skips are PyTorch's, draw for draw
    torch.manual_seed(0)
    official = CaptionRewardNet(RewardModelConfig(encoder=encoder))
    skipped = [k for k in official.state_dict() if k.startswith(("embed", "trunk"))]
    assert skipped and all(torch.equal(official.state_dict()[k], default.state_dict()[k]) for k in skipped)
    with pytest.raises(ValueError, match="reward_model.init"):
        RewardModelConfig(init="xavier")


def test_default_head_is_the_official_one():
    """lt_cnn trunk (5 x 64 = 320) -> 128 -> 256 -> 512 -> ReLU -> 1, ReLU between every layer."""
    net = CaptionRewardNet(RewardModelConfig())
    linears = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(320, 128), (128, 256), (256, 512), (512, 1)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in net.head) == 3


def test_char_cnn_shapes():
    net = CaptionRewardNet(RewardModelConfig())
    assert net(encode_bytes(["hello", "world", ""], 256)).shape == (3,)
    with pytest.raises(ValueError):
        CaptionRewardNet(RewardModelConfig(max_len=64))
    tok = CaptionRewardNet(RewardModelConfig(encoder="token", token_vocab=512))
    assert tok(encode_tokens(["hello world"], 64, 512)).shape == (1,)


@pytest.mark.parametrize("encoder", ["char_cnn", "token"])
def test_reward_model_learns_oracle_preferences(tmp_path, encoder):
    scores = synthetic_scores()
    caps = list(scores) + [""] * 10
    pairs = sample_pairs(caps, PairsConfig(num_pairs=1500, sampling="captions", seed=0))
    annotate_pairs(OracleAnnotator(scores), pairs.unique, tmp_path / "ann.jsonl", batch_size=64)
    from intarsia_motif.annotators import AnnotationLog

    rows = labelled_pairs(pairs, AnnotationLog(tmp_path / "ann.jsonl").labels())
    cfg = RewardModelConfig(encoder=encoder, epochs=12, batch_size=128, lr=1e-3, hidden_dim=32, head_dims=[64, 64],
                            char_embed_dim=16, seed=0, val_split="pair")
    metrics = train_reward_model(rows, cfg, tmp_path / "rm.pt")
    # held-out distinct pairs (never trained on): chance is 0.5
    assert metrics["val_decisive_pairs"] >= 20
    assert metrics["val_accuracy"] > 0.8, metrics
    model = CaptionRewardModel.load(tmp_path / "rm.pt")  # weights_only load
    r = model.normalized(["You reach the goal.", "You reach the trap."])
    assert r[0] > r[1]
    assert model.threshold(0.5) == pytest.approx(model.quantiles[model.levels.index(0.5)])
    assert model.threshold(0.0) == -np.inf
    art = torch.load(tmp_path / "rm.pt", weights_only=True)
    assert set(art) >= {"state_dict", "reward_mean", "reward_std", "quantiles", "quantile_levels"}
    assert torch.all(art["quantiles"][1:] >= art["quantiles"][:-1])
