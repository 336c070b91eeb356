"""A minGPT-style decoder-only transformer (Karpathy's minGPT layout, pre-LN, causal attention).

Module names are what the analyses select by regex: ``drop`` (the embeddings entering the residual
stream), ``blocks.<i>`` (the residual stream after block i), ``blocks.<i>.mlp.fc`` (the MLP's hidden
units: the neurons pruning scores), ``head`` (the unembedding).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.d_model % cfg.n_head:
            raise ValueError(f"model.d_model={cfg.d_model} is not divisible by model.n_head={cfg.n_head}")
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)
        self.act = nn.GELU()
        self.proj = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MiniGPT(nn.Module):
    """``forward(input_ids (B, T)) -> logits (B, T, vocab)``."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, max_len: int):
        super().__init__()
        self.cfg, self.vocab_size, self.max_len = cfg, vocab_size, max_len
        self.tok_emb = nn.Embedding(vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        # minGPT's initialisation: N(0, 0.02) weights, zero biases
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence of {t} tokens is longer than the model's {self.max_len}")
        pos = torch.arange(t, device=input_ids.device)
        x = self.drop(self.tok_emb(input_ids) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    # ------------------------------------------------------------------------------------------------
    def artefact(self) -> dict:
        """What ``save`` writes: tensors, numbers and strings only (loads with ``weights_only=True``)."""
        return {"format": "intarsia-capprobe/minigpt/1", "config": dataclasses.asdict(self.cfg),
                "vocab_size": self.vocab_size, "max_len": self.max_len,
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()}}

    def save(self, path: str | Path) -> None:
        from intarsia.safe_load import save_torch_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_torch_file(self.artefact(), path)

    @classmethod
    def load(cls, path: str | Path) -> MiniGPT:
        from intarsia.errors import IntarsiaError
        from intarsia.safe_load import load_torch_file

        path = Path(path)
        if not path.is_file():
            raise IntarsiaError(f"no model file at {str(path)!r}")
        art = load_torch_file(path, what="capprobe model")
        if not isinstance(art, dict) or art.get("format") != "intarsia-capprobe/minigpt/1":
            raise IntarsiaError(f"{str(path)!r} is not a capprobe model (format {art.get('format') if isinstance(art, dict) else None!r})")
        model = cls(ModelConfig(**art["config"]), int(art["vocab_size"]), int(art["max_len"]))
        model.load_state_dict(art["state_dict"])
        return model


def answer_logits(model: nn.Module, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Logits at each row's answer position: (B, vocab)."""
    logits = model(input_ids)
    return logits[torch.arange(len(positions), device=logits.device), positions]


def next_token_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    """The PCFG's next-token pre-training loss: cross-entropy of every string token from each row's
    ``lm_start`` up to its ``=`` (mean over those tokens), plus cross-entropy of the answer token
    (``label``) at ``answer_pos``. Scored separately so the one answer token is not drowned by the
    hundreds of string tokens of a 250-token window."""
    ids, pos = batch["input_ids"], batch["answer_pos"]
    logits = model(ids)
    rows = torch.arange(len(pos), device=logits.device)
    answer = F.cross_entropy(logits[rows, pos], batch["label"])
    t = torch.arange(ids.shape[1] - 1, device=ids.device)
    # position t predicts token t + 1; scored from lm_start to the token before '=' predicts '='
    mask = (t[None, :] >= batch["lm_start"][:, None]) & (t[None, :] < pos[:, None])
    string = F.cross_entropy(logits[:, :-1][mask], ids[:, 1:][mask])
    return answer + string
