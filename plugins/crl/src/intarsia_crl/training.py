"""The sparse-perturbation objective as a LightningModule, and the evaluation that reads latents out.

Loss terms (each logged under ``loss/<name>``; the total is their weighted sum):

* ``latent``: the perturbed object's slot must move by the offset, ``|z_k + b - z~_perm(k)|^2`` (slots) or
  ``|f(x) + b_full - f(x~)|^2`` with ``b`` placed at the perturbed object's index (flat, Ahuja et al.);
* ``similarity``: the other object slots stay put, ``|z_i - z~_perm(i)|^2`` (slots only);
* ``reconstruction``: the slot auto-encoder's reconstruction of x (slots with a decoder).
"""

from __future__ import annotations

import dataclasses

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from intarsia.build import build

from .config import CRLJobConfig
from .matching import match, object_candidates
from .networks import BroadcastDecoder, PropertyHeads


class CRLModule(L.LightningModule):
    def __init__(self, config: CRLJobConfig):
        super().__init__()
        self.config = config
        m, s = config.model, config.sprites
        self.num_objects, self.num_properties = s.num_objects, len(s.properties)
        if m.encoder not in ("slots", "flat"):
            raise ValueError(f"model.encoder must be 'slots' or 'flat', got {m.encoder!r}")
        # the encoder is the registered one (``crl-slots`` / ``crl-flat``), built by name like any component
        self.encoder = build("encoders", f"crl-{m.encoder}", {
            "image_size": s.image_size, "num_objects": s.num_objects, "num_properties": self.num_properties,
            "model": dataclasses.asdict(m)}).train()
        if m.encoder == "slots":
            self.heads = PropertyHeads(m.slot_dim, self.num_properties)
            self.decoder = (BroadcastDecoder(m.slot_dim, m.decoder_channels, s.image_size // m.recon_downsample,
                                             m.decoder_init_size)
                            if m.decoder else None)
        if config.loss.mechanism not in ("known", "unknown"):
            raise ValueError(f"loss.mechanism must be 'known' or 'unknown', got {config.loss.mechanism!r}")

    @property
    def is_slots(self) -> bool:
        return self.config.model.encoder == "slots"

    def offsets(self, b: torch.Tensor) -> torch.Tensor:
        """The mechanism the objective sees: the offset, or (unknown) only its property and sign."""
        if self.config.loss.mechanism == "known":
            return b
        return torch.sign(b) * self.config.loss.unknown_step

    def encode_pair(self, x1: torch.Tensor, x2: torch.Tensor):
        slots1, attn1 = self.encoder.encode(x1)
        slots2, attn2 = self.encoder.encode(x2, slots1 if self.config.loss.share_slot_init else None)
        return slots1, attn1, slots2, attn2

    def loss_terms(self, batch: dict) -> dict[str, torch.Tensor]:
        x1, x2, b = batch["x1"], batch["x2"], self.offsets(batch["b"])
        if not self.is_slots:
            f1, f2 = self.encoder(x1), self.encoder(x2)
            b_full = torch.zeros(len(b), self.num_objects, self.num_properties, device=b.device)
            b_full[torch.arange(len(b)), batch["obj"]] = b
            return {"latent": F.mse_loss(f1 + b_full.flatten(1), f2)}
        slots1, attn1, slots2, _ = self.encode_pair(x1, x2)
        z1, z2 = self.heads(slots1), self.heads(slots2)
        cand = object_candidates(attn1, self.num_objects, self.config.loss.exclude_background)
        k, perm = match(z1, z2, b, cand, self.config.loss.matching)
        rows = torch.arange(len(b), device=b.device)
        terms = {"latent": (z1[rows, k] + b - z2[rows, perm[rows, k]]).pow(2).mean()}
        others = cand.clone()
        others[rows, k] = False
        if others.any():
            diff = (z1 - torch.gather(z2, 1, perm.unsqueeze(-1).expand_as(z2))).pow(2).mean(-1)
            terms["similarity"] = diff[others].mean()
        if self.decoder is not None:
            recon, _ = self.decoder(slots1)
            target = F.avg_pool2d(x1, m) if (m := self.config.model.recon_downsample) > 1 else x1
            terms["reconstruction"] = F.mse_loss(recon, target)
        return terms

    def weights(self) -> dict[str, float]:
        lc = self.config.loss
        ramp = 1.0
        if lc.latent_warmup_steps > 0:
            ramp = min(1.0, self.global_step / lc.latent_warmup_steps)
        return {"latent": lc.w_latent * ramp, "similarity": lc.w_similarity, "reconstruction": lc.w_recon}

    def training_step(self, batch, _):
        terms = self.loss_terms(batch)
        w = self.weights()
        total = sum(w[k] * v for k, v in terms.items())
        self.log_dict({f"loss/{k}": v.detach() for k, v in terms.items()}, on_step=True, on_epoch=False)
        self.log("loss/total", total.detach(), on_step=True, on_epoch=False)
        return total

    def configure_optimizers(self):
        t = self.config.train
        return torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)


class PairData(torch.utils.data.Dataset):
    """Rows of the in-memory pair tensors (see :func:`intarsia_crl.sprites.to_tensors`)."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors["obj"])

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.tensors.items()}

    def __getitems__(self, idx):  # one indexing per batch, not one per row
        idx = torch.as_tensor(idx)
        return {k: v[idx] for k, v in self.tensors.items()}


def _identity(batch):
    return batch


def loader(tensors: dict[str, torch.Tensor], batch_size: int, *, shuffle: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(PairData(tensors), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=_identity, generator=gen)


@torch.no_grad()
def read_latents(module: CRLModule, tensors: dict[str, torch.Tensor], batch_size: int = 256) -> dict[str, np.ndarray]:
    """The learned latents next to the true ones, on held-out pairs.

    Slots: the slot matched as the perturbed object (with the same matching as in training), its
    projection on x~ against the true properties of the object that moved (the official evaluation).
    Flat: ``f(x)`` against all objects' true properties, in object order.
    Returns ``true``, ``learned`` ``(N, columns)`` and, for slots, ``attn`` / ``masks`` of the first batch.
    """
    was_training = module.training
    module.eval()
    dev = module.device
    true, learned, extra = [], [], {}
    n = len(tensors["obj"])
    for start in range(0, n, batch_size):
        batch = {k: v[start:start + batch_size].to(dev) for k, v in tensors.items()}
        rows = torch.arange(len(batch["obj"]), device=dev)
        if module.is_slots:
            slots1, attn1, slots2, _ = module.encode_pair(batch["x1"], batch["x2"])
            z1, z2 = module.heads(slots1), module.heads(slots2)
            cand = object_candidates(attn1, module.num_objects, module.config.loss.exclude_background)
            k, perm = match(z1, z2, module.offsets(batch["b"]), cand, module.config.loss.matching)
            learned.append(z2[rows, perm[rows, k]].cpu())
            true.append(batch["z2"][rows, batch["obj"]].cpu())
            if start == 0:
                extra["attn"] = attn1.cpu().numpy()
                extra["perturbed_slot"] = k.cpu().numpy()
                if module.decoder is not None:
                    recon, masks = module.decoder(slots1)
                    extra["masks"], extra["recon"] = masks.cpu().numpy(), recon.cpu().numpy()
        else:
            learned.append(module.encoder(batch["x1"]).cpu())
            true.append(batch["z1"].flatten(1).cpu())
    module.train(was_training)
    return {"true": torch.cat(true).numpy(), "learned": torch.cat(learned).numpy(), **extra}


def column_properties(config: CRLJobConfig) -> list[str]:
    props = list(config.sprites.properties)
    return props if config.model.encoder == "slots" else props * config.sprites.num_objects
