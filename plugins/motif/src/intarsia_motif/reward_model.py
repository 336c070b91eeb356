"""The caption reward model: a character-level CNN over message bytes, trained as a Bradley-Terry model.

Architecture (the paper's message encoder, ``lt_cnn`` in the official code): bytes -> embedding -> Conv1d(7)
-> max-pool(3) -> Conv1d(7) -> max-pool(3) -> 4 x Conv1d(3) -> max-pool(3) -> flatten -> ReLU MLP
(``head_dims``, official 128 -> 256 -> 512) -> a scalar.
A token-level option embeds hashed lower-cased words instead of bytes (same convolutional trunk, kernel 3).

Initialisation (``init: orthogonal``, official): the Linear layers orthogonal with gain 1 and zero biases, the
convolutions and the embedding PyTorch's defaults (sample-factory's rule, see :func:`orthogonal_init`).

Training: for a pair (a, b) with label y in {FIRST=0, SECOND=1, TIE=2}, the target P(b preferred) is
0 / 1 / 0.5 and the loss is the cross-entropy of softmax([r(a), r(b)]) against it. As in the official
training, UNKNOWN (unparsed) pairs are dropped first (the official ``PairsDataset`` masks them) and every
remaining label > 1 is a tie (``unknown_as_tie: true`` counts them 0.5 instead). Rows are *sampled* pairs:
a distinct pair annotated once appears as often as it was sampled, so the loss weights each annotation by its
multiplicity, the official training distribution.
After training, the reward mean and standard deviation over the captions of the training pairs (counted as
often as they occur, as the official running mean/std over pair rewards) and the quantiles 0.05..0.95 of
the *normalised* reward over the *unique* training captions are saved -- the intrinsic reward thresholds
at one of those quantiles.

The saved file holds only tensors, numbers, strings and dicts: ``torch.load(path, weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import RewardModelConfig
from .prompts import FIRST, SECOND, TIE, UNKNOWN

QUANTILE_LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 ... 0.95, as the official code
PAD = 0  # byte 0 pads (NetHack's message buffer is NUL-padded)


# ----------------------------------------------------------------------------------------------------------
# encoding captions
# ----------------------------------------------------------------------------------------------------------
def encode_bytes(texts: Sequence[str], max_len: int) -> torch.Tensor:
    """UTF-8 bytes of each caption, truncated / zero-padded to ``max_len`` (int64, (N, max_len))."""
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    for i, t in enumerate(texts):
        b = t.encode("utf-8")[:max_len]
        out[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    return torch.from_numpy(out)


_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def encode_tokens(texts: Sequence[str], max_len: int, vocab: int) -> torch.Tensor:
    """Lower-cased words and punctuation hashed into ``vocab - 1`` buckets (0 pads), (N, max_len)."""
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    for i, t in enumerate(texts):
        toks = _WORD.findall(t.lower())[:max_len]
        for j, tok in enumerate(toks):
            h = int.from_bytes(hashlib.blake2b(tok.encode("utf-8"), digest_size=4).digest(), "little")
            out[i, j] = 1 + h % (vocab - 1)
    return torch.from_numpy(out)


class CaptionEncoder:
    """Turns captions into the integer tensors the network reads (bytes or hashed tokens)."""

    def __init__(self, config: RewardModelConfig):
        if config.encoder not in ("char_cnn", "token"):
            raise ValueError(f"reward_model.encoder must be 'char_cnn' or 'token', got {config.encoder!r}")
        self.kind, self.max_len, self.vocab = config.encoder, config.max_len, config.token_vocab

    @property
    def seq_len(self) -> int:
        return self.max_len if self.kind == "char_cnn" else min(self.max_len, 64)

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        if self.kind == "char_cnn":
            return encode_bytes(texts, self.seq_len)
        return encode_tokens(texts, self.seq_len, self.vocab)


# ----------------------------------------------------------------------------------------------------------
# the network
# ----------------------------------------------------------------------------------------------------------
class CaptionRewardNet(nn.Module):
    """Scalar reward of a caption from its byte (or token) sequence."""

    def __init__(self, config: RewardModelConfig):
        super().__init__()
        c = config
        self.config = c
        vocab = 256 if c.encoder == "char_cnn" else c.token_vocab
        seq_len = CaptionEncoder(c).seq_len
        self.embed = nn.Embedding(vocab, c.char_embed_dim, padding_idx=PAD)
        h = c.hidden_dim
        if c.encoder == "char_cnn":
            layers: list[nn.Module] = [
                nn.Conv1d(c.char_embed_dim, h, 7), nn.ReLU(), nn.MaxPool1d(3, 3),
                nn.Conv1d(h, h, 7), nn.ReLU(), nn.MaxPool1d(3, 3),
                nn.Conv1d(h, h, 3), nn.ReLU(), nn.Conv1d(h, h, 3), nn.ReLU(),
                nn.Conv1d(h, h, 3), nn.ReLU(), nn.Conv1d(h, h, 3), nn.ReLU(),
                nn.MaxPool1d(3, 3),
            ]
        else:  # words are few per caption: a lighter trunk and a global max-pool
            layers = [nn.Conv1d(c.char_embed_dim, h, 3, padding=1), nn.ReLU(),
                      nn.Conv1d(h, h, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool1d(1)]
        self.trunk = nn.Sequential(*layers)
        try:
            with torch.no_grad():
                flat = self.trunk(torch.zeros(1, c.char_embed_dim, seq_len)).numel()
        except RuntimeError:
            flat = 0
        if flat <= 0:
            raise ValueError(f"reward_model.max_len={c.max_len} is too short for the char CNN (needs >= 123)")
        head: list[nn.Module] = [nn.Flatten()]
        for width in c.head_dims:
            head += [nn.Linear(flat, int(width)), nn.ReLU()]
            flat = int(width)
        self.head = nn.Sequential(*head, nn.Linear(flat, 1))
        if c.init == "orthogonal":
            self.apply(lambda m: orthogonal_init(m, c.init_gain))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids).transpose(1, 2)  # (N, E, L)
        return self.head(self.trunk(x)).squeeze(-1)


def orthogonal_init(layer: nn.Module, gain: float) -> None:
    """sample-factory's ``initialize_weights`` (the official reward model's ``self.apply``): orthogonal weights and zero
    biases for layers whose type is exactly ``Linear`` or ``Conv2d``; every other layer keeps its own init."""
    if type(layer) in (nn.Linear, nn.Conv2d):
        nn.init.orthogonal_(layer.weight.data, gain=gain)
        layer.bias.data.fill_(0)


def preference_targets(labels: torch.Tensor) -> torch.Tensor:
    """P(second preferred): FIRST -> 0, SECOND -> 1, any label > 1 (TIE, UNKNOWN) -> 0.5, as the official code."""
    t = torch.where(labels == SECOND, 1.0, 0.0)
    return torch.where(labels > SECOND, 0.5, t)


def bradley_terry_loss(r_first: torch.Tensor, r_second: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between softmax([r_first, r_second]) and the (soft) preference target."""
    target = preference_targets(labels)
    logp = torch.log_softmax(torch.stack([r_first, r_second], dim=-1), dim=-1)
    return -((1 - target) * logp[..., 0] + target * logp[..., 1]).mean()


def preference_accuracy(r_first: torch.Tensor, r_second: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """(correct, total) on the decisive pairs (ties and unknowns excluded, as the official validation)."""
    decisive = (labels == FIRST) | (labels == SECOND)
    if not decisive.any():
        return 0, 0
    pred_second = r_second > r_first
    correct = (pred_second == (labels == SECOND))[decisive]
    return int(correct.sum()), int(decisive.sum())


# ----------------------------------------------------------------------------------------------------------
# Lightning training
# ----------------------------------------------------------------------------------------------------------
def _lightning_module(config: RewardModelConfig):
    import lightning as L

    class BradleyTerryModule(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = CaptionRewardNet(config)
            self.val_correct = 0
            self.val_total = 0

        def _rewards(self, batch):
            r = self.net(torch.cat([batch["first"], batch["second"]], dim=0))
            return r[: len(batch["label"])], r[len(batch["label"]):]

        def training_step(self, batch, _):
            ra, rb = self._rewards(batch)
            loss = bradley_terry_loss(ra, rb, batch["label"])
            self.log("train/loss", loss, prog_bar=False, batch_size=len(batch["label"]))
            return loss

        def on_validation_epoch_start(self):
            self.val_correct, self.val_total = 0, 0

        def on_validation_epoch_end(self):
            # under DDP each rank validates its shard of the held-out pairs: the accuracy is over all of them
            counts = torch.tensor([self.val_correct, self.val_total], dtype=torch.float64, device=self.device)
            counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
            self.val_correct, self.val_total = int(counts[0].item()), int(counts[1].item())

        def validation_step(self, batch, _):
            ra, rb = self._rewards(batch)
            loss = bradley_terry_loss(ra, rb, batch["label"])
            c, t = preference_accuracy(ra, rb, batch["label"])
            self.val_correct += c
            self.val_total += t
            self.log("val/loss", loss, batch_size=len(batch["label"]))

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=config.lr)

    return BradleyTerryModule()


def _pair_dataset(rows: Mapping[str, Sequence], encoder: CaptionEncoder):
    """A HF dataset of encoded pairs with torch formatting (the Lightning loaders read it directly)."""
    from datasets import Dataset

    ds = Dataset.from_dict({
        "first": encoder(rows["first"]).numpy(),
        "second": encoder(rows["second"]).numpy(),
        "label": np.asarray(rows["label"], dtype=np.int64),
    })
    return ds.with_format("torch")


def split_rows(rows: Mapping[str, Sequence], val_fraction: float, seed: int, how: str = "random") -> tuple[dict, dict]:
    """Train / held-out split of labelled pairs: ``"random"`` over sampled pairs (the paper's 80/20 split)
    or ``"pair"`` over distinct pairs (see :func:`split_by_pair`)."""
    if how == "pair":
        return split_by_pair(rows, val_fraction, seed)
    if how != "random":
        raise ValueError(f"reward_model.val_split must be 'random' or 'pair', got {how!r}")
    n = len(rows["label"])
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    val_idx = set(perm[:n_val].tolist())
    train = {k: [rows[k][i] for i in range(n) if i not in val_idx] for k in rows}
    val = {k: [rows[k][i] for i in sorted(val_idx)] for k in rows}
    return train, val


def split_by_pair(rows: Mapping[str, Sequence], val_fraction: float, seed: int) -> tuple[dict, dict]:
    """Hold out a fraction of the *distinct* pairs (by id), so no held-out pair was seen in training.

    Identical-caption pairs (ties by construction) always go to training: they carry no order to predict.
    """
    ids = sorted({pid for pid, a, b in zip(rows["pair_id"], rows["first"], rows["second"]) if a != b})
    rng = np.random.default_rng(seed)
    rng.shuffle(ids)
    n_val = int(round(val_fraction * len(ids)))
    if val_fraction > 0 and len(ids) >= 2:
        n_val = max(1, min(n_val, len(ids) - 1))
    val_ids = set(ids[:n_val])
    train: dict[str, list] = {k: [] for k in rows}
    val: dict[str, list] = {k: [] for k in rows}
    for i in range(len(rows["label"])):
        dest = val if rows["pair_id"][i] in val_ids else train
        for k in rows:
            dest[k].append(rows[k][i])
    return train, val


def drop_unknown(rows: Mapping[str, Sequence]) -> dict[str, list]:
    keep = [i for i, y in enumerate(rows["label"]) if int(y) != UNKNOWN]
    return {k: [rows[k][i] for i in keep] for k in rows}


def unknown_to_tie(rows: Mapping[str, Sequence]) -> dict[str, list]:
    return {**{k: list(v) for k, v in rows.items()}, "label": [TIE if int(y) == UNKNOWN else int(y) for y in rows["label"]]}


def train_reward_model(rows: Mapping[str, Sequence], config: RewardModelConfig, out_path: str | Path, *,
                       trainer: Callable[..., Any] | None = None, fit: Callable[..., Any] | None = None,
                       log_dir: str | Path | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train on labelled pairs (``first``, ``second``, ``pair_id``, ``label``), save to ``out_path``.

    ``trainer(**kwargs)`` makes the Lightning Trainer and ``fit(trainer, module, train, val)`` runs it (the job
    passes the run context's, so the fit runs on ``fabric:`` and resumes); without them a CPU Trainer logging to
    ``log_dir``. Returns metrics: held-out preference accuracy (decisive pairs), pair counts, reward statistics.
    """
    import lightning as L
    from torch.utils.data import DataLoader

    rows = unknown_to_tie(rows) if config.unknown_as_tie else drop_unknown(rows)
    if not rows["label"]:
        raise ValueError("no usable labelled pairs (none, or all unknown with unknown_as_tie=false)")
    train_rows, val_rows = split_rows(rows, config.val_fraction, config.seed, config.val_split)
    L.seed_everything(config.seed, workers=False, verbose=False)
    encoder = CaptionEncoder(config)
    module = _lightning_module(config)
    train_ds = _pair_dataset(train_rows, encoder)
    loader = DataLoader(train_ds, batch_size=config.batch_size, shuffle=True)
    val_loader = DataLoader(_pair_dataset(val_rows, encoder), batch_size=config.batch_size) if val_rows["label"] else None
    settings = {"max_epochs": config.epochs, "log_every_n_steps": max(1, min(50, len(loader)))}
    if trainer is None:
        fitter = L.Trainer(accelerator="cpu", devices=1, logger=_csv_logger(log_dir), enable_checkpointing=False,
                           enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **settings)
    else:
        fitter = trainer(**settings)
    (fit or (lambda t, *a: t.fit(*a)))(fitter, module, loader, val_loader)
    ranks = rank_agreement(fitter, module.net)
    # the normalisation statistics and the saved weights are computed on the CPU copy (the file loads anywhere)
    net = module.net.cpu().eval()

    # normalisation over the training pairs' captions (with multiplicity), quantiles over unique ones
    train_caps = list(train_rows["first"]) + list(train_rows["second"])
    with torch.no_grad():
        uniq = sorted(set(train_caps))
        r_uniq = _batched(net, encoder, uniq)
        lookup = dict(zip(uniq, r_uniq.tolist()))
        r_all = torch.tensor([lookup[c] for c in train_caps])
        mean, std = r_all.mean(), r_all.std(unbiased=False).clamp_min(1e-6)
        levels = torch.tensor(QUANTILE_LEVELS, dtype=torch.float32)
        quantiles = torch.quantile((r_uniq - mean) / std, levels)
    val_acc = module.val_correct / module.val_total if module.val_total else None
    with torch.no_grad():
        ra = _batched(net, encoder, train_rows["first"])
        rb = _batched(net, encoder, train_rows["second"])
        tc, tt = preference_accuracy(ra, rb, torch.as_tensor(train_rows["label"]))
    metrics = {
        "val_accuracy": val_acc, "val_decisive_pairs": module.val_total,
        "train_accuracy": tc / tt if tt else None, "train_pairs": len(train_rows["label"]),
        "val_pairs": len(val_rows["label"]), "unique_train_captions": len(uniq),
        "reward_mean": float(mean), "reward_std": float(std), "val_split": config.val_split,
        "optimizer_steps": int(fitter.global_step), **ranks,
    }
    artefact = {
        "format": "intarsia-motif/reward-model/1",
        "config": dataclasses.asdict(config),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "reward_mean": mean.float(), "reward_std": std.float(),
        "quantile_levels": levels, "quantiles": quantiles.float(),
        "metrics": {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in metrics.items() if v is not None},
        "extra": dict(extra or {}),
    }
    save_artefact(artefact, out_path)
    return metrics


def rank_agreement(fitter, net: nn.Module) -> dict[str, Any]:
    """``world_size``, and under several processes whether every rank ended with the same weights (DDP averages
    the gradients, so they must) with one checksum per rank, gathered from all of them."""
    world = int(getattr(fitter, "world_size", 1) or 1)
    if world <= 1:
        return {"world_size": world}
    flat = torch.cat([p.detach().reshape(-1).double() for p in net.parameters()])
    gathered = fitter.strategy.all_gather(flat).reshape(world, -1).cpu()
    position = torch.linspace(1.0, 2.0, flat.numel(), dtype=torch.float64)  # a checksum that also sees a permutation
    return {"world_size": world, "ranks_equal": bool(all(torch.equal(gathered[0], g) for g in gathered[1:])),
            "rank_weight_checksums": [float((g * position).sum()) for g in gathered]}


def _csv_logger(log_dir):
    if log_dir is None:
        return False
    from lightning.pytorch.loggers import CSVLogger

    return CSVLogger(str(log_dir), name="reward_model", version="")


def _batched(net: nn.Module, encoder: CaptionEncoder, texts: Sequence[str], batch: int = 1024) -> torch.Tensor:
    out = []
    dev = next(net.parameters()).device
    for i in range(0, len(texts), batch):
        out.append(net(encoder(texts[i:i + batch]).to(dev)).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def save_artefact(artefact: Mapping[str, Any], path: str | Path) -> None:
    """torch.save to a temporary file, then rename (a killed job never leaves half a model)."""
    from intarsia.safe_load import save_torch_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_torch_file(dict(artefact), path)


# ----------------------------------------------------------------------------------------------------------
# inference
# ----------------------------------------------------------------------------------------------------------
class CaptionRewardModel:
    """A trained reward model for inference: raw and normalised rewards, thresholds, a per-caption cache."""

    def __init__(self, artefact: Mapping[str, Any], device: str = "cpu"):
        fields = {f.name for f in dataclasses.fields(RewardModelConfig)}
        saved = dict(artefact["config"])
        if "head_dims" not in saved and "mlp_dim" in saved:  # files written before head_dims: two equal layers
            saved["head_dims"] = [int(saved["mlp_dim"])] * 2
        self.config = RewardModelConfig(**{k: v for k, v in saved.items() if k in fields})
        self.net = CaptionRewardNet(self.config)
        self.net.load_state_dict(artefact["state_dict"])
        self.device = torch.device(device)
        self.net.to(self.device).eval()
        self.encoder = CaptionEncoder(self.config)
        self.mean = float(artefact["reward_mean"])
        self.std = float(artefact["reward_std"])
        self.levels = [round(float(x), 4) for x in artefact["quantile_levels"]]
        self.quantiles = [float(x) for x in artefact["quantiles"]]
        self.metrics = dict(artefact.get("metrics", {}))
        self._cache: dict[str, float] = {}

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> CaptionRewardModel:
        from intarsia.safe_load import load_torch_file

        artefact = load_torch_file(path, what="reward model")
        if not isinstance(artefact, Mapping) or artefact.get("format") != "intarsia-motif/reward-model/1":
            raise ValueError(f"{path}: not an intarsia-motif reward model file")
        return cls(artefact, device)

    def threshold(self, quantile: float) -> float:
        """eps: the given quantile of the normalised reward over unique training captions (0 -> no threshold)."""
        if quantile <= 0:
            return -math.inf
        for lv, q in zip(self.levels, self.quantiles):
            if abs(lv - quantile) < 1e-6:
                return q
        raise ValueError(f"threshold_quantile {quantile} is not one of the saved levels {self.levels}")

    @torch.no_grad()
    def raw(self, captions: Sequence[str]) -> np.ndarray:
        """Raw reward per caption; unseen captions are scored in one batch and cached (captions repeat a lot)."""
        missing = sorted({c for c in captions if c not in self._cache})
        if missing:
            r = _batched(self.net, self.encoder, missing)
            self._cache.update(zip(missing, r.tolist()))
        return np.array([self._cache[c] for c in captions], dtype=np.float64)

    def normalized(self, captions: Sequence[str]) -> np.ndarray:
        return (self.raw(captions) - self.mean) / self.std
